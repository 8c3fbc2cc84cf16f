// test_video_ops.cpp - the op table (plugin/op_table.c) and the video ops:
// block-causal attention with a KV cache and the KV append (backend.h),
// each on the CPU and on Vulkan.
#include <cstring>
#include <string>

#include <catch2/catch.hpp>

extern "C" {
#include "backend.h"
#include "op_table.h"
}

TEST_CASE("op table: every op kind has a filled-in row", "[video][ops]") {
  for (int k = 0; k < LP_OP_COUNT; k++) {
    const lp_op_info *info = lp_op_info_of(k);
    INFO("op kind " << k);
    REQUIRE(info != nullptr);
    REQUIRE(info->name != nullptr);
    CHECK(std::strlen(info->name) > 0);
    CHECK(info->arity >= 1);
    CHECK(info->arity <= 3);
    CHECK(info->npos >= 1);
    CHECK(info->npos <= (int)(sizeof(lp_op{}.i) / sizeof(int32_t)));
    for (int b = 0; b < LP_CPU_BUILDS; b++) CHECK(info->cpu[b] != nullptr);
    CHECK(info->vk_plan != nullptr);
    for (int j = 0; j < k; j++) CHECK(std::string(lp_op_info_of(j)->name) != info->name);
  }
  CHECK(lp_op_info_of(-1) == nullptr);
  CHECK(lp_op_info_of(LP_OP_COUNT) == nullptr);

  // An unknown kind is an error on the CPU, not a silent no-op.
  lp_op op{};
  op.kind = LP_OP_COUNT;
  CHECK(lp_cpu_run_op(&op) == LEAP_ERR_INVALID_ARG);
  CHECK(std::string(leap_last_error()).find("unknown op kind") != std::string::npos);
}
