// test_cli.cpp - runs the built `leap` CLI (LEAP_CLI_PATH) as a user would
// and checks exit codes, messages and the files it writes (or does not
// write). Expected values come from the library itself (in process) or from
// the tiny model file, never from constants copied out of a run.
#include <catch2/catch.hpp>

#include "test_util.hpp"

#include <png.h>
#include <signal.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <cstring>
#include <fstream>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include "leap.h"
#include "safetensors.h"

namespace {

const std::string kTiny = LEAP_TEST_DATA "/dit_tiny_f32.safetensors";

using lt::TempDir;

using lt::slurp;

using lt::exists;

// Files in dir other than the captured stdout/stderr of the runs.
std::vector<std::string> outputs_in(const TempDir &dir) {
  std::string list = dir / "ls.txt";
  std::string cmd = "ls -A '" + dir.path + "' > '" + list + "'";
  REQUIRE(system(cmd.c_str()) == 0);
  std::vector<std::string> names;
  std::istringstream in(slurp(list));
  for (std::string name; std::getline(in, name);)
    if (name != "ls.txt" && name != "stdout.txt" && name != "stderr.txt") names.push_back(name);
  return names;
}

struct Result {
  int code;
  std::string out, err;
};

// Runs `leap ARGS` with stdout and stderr captured into dir.
Result leap(const std::string &args, const TempDir &dir) {
  std::string cmd = std::string("'") + LEAP_CLI_PATH + "' " + args + " > '" + (dir / "stdout.txt") +
                    "' 2> '" + (dir / "stderr.txt") + "' < /dev/null";
  int status = system(cmd.c_str());
  REQUIRE(status != -1);
  REQUIRE(WIFEXITED(status));
  return Result{WEXITSTATUS(status), slurp(dir / "stdout.txt"), slurp(dir / "stderr.txt")};
}

uint32_t be32(const std::string &s, size_t at) {
  return (uint32_t)(unsigned char)s[at] << 24 | (uint32_t)(unsigned char)s[at + 1] << 16 |
         (uint32_t)(unsigned char)s[at + 2] << 8 | (uint32_t)(unsigned char)s[at + 3];
}

// The in-process reference: the same sampling through the library. Both
// sides use one CPU thread, so the results compare bit for bit whatever the
// thread split does to the sums, and tests stay fast on a loaded machine.
// A one-thread CPU context (as the CLI runs get --threads 1) with a model.
void open_model(const std::string &path, leap_context **ctx, leap_model **m) {
  leap_context_desc cd = leap_context_desc_default(LEAP_BACKEND_CPU);
  cd.threads = 1;
  REQUIRE(leap_context_create(&cd, ctx) == LEAP_OK);
  REQUIRE(leap_model_load(*ctx, path.c_str(), m) == LEAP_OK);
}

std::vector<float> sample_in_process(const leap_sample_desc &d) {
  leap_context *ctx = nullptr;
  leap_model *m = nullptr;
  open_model(kTiny, &ctx, &m);
  leap_model_info info{};
  info.struct_size = sizeof info;
  REQUIRE(leap_model_get_info(m, &info) == LEAP_OK);
  std::vector<float> x((size_t)d.n * info.in_channels * info.input_size * info.input_size);
  REQUIRE(leap_sample(m, &d, x.data()) == LEAP_OK);
  leap_model_destroy(m);
  leap_context_destroy(ctx);
  return x;
}

std::vector<float> read_samples(const std::string &path, lp_st_file **keep) {
  lp_st_file *f = nullptr;
  REQUIRE(lp_st_open(path.c_str(), &f) == LEAP_OK);
  const lp_st_tensor *t = lp_st_find(f, "samples");
  REQUIRE(t != nullptr);
  REQUIRE(t->dtype == LEAP_F32);
  std::vector<float> x((size_t)t->numel);
  REQUIRE(lp_st_read_f32(f, t, x.data()) == LEAP_OK);
  *keep = f;
  return x;
}

}  // namespace

TEST_CASE("cli: --help lists the commands and exit codes, --version the API", "[cli]") {
  TempDir dir;
  Result r = leap("--help", dir);
  CHECK(r.code == 0);
  for (const char *cmd : {"sample", "devices", "info"}) CHECK(r.out.find(cmd) != std::string::npos);
  CHECK(r.out.find("130") != std::string::npos);

  r = leap("help sample", dir);
  CHECK(r.code == 0);
  CHECK(r.out.find("--steps") != std::string::npos);
  r = leap("info --help", dir);
  CHECK(r.code == 0);
  CHECK(r.out.find("usage: leap info") != std::string::npos);

  r = leap("--version", dir);
  CHECK(r.code == 0);
  char want[64];
  snprintf(want, sizeof want, "%d.%d.%d", LEAP_API_VERSION_MAJOR, LEAP_API_VERSION_MINOR,
           LEAP_API_VERSION_PATCH);
  CHECK(r.out.find(want) != std::string::npos);
}

TEST_CASE("cli: bad command lines exit 2", "[cli]") {
  TempDir dir;
  Result r = leap("sample --no-such-flag", dir);
  CHECK(r.code == 2);
  CHECK(r.err.find("--no-such-flag") != std::string::npos);
  CHECK(leap("--no-such-flag", dir).code == 2);
  CHECK(leap("no-such-command", dir).code == 2);
  CHECK(leap("", dir).code == 2);
  CHECK(leap("sample --steps", dir).code == 2);      // missing value
  CHECK(leap("sample --steps 0", dir).code == 2);    // out of range
  CHECK(leap("sample --cfg abc", dir).code == 2);    // not a number
  CHECK(leap("sample --sampler nope", dir).code == 2);
  CHECK(leap("sample --backend metal", dir).code == 2);
  CHECK(leap("sample --labels 3-1", dir).code == 2); // backwards range
  CHECK(leap("info", dir).code == 2);                // missing MODEL
  CHECK(leap("devices extra", dir).code == 2);
  // A label the model does not have is caught once the model is known.
  r = leap("sample --model '" + kTiny + "' --backend cpu --labels 0,9 --out '" + (dir / "x.png") + "'",
           dir);
  CHECK(r.code == 2);
  CHECK(r.err.find("9") != std::string::npos);
  CHECK(outputs_in(dir).empty());
}

TEST_CASE("cli: info describes the tiny model", "[cli]") {
  TempDir dir;
  Result r = leap("info '" + kTiny + "'", dir);
  REQUIRE(r.code == 0);
  // Expected values from the file's own metadata and the library's count.
  lp_st_file *f = nullptr;
  REQUIRE(lp_st_open(kTiny.c_str(), &f) == LEAP_OK);
  std::string hidden = lp_st_meta(f, "hidden_size"), depth = lp_st_meta(f, "depth");
  int64_t file_numel = 0;
  for (int i = 0; i < lp_st_count(f); i++) file_numel += lp_st_at(f, i)->numel;
  lp_st_close(f);
  CHECK(r.out.find("hidden           " + hidden + "\n") != std::string::npos);
  CHECK(r.out.find("depth            " + depth + "\n") != std::string::npos);

  leap_context *ctx = nullptr;
  leap_model *m = nullptr;
  open_model(kTiny, &ctx, &m);
  leap_model_info info{};
  info.struct_size = sizeof info;
  REQUIRE(leap_model_get_info(m, &info) == LEAP_OK);
  leap_model_destroy(m);
  leap_context_destroy(ctx);
  CHECK(info.parameters > 0);
  CHECK(info.parameters <= file_numel);
  CHECK(r.out.find("parameters       " + std::to_string(info.parameters)) != std::string::npos);

  r = leap("info '" + (dir / "missing.safetensors") + "'", dir);
  CHECK(r.code == 1);
  CHECK(r.err.rfind("leap: ", 0) == 0);
  CHECK(r.err.find("missing.safetensors") != std::string::npos);
}

TEST_CASE("cli: sample writes a PNG grid and the raw samples", "[cli]") {
  TempDir dir;
  const std::string png = dir / "x.png", raw = dir / "x.safetensors";
  Result r = leap("sample --model '" + kTiny + "' --backend cpu --threads 1 --n 4 --steps 3 --seed 7 --out '" + png +
                      "' --raw-out '" + raw + "'",
                  dir);
  INFO(r.err);
  REQUIRE(r.code == 0);
  CHECK(r.out.find("4 images") != std::string::npos);
  CHECK(r.err.empty());  // not a terminal: no progress line

  // The PNG: signature, then IHDR of a 2x2 grid of 8x8 RGB tiles + 2 px gap.
  std::string bytes = slurp(png);
  REQUIRE(bytes.size() > 33);
  CHECK(bytes.compare(0, 8, "\x89PNG\r\n\x1a\n", 8) == 0);
  CHECK(bytes.compare(12, 4, "IHDR") == 0);
  CHECK(be32(bytes, 16) == 2 * 8 + 2);
  CHECK(be32(bytes, 20) == 2 * 8 + 2);
  CHECK((int)bytes[24] == 8);  // bit depth
  CHECK((int)bytes[25] == 2);  // color type RGB

  // The raw samples: shape, settings, and the same numbers as the library
  // gives in process for the CLI's defaults (labels 0..3, cfg 3, eta 0).
  lp_st_file *f = nullptr;
  std::vector<float> x = read_samples(raw, &f);
  const lp_st_tensor *t = lp_st_find(f, "samples");
  REQUIRE(t->ndim == 4);
  CHECK(t->shape[0] == 4);
  CHECK(t->shape[1] == 3);
  CHECK(t->shape[2] == 8);
  CHECK(t->shape[3] == 8);
  CHECK(std::string(lp_st_meta(f, "sampler")) == "euler");
  CHECK(std::string(lp_st_meta(f, "steps")) == "3");
  CHECK(std::string(lp_st_meta(f, "seed")) == "7");
  CHECK(std::string(lp_st_meta(f, "labels")) == "0,1,2,3");
  CHECK(std::string(lp_st_meta(f, "model")) == kTiny);
  CHECK(std::stod(lp_st_meta(f, "cfg")) == 3.0);
  lp_st_close(f);

  leap_sample_desc d = leap_sample_desc_default();
  const int32_t labels[4] = {0, 1, 2, 3};
  d.n = 4;
  d.labels = labels;
  d.steps = 3;
  d.cfg = 3.0;
  d.seed = 7;
  std::vector<float> want = sample_in_process(d);
  REQUIRE(want.size() == x.size());
  for (size_t k = 0; k < x.size(); k++) REQUIRE(x[k] == want[k]);

  // Pixels: tile i at (i % 2, i / 2), value (v + 1) * 127.5 rounded, clamped.
  png_image img;
  memset(&img, 0, sizeof img);
  img.version = PNG_IMAGE_VERSION;
  REQUIRE(png_image_begin_read_from_file(&img, png.c_str()));
  img.format = PNG_FORMAT_RGB;
  std::vector<png_byte> pix(PNG_IMAGE_SIZE(img));
  REQUIRE(png_image_finish_read(&img, nullptr, pix.data(), 0, nullptr));
  const int W = (int)img.width;
  for (int i = 0; i < 4; i++)
    for (int y = 0; y < 8; y++)
      for (int xx = 0; xx < 8; xx++)
        for (int c = 0; c < 3; c++) {
          double v = (x[(((size_t)i * 3 + c) * 8 + y) * 8 + xx] + 1.0) * 127.5;
          int expect = (int)std::floor(std::min(255.0, std::max(0.0, v)) + 0.5);
          if (expect > 255) expect = 255;
          int gx = (i % 2) * 10 + xx, gy = (i / 2) * 10 + y;
          int got = pix[((size_t)gy * W + gx) * 3 + c];
          REQUIRE(std::abs(got - expect) <= 1);
        }
  // No temporary files are left next to the outputs.
  CHECK(outputs_in(dir).size() == 2);
}

TEST_CASE("cli: sample labels cycle and --noise replaces the seed", "[cli]") {
  TempDir dir;
  // Noise as F16 (any float dtype is accepted), for 5 images of 3x8x8.
  const int n = 5;
  std::vector<float> noise((size_t)n * 3 * 8 * 8);
  std::vector<uint16_t> noise16(noise.size());
  for (size_t k = 0; k < noise.size(); k++) {
    noise16[k] = lp_f32_to_f16((float)std::sin(0.37 * (double)k) * 1.5f);
    noise[k] = lp_f16_to_f32(noise16[k]);
  }
  const std::string noise_path = dir / "noise.safetensors";
  lp_st_writer *w = nullptr;
  const int64_t shape[4] = {n, 3, 8, 8};
  REQUIRE(lp_st_writer_create(noise_path.c_str(), &w) == LEAP_OK);
  REQUIRE(lp_st_writer_add(w, "noise", LEAP_F16, 4, shape, noise16.data()) == LEAP_OK);
  REQUIRE(lp_st_writer_finish(w) == LEAP_OK);

  const std::string raw = dir / "y.safetensors";
  Result r = leap("sample --model '" + kTiny + "' --backend cpu --threads 1 --labels 0-1,4 --n 5 --steps 2 --cfg 1.5 " +
                      "--sampler heun --noise '" + noise_path + "' --quiet --out '" + (dir / "y.png") +
                      "' --raw-out '" + raw + "'",
                  dir);
  INFO(r.err);
  REQUIRE(r.code == 0);
  CHECK(r.out.empty());  // --quiet
  lp_st_file *f = nullptr;
  std::vector<float> x = read_samples(raw, &f);
  CHECK(std::string(lp_st_meta(f, "labels")) == "0,1,4,0,1");
  CHECK(std::string(lp_st_meta(f, "sampler")) == "heun");
  lp_st_close(f);

  leap_sample_desc d = leap_sample_desc_default();
  const int32_t labels[n] = {0, 1, 4, 0, 1};
  d.n = n;
  d.labels = labels;
  d.steps = 2;
  d.cfg = 1.5;
  d.solver = LEAP_SOLVER_HEUN;
  d.noise = noise.data();
  std::vector<float> want = sample_in_process(d);
  REQUIRE(want.size() == x.size());
  for (size_t k = 0; k < x.size(); k++) REQUIRE(x[k] == want[k]);

  // The same noise file for another image count is the wrong shape.
  TempDir out;
  r = leap("sample --model '" + kTiny + "' --backend cpu --n 4 --steps 2 --noise '" + noise_path +
               "' --out '" + (out / "z.png") + "' --raw-out '" + (out / "z.safetensors") + "'",
           out);
  CHECK(r.code == 1);
  CHECK(r.err.find("noise") != std::string::npos);
  CHECK(outputs_in(out).empty());
}

// Writes a one-channel, unconditional variant of the tiny model: channel 0
// of the patch embedding, the final layer rows of output channel 0, no
// label table. Returns its path.
static std::string write_gray_model(const TempDir &dir) {
  lp_st_file *f = nullptr;
  REQUIRE(lp_st_open(kTiny.c_str(), &f) == LEAP_OK);
  const int p = std::stoi(lp_st_meta(f, "patch_size"));
  const int cin = std::stoi(lp_st_meta(f, "in_channels"));
  const int cout = std::string(lp_st_meta(f, "learn_sigma")) == "True" ? 2 * cin : cin;
  const std::string path = dir / "gray.safetensors";
  lp_st_writer *w = nullptr;
  REQUIRE(lp_st_writer_create(path.c_str(), &w) == LEAP_OK);
  for (int i = 0; i < lp_st_meta_count(f); i++) {
    std::string key = lp_st_meta_key(f, i), value = lp_st_meta(f, key.c_str());
    if (key == "in_channels") value = "1";
    if (key == "learn_sigma") value = "False";
    if (key == "num_classes" || key == "null_class") value = "0";
    REQUIRE(lp_st_writer_meta(w, key.c_str(), value.c_str()) == LEAP_OK);
  }
  REQUIRE(lp_st_writer_meta(w, "note", "gray test variant") == LEAP_OK);
  for (int i = 0; i < lp_st_count(f); i++) {
    const lp_st_tensor *t = lp_st_at(f, i);
    std::string name = t->name;
    if (name.rfind("y_embedder.", 0) == 0) continue;
    std::vector<float> v((size_t)t->numel);
    REQUIRE(lp_st_read_f32(f, t, v.data()) == LEAP_OK);
    std::vector<int64_t> shape(t->shape, t->shape + t->ndim);
    std::vector<float> keep;
    if (name == "x_embedder.proj.weight") {  // [hidden, cin, p, p] -> [hidden, 1, p, p]
      for (int64_t o = 0; o < shape[0]; o++)
        keep.insert(keep.end(), v.begin() + o * cin * p * p, v.begin() + o * cin * p * p + p * p);
      shape[1] = 1;
    } else if (name.rfind("final_layer.linear.", 0) == 0) {  // rows (py, px, c): keep c = 0
      const int64_t row = t->ndim == 2 ? shape[1] : 1;
      for (int64_t r = 0; r < shape[0]; r += cout)
        keep.insert(keep.end(), v.begin() + r * row, v.begin() + (r + 1) * row);
      shape[0] /= cout;
    } else {
      keep = v;
    }
    REQUIRE(lp_st_writer_add(w, t->name, LEAP_F32, t->ndim, shape.data(), keep.data()) == LEAP_OK);
  }
  lp_st_close(f);
  REQUIRE(lp_st_writer_finish(w) == LEAP_OK);
  return path;
}

TEST_CASE("cli: an unconditional one-channel model gives a grayscale grid", "[cli]") {
  TempDir dir;
  const std::string model = write_gray_model(dir);
  Result r = leap("info '" + model + "'", dir);
  REQUIRE(r.code == 0);
  CHECK(r.out.find("unconditional") != std::string::npos);
  CHECK(r.out.find("note") != std::string::npos);  // extra metadata is listed

  const std::string png = dir / "g.png", raw = dir / "g.safetensors";
  // No classes: labels and guidance are usage errors.
  CHECK(leap("sample --model '" + model + "' --backend cpu --labels 0 --out '" + png + "'", dir).code == 2);
  CHECK(leap("sample --model '" + model + "' --backend cpu --cfg 3 --out '" + png + "'", dir).code == 2);
  CHECK(!exists(png));

  r = leap("sample --model '" + model + "' --backend cpu --threads 1 --steps 2 --seed 3 --out '" + png + "' --raw-out '" +
               raw + "'",
           dir);
  INFO(r.err);
  REQUIRE(r.code == 0);
  lp_st_file *f = nullptr;
  std::vector<float> x = read_samples(raw, &f);
  const int n = (int)lp_st_find(f, "samples")->shape[0];
  CHECK(std::string(lp_st_meta(f, "labels")) == "none");
  CHECK(std::stod(lp_st_meta(f, "cfg")) == 1.0);
  lp_st_close(f);
  REQUIRE(n > 1);

  // Grid of n 8x8 gray tiles, ceil(sqrt(n)) columns.
  const int cols = (int)std::ceil(std::sqrt((double)n)), rows = (n + cols - 1) / cols;
  std::string bytes = slurp(png);
  REQUIRE(bytes.size() > 33);
  CHECK(be32(bytes, 16) == (uint32_t)(cols * 8 + (cols - 1) * 2));
  CHECK(be32(bytes, 20) == (uint32_t)(rows * 8 + (rows - 1) * 2));
  CHECK((int)bytes[25] == 0);  // color type gray

  // Same numbers as unconditional sampling in process.
  leap_context *ctx = nullptr;
  leap_model *m = nullptr;
  open_model(model, &ctx, &m);
  leap_sample_desc d = leap_sample_desc_default();
  d.n = n;
  d.steps = 2;
  d.seed = 3;
  std::vector<float> want(x.size());
  REQUIRE(leap_sample(m, &d, want.data()) == LEAP_OK);
  leap_model_destroy(m);
  leap_context_destroy(ctx);
  for (size_t k = 0; k < x.size(); k++) REQUIRE(x[k] == want[k]);
}

TEST_CASE("cli: a missing model exits 1 naming it and writes nothing", "[cli]") {
  TempDir dir;
  Result r = leap("sample --model '" + (dir / "nope.safetensors") + "' --backend cpu --out '" +
                      (dir / "x.png") + "'",
                  dir);
  CHECK(r.code == 1);
  CHECK(r.err.rfind("leap: ", 0) == 0);
  CHECK(r.err.find("nope.safetensors") != std::string::npos);
  CHECK(outputs_in(dir).empty());
}

TEST_CASE("cli: Ctrl-C stops sampling with exit 130 and writes nothing", "[cli]") {
  TempDir dir;
  const std::string png = dir / "x.png", raw = dir / "x.safetensors";
  // Long enough (many steps of a large batch) to be caught mid-run.
  pid_t pid = fork();
  REQUIRE(pid >= 0);
  if (pid == 0) {
    // Capture the child's output where outputs_in() does not count it.
    if (!freopen((dir / "stdout.txt").c_str(), "w", stdout) ||
        !freopen((dir / "stderr.txt").c_str(), "w", stderr))
      _exit(126);
    execl(LEAP_CLI_PATH, "leap", "sample", "--model", kTiny.c_str(), "--backend", "cpu", "--threads", "1", "--n", "32",
          "--steps", "10000", "--out", png.c_str(), "--raw-out", raw.c_str(), (char *)nullptr);
    _exit(127);
  }
  std::this_thread::sleep_for(std::chrono::milliseconds(1000));
  REQUIRE(kill(pid, SIGINT) == 0);
  int status = 0;
  REQUIRE(waitpid(pid, &status, 0) == pid);
  REQUIRE(WIFEXITED(status));
  CHECK(WEXITSTATUS(status) == 130);
  CHECK(slurp(dir / "stderr.txt").find("interrupted") != std::string::npos);
  CHECK(!exists(png));
  CHECK(!exists(raw));
  CHECK(outputs_in(dir).empty());
}

TEST_CASE("cli: bench sample times each batch size", "[cli]") {
  TempDir dir;
  Result r = leap("bench sample --model '" + kTiny + "' --batch 1,3 --steps 2 --repeat 3 --backend cpu --threads 1 --json",
                  dir);
  INFO(r.out << r.err);
  REQUIRE(r.code == 0);
  // One JSON line per batch size, in order, with best <= median.
  std::istringstream lines(r.out);
  std::vector<std::string> rows;
  for (std::string line; std::getline(lines, line);)
    if (!line.empty() && line[0] == '{') rows.push_back(line);
  REQUIRE(rows.size() == 2);
  const int batches[2] = {1, 3};
  for (int k = 0; k < 2; k++) {
    CHECK(rows[k].find("\"batch\":" + std::to_string(batches[k]) + ",") != std::string::npos);
    const double best = std::strtod(rows[k].c_str() + rows[k].find("\"best_s\":") + 9, nullptr);
    const double median = std::strtod(rows[k].c_str() + rows[k].find("\"median_s\":") + 11, nullptr);
    CHECK(best > 0);
    CHECK(median >= best);
  }
  CHECK(leap("bench sample --batch 0", dir).code == 2);
  CHECK(leap("bench sample --batch 1,,2", dir).code == 2);
  CHECK(leap("bench", dir).code == 2);
}

TEST_CASE("cli: bench erta gives the cache's own cost, the baselines and ERTA's ablation, with FD to full", "[cli]") {
  TempDir dir;
  const std::string model = std::string(LEAP_TEST_DATA) + "/../../models/default/leap-fmnist.safetensors";
  const std::string prof = dir / "p.json";
  Result p = leap("profile --model '" + model + "' --backend cpu --threads 1 --images 2 --seed 1000 --steps 8 --cfg 3 " +
                      "--computed 5 --out '" + prof + "' --quiet",
                  dir);
  INFO(p.out << p.err);
  REQUIRE(p.code == 0);
  Result r = leap("bench erta --model '" + model + "' --profile '" + prof + "' --n 2 --seed 1 --no-fd --backend cpu --threads 1",
                  dir);
  INFO(r.out << r.err);
  REQUIRE(r.code == 0);
  CHECK(r.out.find("| FD | FD to full | drift dir. | hook time |") != std::string::npos);
  // Nothing reused: every step computed, the images are full compute's.
  const size_t own = r.out.find("| cache on, nothing reused (its cost) |");
  REQUIRE(own != std::string::npos);
  const std::string own_row = r.out.substr(own, r.out.find('\n', own) - own);
  CHECK(own_row.find("|   8/8 |") != std::string::npos);
  CHECK(own_row.find("|  99.00 | 1.0000 |") != std::string::npos);
  for (const char *row : {"| uniform (5 computed) ", "| TeaCache-style", "| ERTA computed=5: policy only ",
                          "| ERTA computed=5: + timestep adj. ", "| ERTA computed=5: + rect.",
                          "| ERTA computed=5: rect. + paper phi "})
    CHECK(r.out.find(row) != std::string::npos);
  // The rows' figures against the library in process: the same run (2
  // images of seed 1, labels 0 and 1, 8 Euler steps at guidance 3) with the
  // row's cache; the row's computed steps and its mean PSNR against full
  // compute (10 log10(4 / MSE), images in [-1, 1]) to the 2 decimals printed.
  {
    leap_context *ctx = nullptr;
    leap_model *m = nullptr;
    open_model(model, &ctx, &m);
    const int32_t labels[2] = {0, 1};
    leap_sample_desc sd = leap_sample_desc_default();
    sd.n = 2, sd.labels = labels, sd.steps = 8, sd.cfg = 3, sd.seed = 1;
    const size_t per = 28 * 28;
    std::vector<float> full(2 * per), x(2 * per);
    REQUIRE(leap_sample(m, &sd, full.data()) == LEAP_OK);
    char id[17];
    REQUIRE(leap_model_id(m, id, sizeof id) == LEAP_OK);
    leap_cache_desc cd = leap_cache_desc_default();
    cd.branches = 2, cd.images = 2, cd.steps = 8, cd.cfg = 3, cd.model_id = id;
    struct Want {
      const char *row;
      leap_cache_policy policy;
      int adjust, rectify;
    };
    for (const Want &w : {Want{"| uniform (5 computed) ", LEAP_CACHE_UNIFORM, 1, 1},
                          Want{"| ERTA computed=5: policy only ", LEAP_CACHE_ERTA, 0, 0},
                          Want{"| ERTA computed=5: + timestep adj. ", LEAP_CACHE_ERTA, 1, 0}}) {
      cd.policy = w.policy, cd.uniform_computed = 5, cd.profile = prof.c_str();
      cd.timestep_adjust = w.adjust, cd.rectify = w.rectify;
      leap_cache *c = nullptr;
      REQUIRE(leap_cache_create(ctx, &cd, &c) == LEAP_OK);
      sd.cache = c;
      REQUIRE(leap_sample(m, &sd, x.data()) == LEAP_OK);
      leap_cache_stats st{};
      st.struct_size = sizeof st;
      REQUIRE(leap_cache_get_stats(c, &st) == LEAP_OK);
      leap_cache_destroy(c);
      double p = 0;
      for (int i = 0; i < 2; i++) {
        double mse = 0;
        for (size_t k = 0; k < per; k++) mse += std::pow((double)full[i * per + k] - x[i * per + k], 2);
        p += 10 * std::log10(4.0 / (mse / per));
      }
      p /= 2;
      const size_t at = r.out.find(w.row);
      REQUIRE(at != std::string::npos);
      const std::string line = r.out.substr(at, r.out.find('\n', at) - at);
      INFO(line << "\nwant computed " << st.computed << ", PSNR " << p);
      char cell[32];
      std::snprintf(cell, sizeof cell, "| %3d/8 |", st.computed);
      CHECK(line.find(cell) != std::string::npos);
      std::snprintf(cell, sizeof cell, "| %6.2f |", p);
      CHECK(line.find(cell) != std::string::npos);
    }
    leap_model_destroy(m);
    leap_context_destroy(ctx);
  }
  // Evaluation on the calibration seed is refused.
  CHECK(leap("bench erta --model '" + model + "' --profile '" + prof + "' --n 2 --seed 1000 --no-fd", dir).code == 2);
}

TEST_CASE("cli: devices lists the CPU backend", "[cli]") {
  TempDir dir;
  Result r = leap("devices", dir);
  CHECK(r.code == 0);
  CHECK(r.out.find("cpu") != std::string::npos);
  CHECK(r.out.find("OpenBLAS") != std::string::npos);
  // Vulkan is either listed with its devices or reported missing.
  CHECK((r.out.find("Vulkan devices:") != std::string::npos ||
         r.out.find("Vulkan: ") != std::string::npos));
}
