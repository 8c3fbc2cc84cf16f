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
void rewrite_meta(const std::string &src, const std::string &dst, const std::string &key, const char *value,
                  bool keep_kind = false) {
  lp_st_file *f = nullptr;
  REQUIRE(lp_st_open(src.c_str(), &f) == LEAP_OK);
  lp_st_writer *w = nullptr;
  REQUIRE(lp_st_writer_create(dst.c_str(), &w) == LEAP_OK);
  bool found = false;
  for (int i = 0; i < lp_st_meta_count(f); i++) {
    const char *k = lp_st_meta_key(f, i);
    if (!keep_kind && std::strcmp(k, LP_OUT_META_KEY) == 0) continue; // the writer sets its own output kind
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

// `leap distill --resume` the same way (distill/distill_state.c): a state
// whose format, counters or any recorded setting is wrong in one field is
// refused naming the file, the key and the value, before a teacher is
// loaded or anything is written.
#include "distill_fixture.hpp"

TEST_CASE("distill state: each wrong metadata field is refused by name before resuming", "[distill]") {
  lt::TempDir dir;
  const std::string teacher = tiny_teacher(dir.path), run = dir / "run";
  lt::CliResult r = lt::leap_in(dir, "", "distill --teacher '" + teacher + "' --method disback --switch converged "
                                         "--path-checkpoints 2 --path-iters 2 --iters 2 --batch 2 --fake-updates 1 "
                                         "--save-every 1 --quiet --out '" + run + "'");
  INFO(r.err);
  REQUIRE(r.code == 0);
  const std::string good = run + "/state.safetensors";
  const struct {
    const char *key, *value, *says;
  } cases[] = {
      {"format", "leap-distill-state-0", "not a leap distill state (format 'leap-distill-state-0', not leap-distill-state-1)"},
      {"distill.iters", nullptr, "__metadata__ lacks 'distill.iters'"},
      {"distill.iter", "-3", "'distill.iter' = '-3' is not an integer >= 0"},
      {"distill.fake_step", "1.5", "'distill.fake_step' = '1.5' is not an integer >= 0"},
      {"distill.iters", "99999999999", "'distill.iters' = '99999999999' is not an integer"},
      {"distill.seconds", nullptr, "__metadata__ lacks 'distill.seconds'"},
      {"distill.method", "sgd", "'distill.method' = 'sgd' is not a value of --method"},
      {"distill.switch", "sometimes", "'distill.switch' = 'sometimes' is not a value of --switch"},
      {"distill.batch", "two", "'distill.batch' = 'two' is not a value of --batch"},
      {"distill.batch", "3000000000", "'distill.batch' = '3000000000' is not a value of --batch"},
      {"distill.cfg", "nan", "'distill.cfg' = 'nan' is not a value of --cfg"},
      {"distill.seed", "-1", "'distill.seed' = '-1' is not a value of --seed"},
      {"distill.seed", "1x", "'distill.seed' = '1x' is not a value of --seed"},
      {"distill.lr", nullptr, "__metadata__ lacks 'distill.lr'"},
  };
  int k = 0;
  for (const auto &c : cases) {
    const std::string bad_dir = dir / ("bad" + std::to_string(k++));
    REQUIRE(mkdir(bad_dir.c_str(), 0755) == 0);
    const std::string bad = bad_dir + "/state.safetensors";
    rewrite_meta(good, bad, c.key, c.value, true);
    const std::string before = lt::slurp(bad);
    r = lt::leap_in(dir, "", "distill --resume '" + bad + "' --quiet");
    INFO(c.key << " = " << (c.value ? c.value : "(removed)") << ": " << r.err);
    CHECK(r.code == 1);
    CHECK(r.err.find(bad) != std::string::npos);
    CHECK(r.err.find(c.says) != std::string::npos);
    CHECK(lt::slurp(bad) == before);
    CHECK(lt::TempDir::list_dir(bad_dir).size() == 1);  // nothing written beside it
  }
}
