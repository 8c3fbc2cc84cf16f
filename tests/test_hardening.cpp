// test_hardening.cpp - issue 16's reader cases: special files refused
// before they are opened, counts from files checked before memory is sized
// from them, floats range-checked before they become integers. Each case
// here crashed, hung or allocated gigabytes before the fix (the comment
// above each says how).
#include <cerrno>
#include <climits>
#include <cmath>
#include <cstring>
#include <string>

#include <signal.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/types.h>
#include <sys/wait.h>
#include <unistd.h>

#include "test_util.hpp"

extern "C" {
#include "cache_profile.h"
#include "classifier.h"
#include "dataset.h"
#include "fast_math.h"
#include "file_read.h"
#include "lcsc_log.h"
#include "train.h"
}

namespace {

using lt::TempDir;

// Runs fn in a child process with an alarm, so that a reader that blocks
// (on a FIFO) fails the test instead of hanging the suite, and with the
// address space limited (except under ASan, whose shadow needs terabytes),
// so that a reader that sizes gigabytes from a small file fails too.
// Returns fn's exit code, or 128 + the signal that ended the child.
template <class F> int in_child(F fn, rlim_t as_limit = 0) {
  fflush(nullptr);
  const pid_t pid = fork();
  REQUIRE(pid >= 0);
  if (pid == 0) {
    alarm(20);
#if !defined(__SANITIZE_ADDRESS__)
    if (as_limit) {
      struct rlimit rl = {as_limit, as_limit};
      setrlimit(RLIMIT_AS, &rl);
    }
#else
    (void)as_limit;
#endif
    _exit(fn());
  }
  int status = 0;
  REQUIRE(waitpid(pid, &status, 0) == pid);
  return WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
}

bool says(const char *what) { return std::string(leap_last_error()).find(what) != std::string::npos; }

// The copy of a safetensors file with one __metadata__ value replaced.
void rewrite_meta(const std::string &src, const std::string &dst, const char *key, const char *value) {
  lp_st_file *f = nullptr;
  REQUIRE(lp_st_open(src.c_str(), &f) == LEAP_OK);
  lp_st_writer *w = nullptr;
  REQUIRE(lp_st_writer_create(dst.c_str(), &w) == LEAP_OK);
  for (int i = 0; i < lp_st_meta_count(f); i++) {
    const char *k = lp_st_meta_key(f, i);
    if (std::strcmp(k, LP_OUT_META_KEY) == 0) continue;  // the writer sets its own output kind
    REQUIRE(lp_st_writer_meta(w, k, std::strcmp(k, key) == 0 ? value : lp_st_meta(f, k)) == LEAP_OK);
  }
  for (int i = 0; i < lp_st_count(f); i++) {
    const lp_st_tensor *t = lp_st_at(f, i);
    REQUIRE(lp_st_writer_add(w, t->name, t->dtype, t->ndim, t->shape, t->data) == LEAP_OK);
  }
  REQUIRE(lp_st_writer_finish(w) == LEAP_OK);
  lp_st_close(f);
}

lp_train_cfg tiny_train_cfg() {
  lp_train_cfg c = lp_train_cfg_default();
  c.arch.input_size = 8, c.arch.in_channels = 1, c.arch.patch = 4, c.arch.hidden = 8;
  c.arch.depth = 1, c.arch.heads = 2, c.arch.num_classes = 2, c.arch.mlp_ratio = 2;
  c.batch = 2, c.steps = 10;
  return c;
}

}  // namespace

TEST_CASE("hardening: special files are refused before they are opened", "[hardening]") {
  TempDir dir;
  const std::string fifo = dir / "fifo";
  REQUIRE(mkfifo(fifo.c_str(), 0600) == 0);
  const char *dev = "/dev/zero";
  for (const std::string &path : {fifo, dir.path, std::string(dev)}) {
    INFO(path);
    // Before: a FIFO blocked open() forever (no writer); /dev/zero read
    // without end. Each reader now refuses it with a message naming it.
    CHECK(in_child([&] {
            lp_st_file *f = nullptr;
            return lp_st_open(path.c_str(), &f) == LEAP_ERR_IO && says(path.c_str()) && says("not a regular file");
          }) == 1);
    CHECK(in_child([&] {
            lp_cache_profile p;
            return lp_cache_profile_read(path.c_str(), &p) == LEAP_ERR_IO && says("not a regular file");
          }) == 1);
    CHECK(in_child([&] {
            char *text = nullptr;
            size_t len = 0;
            return lp_file_read_all(path.c_str(), "test file", 0, &text, &len) == LEAP_ERR_IO && !text;
          }) == 1);
    CHECK(in_child([&] {
            leap_lcsc_search_desc d = leap_lcsc_search_desc_default();
            d.count = 2, d.log_path = path.c_str();
            lp_lcsc_log log;
            // The log is an output too: core/output.h's rule refuses it
            // (INVALID_ARG, naming the file) before the reader would.
            const leap_status s = lp_lcsc_log_open(&log, &d);
            return (s == LEAP_ERR_IO || s == LEAP_ERR_INVALID_ARG) && says(path.c_str());
          }) == 1);
    CHECK(in_child([&] {
            lp_dataset ds;
            return lp_dataset_load_idx(path.c_str(), path.c_str(), -1, &ds) == LEAP_ERR_IO &&
                   says("not a regular file");
          }) == 1);
  }
  SECTION("the kind is named") {
    lp_st_file *f = nullptr;
    CHECK(lp_st_open(fifo.c_str(), &f) == LEAP_ERR_IO);
    CHECK(says("a FIFO"));
    CHECK(lp_st_open(dir.path.c_str(), &f) == LEAP_ERR_IO);
    CHECK(says("a directory"));
    CHECK(lp_st_open(dev, &f) == LEAP_ERR_IO);
    CHECK(says("a character device"));
  }
  SECTION("a regular file over the limit is refused before it is read") {
    const std::string big = dir / "big.json";
    lt::write_text(big, std::string(1000, ' '));
    char *text = nullptr;
    size_t len = 0;
    CHECK(lp_file_read_all(big.c_str(), "test file", 999, &text, &len) == LEAP_ERR_FORMAT);
    CHECK(says("999"));
    REQUIRE(lp_file_read_all(big.c_str(), "test file", 1000, &text, &len) == LEAP_OK);
    CHECK(len == 1000);
    CHECK(text[len] == '\0');
    free(text);
  }
}

TEST_CASE("hardening: leap info on a FIFO, a folder and /dev/zero fails at once", "[hardening][cli]") {
  TempDir dir;
  const std::string fifo = dir / "fifo";
  REQUIRE(mkfifo(fifo.c_str(), 0600) == 0);
  for (const std::string &path : {fifo, dir.path, std::string("/dev/zero")}) {
    INFO(path);
    // Before: `leap info FIFO` blocked forever (timeout's 124 here).
    const std::string cmd = std::string("timeout 60 '") + LEAP_CLI_PATH + "' info '" + path + "' > '" +
                            (dir / "out.txt") + "' 2> '" + (dir / "err.txt") + "' < /dev/null";
    const int status = system(cmd.c_str());
    REQUIRE(WIFEXITED(status));
    CHECK(WEXITSTATUS(status) != 0);
    CHECK(WEXITSTATUS(status) != 124);
    CHECK(lt::slurp(dir / "err.txt").find("not a regular file") != std::string::npos);
  }
}

TEST_CASE("hardening: the fast exp of a NaN is NaN, without undefined behaviour", "[hardening]") {
  // Before: NaN passed both clamps and was converted to int32 (UBSan:
  // "nan is outside the range of representable values of type 'int'").
  volatile float nan = NAN;
  CHECK(std::isnan(lp_exp_fast(nan)));
  CHECK(std::isnan(lp_tanh_fast(nan)));
  CHECK(lp_exp_fast(0.0f) == 1.0f);
  CHECK(std::fabs(lp_exp_fast(1.0f) - 2.7182817f) < 1e-6f);
  CHECK(lp_exp_fast(-1000.0f) >= 0.0f);
  CHECK(std::isfinite(lp_exp_fast(1000.0f)));
}

namespace {

// A valid profile text with the given shape fields (one setting, no
// rectification) that the writer made, so only the field under test is off.
std::string small_profile(const TempDir &dir, int steps = 5) {
  lp_cache_profile p{};
  p.steps = steps, p.branches = 2, p.channels = 3, p.calib_images = 2, p.window = 4, p.shift = 1, p.cfg = 3;
  p.solver = LEAP_SOLVER_EULER, p.schedule = LEAP_SCHEDULE_DEFAULT, p.level = LEAP_CACHE_HIDDEN;
  std::snprintf(p.model_id, sizeof p.model_id, "0123456789abcdef");
  REQUIRE(lp_cache_profile_alloc(&p, 1) == LEAP_OK);
  p.calib_seed = 7, p.calib_labels[0] = 1, p.calib_labels[1] = 3;
  p.settings[0].computed = steps - 1, p.settings[0].reuse[steps - 1] = 1;
  const std::string path = dir / "small.json";
  REQUIRE(lp_cache_profile_write(&p, path.c_str()) == LEAP_OK);
  lp_cache_profile_free(&p);
  return lt::slurp(path);
}

std::string replaced(std::string text, const std::string &from, const std::string &to) {
  const size_t at = text.find(from);
  REQUIRE(at != std::string::npos);
  return text.replace(at, from.size(), to);
}

leap_status parse_profile(const std::string &text, lp_cache_profile *p, const leap_cache_desc *run = nullptr) {
  return lp_cache_profile_parse(text.data(), text.size(), "p.json", run, p);
}

}  // namespace

TEST_CASE("hardening: a small profile cannot make leap size gigabytes", "[hardening][cache]") {
  TempDir dir;
  const std::string text = small_profile(dir);
  // The 694-byte profile: 10000 steps and 60000 channels in the
  // header over arrays of 5 items. Before, the reader sized the setting's
  // tables from the header first: 10000 x 2 branches x 2 x 60000 floats =
  // 9.6 GB (set to 1.0, so touched) before any array was checked.
  std::string huge = replaced(text, "\"steps\": 5", "\"steps\": 10000");
  huge = replaced(huge, "\"channels\": 3", "\"channels\": 60000");
  REQUIRE(huge.size() < 1024);
  CHECK(in_child(
            [&] {
              lp_cache_profile p;
              const leap_status st = parse_profile(huge, &p);
              return st == LEAP_ERR_FORMAT && says("expected 10000") ? 0 : 10 + (int)st;
            },
            (rlim_t)2 << 30) == 0);
  SECTION("a profile for another run is refused before its counts are used") {
    leap_cache_desc run = leap_cache_desc_default();
    run.branches = 2, run.steps = 50, run.cfg = 3, run.shift = 1;
    lp_cache_profile p;
    CHECK(parse_profile(huge, &p, &run) == LEAP_ERR_INVALID_ARG);
    CHECK(says("steps 10000"));
  }
  SECTION("the channels of a setting without rectification size nothing") {
    const std::string wide = replaced(text, "\"channels\": 3", "\"channels\": 1000000");
    lp_cache_profile p;
    REQUIRE(parse_profile(wide, &p) == LEAP_OK);
    CHECK(p.settings[0].coef == nullptr);
    lp_cache_profile_free(&p);
  }
  SECTION("rectification on needs one entry of the profile's channels per reused step") {
    const std::string on = replaced(text, "\"shrink\": 0", "\"shrink\": 0.5");
    lp_cache_profile p;
    CHECK(parse_profile(on, &p) == LEAP_ERR_FORMAT);
    CHECK(says("rect entries"));
    const std::string entry = "{\"step\": 4, \"a\": [[1,1,1],[1,1,1]], \"b\": [[0,0,0],[0,0,0]]}";
    const std::string ok = replaced(on, "\"rect\": []", "\"rect\": [" + entry + "]");
    REQUIRE(parse_profile(ok, &p) == LEAP_OK);
    REQUIRE(p.settings[0].coef != nullptr);
    CHECK(p.settings[0].coef[(size_t)4 * 2 * 2 * 3] == 1.0f);
    lp_cache_profile_free(&p);
    const std::string wide = replaced(ok, "\"channels\": 3", "\"channels\": 60000");
    CHECK(parse_profile(wide, &p) == LEAP_ERR_FORMAT);
    CHECK(says("is not 60000 numbers"));
    const std::string computed_step = replaced(ok, "\"step\": 4", "\"step\": 1");
    CHECK(parse_profile(computed_step, &p) == LEAP_ERR_FORMAT);
    CHECK(says("which it computes"));
  }
}

TEST_CASE("hardening: a profile's seed and labels are range-checked before conversion", "[hardening][cache]") {
  TempDir dir;
  const std::string text = small_profile(dir);
  lp_cache_profile p;
  REQUIRE(parse_profile(text, &p) == LEAP_OK);
  CHECK(p.calib_seed == 7);
  CHECK(p.calib_labels[1] == 3);
  lp_cache_profile_free(&p);
  // Before: (uint64_t)1e30 and (int32_t)1e10 (UBSan: outside the range of
  // representable values), and a label of 2.5 silently became 2.
  for (const char *seed : {"1e30", "-1", "2.5", "1e999"}) {
    INFO(seed);
    CHECK(parse_profile(replaced(text, "\"seed\": 7", std::string("\"seed\": ") + seed), &p) == LEAP_ERR_FORMAT);
    CHECK(says("seed"));
  }
  for (const char *label : {"1e10", "-1", "2.5", "-1e999"}) {
    INFO(label);
    CHECK(parse_profile(replaced(text, "\"labels\": [1,3]", std::string("\"labels\": [1,") + label + "]"), &p) ==
          LEAP_ERR_FORMAT);
    CHECK(says("label 1"));
  }
  // The largest seed the writer can write reads back (as the nearest
  // double rounds it to 2^64, saturated).
  REQUIRE(parse_profile(replaced(text, "\"seed\": 7", "\"seed\": 18446744073709551615"), &p) == LEAP_OK);
  CHECK(p.calib_seed == UINT64_MAX);
  lp_cache_profile_free(&p);
}

TEST_CASE("hardening: a training state's step and model are checked before resuming", "[hardening][train]") {
  TempDir dir;
  lp_train_cfg c = tiny_train_cfg();
  lp_trainer *t = nullptr;
  REQUIRE(lp_trainer_create(&c, &t) == LEAP_OK);
  t->step = 3;
  const std::string good = dir / "state.safetensors", bad = dir / "bad.safetensors";
  REQUIRE(lp_trainer_save_state(t, good.c_str()) == LEAP_OK);
  lp_trainer_destroy(t);
  lp_trainer *r = nullptr;
  REQUIRE(lp_trainer_resume(good.c_str(), &r) == LEAP_OK);
  CHECK(r->step == 3);
  lp_trainer_destroy(r);
  // Before: step -5 resumed, and the first step read the shuffled order at
  // index (-5 * batch) % n: `leap train --resume` segfaulted.
  for (const char *step : {"-5", "11", "1e12", "nan", "2147483648"}) {
    INFO(step);
    rewrite_meta(good, bad, "step", step);
    r = nullptr;
    CHECK(lp_trainer_resume(bad.c_str(), &r) == LEAP_ERR_FORMAT);
    CHECK(r == nullptr);
    CHECK(says("step"));
  }
  // A description larger than the file's tensors: before, the trainer's
  // buffers were sized from it (here 10^6 x 10^6 pos_embed entries) and the
  // tensors were checked after.
  for (const char *key : {"hidden_size", "input_size", "depth", "num_classes"}) {
    INFO(key);
    rewrite_meta(good, bad, key, "1000000");
    r = nullptr;
    CHECK(in_child([&] { return lp_trainer_resume(bad.c_str(), &r) == LEAP_ERR_FORMAT ? 0 : 1; },
                   (rlim_t)2 << 30) == 0);
  }
  rewrite_meta(good, bad, "train.batch", "100000000");
  CHECK(lp_trainer_resume(bad.c_str(), &r) == LEAP_ERR_FORMAT);
  CHECK(says("batch"));
}

TEST_CASE("hardening: a classifier's description is checked against its tensors before sizing", "[hardening]") {
  TempDir dir;
  lp_classifier_arch a = {1, 8, 8, 2, 2, 2, 4};
  lp_classifier *c = nullptr;
  REQUIRE(lp_classifier_create(&a, 1, &c) == LEAP_OK);
  const std::string good = dir / "cls.safetensors", bad = dir / "bad.safetensors";
  REQUIRE(lp_classifier_save(c, good.c_str(), nullptr, 0) == LEAP_OK);
  lp_classifier_destroy(c);
  // Before: 4096 x 256 x 256 x 65536 parameters were allocated from the
  // metadata (NOMEM) before the tensors were looked at.
  rewrite_meta(good, bad, "hidden", "65536");
  std::string tmp = dir / "tmp.safetensors";
  rewrite_meta(bad, tmp, "conv2", "4096");
  rewrite_meta(tmp, bad, "height", "1024");
  c = nullptr;
  CHECK(in_child([&] { return lp_classifier_load(bad.c_str(), &c) == LEAP_ERR_FORMAT ? 0 : 1; },
                 (rlim_t)2 << 30) == 0);
}

TEST_CASE("hardening: a JPEG whose Huffman table declares over 256 codes is refused", "[hardening][data]") {
  // Found by fuzz/fuzz_image_folder: Debian's stb_image wrote the table's
  // code sizes past its 257-entry array and its symbols past the 256-entry
  // one (UBSan: index 257 out of bounds for type 'stbi_uc[257]'; a heap
  // overflow under ASan).
  TempDir dir;
  REQUIRE(mkdir((dir / "0").c_str(), 0700) == 0);
  // The second (the long fuzz run's) puts 0xFF fill bytes before SOI, which
  // stb skips as before any marker; the first check took it for no JPEG.
  for (const char *name : {"jpeg_dht_overflow.jpg", "jpeg_dht_overflow_fill.jpg"}) {
    INFO(name);
    lt::write_text(dir / "0" + "/bad.jpg", lt::slurp(lt::data(name)));
    lp_dataset d;
    CHECK(lp_dataset_load_folder(dir.path.c_str(), &d) == LEAP_ERR_FORMAT);
    CHECK(says("Huffman"));
    CHECK(says("bad.jpg"));
  }
}

TEST_CASE("hardening: a PNG chunk longer than the file is refused before stb sizes a buffer from it", "[hardening][data]") {
  // Found by fuzz/fuzz_image_folder: a 73-byte PNG whose IDAT chunk declares
  // about 1.4 GB made stb_image realloc that much before reading it.
  TempDir dir;
  REQUIRE(mkdir((dir / "0").c_str(), 0700) == 0);
  const std::string bytes = lt::slurp(lt::data("png_chunk_oom.png"));
  REQUIRE(bytes.size() == 73);
  lt::write_text(dir / "0" + "/bad.png", bytes);
  lp_dataset d;
  CHECK(lp_dataset_load_folder(dir.path.c_str(), &d) == LEAP_ERR_FORMAT);
  CHECK(says("PNG chunk"));
  CHECK(says("bad.png"));
}
