// test_train_state_errors.cpp - `leap train --resume STATE` with a state
// whose metadata is wrong in one field (models/train_ckpt.c's checks that
// test_hardening.cpp does not reach: the format, a missing key, text that is
// not a number, a fraction where an integer belongs, the seed, the
// objective, a description that is not a DiT or does not match the
// tensors, a depth past the blocks, steps out of range). Each is refused
// with a message naming the file, the key and the value, and no trainer is
// made.
#include <cstring>
#include <string>
#include <vector>

#include "test_util.hpp"

extern "C" {
#include "output.h"
#include "train.h"
}

namespace {

// src with the metadata key set to value (nullptr: removed).
void rewrite_meta(const std::string &src, const std::string &dst, const std::string &key, const char *value) {
  lp_st_file *f = nullptr;
  REQUIRE(lp_st_open(src.c_str(), &f) == LEAP_OK);
  lp_st_writer *w = nullptr;
  REQUIRE(lp_st_writer_create(dst.c_str(), &w) == LEAP_OK);
  bool found = false;
  for (int i = 0; i < lp_st_meta_count(f); i++) {
    const char *k = lp_st_meta_key(f, i);
    if (std::strcmp(k, LP_OUT_META_KEY) == 0) continue; // the writer sets its own output kind
    if (key == k) {
      found = true;
      if (!value) continue;
    }
    REQUIRE(lp_st_writer_meta(w, k, key == k ? value : lp_st_meta(f, k)) == LEAP_OK);
  }
  REQUIRE(found);
  for (int i = 0; i < lp_st_count(f); i++) {
    const lp_st_tensor *t = lp_st_at(f, i);
    REQUIRE(lp_st_writer_add(w, t->name, t->dtype, t->ndim, t->shape, t->data) == LEAP_OK);
  }
  REQUIRE(lp_st_writer_finish(w) == LEAP_OK);
  lp_st_close(f);
}

}  // namespace

TEST_CASE("train state: each wrong metadata field is refused by name before resuming", "[train]") {
  lt::TempDir dir;
  lp_train_cfg c = lp_train_cfg_default();
  c.arch.input_size = 8, c.arch.in_channels = 1, c.arch.patch = 4, c.arch.hidden = 8;
  c.arch.depth = 1, c.arch.heads = 2, c.arch.num_classes = 2, c.arch.mlp_ratio = 2;
  c.batch = 2, c.steps = 10;
  lp_trainer *t = nullptr;
  REQUIRE(lp_trainer_create(&c, &t) == LEAP_OK);
  t->step = 3;
  const std::string good = dir / "state.safetensors";
  REQUIRE(lp_trainer_save_state(t, good.c_str()) == LEAP_OK);
  lp_trainer_destroy(t);
  lp_trainer *r = nullptr;
  REQUIRE(lp_trainer_resume(good.c_str(), &r) == LEAP_OK);
  CHECK(r->step == 3);
  lp_trainer_destroy(r);
  struct Case {
    std::string key;
    const char *value;
    leap_status status;
    std::string says;
  };
  const std::vector<Case> cases = {
      {"format", "leap-train-state-0", LEAP_ERR_FORMAT, "format 'leap-train-state-0' is not leap-train-state-1"},
      {"format", nullptr, LEAP_ERR_FORMAT, "__metadata__ lacks 'format' (not a training state?)"},
      {"train.lr", nullptr, LEAP_ERR_FORMAT, "__metadata__ lacks 'train.lr' (not a training state?)"},
      {"train.lr", "fast", LEAP_ERR_FORMAT, "__metadata__ 'train.lr' = 'fast' is not a number"},
      {"train.ema", "", LEAP_ERR_FORMAT, "__metadata__ 'train.ema' = '' is not a number"},
      {"depth", "1.5", LEAP_ERR_FORMAT, "__metadata__ 'depth' = 1.5 is not an integer in"},
      {"train.seed", "x1", LEAP_ERR_FORMAT, "train.seed 'x1' is not a number"},
      {"train.seed", "99999999999999999999999", LEAP_ERR_FORMAT, "train.seed '99999999999999999999999' is not a number"},
      {"train.objective", "x0", LEAP_ERR_INVALID_ARG, "objective 'x0' is not flow_v or eps"},
      {"patch_size", "3", LEAP_ERR_FORMAT, "the model description (input 8, channels 1, patch 3, hidden 8, heads 2, "
                                          "depth 1, classes 2) is not a DiT leap trains"},
      {"num_heads", "0", LEAP_ERR_FORMAT, "heads 0, depth 1, classes 2) is not a DiT leap trains"},
      {"in_channels", "2", LEAP_ERR_FORMAT, "the model description (input 8, channels 2, patch 4, hidden 8, classes 2) "
                                            "does not match the file's x_embedder, pos_embed and y_embedder tensors"},
      {"num_classes", "3", LEAP_ERR_FORMAT, "classes 3) does not match the file's"},
      {"depth", "2", LEAP_ERR_FORMAT, "depth 2, but the file has no 'blocks.1.attn.qkv.weight'"},
      {"train.steps", "-1", LEAP_ERR_FORMAT, "batch 2 / steps -1 outside"},
      {"train.batch", "0", LEAP_ERR_FORMAT, "batch 0 / steps 10 outside"},
  };
  for (size_t k = 0; k < cases.size(); k++) {
    const Case &cs = cases[k];
    const std::string bad = dir / ("bad" + std::to_string(k) + ".safetensors");
    rewrite_meta(good, bad, cs.key, cs.value);
    r = nullptr;
    const leap_status s = lp_trainer_resume(bad.c_str(), &r);
    const std::string err = s == LEAP_OK ? "" : leap_last_error();
    INFO("case " << k << " (" << cs.key << "): " << err);
    CHECK(s == cs.status);
    CHECK(r == nullptr);
    CHECK(err.find(cs.says) != std::string::npos);
    if (cs.status == LEAP_ERR_FORMAT) CHECK(err.find(bad) != std::string::npos);
    if (r) lp_trainer_destroy(r);
  }
}
