// The Catch2 main for leap_tests (one binary, one ctest entry per TEST_CASE).
// A run that passed but skipped something (lt::skip in test_util.hpp) exits
// with lt::kSkipExitCode, which ctest reports as a skip.
#define CATCH_CONFIG_RUNNER
#include <catch2/catch.hpp>

#include "test_util.hpp"

int main(int argc, char **argv) {
  const int failed = Catch::Session().run(argc, argv);
  return failed == 0 && lt::skip_count() > 0 ? lt::kSkipExitCode : failed;
}
