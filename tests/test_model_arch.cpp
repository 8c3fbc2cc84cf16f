// test_model_arch.cpp - the model interface: one weight list per
// architecture serves the loader, the trainer's layout and `leap info`;
// the architecture comes from the file's metadata.
#include <cstdio>
#include <cstdlib>
#include <set>
#include <string>
#include <vector>

#include <sys/wait.h>

#include "test_util.hpp"

extern "C" {
#include "train_dit.h"
}

namespace {

const std::string kTiny = LEAP_TEST_DATA "/dit_tiny_f32.safetensors";
const std::string kShipped = LEAP_TEST_DATA "/../../models/default/leap-fmnist.safetensors";

leap_context *cpu() {
  leap_context_desc cd = leap_context_desc_default(LEAP_BACKEND_CPU);
  cd.threads = 1;
  leap_context *ctx = nullptr;
  REQUIRE(leap_context_create(&cd, &ctx) == LEAP_OK);
  return ctx;
}

std::vector<leap_weight_info> weights_of(const leap_model *m) {
  int count = 0;
  REQUIRE(leap_model_weight_count(m, &count) == LEAP_OK);
  std::vector<leap_weight_info> w((size_t)count);
  for (int i = 0; i < count; i++) {
    w[i].struct_size = sizeof w[i];
    REQUIRE(leap_model_weight(m, i, &w[i]) == LEAP_OK);
  }
  return w;
}

std::string shape_text(const leap_weight_info &w) {
  std::string s;
  for (int d = 0; d < w.ndim; d++) s += (d ? "x" : "") + std::to_string(w.shape[d]);
  return s;
}

}  // namespace

TEST_CASE("the weight list is the file's tensors and the parameter count", "[model]") {
  leap_context *ctx = cpu();
  leap_model *m = nullptr;
  REQUIRE(leap_model_load(ctx, kTiny.c_str(), &m) == LEAP_OK);
  leap_model_info info{};
  info.struct_size = sizeof info;
  REQUIRE(leap_model_get_info(m, &info) == LEAP_OK);
  const std::vector<leap_weight_info> w = weights_of(m);
  lp_st_file *f = nullptr;
  REQUIRE(lp_st_open(kTiny.c_str(), &f) == LEAP_OK);
  int64_t total = 0;
  std::set<std::string> names;
  int per_block[64] = {0};
  for (const leap_weight_info &t : w) {
    INFO(t.name);
    CHECK(names.insert(t.name).second);
    CHECK(std::string(t.role) != "");
    const lp_st_tensor *ft = lp_st_find(f, t.name);
    REQUIRE(ft);
    REQUIRE(ft->ndim == t.ndim);
    int64_t numel = 1;
    for (int d = 0; d < t.ndim; d++) {
      CHECK(ft->shape[d] == t.shape[d]);
      numel *= t.shape[d];
    }
    total += numel;
    CHECK(t.trainable == (std::string(t.name) != "pos_embed"));
    REQUIRE(t.block < info.depth);
    if (t.block >= 0) per_block[t.block]++;
  }
  lp_st_close(f);
  CHECK(total == info.parameters);
  for (int b = 0; b < info.depth; b++) CHECK(per_block[b] == per_block[0]);
  CHECK(per_block[0] == 10);
  leap_weight_info out{};
  out.struct_size = sizeof out;
  CHECK(leap_model_weight(m, (int)w.size(), &out) == LEAP_ERR_INVALID_ARG);
  CHECK(leap_model_weight(m, -1, &out) == LEAP_ERR_INVALID_ARG);
  leap_model_destroy(m);
  leap_context_destroy(ctx);
}

TEST_CASE("the trainer lays out the list the loader reads", "[model][train]") {
  // The shipped model was written by `leap train`: the trainer's layout for
  // its description is the loaded model's weight list, name for name.
  leap_context *ctx = cpu();
  leap_model *m = nullptr;
  REQUIRE(leap_model_load(ctx, kShipped.c_str(), &m) == LEAP_OK);
  leap_model_info info{};
  info.struct_size = sizeof info;
  REQUIRE(leap_model_get_info(m, &info) == LEAP_OK);
  const std::vector<leap_weight_info> w = weights_of(m);
  lp_dit_arch a{};
  a.input_size = info.input_size, a.in_channels = info.in_channels, a.patch = info.patch_size;
  a.hidden = info.hidden_size, a.depth = info.depth, a.heads = info.num_heads;
  a.num_classes = info.num_classes, a.mlp_ratio = info.mlp_ratio;
  lp_tlayout L;
  REQUIRE(lp_tlayout_init(&L, &a) == LEAP_OK);
  REQUIRE(L.count == (int)w.size());
  CHECK(L.total == (size_t)info.parameters);
  size_t off = 0;
  for (int i = 0; i < L.count; i++) {
    INFO(w[i].name);
    CHECK(std::string(L.p[i].name) == w[i].name);
    CHECK(L.p[i].ndim == w[i].ndim);
    for (int d = 0; d < w[i].ndim; d++) CHECK(L.p[i].shape[d] == w[i].shape[d]);
    CHECK(L.p[i].off == off);
    CHECK(L.p[i].trainable == w[i].trainable);
    off += L.p[i].numel;
  }
  // The named offsets the forward pass uses point at the tensors of those names.
  CHECK(L.x_w == lp_tlayout_find(&L, "x_embedder.proj.weight")->off);
  CHECK(L.pos == lp_tlayout_find(&L, "pos_embed")->off);
  CHECK(L.f_b == lp_tlayout_find(&L, "final_layer.linear.bias")->off);
  CHECK(L.blk[1].fc2_w == lp_tlayout_find(&L, "blocks.1.mlp.fc2.weight")->off);
  lp_tlayout_free(&L);
  leap_model_destroy(m);
  leap_context_destroy(ctx);
}

TEST_CASE("leap info lists the architecture's weights", "[model][cli]") {
  lt::TempDir dir;
  const std::string out = dir / "info.txt";
  const std::string cmd = std::string("'") + LEAP_CLI_PATH + "' info '" + kTiny + "' > '" + out + "' 2>&1";
  const int status = std::system(cmd.c_str());
  REQUIRE(WIFEXITED(status));
  REQUIRE(WEXITSTATUS(status) == 0);
  const std::string text = lt::slurp(out);
  leap_context *ctx = cpu();
  leap_model *m = nullptr;
  REQUIRE(leap_model_load(ctx, kTiny.c_str(), &m) == LEAP_OK);
  for (const leap_weight_info &w : weights_of(m)) {
    INFO(w.name);
    const bool shown = text.find(std::string(w.name) + " ") != std::string::npos;
    CHECK(shown == (w.block <= 0));  // the first block stands for every block
    if (w.block <= 0) CHECK(text.find(shape_text(w)) != std::string::npos);
  }
  leap_model_destroy(m);
  leap_context_destroy(ctx);
}

TEST_CASE("the file's arch picks the architecture, and an unknown one is a clear error", "[model]") {
  lt::TempDir dir;
  // A file naming an arch this build lacks, and a video_dit file without
  // its description.
  auto write = [&](const char *name, const char *arch) {
    const std::string path = dir / name;
    lp_st_writer *wr = nullptr;
    REQUIRE(lp_st_writer_create(path.c_str(), &wr) == LEAP_OK);
    REQUIRE(lp_st_writer_meta(wr, "arch", arch) == LEAP_OK);
    const float x[2] = {1, 2};
    const int64_t shape[1] = {2};
    REQUIRE(lp_st_writer_add(wr, "x", LEAP_F32, 1, shape, x) == LEAP_OK);
    REQUIRE(lp_st_writer_finish(wr) == LEAP_OK);
    return path;
  };
  leap_context *ctx = cpu();
  leap_model *m = nullptr;
  CHECK(leap_model_load(ctx, write("other.safetensors", "other_dit").c_str(), &m) == LEAP_ERR_UNSUPPORTED);
  std::string err = leap_last_error();
  CHECK(err.find("other.safetensors") != std::string::npos);
  CHECK(err.find("'other_dit'") != std::string::npos);
  CHECK(err.find("'dit'") != std::string::npos);
  CHECK(err.find("'video_dit'") != std::string::npos);
  CHECK(m == nullptr);
  CHECK(leap_model_load(ctx, write("video.safetensors", "video_dit").c_str(), &m) == LEAP_ERR_FORMAT);
  err = leap_last_error();
  CHECK(err.find("video.safetensors") != std::string::npos);
  CHECK(err.find("lacks") != std::string::npos);
  CHECK(m == nullptr);
  leap_context_destroy(ctx);
}
