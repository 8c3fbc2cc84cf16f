// The Catch2 main for leap_tests (one binary, one ctest entry per TEST_CASE).
#define CATCH_CONFIG_MAIN
#include <catch2/catch.hpp>
