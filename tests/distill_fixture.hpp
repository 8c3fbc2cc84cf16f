// distill_fixture.hpp - the tiny teacher and settings the distillation
// tests share (test_distill.cpp, test_distill_resume.cpp).
#pragma once

#include <string>
#include <vector>

#include "test_util.hpp"

extern "C" {
#include "distill_train.h"
#include "train.h"
}

namespace {

// A tiny flow_v DiT (8x8x1, patch 4, hidden 16, depth 1, 3 classes) with
// random non-zero weights, saved as a model file.
inline std::string tiny_teacher(const std::string &dir) {
  lp_train_cfg c = lp_train_cfg_default();
  c.arch = lp_dit_arch{8, 1, 4, 16, 1, 2, 3, 2.0};
  c.batch = 4;
  c.seed = 5;
  lp_trainer *t = nullptr;
  REQUIRE(lp_trainer_create(&c, &t) == LEAP_OK);
  std::vector<float> r = lt::random_f32(t->L.total, 77);
  for (size_t k = 0; k < t->L.total; k++) t->params[k] += 0.05f * r[k];
  const std::string path = dir + "/teacher.safetensors";
  REQUIRE(lp_trainer_save_model(t, path.c_str(), 0, LEAP_F32) == LEAP_OK);
  lp_trainer_destroy(t);
  return path;
}

inline lp_distill_cfg tiny_distill_cfg(lp_distill_method m) {
  lp_distill_cfg c = lp_distill_cfg_default();
  c.method = m;
  c.batch = 4;
  c.iters = 9;
  c.fake_updates = 2;
  c.lr_student = 1e-3;
  c.lr_fake = 1e-3;
  c.path_checkpoints = 3;
  c.path_iters = 6;
  c.schedule.interval = 2;
  c.seed = 3;
  return c;
}

}  // namespace
