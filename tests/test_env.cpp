// test_env.cpp - the environment every test process runs in, set before the
// first test: the Vulkan validation layer on (leap reads LEAP_VALIDATION when
// a context is made), unless the caller chose otherwise (LEAP_VALIDATION=0).
// OMP_WAIT_POLICY comes from ctest (tests/CMakeLists.txt): OpenMP reads it
// when it loads, before this runs.
#include <cstdlib>

namespace {
struct TestEnv {
  TestEnv() { setenv("LEAP_VALIDATION", "1", 0); }
} test_env;
}  // namespace
