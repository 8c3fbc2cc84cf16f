// test_model_meta.cpp - a DiT's description (models/dit_load.c): each
// __metadata__ field a user's file can get wrong, and each tensor the
// description is read from, refused with LEAP_ERR_FORMAT and a message that
// names the file, the field and the value; missing optional fields take the
// value the tensors imply. Every case is the tiny model with one change.
#include <map>
#include <set>
#include <string>
#include <vector>

#include "test_util.hpp"

extern "C" {
#include "safetensors.h"
}

namespace {

const std::string kTiny = LEAP_TEST_DATA "/dit_tiny_f32.safetensors";
const char *kDrop = "\x01"; // a metadata value that means "remove the key"

// Writes the tiny model to path with the metadata changes applied (value
// kDrop removes the key), the tensors in drop left out, and the tensors in
// scalar replaced by a 0-D tensor.
void variant_of(const std::string &src, const std::string &path, const std::map<std::string, std::string> &meta,
                const std::set<std::string> &drop = {}, const std::set<std::string> &scalar = {}) {
  lp_st_file *f = nullptr;
  REQUIRE(lp_st_open(src.c_str(), &f) == LEAP_OK);
  lp_st_writer *w = nullptr;
  REQUIRE(lp_st_writer_create(path.c_str(), &w) == LEAP_OK);
  std::set<std::string> seen;
  for (int i = 0; i < lp_st_meta_count(f); i++) {
    const std::string key = lp_st_meta_key(f, i);
    auto it = meta.find(key);
    seen.insert(key);
    if (it != meta.end() && it->second == kDrop) continue;
    const std::string value = it != meta.end() ? it->second : lp_st_meta(f, key.c_str());
    REQUIRE(lp_st_writer_meta(w, key.c_str(), value.c_str()) == LEAP_OK);
  }
  for (const auto &kv : meta)
    if (!seen.count(kv.first) && kv.second != kDrop)
      REQUIRE(lp_st_writer_meta(w, kv.first.c_str(), kv.second.c_str()) == LEAP_OK);
  for (int i = 0; i < lp_st_count(f); i++) {
    const lp_st_tensor *t = lp_st_at(f, i);
    if (drop.count(t->name)) continue;
    std::vector<float> v((size_t)t->numel);
    REQUIRE(lp_st_read_f32(f, t, v.data()) == LEAP_OK);
    if (scalar.count(t->name))
      REQUIRE(lp_st_writer_add(w, t->name, LEAP_F32, 0, nullptr, v.data()) == LEAP_OK);
    else
      REQUIRE(lp_st_writer_add(w, t->name, LEAP_F32, t->ndim, t->shape, v.data()) == LEAP_OK);
  }
  REQUIRE(lp_st_writer_finish(w) == LEAP_OK);
  lp_st_close(f);
}

void variant(const std::string &path, const std::map<std::string, std::string> &meta,
             const std::set<std::string> &drop = {}, const std::set<std::string> &scalar = {}) {
  variant_of(kTiny, path, meta, drop, scalar);
}

struct Loaded {
  leap_status status;
  std::string error;
  leap_model_info info{};
};

Loaded load(leap_context *ctx, const std::string &path) {
  leap_model *m = nullptr;
  Loaded r;
  r.status = leap_model_load(ctx, path.c_str(), &m);
  r.error = r.status == LEAP_OK ? "" : leap_last_error();
  if (m) {
    r.info.struct_size = sizeof r.info;
    CHECK(leap_model_get_info(m, &r.info) == LEAP_OK);
    leap_model_destroy(m);
  }
  if (r.status != LEAP_OK) CHECK(m == nullptr);
  return r;
}

// One change to a model file and the refusal it must give.
struct Refusal {
  std::map<std::string, std::string> meta;
  std::set<std::string> drop, scalar;
  leap_status status;
  std::string says;
};

// Each case as a variant of src: refused with its status and a message
// naming the file and saying what is wrong.
void expect_refused(leap_context *ctx, const lt::TempDir &dir, const std::string &src,
                    const std::vector<Refusal> &cases) {
  for (size_t k = 0; k < cases.size(); k++) {
    const Refusal &c = cases[k];
    const std::string path = dir / ("m" + std::to_string(k) + ".safetensors");
    variant_of(src, path, c.meta, c.drop, c.scalar);
    const Loaded r = load(ctx, path);
    INFO("case " << k << ": " << r.error);
    CHECK(r.status == c.status);
    CHECK(r.error.find(path) != std::string::npos);
    CHECK(r.error.find(c.says) != std::string::npos);
  }
}

}  // namespace

TEST_CASE("model description: each wrong metadata field or tensor is a format error naming it", "[model]") {
  leap_context *ctx = lt::cpu_context(1);
  lt::TempDir dir;
  const std::vector<Refusal> cases = {
      {{{"num_heads", kDrop}}, {}, {}, LEAP_ERR_FORMAT, "__metadata__ lacks 'num_heads' (needed to describe the model)"},
      {{{"hidden_size", "abc"}}, {}, {}, LEAP_ERR_FORMAT, "__metadata__ 'hidden_size' = 'abc' is not a valid integer"},
      {{{"depth", "-1"}}, {}, {}, LEAP_ERR_FORMAT, "'depth' = '-1' is not a valid integer"},
      {{{"input_size", "2000000"}}, {}, {}, LEAP_ERR_FORMAT, "'input_size' = '2000000' is not a valid integer"},
      {{{"patch_size", "2x"}}, {}, {}, LEAP_ERR_FORMAT, "'patch_size' = '2x' is not a valid integer"},
      {{{"mlp_ratio", "0"}}, {}, {}, LEAP_ERR_FORMAT, "__metadata__ 'mlp_ratio' = '0' is not a positive number"},
      {{{"timestep_scale", "nan"}}, {}, {}, LEAP_ERR_FORMAT, "'timestep_scale' = 'nan' is not a positive number"},
      {{{"mlp_ratio", ""}}, {}, {}, LEAP_ERR_FORMAT, "'mlp_ratio' = '' is not a positive number"},
      {{{"prediction", "x0"}}, {}, {}, LEAP_ERR_FORMAT, "__metadata__ prediction 'x0' is not eps, v or flow_v"},
      {{{"hidden_size", "16"}}, {}, {}, LEAP_ERR_FORMAT,
       "__metadata__ (hidden 16, channels 3, patch 2, depth 2) disagrees with the tensors (hidden 32, channels 3, "
       "patch 2, 2 blocks)"},
      {{{"depth", "3"}}, {}, {}, LEAP_ERR_FORMAT, "depth 3) disagrees with the tensors"},
      {{{"in_channels", "1"}}, {}, {}, LEAP_ERR_FORMAT, "channels 1, patch 2, depth 2) disagrees"},
      {{{"input_size", "10"}}, {}, {}, LEAP_ERR_FORMAT, "input_size 10 with patch 2 does not give the 16 tokens of pos_embed"},
      {{{"input_size", "6"}}, {}, {}, LEAP_ERR_FORMAT, "input_size 6 with patch 2 does not give the 16 tokens"},
      {{{"num_heads", "3"}}, {}, {}, LEAP_ERR_FORMAT, "hidden_size 32 is not divisible by num_heads 3"},
      {{{"num_heads", "0"}}, {}, {}, LEAP_ERR_FORMAT, "hidden_size 32 is not divisible by num_heads 0"},
      {{{"null_class", "7"}}, {}, {}, LEAP_ERR_FORMAT, "null_class 7 outside 0..5"},
      {{}, {"pos_embed"}, {}, LEAP_ERR_FORMAT, "no 3-D tensor 'pos_embed'"},
      {{}, {"x_embedder.proj.weight"}, {}, LEAP_ERR_FORMAT, "no 4-D tensor 'x_embedder.proj.weight' (is this a DiT?)"},
      {{}, {}, {"y_embedder.embedding_table.weight"}, LEAP_ERR_FORMAT,
       "'y_embedder.embedding_table.weight' is a scalar"},
  };
  expect_refused(ctx, dir, kTiny, cases);
  leap_context_destroy(ctx);
}

TEST_CASE("model description: optional metadata falls back to what the tensors say", "[model]") {
  leap_context *ctx = lt::cpu_context(1);
  lt::TempDir dir;
  const Loaded full = load(ctx, kTiny);
  REQUIRE(full.status == LEAP_OK);
  // Every key but num_heads (which no tensor shape gives) removed: the
  // description is the same, read from x_embedder, pos_embed, the blocks
  // and y_embedder; mlp_ratio and timestep_scale take their defaults, and
  // without "prediction" the model predicts eps.
  const std::string path = dir / "bare.safetensors";
  variant(path, {{"input_size", kDrop},
                 {"patch_size", kDrop},
                 {"in_channels", kDrop},
                 {"hidden_size", kDrop},
                 {"depth", kDrop},
                 {"mlp_ratio", kDrop},
                 {"num_classes", kDrop},
                 {"prediction", kDrop},
                 {"timestep_scale", kDrop},
                 {"null_class", kDrop}});
  const Loaded bare = load(ctx, path);
  INFO(bare.error);
  REQUIRE(bare.status == LEAP_OK);
  CHECK(bare.info.input_size == full.info.input_size);
  CHECK(bare.info.patch_size == full.info.patch_size);
  CHECK(bare.info.in_channels == full.info.in_channels);
  CHECK(bare.info.out_channels == full.info.out_channels);
  CHECK(bare.info.hidden_size == full.info.hidden_size);
  CHECK(bare.info.depth == full.info.depth);
  CHECK(bare.info.num_heads == full.info.num_heads);
  CHECK(bare.info.num_classes == full.info.num_classes);
  CHECK(bare.info.null_class == full.info.num_classes); // the last row of the class table
  CHECK(bare.info.mlp_ratio == 4.0);
  CHECK(bare.info.timestep_scale == 1.0);
  CHECK(bare.info.prediction == LEAP_PRED_EPS);
  // learn_sigma spelled "1" and "true" is on, as "True" (Python's) is.
  for (const char *on : {"1", "true"}) {
    const std::string p = dir / (std::string("ls_") + on + ".safetensors");
    variant(p, {{"learn_sigma", on}});
    const Loaded r = load(ctx, p);
    REQUIRE(r.status == LEAP_OK);
    CHECK(r.info.learn_sigma == 1);
  }
  // The v and flow_v predictions are read as such.
  for (const auto &pr : std::vector<std::pair<std::string, leap_prediction>>{{"v", LEAP_PRED_V},
                                                                             {"flow_v", LEAP_PRED_FLOW_V}}) {
    const std::string p = dir / ("pred_" + pr.first + ".safetensors");
    variant(p, {{"prediction", pr.first}});
    const Loaded r = load(ctx, p);
    INFO(pr.first << ": " << r.error);
    REQUIRE(r.status == LEAP_OK);
    CHECK(r.info.prediction == pr.second);
  }
  leap_context_destroy(ctx);
}

// The video DiT's description (models/arch_video_dit.c) the same way: each
// field a file can get wrong is refused naming the file, the field and the
// value; eps and v predictions are read as such. The tiny video model has
// 8x12 frames, patch 4, hidden 16 in 2 heads, 2 blocks, 3 classes.
TEST_CASE("video DiT description: each wrong metadata field or tensor is a format error naming it", "[model][video]") {
  const std::string src = LEAP_TEST_DATA "/video_dit_tiny_f32.safetensors";
  leap_context *ctx = lt::cpu_context(1);
  lt::TempDir dir;
  const std::vector<Refusal> cases = {
      {{{"num_heads", kDrop}}, {}, {}, LEAP_ERR_FORMAT, "__metadata__ lacks 'num_heads' (needed to describe the video DiT)"},
      {{{"patch_size", "4x"}}, {}, {}, LEAP_ERR_FORMAT, "__metadata__ 'patch_size' = '4x' is not a valid integer"},
      {{{"clip_frames", "-4"}}, {}, {}, LEAP_ERR_FORMAT, "'clip_frames' = '-4' is not a valid integer"},
      {{{"input_width", "2000000"}}, {}, {}, LEAP_ERR_FORMAT, "'input_width' = '2000000' is not a valid integer"},
      {{{"mlp_ratio", kDrop}}, {}, {}, LEAP_ERR_FORMAT, "__metadata__ lacks 'mlp_ratio' (needed to describe the video DiT)"},
      {{{"mlp_ratio", "-2"}}, {}, {}, LEAP_ERR_FORMAT, "'mlp_ratio' = '-2' is not a positive number"},
      {{{"timestep_scale", "inf"}}, {}, {}, LEAP_ERR_FORMAT, "'timestep_scale' = 'inf' is not a positive number"},
      {{{"rope_theta", "1e4x"}}, {}, {}, LEAP_ERR_FORMAT, "'rope_theta' = '1e4x' is not a positive number"},
      {{{"prediction", "x0"}}, {}, {}, LEAP_ERR_FORMAT, "__metadata__ prediction 'x0' is not eps, v or flow_v"},
      {{{"rope_theta", "500"}}, {}, {}, LEAP_ERR_UNSUPPORTED, "rope_theta 500: this build runs the video DiT with rope_theta"},
      {{{"patch_size", "3"}}, {}, {}, LEAP_ERR_FORMAT, "frames of 8x12 are not whole patches of 3"},
      {{{"patch_size", "0"}}, {}, {}, LEAP_ERR_FORMAT, "frames of 8x12 are not whole patches of 0"},
      {{{"input_height", "2"}}, {}, {}, LEAP_ERR_FORMAT, "frames of 2x12 are not whole patches of 4"},
      {{{"depth", "0"}}, {}, {}, LEAP_ERR_FORMAT, "depth, frames_per_chunk, clip_frames, in_channels and hidden_size must be >= 1"},
      {{{"frames_per_chunk", "0"}}, {}, {}, LEAP_ERR_FORMAT, "must be >= 1"},
      {{{"num_heads", "3"}}, {}, {}, LEAP_ERR_FORMAT, "hidden_size 16 is not 3 heads of an even head_dim"},
      {{{"num_heads", "16"}}, {}, {}, LEAP_ERR_FORMAT, "hidden_size 16 is not 16 heads of an even head_dim"},
      {{{"null_class", "9"}}, {}, {}, LEAP_ERR_FORMAT, "null_class 9 outside 0..3"},
      {{{"input_height", "400000"}, {"input_width", "400000"}}, {}, {}, LEAP_ERR_UNSUPPORTED, "tokens per clip"},
      {{{"depth", "1"}}, {}, {}, LEAP_ERR_FORMAT, "more blocks than __metadata__ depth 1"},
      {{}, {"x_embedder.proj.weight"}, {}, LEAP_ERR_FORMAT, "no tensor 'x_embedder.proj.weight'"},
  };
  expect_refused(ctx, dir, src, cases);
  // the predictions a video DiT may declare
  for (const auto &p : std::vector<std::pair<std::string, leap_prediction>>{
           {"eps", LEAP_PRED_EPS}, {"v", LEAP_PRED_V}, {"flow_v", LEAP_PRED_FLOW_V}}) {
    const std::string path = dir / ("p_" + p.first + ".safetensors");
    variant_of(src, path, {{"prediction", p.first}});
    const Loaded r = load(ctx, path);
    INFO(p.first << ": " << r.error);
    REQUIRE(r.status == LEAP_OK);
    CHECK(r.info.prediction == p.second);
  }
  leap_context_destroy(ctx);
}
