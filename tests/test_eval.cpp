// test_eval.cpp - the sample-quality metric: the classifier (gradients,
// training, save/load, the shipped file's accuracy), the Frechet distance
// (sqrtm, closed forms, data-set checks) and the `leap eval` /
// `leap train-classifier` commands.
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cmath>
#include <cstring>
#include <fstream>
#include <random>
#include <sstream>
#include <string>
#include <vector>

#include <catch2/catch.hpp>

#include "test_util.hpp"

#include "stb_write.hpp"

extern "C" {
#include "classifier.h"
#include "dataset.h"
#include "fd_metric.h"
#include "safetensors.h"
}

namespace {

const std::string kShipped =
    std::string(LEAP_TEST_DATA) + "/../../models/classifier/fmnist-classifier.safetensors";

using lt::TempDir;

// Runs the CLI with args; returns the exit code, stdout+stderr in *out.
int run_cli(const TempDir &dir, const std::string &args, std::string *out) {
  const std::string log = dir / "cli.txt";
  const std::string cmd = std::string("'") + LEAP_CLI_PATH + "' " + args + " > '" + log + "' 2>&1";
  int status = system(cmd.c_str());
  *out = lt::slurp(log);
  return WIFEXITED(status) ? WEXITSTATUS(status) : -1;
}

// The number after `key` in text (NAN if absent).
double number_after(const std::string &text, const std::string &key) {
  size_t p = text.find(key);
  if (p == std::string::npos) return NAN;
  return std::strtod(text.c_str() + p + key.size(), nullptr);
}

std::vector<double> matmul(const std::vector<double> &a, const std::vector<double> &b, int d) {
  std::vector<double> c((size_t)d * d, 0.0);
  for (int i = 0; i < d; i++)
    for (int k = 0; k < d; k++)
      for (int j = 0; j < d; j++) c[(size_t)i * d + j] += a[(size_t)i * d + k] * b[(size_t)k * d + j];
  return c;
}

// A random orthogonal matrix (Gram-Schmidt on Gaussian columns).
std::vector<double> random_orthogonal(int d, unsigned seed) {
  std::mt19937 g(seed);
  std::normal_distribution<double> n;
  std::vector<double> q((size_t)d * d);
  for (auto &v : q) v = n(g);
  for (int j = 0; j < d; j++) {
    for (int k = 0; k < j; k++) {
      double dot = 0;
      for (int i = 0; i < d; i++) dot += q[(size_t)i * d + j] * q[(size_t)i * d + k];
      for (int i = 0; i < d; i++) q[(size_t)i * d + j] -= dot * q[(size_t)i * d + k];
    }
    double norm = 0;
    for (int i = 0; i < d; i++) norm += q[(size_t)i * d + j] * q[(size_t)i * d + j];
    for (int i = 0; i < d; i++) q[(size_t)i * d + j] /= std::sqrt(norm);
  }
  return q;
}

// Q diag(w) Q^T
std::vector<double> spectral(const std::vector<double> &q, const std::vector<double> &w) {
  const int d = (int)w.size();
  std::vector<double> m((size_t)d * d, 0.0);
  for (int i = 0; i < d; i++)
    for (int j = 0; j < d; j++)
      for (int k = 0; k < d; k++) m[(size_t)i * d + j] += q[(size_t)i * d + k] * w[k] * q[(size_t)j * d + k];
  return m;
}

}  // namespace

TEST_CASE("sqrtm of known PSD matrices", "[eval]") {
  // [[5,4],[4,5]] = [[2,1],[1,2]]^2
  const double a[4] = {5, 4, 4, 5};
  double r[4];
  INFO(leap_last_error());
  REQUIRE(lp_sqrtm_psd(a, 2, r) == LEAP_OK);
  CHECK(r[0] == Approx(2).epsilon(1e-12));
  CHECK(r[1] == Approx(1).epsilon(1e-12));
  CHECK(r[2] == Approx(1).epsilon(1e-12));
  CHECK(r[3] == Approx(2).epsilon(1e-12));
  // A singular PSD matrix (rank 1): [[1,1],[1,1]] = (1/sqrt2 [[1,1],[1,1]])^2
  const double s[4] = {1, 1, 1, 1};
  REQUIRE(lp_sqrtm_psd(s, 2, r) == LEAP_OK);
  for (double v : r) CHECK(v == Approx(1 / std::sqrt(2.0)).epsilon(1e-9));
  // A random 20x20 SPD matrix: sqrtm(m)^2 == m.
  const int d = 20;
  std::vector<double> w(d);
  for (int i = 0; i < d; i++) w[i] = 0.01 + i * i;
  std::vector<double> m = spectral(random_orthogonal(d, 7), w), root((size_t)d * d);
  REQUIRE(lp_sqrtm_psd(m.data(), d, root.data()) == LEAP_OK);
  std::vector<double> sq = matmul(root, root, d);
  for (size_t k = 0; k < sq.size(); k++) REQUIRE(sq[k] == Approx(m[k]).margin(1e-9 * 400));
  // Not PSD: a clear error.
  const double neg[4] = {1, 0, 0, -1};
  CHECK(lp_sqrtm_psd(neg, 2, r) == LEAP_ERR_NUMERIC);
}

TEST_CASE("Frechet distance matches closed forms", "[eval]") {
  const int d = 16;
  std::vector<double> q = random_orthogonal(d, 3), w1(d), w2(d), mu1(d), mu2(d);
  double dist2 = 0, want_cov = 0;
  for (int i = 0; i < d; i++) {
    w1[i] = 0.5 + i;
    w2[i] = 2.0 + 0.3 * i * i;
    mu1[i] = 0.1 * i;
    mu2[i] = -0.2 * i + 1;
    dist2 += (mu1[i] - mu2[i]) * (mu1[i] - mu2[i]);
    // Commuting covariances: tr(S1 + S2 - 2 (S1 S2)^1/2) = sum (sqrt a - sqrt b)^2.
    want_cov += (std::sqrt(w1[i]) - std::sqrt(w2[i])) * (std::sqrt(w1[i]) - std::sqrt(w2[i]));
  }
  std::vector<double> s1 = spectral(q, w1), s2 = spectral(q, w2);
  double fd = -1;
  INFO(leap_last_error());
  REQUIRE(lp_fd(mu1.data(), s1.data(), mu2.data(), s2.data(), d, &fd) == LEAP_OK);
  CHECK(fd == Approx(dist2 + want_cov).epsilon(1e-10));
  // Identical Gaussians: 0.
  REQUIRE(lp_fd(mu1.data(), s1.data(), mu1.data(), s1.data(), d, &fd) == LEAP_OK);
  CHECK(fd == Approx(0).margin(1e-9));
  // Non-commuting covariances in 2-D, against tr sqrtm from its eigenvalues:
  // for 2x2 M, tr sqrt(M) = sqrt(tr M + 2 sqrt(det M)).
  const double a[4] = {2, 0.5, 0.5, 1}, b[4] = {1, -0.3, -0.3, 3};
  const double m00 = a[0] * b[0] + a[1] * b[2], m01 = a[0] * b[1] + a[1] * b[3];
  const double m10 = a[2] * b[0] + a[3] * b[2], m11 = a[2] * b[1] + a[3] * b[3];
  const double tr_sqrt = std::sqrt(m00 + m11 + 2 * std::sqrt(m00 * m11 - m01 * m10));
  double got = 0;
  REQUIRE(lp_trace_sqrt_product(a, b, 2, &got) == LEAP_OK);
  CHECK(got == Approx(tr_sqrt).epsilon(1e-12));
  const double z[2] = {0, 0};
  REQUIRE(lp_fd(z, a, z, b, 2, &fd) == LEAP_OK);
  CHECK(fd == Approx(a[0] + a[3] + b[0] + b[3] - 2 * tr_sqrt).epsilon(1e-12));
}

TEST_CASE("feature statistics: mean and unbiased covariance", "[eval]") {
  const float f[6] = {1, 2, 3, 6, 5, 10};  // rows (1,2) (3,6) (5,10)
  double mu[2], cov[4];
  REQUIRE(lp_fd_stats_features(f, 3, 2, mu, cov) == LEAP_OK);
  CHECK(mu[0] == Approx(3));
  CHECK(mu[1] == Approx(6));
  CHECK(cov[0] == Approx(4));
  CHECK(cov[1] == Approx(8));
  CHECK(cov[2] == Approx(8));
  CHECK(cov[3] == Approx(16));
  CHECK(lp_fd_stats_features(f, 1, 2, mu, cov) == LEAP_ERR_INVALID_ARG);
}

TEST_CASE("classifier gradients match finite differences", "[eval]") {
  lp_classifier_arch a{1, 8, 8, 3, 2, 3, 4};
  lp_classifier *c = nullptr;
  INFO(leap_last_error());
  REQUIRE(lp_classifier_create(&a, 5, &c) == LEAP_OK);
  // Non-zero biases too, so every parameter's gradient is exercised.
  std::mt19937 g(11);
  std::normal_distribution<float> n(0.0f, 0.5f);
  for (size_t i = 0; i < c->num_params; i++) c->params[i] = n(g);
  const int N = 3;
  std::uniform_real_distribution<float> u(-1, 1);
  std::vector<float> x((size_t)N * 64);
  for (auto &v : x) v = u(g);
  const int32_t y[N] = {0, 2, 1};
  std::vector<float> grad(c->num_params), scratch(c->num_params);
  double loss = 0;
  REQUIRE(lp_classifier_loss_grad(c, x.data(), y, N, &loss, grad.data()) == LEAP_OK);
  CHECK(std::isfinite(loss));
  const float eps = 2e-3f;
  std::vector<double> fd(c->num_params);
  for (size_t i = 0; i < c->num_params; i++) {
    const float keep = c->params[i];
    double lp = 0, lm = 0;
    c->params[i] = keep + eps;
    REQUIRE(lp_classifier_loss_grad(c, x.data(), y, N, &lp, scratch.data()) == LEAP_OK);
    c->params[i] = keep - eps;
    REQUIRE(lp_classifier_loss_grad(c, x.data(), y, N, &lm, scratch.data()) == LEAP_OK);
    c->params[i] = keep;
    fd[i] = (lp - lm) / (2.0 * eps);
  }
  // Each parameter block on its own: a small block (a bias) with a wrong
  // gradient hides in an error summed over all parameters. Measured here:
  // relative L2 errors of 1.3e-5 (b4) to 2.6e-4 (b1) per block
  // (finite-difference rounding in float); 2e-3 leaves a margin of 8x over
  // the worst and fails a block whose gradient is off by 1% or more.
  const float *starts[9] = {c->w1, c->b1, c->w2, c->b2, c->w3, c->b3, c->w4, c->b4, c->params + c->num_params};
  const char *names[8] = {"w1", "b1", "w2", "b2", "w3", "b3", "w4", "b4"};
  for (int k = 0; k < 8; k++) {
    double num = 0, den = 0;
    for (size_t i = (size_t)(starts[k] - c->params); i < (size_t)(starts[k + 1] - c->params); i++) {
      num += (fd[i] - grad[i]) * (fd[i] - grad[i]);
      den += fd[i] * fd[i];
    }
    INFO(names[k] << ": relative L2 error " << std::sqrt(num / den));
    CHECK(den > 0);
    CHECK(std::sqrt(num / den) < 2e-3);
  }
  lp_classifier_destroy(c);
}

TEST_CASE("classifier: training learns, save/load round-trips", "[eval]") {
  // The test split alone is quicker to load: train on its first 2000
  // images, measure on images 5000..5999 (a subset and a narrower net keep
  // the test fast).
  lp_dataset test{};
  INFO(leap_last_error());
  REQUIRE(lp_dataset_load("fashion-mnist:test", &test) == LEAP_OK);
  lp_dataset train = test;
  train.n = 2000;
  const float *held_x = test.images + (size_t)5000 * 28 * 28;
  const int32_t *held_y = test.labels + 5000;
  lp_classifier_arch a = lp_classifier_arch_fmnist();
  a.conv1 = 8;
  a.conv2 = 16;
  a.hidden = 64;
  lp_classifier *c = nullptr;
  REQUIRE(lp_classifier_create(&a, 1, &c) == LEAP_OK);
  double before = 0, after = 0;
  REQUIRE(lp_classifier_accuracy(c, held_x, held_y, 1000, &before) == LEAP_OK);
  lp_classifier_train_desc d = lp_classifier_train_desc_default();
  d.epochs = 2;
  d.batch = 32;
  d.augment = 0;
  REQUIRE(lp_classifier_train(c, &train, &d) == LEAP_OK);
  REQUIRE(lp_classifier_accuracy(c, held_x, held_y, 1000, &after) == LEAP_OK);
  CHECK(before < 0.3);
  CHECK(after > 0.65);  // chance is 0.1; the full run reaches 0.91

  TempDir dir;
  const std::string path = dir / "c.safetensors";
  const char *meta[] = {"note", "test"};
  REQUIRE(lp_classifier_save(c, path.c_str(), meta, 1) == LEAP_OK);
  lp_classifier *back = nullptr;
  REQUIRE(lp_classifier_load(path.c_str(), &back) == LEAP_OK);
  CHECK(back->arch.hidden == a.hidden);
  CHECK(back->arch.conv2 == a.conv2);
  REQUIRE(back->num_params == c->num_params);
  CHECK(std::memcmp(back->params, c->params, c->num_params * sizeof(float)) == 0);
  lp_classifier_destroy(back);
  // A model file that is not a classifier is refused.
  const std::string dit = std::string(LEAP_TEST_DATA) + "/dit_tiny_f32.safetensors";
  CHECK(lp_classifier_load(dit.c_str(), &back) == LEAP_ERR_FORMAT);
  CHECK(std::string(leap_last_error()).find("classifier") != std::string::npos);
  // Mismatched data set shape.
  lp_dataset small{};
  small.n = 1;
  small.channels = 1;
  small.height = 8;
  small.width = 8;
  small.num_classes = 10;
  CHECK(lp_classifier_train(c, &small, &d) == LEAP_ERR_INVALID_ARG);
  lp_classifier_destroy(c);
  lp_dataset_free(&test);  // train shares its arrays
}

namespace {
struct Shipped {
  lp_classifier *c = nullptr;
  lp_dataset test{};
  Shipped() {
    INFO(kShipped << ": " << leap_last_error());
    REQUIRE(lp_classifier_load(kShipped.c_str(), &c) == LEAP_OK);
    REQUIRE(lp_dataset_load("fashion-mnist:test", &test) == LEAP_OK);
  }
  ~Shipped() {
    lp_classifier_destroy(c);
    lp_dataset_free(&test);
  }
};
}  // namespace

TEST_CASE("the shipped classifier reaches 90% test accuracy", "[eval]") {
  Shipped s;
  double acc = 0;
  REQUIRE(lp_classifier_accuracy(s.c, s.test.images, s.test.labels, s.test.n, &acc) == LEAP_OK);
  CHECK(acc >= 0.90);
  // The accuracy recorded in the file is the one measured here.
  lp_st_file *f = nullptr;
  REQUIRE(lp_st_open(kShipped.c_str(), &f) == LEAP_OK);
  const char *rec = lp_st_meta(f, "test_accuracy");
  REQUIRE(rec != nullptr);
  CHECK(std::atof(rec) == Approx(acc).margin(2e-3));
  lp_st_close(f);
  struct stat st;
  REQUIRE(stat(kShipped.c_str(), &st) == 0);
  CHECK(st.st_size < 1024 * 1024);
}

TEST_CASE("FD separates test-set halves from noise", "[eval]") {
  Shipped s;
  const int d = s.c->arch.hidden, half = s.test.n / 2;
  const size_t per = 28 * 28;
  std::vector<double> mu_a(d), cov_a((size_t)d * d), mu_b(d), cov_b((size_t)d * d);
  std::vector<double> mu_n(d), cov_n((size_t)d * d);
  INFO(leap_last_error());
  REQUIRE(lp_fd_stats(s.c, s.test.images, half, mu_a.data(), cov_a.data()) == LEAP_OK);
  REQUIRE(lp_fd_stats(s.c, s.test.images + half * per, half, mu_b.data(), cov_b.data()) == LEAP_OK);
  std::mt19937 g(0);
  std::uniform_real_distribution<float> u(-1, 1);
  std::vector<float> noise(1000 * per);
  for (auto &v : noise) v = u(g);
  REQUIRE(lp_fd_stats(s.c, noise.data(), 1000, mu_n.data(), cov_n.data()) == LEAP_OK);
  double fd_halves = -1, fd_noise = -1, fd_same = -1;
  REQUIRE(lp_fd(mu_a.data(), cov_a.data(), mu_b.data(), cov_b.data(), d, &fd_halves) == LEAP_OK);
  REQUIRE(lp_fd(mu_a.data(), cov_a.data(), mu_n.data(), cov_n.data(), d, &fd_noise) == LEAP_OK);
  REQUIRE(lp_fd(mu_a.data(), cov_a.data(), mu_a.data(), cov_a.data(), d, &fd_same) == LEAP_OK);
  double trace = 0;
  for (int i = 0; i < d; i++) trace += cov_a[(size_t)i * d + i];
  INFO("FD halves " << fd_halves << ", FD noise " << fd_noise << ", trace " << trace);
  CHECK(fd_halves > 0);
  CHECK(fd_halves < 0.01 * fd_noise);
  CHECK(fd_noise > 0.5 * trace);
  CHECK(fd_same < 1e-8 * trace);
}

TEST_CASE("leap eval --samples scores given images", "[eval]") {
  Shipped s;
  TempDir dir;
  // The first 600 test images with their labels, as `leap sample --raw-out` writes them.
  const int n = 600;
  std::string labels;
  for (int i = 0; i < n; i++) labels += (i ? "," : "") + std::to_string(s.test.labels[i]);
  const std::string path = dir / "samples.safetensors";
  lp_st_writer *w = nullptr;
  REQUIRE(lp_st_writer_create(path.c_str(), &w) == LEAP_OK);
  REQUIRE(lp_st_writer_meta(w, "labels", labels.c_str()) == LEAP_OK);
  const int64_t shape[4] = {n, 1, 28, 28};
  REQUIRE(lp_st_writer_add(w, "samples", LEAP_F32, 4, shape, s.test.images) == LEAP_OK);
  REQUIRE(lp_st_writer_finish(w) == LEAP_OK);

  std::string out;
  const int ref_n = 2000;
  const std::string common = " --classifier '" + kShipped + "' --reference-n " + std::to_string(ref_n);
  REQUIRE(run_cli(dir, "eval --samples '" + path + "'" + common + " --json", &out) == 0);
  INFO(out);
  // The same numbers through the API.
  const int d = s.c->arch.hidden;
  std::vector<double> mu1(d), c1((size_t)d * d), mu2(d), c2((size_t)d * d);
  REQUIRE(lp_fd_stats(s.c, s.test.images, n, mu1.data(), c1.data()) == LEAP_OK);
  REQUIRE(lp_fd_stats(s.c, s.test.images, ref_n, mu2.data(), c2.data()) == LEAP_OK);
  double fd = 0, acc = 0;
  REQUIRE(lp_fd(mu1.data(), c1.data(), mu2.data(), c2.data(), d, &fd) == LEAP_OK);
  REQUIRE(lp_classifier_accuracy(s.c, s.test.images, s.test.labels, n, &acc) == LEAP_OK);
  CHECK(number_after(out, "\"fd\": ") == Approx(fd).epsilon(1e-4));
  CHECK(number_after(out, "\"cond_accuracy\": ") == Approx(acc).margin(1e-6));
  CHECK(number_after(out, "\"n\": ") == n);
  CHECK(acc >= 0.88);

  // Labels given on the command line override the file's: all 0 is mostly wrong.
  REQUIRE(run_cli(dir, "eval --samples '" + path + "'" + common + " --labels 0", &out) == 0);
  CHECK(number_after(out, "conditional accuracy ") < 0.2);
  // Usage errors exit 2.
  CHECK(run_cli(dir, "eval", &out) == 2);
  CHECK(run_cli(dir, "eval --samples a --model b", &out) == 2);
  // A samples file without the tensor is a runtime error naming it.
  CHECK(run_cli(dir, "eval --samples '" + kShipped + "' --classifier '" + kShipped + "'", &out) == 1);
  CHECK(out.find("samples") != std::string::npos);
}

static void write_samples(const std::string &path, const float *x, int n) {
  lp_st_writer *w = nullptr;
  REQUIRE(lp_st_writer_create(path.c_str(), &w) == LEAP_OK);
  const int64_t shape[4] = {n, 1, 28, 28};
  REQUIRE(lp_st_writer_add(w, "samples", LEAP_F32, 4, shape, x) == LEAP_OK);
  REQUIRE(lp_st_writer_finish(w) == LEAP_OK);
}

TEST_CASE("leap eval splits FD into its mean and covariance terms and --against compares two sets", "[eval]") {
  Shipped s;
  TempDir dir;
  // Two disjoint slices of the test set stand for an approximate run and
  // the run it approximates; the reference is the first 2000 test images.
  const int n = 400, ref_n = 2000, per = 28 * 28;
  const std::string a = dir / "a.safetensors", b = dir / "b.safetensors", small = dir / "small.safetensors";
  write_samples(a, s.test.images + (size_t)2000 * per, n);
  write_samples(b, s.test.images + (size_t)5000 * per, n);
  write_samples(small, s.test.images, n / 2);
  const int d = s.c->arch.hidden;
  std::vector<double> mua(d), ca((size_t)d * d), mub(d), cb((size_t)d * d), mur(d), cr((size_t)d * d);
  REQUIRE(lp_fd_stats(s.c, s.test.images + (size_t)2000 * per, n, mua.data(), ca.data()) == LEAP_OK);
  REQUIRE(lp_fd_stats(s.c, s.test.images + (size_t)5000 * per, n, mub.data(), cb.data()) == LEAP_OK);
  REQUIRE(lp_fd_stats(s.c, s.test.images, ref_n, mur.data(), cr.data()) == LEAP_OK);
  double fd = 0, mean_term = 0, cov_term = 0, fd_ab = 0, fd_b = 0;
  REQUIRE(lp_fd(mua.data(), ca.data(), mur.data(), cr.data(), d, &fd) == LEAP_OK);
  REQUIRE(lp_fd_parts(mua.data(), ca.data(), mur.data(), cr.data(), d, &mean_term, &cov_term) == LEAP_OK);
  REQUIRE(lp_fd(mua.data(), ca.data(), mub.data(), cb.data(), d, &fd_ab) == LEAP_OK);
  REQUIRE(lp_fd(mub.data(), cb.data(), mur.data(), cr.data(), d, &fd_b) == LEAP_OK);
  double dist = 0, shift = 0, off = 0, dot = 0, spread = 0, spread_b = 0;
  for (int i = 0; i < d; i++) {
    dist += (mua[i] - mur[i]) * (mua[i] - mur[i]);
    shift += (mua[i] - mub[i]) * (mua[i] - mub[i]);
    off += (mub[i] - mur[i]) * (mub[i] - mur[i]);
    dot += (mua[i] - mub[i]) * (mub[i] - mur[i]);
    spread += ca[(size_t)i * d + i], spread_b += cb[(size_t)i * d + i];
  }
  CHECK(mean_term == Approx(dist).epsilon(1e-12));
  double moved = 0, cosine = 0;
  lp_fd_drift(mua.data(), mub.data(), mur.data(), d, &moved, &cosine);
  CHECK(moved == Approx(std::sqrt(shift)).epsilon(1e-12));
  CHECK(cosine == Approx(dot / std::sqrt(shift * off)).epsilon(1e-12));
  // Straight away from the reference and straight towards it.
  std::vector<double> away(d), toward(d);
  for (int i = 0; i < d; i++) away[i] = mub[i] + 0.5 * (mub[i] - mur[i]), toward[i] = mub[i] - 0.25 * (mub[i] - mur[i]);
  lp_fd_drift(away.data(), mub.data(), mur.data(), d, &moved, &cosine);
  CHECK(cosine == Approx(1.0).epsilon(1e-12));
  CHECK(moved == Approx(0.5 * std::sqrt(off)).epsilon(1e-12));
  lp_fd_drift(toward.data(), mub.data(), mur.data(), d, nullptr, &cosine);
  CHECK(cosine == Approx(-1.0).epsilon(1e-12));
  CHECK(cov_term > 0);
  CHECK(mean_term + cov_term == Approx(fd).epsilon(1e-12));

  std::string out;
  const std::string common = " --classifier '" + kShipped + "' --reference-n " + std::to_string(ref_n) + " --json";
  REQUIRE(run_cli(dir, "eval --samples '" + a + "' --against '" + b + "'" + common, &out) == 0);
  INFO(out);
  CHECK(number_after(out, "\"fd\": ") == Approx(fd).epsilon(1e-4));
  CHECK(number_after(out, "\"fd_mean\": ") == Approx(mean_term).epsilon(1e-4));
  CHECK(number_after(out, "\"fd_cov\": ") == Approx(cov_term).epsilon(1e-4));
  CHECK(number_after(out, "\"against_fd\": ") == Approx(fd_ab).epsilon(1e-4));
  CHECK(number_after(out, "\"against_fd_ref\": ") == Approx(fd_b).epsilon(1e-4));
  CHECK(number_after(out, "\"shift\": ") == Approx(std::sqrt(shift)).epsilon(1e-4));
  CHECK(number_after(out, "\"shift_cos\": ") == Approx(dot / std::sqrt(shift * off)).margin(1e-5));
  CHECK(number_after(out, "\"spread\": ") == Approx(spread).epsilon(1e-6));
  CHECK(number_after(out, "\"against_spread\": ") == Approx(spread_b).epsilon(1e-6));
  // A set against itself: nothing moved.
  REQUIRE(run_cli(dir, "eval --samples '" + a + "' --against '" + a + "'" + common, &out) == 0);
  CHECK(number_after(out, "\"against_fd\": ") < 1e-6 * fd);
  CHECK(number_after(out, "\"shift\": ") == 0);
  // Sets of different sizes are refused with both sizes named.
  CHECK(run_cli(dir, "eval --samples '" + a + "' --against '" + small + "'" + common, &out) == 1);
  CHECK(out.find("200 samples") != std::string::npos);
  CHECK(out.find("400") != std::string::npos);
}

TEST_CASE("leap eval --steps LIST scores each step count as its own run would", "[eval]") {
  TempDir dir;
  const std::string model = std::string(LEAP_TEST_DATA) + "/../../models/default/leap-fmnist.safetensors";
  const std::string common = " --model '" + model + "' --classifier '" + kShipped +
                             "' --n 20 --reference-n 500 --threads 1 --quiet --json --backend cpu";
  std::string both, one;
  REQUIRE(run_cli(dir, "eval" + common + " --steps 2,3", &both) == 0);
  REQUIRE(run_cli(dir, "eval" + common + " --steps 3", &one) == 0);
  INFO(both << "\n" << one);
  // Two result lines, in the order asked, the second equal to the single run.
  const size_t second = both.find("\"steps\": 3");
  REQUIRE(both.find("\"steps\": 2") < second);
  REQUIRE(second != std::string::npos);
  const double fd2 = number_after(both, "\"fd\": ");
  const double fd3 = number_after(both.substr(both.find("\"fd\": ", both.find("\"steps\": 2"))), "\"fd\": ");
  CHECK(fd2 > 0);
  CHECK(fd3 == Approx(number_after(one, "\"fd\": ")).epsilon(1e-9));
  CHECK(fd3 != Approx(fd2).epsilon(1e-6)); // a different step count samples different images
  CHECK(run_cli(dir, "eval" + common + " --steps 2,x", &one) == 2);
  CHECK(run_cli(dir, "eval" + common + " --steps 0", &one) == 2);
}

TEST_CASE("leap train-classifier trains on an image folder", "[eval]") {
  TempDir dir;
  // Two classes any classifier separates: bright and dark 8x8 images. The
  // training folder, and a test folder of other images whose folders are
  // swapped (its "bright" holds dark images): a classifier that learnt the
  // training labels scores about 0 there, so the reported accuracy is the
  // test set's, not the training set's (about 1).
  std::mt19937 g(3);
  std::uniform_int_distribution<int> jitter(0, 40);
  auto pixels = [&](int cls, unsigned char *px) {
    for (int k = 0; k < 64; k++) px[k] = (unsigned char)(cls ? 20 + jitter(g) : 200 + jitter(g) / 2);
  };
  for (const char *set : {"train", "test"}) {
    REQUIRE(mkdir((dir / set).c_str(), 0755) == 0);
    for (int cls = 0; cls < 2; cls++) {
      const bool swapped = std::string(set) == "test";
      const std::string sub = dir / set + "/" + ((cls == 1) != swapped ? "dark" : "bright");
      REQUIRE(mkdir(sub.c_str(), 0755) == 0);
      for (int i = 0; i < 24; i++) {
        unsigned char px[64];
        pixels(cls, px);
        const std::string f = sub + "/" + std::to_string(i) + ".png";
        REQUIRE(stbi_write_png(f.c_str(), 8, 8, 1, px, 8) != 0);
      }
    }
  }
  const std::string out_path = dir / "cls.safetensors";
  std::string out;
  REQUIRE(run_cli(dir, "train-classifier --data '" + (dir / "train") + "' --test '" + (dir / "test") +
                           "' --epochs 15 --batch 8 --out '" + out_path + "'",
                  &out) == 0);
  INFO(out);
  CHECK(number_after(out, "test accuracy ") <= 0.05);
  CHECK(std::stod(lt::meta(out_path, "test_accuracy")) == Approx(number_after(out, "test accuracy ")).margin(1e-4));
  lp_classifier *c = nullptr;
  REQUIRE(lp_classifier_load(out_path.c_str(), &c) == LEAP_OK);
  CHECK(c->arch.height == 8);
  CHECK(c->arch.num_classes == 2);
  // It learnt: fresh images with their true labels (pixels in [-1, 1]).
  std::vector<float> images(32 * 64);
  std::vector<int32_t> labels(32);
  for (int i = 0; i < 32; i++) {
    unsigned char px[64];
    labels[(size_t)i] = i % 2;
    pixels(i % 2, px);
    for (int k = 0; k < 64; k++) images[(size_t)i * 64 + k] = px[k] / 127.5f - 1.0f;
  }
  double acc = 0;
  REQUIRE(lp_classifier_accuracy(c, images.data(), labels.data(), 32, &acc) == LEAP_OK);
  CHECK(acc >= 0.95);
  lp_classifier_destroy(c);
  // --out is required; a missing data set is a runtime error.
  CHECK(run_cli(dir, "train-classifier", &out) == 2);
  CHECK(run_cli(dir, "train-classifier --data /nonexistent --out x.safetensors", &out) == 1);
}

TEST_CASE("the shipped one-step student: one step of it beats one step of its teacher by far", "[eval][distill]") {
  // models/default/leap-fmnist-1step.safetensors is `leap distill --method dmd`'s student of the
  // default model (bench/RESULTS.md). Measured with these settings: student FD 75.5, accuracy
  // 0.805; the teacher in one step (cfg 3) FD 249.9, accuracy 0.245. A student file that lost its
  // training (the teacher's weights, or a broken conversion) fails both bounds.
  TempDir dir;
  const std::string root = std::string(LEAP_TEST_DATA) + "/../../models/default/";
  const std::string common = " --classifier '" + kShipped +
                             "' --n 200 --reference-n 2000 --steps 1 --threads 1 --quiet --json --backend cpu";
  std::string student, teacher;
  REQUIRE(run_cli(dir, "eval --model '" + root + "leap-fmnist-1step.safetensors' --cfg 1" + common, &student) == 0);
  REQUIRE(run_cli(dir, "eval --model '" + root + "leap-fmnist.safetensors' --cfg 3" + common, &teacher) == 0);
  INFO(student << "\n" << teacher);
  const double fd_s = number_after(student, "\"fd\": "), fd_t = number_after(teacher, "\"fd\": ");
  REQUIRE(fd_s > 0);
  CHECK(fd_s < 0.5 * fd_t);
  CHECK(number_after(student, "\"cond_accuracy\": ") >= 0.65);
}
