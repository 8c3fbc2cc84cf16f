// test_video_metrics.cpp - the video metrics of `leap eval --video`
// (models/video_metrics.h): the motion fit on exact tracks, the floor of
// each metric on real moving-Fashion-MNIST clips, and that each metric
// sees the corruption it is for (garments that jump, garments that change
// class, frames of noise), then the CLI end to end.
#include <sys/wait.h>

#include <algorithm>
#include <cmath>
#include <string>
#include <vector>

#include <catch2/catch.hpp>

#include "test_util.hpp"

extern "C" {
#include "classifier.h"
#include "data_moving_fmnist.h"
#include "dataset.h"
#include "safetensors.h"
#include "video_metrics.h"
}

namespace {

const std::string kClassifier =
    std::string(LEAP_TEST_DATA) + "/../../models/classifier/fmnist-classifier.safetensors";
const int SIDE = LP_MFMNIST_CANVAS, FRAME = SIDE * SIDE;
const double WIDTH = LP_MFMNIST_CANVAS - LP_MFMNIST_GARMENT;

// Fashion-MNIST test (the garments of evaluation clips) and the shipped
// classifier, or a skip when the data set is not installed.
struct Fixture {
  lp_dataset garments{};
  lp_classifier *cls = nullptr;
  bool ok = false;
  Fixture() {
    if (lp_dataset_load("fashion-mnist:test", &garments) != LEAP_OK) {
      lt::skip(std::string("Fashion-MNIST not available: ") + leap_last_error());
      return;
    }
    REQUIRE(lp_classifier_load(kClassifier.c_str(), &cls) == LEAP_OK);
    ok = true;
  }
  ~Fixture() {
    lp_classifier_destroy(cls);
    lp_dataset_free(&garments);
  }
  std::vector<float> clips(uint64_t seed, int n, int frames, std::vector<int32_t> *labels = nullptr) {
    std::vector<float> v((size_t)n * frames * FRAME);
    std::vector<int32_t> l(n);
    REQUIRE(lp_video_real_clips(&garments, seed, 0, n, frames, v.data(), l.data()) == LEAP_OK);
    if (labels) *labels = l;
    return v;
  }
  lp_video_scores score(const std::vector<float> &v, int n, int frames, const std::vector<float> &ref, int ref_n,
                        const int32_t *labels = nullptr) {
    lp_video_frames a{}, b{};
    REQUIRE(lp_video_frames_analyse(cls, v.data(), n, frames, SIDE, SIDE, &a) == LEAP_OK);
    REQUIRE(lp_video_frames_analyse(cls, ref.data(), ref_n, frames, SIDE, SIDE, &b) == LEAP_OK);
    lp_video_scores r{};
    REQUIRE(lp_video_score(&a, labels, &b, WIDTH, &r) == LEAP_OK);
    lp_video_frames_free(&a);
    lp_video_frames_free(&b);
    return r;
  }
};

// A 1-D constant-velocity track reflected at lo and lo + width.
std::vector<double> bouncing(double lo, double start, double v, int frames) {
  std::vector<double> p(frames);
  double x = start;
  for (int t = 0; t < frames; t++) {
    p[t] = lo + x;
    x += v;
    if (x < 0) x = -x, v = -v;
    if (x > WIDTH) x = 2 * WIDTH - x, v = -v;
  }
  return p;
}

}  // namespace

TEST_CASE("video metrics: the motion fit recovers bouncing tracks exactly and not a jumping one", "[video]") {
  // Walls at 7.3 and 23.3, bounces off both within 16 frames.
  const std::vector<std::vector<double>> tracks = {bouncing(7.3, 2.0, 2.7, 16), bouncing(6.1, 15.0, -1.3, 16),
                                                   bouncing(8.0, 5.5, 0.0, 16), bouncing(7.9, 0.2, 2.95, 16)};
  for (const auto &p : tracks) {
    double sse = -1;
    std::vector<double> fit(p.size());
    REQUIRE(lp_video_motion_fit_axis(p.data(), (int)p.size(), WIDTH, &sse, fit.data()) == LEAP_OK);
    CHECK(std::sqrt(sse / p.size()) < 1e-4);
    for (size_t t = 0; t < p.size(); t++) CHECK(std::fabs(fit[t] - p[t]) < 1e-3);
  }
  // The same positions in a shuffled order: no constant motion fits them.
  std::vector<double> p = tracks[0];
  std::swap(p[3], p[11]);
  std::swap(p[5], p[14]);
  double sse = 0;
  REQUIRE(lp_video_motion_fit_axis(p.data(), (int)p.size(), WIDTH, &sse, nullptr) == LEAP_OK);
  CHECK(std::sqrt(sse / p.size()) > 1.0);
  // Bad input is an error, not a number.
  std::vector<double> bad = {1.0, NAN, 2.0};
  CHECK(lp_video_motion_fit_axis(bad.data(), 3, WIDTH, &sse, nullptr) == LEAP_ERR_NUMERIC);
  CHECK(lp_video_motion_fit_axis(p.data(), 0, WIDTH, &sse, nullptr) == LEAP_ERR_INVALID_ARG);
  CHECK(lp_video_motion_fit_axis(p.data(), 4, 0.0, &sse, nullptr) == LEAP_ERR_INVALID_ARG);
}

TEST_CASE("video metrics: the centroid of a real frame is the ground-truth track", "[video]") {
  lp_dataset d{};
  if (lp_dataset_load("fashion-mnist:test", &d) != LEAP_OK) {
    lt::skip(std::string("Fashion-MNIST not available: ") + leap_last_error());
    return;
  }
  lp_mfmnist_clip c{};
  REQUIRE(lp_mfmnist_clip_make(&d, 3, LP_MFMNIST_EVAL, 5, 16, &c) == LEAP_OK);
  for (int t = 0; t < c.frames; t++) {
    double cx, cy;
    lp_video_centroid(c.video + (size_t)t * FRAME, SIDE, SIDE, &cx, &cy);
    CHECK(std::fabs(cx - c.track[2 * t]) < 1e-3);
    CHECK(std::fabs(cy - c.track[2 * t + 1]) < 1e-3);
  }
  lp_mfmnist_clip_free(&c);
  lp_dataset_free(&d);
}

TEST_CASE("video metrics: real clips are the floor, jumps, class changes and noise are seen", "[video]") {
  Fixture fx;
  if (!fx.ok) return;
  const int n = 64, frames = 16, ref_n = 64;
  std::vector<int32_t> labels;
  const std::vector<float> real = fx.clips(0, n, frames, &labels), ref = fx.clips(1, ref_n, frames);

  // Real clips against real clips of another seed.
  const lp_video_scores floor = fx.score(real, n, frames, ref, ref_n, labels.data());
  INFO("real: FD " << floor.fd << " identity " << floor.identity << " motion " << floor.motion << " (worst "
                   << floor.motion_max << ") accuracy " << floor.accuracy);
  // Measured (these seeds): FD 17.3 (64 garments: few distinct samples for
  // 128-d features), identity 0.946, motion 2.9e-8 px (worst clip 6.5e-8),
  // accuracy 0.625.
  CHECK(floor.identity >= 0.9);
  CHECK(floor.motion < 1e-6);  // the centroid is the track: only float rounding is left
  CHECK(floor.motion_max < 1e-5);
  CHECK(floor.accuracy > 0.5);  // the 16 px garments, blown back up to 28 px, are harder than the test set

  // Jumps: each clip's frames in a shuffled order (same garment, same
  // positions, no constant motion).
  std::vector<float> jumped(real.size());
  const int order[frames] = {0, 9, 3, 14, 6, 1, 11, 4, 15, 7, 2, 12, 5, 10, 8, 13};
  for (int i = 0; i < n; i++)
    for (int t = 0; t < frames; t++)
      std::copy_n(real.begin() + ((size_t)i * frames + order[t]) * FRAME, FRAME,
                  jumped.begin() + ((size_t)i * frames + t) * FRAME);
  const lp_video_scores jump = fx.score(jumped, n, frames, ref, ref_n);
  INFO("jumps: motion " << jump.motion << " identity " << jump.identity << " FD " << jump.fd);
  CHECK(jump.motion > 1.0);  // measured 4.80 px
  CHECK(jump.motion > 1000 * floor.motion);
  CHECK(std::fabs(jump.fd - floor.fd) < 1e-6 * std::max(1.0, floor.fd));  // the same frames: per-frame FD is blind to order

  // Class changes: frames 8.. of clip i come from the next clip of another
  // class.
  std::vector<float> swapped = real;
  int changed = 0;
  for (int i = 0; i < n; i++) {
    int j = (i + 1) % n;
    while (labels[j] == labels[i]) j = (j + 1) % n;
    changed++;
    for (int t = frames / 2; t < frames; t++)
      std::copy_n(real.begin() + ((size_t)j * frames + t) * FRAME, FRAME,
                  swapped.begin() + ((size_t)i * frames + t) * FRAME);
  }
  REQUIRE(changed == n);
  const lp_video_scores sw = fx.score(swapped, n, frames, ref, ref_n, labels.data());
  INFO("class changes: identity " << sw.identity << " accuracy " << sw.accuracy);
  CHECK(sw.identity < floor.identity - 0.25);  // half the frames changed garment
  CHECK(sw.identity < 0.75);  // measured 0.502
  CHECK(sw.motion > 1.0);  // the garment also jumps to the other clip's place

  // Noise frames: a FD far above real vs real.
  std::vector<float> noise(real.size());
  uint64_t state = 12345;
  for (float &x : noise) {
    state = state * 6364136223846793005ULL + 1442695040888963407ULL;
    x = (float)((state >> 40) / (double)(1ULL << 24)) * 2.0f - 1.0f;
  }
  const lp_video_scores nz = fx.score(noise, n, frames, ref, ref_n);
  INFO("noise: FD " << nz.fd);
  CHECK(nz.fd > 5 * floor.fd);  // measured 171 against 17.3 (64 clips each side)
}

TEST_CASE("video metrics: VDE weights early drift most", "[video]") {
  const double m[4] = {10.0, 12.0, 9.0, 10.0};
  double v = -1;
  REQUIRE(lp_video_vde(m, 4, &v) == LEAP_OK);
  CHECK(v == Approx(3 * 0.2 + 2 * 0.1 + 1 * 0.0));
  REQUIRE(lp_video_vde(m, 1, &v) == LEAP_OK);
  CHECK(v == 0.0);
  const double zero[2] = {0.0, 1.0};
  CHECK(lp_video_vde(zero, 2, &v) == LEAP_ERR_INVALID_ARG);
}

TEST_CASE("video metrics: per-chunk FD and identity, a class change shows in its chunks", "[video]") {
  Fixture fx;
  if (!fx.ok) return;
  const int n = 32, frames = 16, chunk = 4;
  std::vector<int32_t> labels;
  const std::vector<float> real = fx.clips(0, n, frames, &labels), ref = fx.clips(1, n, frames);
  std::vector<float> swapped = real;  // frames 8.. of clip i from a clip of another class
  for (int i = 0; i < n; i++) {
    int j = (i + 1) % n;
    while (labels[j] == labels[i]) j = (j + 1) % n;
    std::copy_n(real.begin() + ((size_t)j * frames + 8) * FRAME, (size_t)8 * FRAME,
                swapped.begin() + ((size_t)i * frames + 8) * FRAME);
  }
  lp_video_frames a{}, b{}, r{};
  REQUIRE(lp_video_frames_analyse(fx.cls, real.data(), n, frames, SIDE, SIDE, &a) == LEAP_OK);
  REQUIRE(lp_video_frames_analyse(fx.cls, swapped.data(), n, frames, SIDE, SIDE, &b) == LEAP_OK);
  REQUIRE(lp_video_frames_analyse(fx.cls, ref.data(), n, frames, SIDE, SIDE, &r) == LEAP_OK);
  // One chunk of every frame is the whole-clip score.
  double fd1 = 0, id1 = 0;
  lp_video_scores whole{};
  REQUIRE(lp_video_chunk_scores(&a, &r, frames, &fd1, &id1) == LEAP_OK);
  REQUIRE(lp_video_score(&a, nullptr, &r, WIDTH, &whole) == LEAP_OK);
  CHECK(fd1 == Approx(whole.fd).epsilon(1e-9));
  CHECK(id1 == Approx(whole.identity).epsilon(1e-12));
  double fa[4], ia[4], fb[4], ib[4], vde_a = 0, vde_b = 0;
  REQUIRE(lp_video_chunk_scores(&a, &r, chunk, fa, ia) == LEAP_OK);
  REQUIRE(lp_video_chunk_scores(&b, &r, chunk, fb, ib) == LEAP_OK);
  for (int k = 0; k < 2; k++) CHECK(ib[k] == ia[k]);  // chunks 1-2 are untouched
  for (int k = 2; k < 4; k++) CHECK(ib[k] < ia[k] - 0.4);  // the other garment's chunks
  REQUIRE(lp_video_vde(ia, 4, &vde_a) == LEAP_OK);
  REQUIRE(lp_video_vde(ib, 4, &vde_b) == LEAP_OK);
  INFO("identity VDE real " << vde_a << " class-changed " << vde_b);
  CHECK(vde_b > vde_a + 1.0);
  CHECK(lp_video_chunk_scores(&a, &r, frames + 1, fa, ia) == LEAP_ERR_INVALID_ARG);
  lp_video_frames_free(&a);
  lp_video_frames_free(&b);
  lp_video_frames_free(&r);
}

TEST_CASE("video metrics: bad input is a clear error", "[video]") {
  Fixture fx;
  if (!fx.ok) return;
  std::vector<float> v((size_t)2 * 2 * 8 * 8, -1.0f);
  lp_video_frames f{};
  CHECK(lp_video_frames_analyse(fx.cls, v.data(), 2, 2, 8, 8, &f) == LEAP_ERR_INVALID_ARG);
  CHECK(std::string(leap_last_error()).find("smaller than") != std::string::npos);
  CHECK(f.features == nullptr);
  CHECK(lp_video_frames_analyse(fx.cls, v.data(), 0, 2, SIDE, SIDE, &f) == LEAP_ERR_INVALID_ARG);
}

namespace {

int run_cli(const lt::TempDir &dir, const std::string &args, std::string *out) {
  const std::string log = dir / "cli.txt";
  const std::string cmd = std::string("'") + LEAP_CLI_PATH + "' " + args + " > '" + log + "' 2>&1";
  const int status = system(cmd.c_str());
  *out = lt::slurp(log);
  return WIFEXITED(status) ? WEXITSTATUS(status) : -1;
}

double json_number(const std::string &text, const std::string &key) {
  const size_t p = text.find("\"" + key + "\": ");
  if (p == std::string::npos) return NAN;
  return std::strtod(text.c_str() + p + key.size() + 4, nullptr);
}

void write_video(const std::string &path, const std::vector<float> &v, int n, int frames, const char *labels) {
  lp_st_writer *w = nullptr;
  const int64_t shape[5] = {n, frames, 1, SIDE, SIDE};
  REQUIRE(lp_st_writer_create(path.c_str(), &w) == LEAP_OK);
  if (labels) REQUIRE(lp_st_writer_meta(w, "labels", labels) == LEAP_OK);
  REQUIRE(lp_st_writer_add(w, "video", LEAP_F32, 5, shape, v.data()) == LEAP_OK);
  REQUIRE(lp_st_writer_finish(w) == LEAP_OK);
}

}  // namespace

TEST_CASE("leap eval --video: a raw clip file and real clips end to end", "[video][cli]") {
  Fixture fx;
  if (!fx.ok) return;
  lt::TempDir dir;
  const int n = 6, frames = 8;
  std::vector<int32_t> labels;
  const std::vector<float> v = fx.clips(7, n, frames, &labels);
  std::string label_text;
  for (int i = 0; i < n; i++) label_text += (i ? "," : "") + std::to_string(labels[i]);
  const std::string file = dir / "clips.safetensors";
  write_video(file, v, n, frames, label_text.c_str());

  const std::string cls = " --classifier '" + kClassifier + "'";
  std::string out;
  REQUIRE(run_cli(dir, "eval --video --samples '" + file + "' --reference-n 24 --json" + cls, &out) == 0);
  INFO(out);
  CHECK(out.find("per-frame FD") != std::string::npos);
  CHECK(json_number(out, "n") == n);
  CHECK(json_number(out, "frames") == frames);
  CHECK(json_number(out, "reference_n") == 24);
  CHECK(json_number(out, "motion") < 1e-3);
  CHECK(json_number(out, "identity") >= 0.8);
  CHECK(json_number(out, "fd") > 0);
  const double acc = json_number(out, "accuracy");
  CHECK((acc >= 0 && acc <= 1));
  // The library's numbers for the same clips and reference.
  const lp_video_scores lib = fx.score(v, n, frames, fx.clips(1, 24, frames), 24, labels.data());
  CHECK(std::fabs(json_number(out, "fd") - lib.fd) < 1e-4 * std::max(1.0, lib.fd));
  CHECK(std::fabs(json_number(out, "identity") - lib.identity) < 1e-6);

  // --real: the same clips measured from the generator (seed 7).
  std::string real;
  REQUIRE(run_cli(dir, "eval --video --real 6 --frames 8 --seed 7 --reference-n 24 --json" + cls, &real) == 0);
  CHECK(json_number(real, "fd") == Approx(json_number(out, "fd")).epsilon(1e-6));
  CHECK(json_number(real, "identity") == json_number(out, "identity"));

  // --chunk: per-chunk scores and their VDE.
  REQUIRE(run_cli(dir, "eval --video --samples '" + file + "' --reference-n 24 --chunk 4 --json" + cls, &out) == 0);
  CHECK(out.find("chunk 2 (frames 4-7)") != std::string::npos);
  CHECK(out.find("\"chunk_fd\": [") != std::string::npos);
  CHECK(json_number(out, "vde_fd") >= 0);
  CHECK(run_cli(dir, "eval --video --samples '" + file + "' --chunk 9" + cls, &out) == 1);

  // Bad input: a clear error, exit 1 or 2, nothing else.
  write_video(dir / "bad.safetensors", std::vector<float>((size_t)2 * 1 * FRAME), 2, 1, nullptr);
  CHECK(run_cli(dir, "eval --video --samples '" + (dir / "bad.safetensors") + "'" + cls, &out) == 1);
  CHECK(out.find("[N,F,1,32,32]") != std::string::npos);
  write_video(dir / "labels.safetensors", v, n, frames, "0,1");
  CHECK(run_cli(dir, "eval --video --samples '" + (dir / "labels.safetensors") + "'" + cls, &out) == 1);
  CHECK(out.find("labels") != std::string::npos);
  CHECK(run_cli(dir, "eval --video --real 4 --seed 1" + cls, &out) == 2);
  CHECK(out.find("reference") != std::string::npos);
  CHECK(run_cli(dir, "eval --video --real 4 --samples '" + file + "'" + cls, &out) == 2);
  CHECK(run_cli(dir, "eval --video" + cls, &out) == 2);
}
