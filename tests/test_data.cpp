// test_data.cpp - the data set loaders (models/dataset.h): Fashion-MNIST
// from Debian's IDX files, their validation on corrupt copies, and the
// labelled image folder loader.
#include <sys/stat.h>
#include <unistd.h>
#include <zlib.h>

#include <cstring>
#include <string>
#include <vector>

#include <catch2/catch.hpp>

#include "test_util.hpp"

#include "stb_write.hpp"

extern "C" {
#include "dataset.h"
}

namespace {

const char *kFmnistDir = "/usr/share/datasets/fashion-mnist";

using lt::TempDir;

std::vector<unsigned char> gunzip(const std::string &path) {
  gzFile g = gzopen(path.c_str(), "rb");
  REQUIRE(g != nullptr);
  std::vector<unsigned char> out;
  unsigned char buf[1 << 16];
  int got;
  while ((got = gzread(g, buf, sizeof buf)) > 0) out.insert(out.end(), buf, buf + got);
  gzclose(g);
  return out;
}

void gzip_to(const std::string &path, const std::vector<unsigned char> &bytes) {
  gzFile g = gzopen(path.c_str(), "wb1");
  REQUIRE(g != nullptr);
  if (!bytes.empty()) REQUIRE(gzwrite(g, bytes.data(), (unsigned)bytes.size()) == (int)bytes.size());
  REQUIRE(gzclose(g) == Z_OK);
}

// A copy of the t10k split in dir, the images passed through edit.
template <class F> void copy_test_split(const TempDir &dir, F edit_images) {
  gzip_to(dir / "t10k-labels-idx1-ubyte.gz", gunzip(std::string(kFmnistDir) + "/t10k-labels-idx1-ubyte.gz"));
  std::vector<unsigned char> img = gunzip(std::string(kFmnistDir) + "/t10k-images-idx3-ubyte.gz");
  edit_images(img);
  gzip_to(dir / "t10k-images-idx3-ubyte.gz", img);
}

// Loads "fashion-mnist:test" with LEAP_FMNIST_DIR = dir.
leap_status load_test_from(const std::string &dir, lp_dataset *d) {
  setenv("LEAP_FMNIST_DIR", dir.c_str(), 1);
  leap_status s = lp_dataset_load("fashion-mnist:test", d);
  unsetenv("LEAP_FMNIST_DIR");
  return s;
}

void check_split(const lp_dataset &d, int n) {
  REQUIRE(d.n == n);
  CHECK(d.channels == 1);
  CHECK(d.height == 28);
  CHECK(d.width == 28);
  CHECK(d.num_classes == 10);
  // Fashion-MNIST is balanced: n / 10 of each class.
  std::vector<int> per(10, 0);
  for (int i = 0; i < d.n; i++) {
    REQUIRE(d.labels[i] >= 0);
    REQUIRE(d.labels[i] < 10);
    per[d.labels[i]]++;
  }
  for (int k = 0; k < 10; k++) CHECK(per[k] == n / 10);
  // Pixels: uint8 mapped to [-1, 1]; both ends occur, every value is k/255.
  float lo = 2, hi = -2;
  size_t off_grid = 0;
  const size_t count = (size_t)n * 28 * 28;
  for (size_t k = 0; k < count; k++) {
    const float v = d.images[k];
    lo = v < lo ? v : lo;
    hi = v > hi ? v : hi;
    const double q = (v + 1.0) * 127.5;
    if (std::fabs(q - std::round(q)) > 1e-3) off_grid++;
  }
  CHECK(lo == -1.0f);
  CHECK(hi == Approx(1.0f).margin(1e-6));
  CHECK(off_grid == 0);
}

}  // namespace

TEST_CASE("Fashion-MNIST train and test splits load with valid contents", "[data]") {
  lp_dataset train{}, test{};
  INFO(leap_last_error());
  REQUIRE(lp_dataset_load("fashion-mnist", &train) == LEAP_OK);
  check_split(train, 60000);
  REQUIRE(lp_dataset_load("fashion-mnist:test", &test) == LEAP_OK);
  check_split(test, 10000);
  // The first test item of Fashion-MNIST is an ankle boot (class 9).
  CHECK(test.labels[0] == 9);
  lp_dataset_free(&train);
  lp_dataset_free(&test);
  CHECK(train.images == nullptr);
  lp_dataset_free(&train);  // twice is harmless
}

TEST_CASE("Fashion-MNIST: a missing folder names the Debian package", "[data]") {
  lp_dataset d{};
  REQUIRE(load_test_from("/nonexistent/leap-fmnist", &d) == LEAP_ERR_IO);
  CHECK(std::string(leap_last_error()).find("dataset-fashion-mnist") != std::string::npos);
  CHECK(d.images == nullptr);
  TempDir empty;
  REQUIRE(load_test_from(empty.path, &d) == LEAP_ERR_IO);
  CHECK(std::string(leap_last_error()).find("dataset-fashion-mnist") != std::string::npos);
}

TEST_CASE("Fashion-MNIST: corrupt or truncated IDX copies are clear errors", "[data]") {
  lp_dataset d{};
  SECTION("a good copy loads") {
    TempDir dir;
    copy_test_split(dir, [](std::vector<unsigned char> &) {});
    INFO(leap_last_error());
    REQUIRE(load_test_from(dir.path, &d) == LEAP_OK);
    CHECK(d.n == 10000);
    lp_dataset_free(&d);
  }
  SECTION("truncated image data") {
    TempDir dir;
    copy_test_split(dir, [](std::vector<unsigned char> &b) { b.resize(b.size() - 100); });
    REQUIRE(load_test_from(dir.path, &d) == LEAP_ERR_FORMAT);
    const std::string msg = leap_last_error();
    CHECK(msg.find("truncated") != std::string::npos);
    CHECK(msg.find("t10k-images-idx3-ubyte.gz") != std::string::npos);
  }
  SECTION("truncated header") {
    TempDir dir;
    copy_test_split(dir, [](std::vector<unsigned char> &b) { b.resize(6); });
    REQUIRE(load_test_from(dir.path, &d) == LEAP_ERR_FORMAT);
    CHECK(std::string(leap_last_error()).find("truncated") != std::string::npos);
  }
  SECTION("wrong magic") {
    TempDir dir;
    copy_test_split(dir, [](std::vector<unsigned char> &b) { b[3] = 0x01; });
    REQUIRE(load_test_from(dir.path, &d) == LEAP_ERR_FORMAT);
    CHECK(std::string(leap_last_error()).find("magic") != std::string::npos);
  }
  SECTION("image count disagrees with the labels") {
    TempDir dir;
    copy_test_split(dir, [](std::vector<unsigned char> &b) { b[7] = 0x0f; });  // 10000 -> 9999-ish
    REQUIRE(load_test_from(dir.path, &d) == LEAP_ERR_FORMAT);
    CHECK(std::string(leap_last_error()).find("expected") != std::string::npos);
  }
  SECTION("extra bytes after the data") {
    TempDir dir;
    copy_test_split(dir, [](std::vector<unsigned char> &b) { b.push_back(7); });
    REQUIRE(load_test_from(dir.path, &d) == LEAP_ERR_FORMAT);
    CHECK(std::string(leap_last_error()).find("extra") != std::string::npos);
  }
  SECTION("a gzip stream cut in half") {
    TempDir dir;
    copy_test_split(dir, [](std::vector<unsigned char> &) {});
    const std::string p = dir / "t10k-images-idx3-ubyte.gz";
    struct stat st;
    REQUIRE(stat(p.c_str(), &st) == 0);
    REQUIRE(truncate(p.c_str(), st.st_size / 2) == 0);
    REQUIRE(load_test_from(dir.path, &d) == LEAP_ERR_FORMAT);
    CHECK(std::string(leap_last_error()).find("t10k-images") != std::string::npos);
  }
  SECTION("a label out of range") {
    TempDir dir;
    copy_test_split(dir, [](std::vector<unsigned char> &) {});
    std::vector<unsigned char> lab = gunzip(std::string(kFmnistDir) + "/t10k-labels-idx1-ubyte.gz");
    lab[8 + 5] = 10;
    gzip_to(dir / "t10k-labels-idx1-ubyte.gz", lab);
    REQUIRE(load_test_from(dir.path, &d) == LEAP_ERR_FORMAT);
    CHECK(std::string(leap_last_error()).find("label 10 of item 5") != std::string::npos);
  }
  CHECK(d.images == nullptr);
  CHECK(d.labels == nullptr);
}

TEST_CASE("dataset specs: bad split and missing folder", "[data]") {
  lp_dataset d{};
  CHECK(lp_dataset_load("fashion-mnist:val", &d) == LEAP_ERR_INVALID_ARG);
  CHECK(lp_dataset_load("", &d) == LEAP_ERR_INVALID_ARG);
  CHECK(lp_dataset_load("/nonexistent/images", &d) == LEAP_ERR_IO);
  CHECK(std::string(leap_last_error()).find("/nonexistent/images") != std::string::npos);
}

namespace {
// A w x h image with c channels whose pixel (x, y, ch) is a known function
// of (seed, x, y, ch).
std::vector<unsigned char> pattern(int w, int h, int c, int seed) {
  std::vector<unsigned char> px((size_t)w * h * c);
  for (int y = 0; y < h; y++)
    for (int x = 0; x < w; x++)
      for (int ch = 0; ch < c; ch++)
        px[((size_t)y * w + x) * c + ch] = (unsigned char)((seed * 37 + x * 11 + y * 5 + ch * 70) % 256);
  return px;
}

void write_png(const std::string &path, int w, int h, int c, int seed) {
  std::vector<unsigned char> px = pattern(w, h, c, seed);
  REQUIRE(stbi_write_png(path.c_str(), w, h, c, px.data(), w * c) != 0);
}
}  // namespace

TEST_CASE("image folder: sorted subfolders are labels, pixels are CHW in [-1,1]", "[data]") {
  TempDir root;
  // Created out of order: labels follow the sorted names.
  const char *classes[] = {"shirt", "boot", "coat"};
  for (const char *cls : classes) REQUIRE(mkdir((root / cls).c_str(), 0755) == 0);
  write_png(root / "shirt/0.png", 6, 4, 3, 1);
  write_png(root / "shirt/1.png", 6, 4, 3, 2);
  write_png(root / "boot/a.png", 6, 4, 3, 3);
  write_png(root / "coat/z.PNG", 6, 4, 3, 4);
  // Files that are not images are skipped.
  FILE *f = fopen((root / "boot/notes.txt").c_str(), "w");
  REQUIRE(f);
  fputs("not an image", f);
  fclose(f);

  lp_dataset d{};
  INFO(leap_last_error());
  REQUIRE(lp_dataset_load(root.path.c_str(), &d) == LEAP_OK);
  REQUIRE(d.n == 4);
  CHECK(d.num_classes == 3);
  CHECK(d.channels == 3);
  CHECK(d.height == 4);
  CHECK(d.width == 6);
  // boot = 0, coat = 1, shirt = 2; files in sorted order within a class.
  const int32_t want_labels[] = {0, 1, 2, 2};
  const int seeds[] = {3, 4, 1, 2};
  for (int i = 0; i < 4; i++) {
    CHECK(d.labels[i] == want_labels[i]);
    std::vector<unsigned char> px = pattern(6, 4, 3, seeds[i]);
    for (int ch = 0; ch < 3; ch++)
      for (int p = 0; p < 24; p++)
        REQUIRE(d.images[((size_t)i * 3 + ch) * 24 + p] ==
                Approx(px[(size_t)p * 3 + ch] * (2.0 / 255.0) - 1.0).margin(1e-6));
  }
  lp_dataset_free(&d);
}

TEST_CASE("image folder: mixed sizes, empty classes and bad files are errors", "[data]") {
  lp_dataset d{};
  SECTION("different sizes") {
    TempDir root;
    REQUIRE(mkdir((root / "a").c_str(), 0755) == 0);
    REQUIRE(mkdir((root / "b").c_str(), 0755) == 0);
    write_png(root / "a/0.png", 8, 8, 1, 0);
    write_png(root / "b/0.png", 8, 6, 1, 0);
    REQUIRE(lp_dataset_load(root.path.c_str(), &d) == LEAP_ERR_FORMAT);
    const std::string msg = leap_last_error();
    CHECK(msg.find("same size") != std::string::npos);
    CHECK(msg.find("b/0.png") != std::string::npos);
  }
  SECTION("different channel counts") {
    TempDir root;
    REQUIRE(mkdir((root / "a").c_str(), 0755) == 0);
    write_png(root / "a/0.png", 8, 8, 1, 0);
    write_png(root / "a/1.png", 8, 8, 3, 0);
    REQUIRE(lp_dataset_load(root.path.c_str(), &d) == LEAP_ERR_FORMAT);
    CHECK(std::string(leap_last_error()).find("channel") != std::string::npos);
  }
  SECTION("a class without images") {
    TempDir root;
    REQUIRE(mkdir((root / "a").c_str(), 0755) == 0);
    REQUIRE(mkdir((root / "b").c_str(), 0755) == 0);
    write_png(root / "a/0.png", 8, 8, 1, 0);
    REQUIRE(lp_dataset_load(root.path.c_str(), &d) == LEAP_ERR_FORMAT);
    CHECK(std::string(leap_last_error()).find("label 1") != std::string::npos);
  }
  SECTION("no subfolders") {
    TempDir root;
    REQUIRE(lp_dataset_load(root.path.c_str(), &d) == LEAP_ERR_FORMAT);
    CHECK(std::string(leap_last_error()).find("subfolder") != std::string::npos);
  }
  SECTION("a file that is not a PNG") {
    TempDir root;
    REQUIRE(mkdir((root / "a").c_str(), 0755) == 0);
    FILE *f = fopen((root / "a/broken.png").c_str(), "w");
    REQUIRE(f);
    fputs("garbage", f);
    fclose(f);
    REQUIRE(lp_dataset_load(root.path.c_str(), &d) == LEAP_ERR_FORMAT);
    CHECK(std::string(leap_last_error()).find("broken.png") != std::string::npos);
  }
  CHECK(d.images == nullptr);
}
