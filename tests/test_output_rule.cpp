// test_output_rule.cpp - core/output.h's rule, through the library and
// through every `leap` command that writes: an output never names an input
// (compared by identity: the same path, ./, .., a symlink, a hard link) nor
// an existing file that is not leap's earlier output of the same kind; a
// refused run exits non-zero with a message naming the file, and leaves
// every file in its folder byte-identical with nothing added. Weights are
// finite or absent; a training checkpoint lands as one unit; SIGINT and
// SIGTERM stop the long commands with exit 130, no output and no temporary.
#include <catch2/catch.hpp>

#include "test_util.hpp"

#include <fcntl.h>
#include <signal.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <cmath>
#include <cstring>
#include <map>
#include <string>
#include <thread>
#include <vector>

extern "C" {
#include "alloc.h"
#include "output.h"
#include "train.h"
}

namespace {

const std::string kTiny = LEAP_TEST_DATA "/dit_tiny_f32.safetensors";

using lt::exists;
using lt::slurp;
using lt::TempDir;

struct Result {
  int code;
  std::string out, err;
};

// Runs `leap ARGS` in folder cwd, stdout and stderr captured in logs (a
// folder of its own, so that cwd holds only what the command writes).
Result leap_in(const std::string &cwd, const std::string &args, const TempDir &logs) {
  const std::string cmd = "cd '" + cwd + "' && '" + LEAP_CLI_PATH + "' " + args + " > '" + (logs / "out") +
                          "' 2> '" + (logs / "err") + "' < /dev/null";
  const int status = system(cmd.c_str());
  REQUIRE(status != -1);
  REQUIRE(WIFEXITED(status));
  return Result{WEXITSTATUS(status), slurp(logs / "out"), slurp(logs / "err")};
}

// Every file under dir (relative name -> bytes; a symlink as "-> target").
std::map<std::string, std::string> snapshot(const std::string &dir, const std::string &rel = "") {
  std::map<std::string, std::string> m;
  for (const auto &n : TempDir::list_dir(dir + rel)) {
    const std::string r = rel + "/" + n, p = dir + r;
    struct stat sb;
    REQUIRE(lstat(p.c_str(), &sb) == 0);
    if (S_ISLNK(sb.st_mode)) {
      char t[4096];
      const ssize_t k = readlink(p.c_str(), t, sizeof t);
      REQUIRE(k > 0);
      m[r] = "-> " + std::string(t, (size_t)k);
    } else if (S_ISDIR(sb.st_mode)) {
      m[r] = "<dir>";
      for (auto &kv : snapshot(dir, r)) m.insert(kv);
    } else {
      m[r] = S_ISREG(sb.st_mode) ? slurp(p) : "<special>";
    }
  }
  return m;
}

void copy_file(const std::string &from, const std::string &to) {
  lt::write_text(to, slurp(from));
  REQUIRE(slurp(to) == slurp(from));
}

struct Spelling {
  const char *what;
  std::string path;  // as given on the command line, relative to the folder
};

// The ways of naming dir/name without spelling it so: the path itself,
// ./name, sub/../name, a symlink and a hard link (made here, in dir).
std::vector<Spelling> spellings(const TempDir &dir, const std::string &name) {
  const std::string base = name.substr(0, name.rfind('.'));
  if (!exists(dir / "sub")) REQUIRE(mkdir((dir / "sub").c_str(), 0755) == 0);
  REQUIRE(symlink(name.c_str(), (dir / (base + "_symlink.dat")).c_str()) == 0);
  REQUIRE(link((dir / name).c_str(), (dir / (base + "_hardlink.dat")).c_str()) == 0);
  return {{"the same path", dir / name},
          {"./", "./" + name},
          {"..", "sub/../" + name},
          {"a symlink", base + "_symlink.dat"},
          {"a hard link", base + "_hardlink.dat"}};
}

// The run was refused: non-zero exit, "leap: " message naming the input
// rule, and every file of the folder as it was.
void check_refused(const Result &r, const std::map<std::string, std::string> &before, const TempDir &dir,
                   const char *says = "is the input") {
  INFO(r.err);
  CHECK(r.code != 0);
  CHECK(r.err.rfind("leap: ", 0) == 0);
  CHECK(r.err.find(says) != std::string::npos);
  CHECK(snapshot(dir.path) == before);
}

// No file whose name shows a temporary or work folder of leap's.
bool no_leftovers(const std::string &dir) {
  for (const auto &kv : snapshot(dir))
    if (kv.first.find("leap-tmp") != std::string::npos || kv.first.find("leap-work") != std::string::npos)
      return false;
  return true;
}

// Starts `leap args...` in dir, its output into logs; returns the pid.
pid_t spawn(const std::string &dir, const TempDir &logs, const std::vector<std::string> &args) {
  pid_t pid = fork();
  REQUIRE(pid >= 0);
  if (pid == 0) {
    if (chdir(dir.c_str()) != 0 || !freopen((logs / "out").c_str(), "w", stdout) ||
        !freopen((logs / "err").c_str(), "w", stderr))
      _exit(126);
    std::vector<char *> argv;
    argv.push_back((char *)"leap");
    for (auto &a : args) argv.push_back((char *)a.c_str());
    argv.push_back(nullptr);
    execv(LEAP_CLI_PATH, argv.data());
    _exit(127);
  }
  return pid;
}

int wait_exit(pid_t pid) {
  int status = 0;
  REQUIRE(waitpid(pid, &status, 0) == pid);
  REQUIRE(WIFEXITED(status));
  return WEXITSTATUS(status);
}

// Waits (up to a minute) until dir holds an entry whose name contains
// `part`; true when it appeared.
bool wait_for_entry(const std::string &dir, const std::string &part, pid_t pid) {
  for (int i = 0; i < 60000; i++) {
    for (const auto &n : TempDir::list_dir(dir))
      if (n.find(part) != std::string::npos) return true;
    int status;
    if (waitpid(pid, &status, WNOHANG) == pid) return false;  // ended first
    std::this_thread::sleep_for(std::chrono::milliseconds(1));
  }
  return false;
}

// A safetensors file of leap's own of the given kind (or no kind).
void write_st(const std::string &path, lp_out_kind kind, const std::vector<float> &v) {
  lp_st_writer *w = nullptr;
  REQUIRE(lp_st_writer_create(path.c_str(), &w) == LEAP_OK);
  if (kind != LP_OUT_ANY) REQUIRE(lp_st_writer_output(w, kind, nullptr, 0) == LEAP_OK);
  const int64_t shape[1] = {(int64_t)v.size()};
  REQUIRE(lp_st_writer_add(w, "w", LEAP_F32, 1, shape, v.data()) == LEAP_OK);
  REQUIRE(lp_st_writer_finish(w) == LEAP_OK);
}

}  // namespace

TEST_CASE("output rule: inputs by identity, only leap's own earlier output replaced", "[output]") {
  TempDir dir;
  const std::string in = dir / "in.safetensors";
  write_st(in, LP_OUT_CHECKPOINT, {1, 2, 3});
  const char *inputs[1] = {in.c_str()};
  REQUIRE(chdir(dir.path.c_str()) == 0);
  for (const auto &sp : spellings(dir, "in.safetensors")) {
    INFO(sp.what);
    CHECK(lp_out_check(sp.path.c_str(), LP_OUT_CHECKPOINT, inputs, 1) == LEAP_ERR_INVALID_ARG);
    CHECK(std::string(leap_last_error()).find("is the input") != std::string::npos);
    // an input is refused whatever the kind, LP_OUT_ANY included
    CHECK(lp_out_check(sp.path.c_str(), LP_OUT_ANY, inputs, 1) == LEAP_ERR_INVALID_ARG);
  }
  // not an input: leap's earlier output of the kind is replaced, any other is not
  CHECK(lp_out_check(in.c_str(), LP_OUT_CHECKPOINT, nullptr, 0) == LEAP_OK);
  CHECK(lp_out_check(in.c_str(), LP_OUT_COMBINED, nullptr, 0) == LEAP_ERR_INVALID_ARG);
  CHECK(std::string(leap_last_error()).find("is not an LCSC combination leap wrote") != std::string::npos);
  lt::write_text(dir / "notes.txt", "mine");
  CHECK(lp_out_check((dir / "notes.txt").c_str(), LP_OUT_PROFILE, nullptr, 0) == LEAP_ERR_INVALID_ARG);
  CHECK(lp_out_check((dir / "notes.txt").c_str(), LP_OUT_ANY, nullptr, 0) == LEAP_OK);
  CHECK(lp_out_check((dir / "new.safetensors").c_str(), LP_OUT_CHECKPOINT, inputs, 1) == LEAP_OK);
  // folders, FIFOs and dangling links are never outputs
  CHECK(lp_out_check((dir / "sub").c_str(), LP_OUT_ANY, nullptr, 0) == LEAP_ERR_IO);
  CHECK(std::string(leap_last_error()).find("not a regular file: a folder") != std::string::npos);
  REQUIRE(mkfifo((dir / "fifo").c_str(), 0644) == 0);
  CHECK(lp_out_check((dir / "fifo").c_str(), LP_OUT_ANY, nullptr, 0) == LEAP_ERR_IO);
  CHECK(std::string(leap_last_error()).find("not a regular file") != std::string::npos);
  REQUIRE(symlink("nowhere", (dir / "dangling").c_str()) == 0);
  CHECK(lp_out_check((dir / "dangling").c_str(), LP_OUT_ANY, nullptr, 0) == LEAP_ERR_INVALID_ARG);
  // two outputs of one job
  CHECK(lp_out_same_file((dir / "x.png").c_str(), "sub/../x.png"));
  CHECK(!lp_out_same_file((dir / "x.png").c_str(), (dir / "y.png").c_str()));
  CHECK(lp_out_same_file(in.c_str(), "in_hardlink.dat"));
  // the writer refuses too, and leaves the input as it was
  const std::string before = slurp(in);
  lp_st_writer *w = nullptr;
  REQUIRE(lp_st_writer_create("in_symlink.dat", &w) == LEAP_OK);
  REQUIRE(lp_st_writer_output(w, LP_OUT_CHECKPOINT, inputs, 1) == LEAP_OK);
  CHECK(lp_st_writer_finish(w) == LEAP_ERR_INVALID_ARG);
  CHECK(slurp(in) == before);
  CHECK(no_leftovers(dir.path));
  REQUIRE(chdir("/") == 0);
}

TEST_CASE("output rule: weights are finite or absent", "[output]") {
  TempDir dir;
  const std::string path = dir / "w.safetensors";
  for (lp_out_kind kind : {LP_OUT_CHECKPOINT, LP_OUT_TRAIN_STATE, LP_OUT_CLASSIFIER, LP_OUT_COMBINED}) {
    for (float bad : {NAN, INFINITY}) {
      lp_st_writer *w = nullptr;
      REQUIRE(lp_st_writer_create(path.c_str(), &w) == LEAP_OK);
      REQUIRE(lp_st_writer_output(w, kind, nullptr, 0) == LEAP_OK);
      const float v[3] = {1, bad, 2};
      const int64_t shape[1] = {3};
      REQUIRE(lp_st_writer_add(w, "w", LEAP_F32, 1, shape, v) == LEAP_OK);
      CHECK(lp_st_writer_finish(w) == LEAP_ERR_NUMERIC);
      CHECK(std::string(leap_last_error()).find("not finite") != std::string::npos);
      CHECK(TempDir::list_dir(dir.path).empty());
    }
  }
  // F16 Inf bits too
  lp_st_writer *w = nullptr;
  REQUIRE(lp_st_writer_create(path.c_str(), &w) == LEAP_OK);
  REQUIRE(lp_st_writer_output(w, LP_OUT_CHECKPOINT, nullptr, 0) == LEAP_OK);
  const uint16_t h[2] = {0x3c00, 0x7c00};
  const int64_t shape[1] = {2};
  REQUIRE(lp_st_writer_add(w, "w", LEAP_F16, 1, shape, h) == LEAP_OK);
  CHECK(lp_st_writer_finish(w) == LEAP_ERR_NUMERIC);
  CHECK(TempDir::list_dir(dir.path).empty());
}

TEST_CASE("leap sample: no spelling of an input is an output, own earlier output is replaced", "[output]") {
  TempDir dir, logs;
  copy_file(kTiny, dir / "m.safetensors");
  const std::string run = "sample --model m.safetensors --backend cpu --threads 1 --n 1 --steps 1 --quiet";
  for (const auto &sp : spellings(dir, "m.safetensors")) {
    INFO(sp.what);
    const auto before = snapshot(dir.path);
    check_refused(leap_in(dir.path, run + " --out '" + sp.path + "'", logs), before, dir);
    check_refused(leap_in(dir.path, run + " --out x.png --raw-out '" + sp.path + "'", logs), before, dir);
  }
  // the noise file is an input too
  lt::write_text(dir / "n.safetensors", slurp(kTiny));
  auto before = snapshot(dir.path);
  check_refused(leap_in(dir.path, run + " --noise n.safetensors --out ./n.safetensors", logs), before, dir);
  // an existing file that is not a PNG leap wrote, a folder, a FIFO
  lt::write_text(dir / "holiday.png", "not leap's");
  REQUIRE(mkfifo((dir / "fifo").c_str(), 0644) == 0);
  before = snapshot(dir.path);
  check_refused(leap_in(dir.path, run + " --out holiday.png", logs), before, dir, "is not a PNG leap wrote");
  check_refused(leap_in(dir.path, run + " --out sub", logs), before, dir, "not a regular file: a folder");
  check_refused(leap_in(dir.path, run + " --out fifo", logs), before, dir, "not a regular file");
  check_refused(leap_in(dir.path, run + " --out x.png --raw-out holiday.png", logs), before, dir,
                "is not a samples file leap wrote");
  Result same = leap_in(dir.path, run + " --out x.png --raw-out ./x.png", logs);
  CHECK(same.code == 2);
  CHECK(snapshot(dir.path) == before);
  // leap's own earlier outputs are replaced: a re-run works
  for (int i = 0; i < 2; i++) {
    Result r = leap_in(dir.path, run + " --out x.png --raw-out x.safetensors", logs);
    INFO(r.err);
    CHECK(r.code == 0);
  }
  CHECK(exists(dir / "x.png"));
  CHECK(exists(dir / "x.safetensors"));
  CHECK(no_leftovers(dir.path));
}

TEST_CASE("leap profile: no spelling of the model is its --out", "[output]") {
  TempDir dir, logs;
  copy_file(kTiny, dir / "m.safetensors");
  for (const auto &sp : spellings(dir, "m.safetensors")) {
    INFO(sp.what);
    const auto before = snapshot(dir.path);
    check_refused(leap_in(dir.path,
                          "profile --model m.safetensors --backend cpu --threads 1 --images 1 --steps 4 "
                          "--quiet --out '" + sp.path + "'",
                          logs),
                  before, dir);
  }
  lt::write_text(dir / "p.json", "{\"mine\": 1}");
  const auto before = snapshot(dir.path);
  check_refused(leap_in(dir.path, "profile --model m.safetensors --backend cpu --images 1 --steps 4 --out p.json", logs),
                before, dir, "is not a profile leap wrote");
}

TEST_CASE("leap lcsc combine: no spelling of an input is --out, Inf as F16 is an error, no file", "[output]") {
  TempDir dir, logs;
  copy_file(kTiny, dir / "a.safetensors");
  copy_file(kTiny, dir / "b.safetensors");
  for (const auto &sp : spellings(dir, "a.safetensors")) {
    INFO(sp.what);
    const auto before = snapshot(dir.path);
    check_refused(leap_in(dir.path, "lcsc combine --ckpt a.safetensors b.safetensors --coef 0.5 0.5 --out '" +
                                        sp.path + "'",
                          logs),
                  before, dir);
  }
  auto before = snapshot(dir.path);
  // a weight of the tiny model times 1e10 is far above F16's 65504
  Result r = leap_in(dir.path, "lcsc combine --ckpt a.safetensors b.safetensors --coef 1e10 0 --dtype f16 --out c.safetensors", logs);
  INFO(r.err);
  CHECK(r.code == 1);
  CHECK(r.err.find("not finite as F16") != std::string::npos);
  CHECK(snapshot(dir.path) == before);
  // through the API, on the host and on Vulkan (where there is a device):
  // 1e10 times a weight as F16, and 3.4e38 (finite as F32, above BF16's
  // largest value) as BF16, fail with no file; as F32 they are written
  TempDir big;
  write_st(big / "big.safetensors", LP_OUT_CHECKPOINT, {1.0f, 3.4e38f});
  const std::string a = dir / "a.safetensors", b = dir / "b.safetensors", c = dir / "c.safetensors";
  const std::string g = big / "big.safetensors", gc = big / "c.safetensors";
  leap_context *vk = lt::context(LEAP_BACKEND_VULKAN);
  for (leap_context *ctx : {(leap_context *)nullptr, vk}) {
    INFO((ctx ? "vulkan" : "host"));
    const char *paths[2] = {a.c_str(), b.c_str()};
    const double coefs[2] = {1e10, 0};
    leap_lcsc_combine_desc d = leap_lcsc_combine_desc_default();
    d.count = 2, d.paths = paths, d.coefs = coefs, d.out_path = c.c_str(), d.out_dtype = LEAP_F16, d.ctx = ctx;
    CHECK(leap_lcsc_combine(&d, nullptr) == LEAP_ERR_NUMERIC);
    CHECK(snapshot(dir.path) == before);
    const char *gpaths[1] = {g.c_str()};
    const double one[1] = {1.0};
    d.count = 1, d.paths = gpaths, d.coefs = one, d.out_path = gc.c_str(), d.out_dtype = LEAP_BF16;
    CHECK(leap_lcsc_combine(&d, nullptr) == LEAP_ERR_NUMERIC);
    CHECK(std::string(leap_last_error()).find("not finite as BF16") != std::string::npos);
    CHECK(!exists(gc));
    d.out_dtype = LEAP_F32;
    CHECK(leap_lcsc_combine(&d, nullptr) == LEAP_OK);
    CHECK(unlink(gc.c_str()) == 0);
    if (!vk) break;
  }
  leap_context_destroy(vk);
  // an existing file that is no earlier combination
  lt::write_text(dir / "mine.safetensors", "not leap's");
  before = snapshot(dir.path);
  check_refused(leap_in(dir.path, "lcsc combine --ckpt a.safetensors b.safetensors --coef 0.5 0.5 --out mine.safetensors", logs),
                before, dir, "is not an LCSC combination leap wrote");
  // its own earlier output is replaced
  for (int i = 0; i < 2; i++)
    CHECK(leap_in(dir.path, "lcsc combine --ckpt a.safetensors b.safetensors --coef 0.5 0.5 --out c.safetensors", logs).code == 0);
  CHECK(no_leftovers(dir.path));
}

TEST_CASE("leap lcsc search: --out, --log and --work never name a file leap did not make", "[output]") {
  TempDir dir, logs;
  copy_file(kTiny, dir / "a.safetensors");
  copy_file(kTiny, dir / "b.safetensors");
  const std::string run = "lcsc search --ckpt a.safetensors b.safetensors --budget 2 --population 2 --n 2 --steps 1";
  for (const auto &sp : spellings(dir, "a.safetensors")) {
    INFO(sp.what);
    const auto before = snapshot(dir.path);
    check_refused(leap_in(dir.path, run + " --log l.jsonl --out '" + sp.path + "'", logs), before, dir);
    check_refused(leap_in(dir.path, run + " --log '" + sp.path + "'", logs), before, dir);
  }
  // --work naming a file: an error, and the file stays (it used to be deleted)
  lt::write_text(dir / "precious.txt", "keep me");
  auto before = snapshot(dir.path);
  check_refused(leap_in(dir.path, run + " --log l.jsonl --work precious.txt", logs), before, dir, "is not a folder");
  check_refused(leap_in(dir.path, run + " --log l.jsonl --work a.safetensors", logs), before, dir, "is not a folder");
  lt::write_text(dir / "notes.jsonl", "{\"mine\": true}\n");
  before = snapshot(dir.path);
  check_refused(leap_in(dir.path, run + " --log notes.jsonl", logs), before, dir, "is not an LCSC search log");
}

TEST_CASE("leap lcsc eval: --work naming a file is an error and the file stays", "[output]") {
  TempDir dir, logs;
  copy_file(kTiny, dir / "a.safetensors");
  lt::write_text(dir / "precious.txt", "keep me");
  const auto before = snapshot(dir.path);
  check_refused(leap_in(dir.path, "lcsc eval --ckpt a.safetensors --coef 1 --n 2 --nfe 1 --work precious.txt", logs),
                before, dir, "is not a folder");
  // a --work folder that does not exist is made, and removed again with
  // leap's own files in it (the run itself fails: the tiny model is no
  // Fashion-MNIST model, or the dataset is missing)
  Result r = leap_in(dir.path, "lcsc eval --ckpt a.safetensors --coef 1 --n 2 --nfe 1 --models lcsc --work neww", logs);
  INFO(r.err);
  CHECK(r.code == 1);
  CHECK(snapshot(dir.path) == before);
}

TEST_CASE("leap train and train-classifier: outputs are never inputs nor strangers' files", "[output]") {
  TempDir dir, logs;
  copy_file(kTiny, dir / "s.safetensors");
  // the prefix's EMA file spelled as the resumed state
  for (const auto &sp : spellings(dir, "s.safetensors")) {
    if (std::string(sp.what) == "the same path" || std::string(sp.what) == "./" || std::string(sp.what) == "..")
      continue;  // the EMA file is PREFIX_ema.safetensors: links spell it
    INFO(sp.what);
    const std::string prefix = sp.path.substr(0, sp.path.rfind('.'));
    REQUIRE(rename((dir / sp.path).c_str(), (dir / (prefix + "_ema.safetensors")).c_str()) == 0);
    const auto before = snapshot(dir.path);
    check_refused(leap_in(dir.path, "train --resume s.safetensors --steps 1 --quiet --out " + prefix, logs), before,
                  dir);
  }
  lt::write_text(dir / "run_state.safetensors", "my notes");
  auto before = snapshot(dir.path);
  check_refused(leap_in(dir.path, "train --steps 1 --batch 2 --hidden 8 --depth 1 --heads 2 --quiet --out run", logs),
                before, dir, "is not a training state leap wrote");
  check_refused(leap_in(dir.path, "train-classifier --epochs 1 --quiet --out run_state.safetensors", logs), before,
                dir, "is not a classifier leap wrote");
}

TEST_CASE("train checkpoint: a save that fails anywhere leaves all three files at one step", "[output]") {
  TempDir dir;
  lp_train_cfg c = lp_train_cfg_default();
  c.arch.input_size = 4, c.arch.patch = 2, c.arch.in_channels = 1, c.arch.hidden = 8, c.arch.depth = 1;
  c.arch.heads = 2, c.arch.mlp_ratio = 2.0, c.arch.num_classes = 2;
  c.batch = 2;
  lp_trainer *t = nullptr;
  REQUIRE(lp_trainer_create(&c, &t) == LEAP_OK);
  const std::string prefix = dir / "run";
  t->step = 1;
  REQUIRE(lp_trainer_save_checkpoint(t, prefix.c_str(), LEAP_F32, nullptr) == LEAP_OK);
  lp_train_paths p1;
  lp_trainer_checkpoint_paths(prefix.c_str(), 1, &p1);
  const std::string ema1 = slurp(p1.ema), state1 = slurp(p1.state);
  // step 2, with different weights: every allocation of its save fails in turn
  t->step = 2;
  for (size_t k = 0; k < t->L.total; k++) t->ema[k] += 1.0f, t->params[k] -= 1.0f;
  lp_train_paths p2;
  lp_trainer_checkpoint_paths(prefix.c_str(), 2, &p2);
  int failures = 0;
  for (long n = 1;; n++) {
    lp_alloc_fail_at(n, 0);
    const leap_status s = lp_trainer_save_checkpoint(t, prefix.c_str(), LEAP_F32, nullptr);
    const bool failed = lp_alloc_failed();
    lp_alloc_fail_at(0, 0);
    // done: no allocation failed, or only the best-effort folder fsync's
    // after the files landed
    if (s == LEAP_OK) break;
    INFO("allocation " << n << " failed");
    REQUIRE(failed);
    REQUIRE(s == LEAP_ERR_NOMEM);
    failures++;
    // nothing of step 2 landed: EMA and state are still step 1's, bytes and all
    CHECK(slurp(p1.ema) == ema1);
    CHECK(slurp(p1.state) == state1);
    CHECK(!exists(p2.step));
    CHECK(no_leftovers(dir.path));
  }
  CHECK(failures > 10);  // the state writer's allocations were among them
  CHECK(lt::meta(p2.ema, "step") == "2");
  CHECK(lt::meta(p2.state, "step") == "2");
  // NaN weights: an error, and again nothing of the step lands
  t->step = 3;
  t->ema[0] = NAN;
  CHECK(lp_trainer_save_checkpoint(t, prefix.c_str(), LEAP_F16, nullptr) == LEAP_ERR_NUMERIC);
  CHECK(lt::meta(p2.ema, "step") == "2");
  CHECK(lt::meta(p2.state, "step") == "2");
  lp_trainer_checkpoint_paths(prefix.c_str(), 3, &p1);
  CHECK(!exists(p1.step));
  CHECK(no_leftovers(dir.path));
  lp_trainer_destroy(t);
}

// ---------------------------------------------------------------- signals

TEST_CASE("leap sample: SIGTERM mid-run exits 130, writes nothing, leaves no temporary", "[output]") {
  TempDir dir, logs;
  pid_t pid = spawn(dir.path, logs,
                    {"sample", "--model", kTiny, "--backend", "cpu", "--threads", "1", "--n", "32", "--steps",
                     "10000", "--out", "x.png", "--raw-out", "x.safetensors"});
  std::this_thread::sleep_for(std::chrono::milliseconds(1000));
  REQUIRE(kill(pid, SIGTERM) == 0);
  CHECK(wait_exit(pid) == 130);
  CHECK(slurp(logs / "err").find("interrupted") != std::string::npos);
  CHECK(TempDir::list_dir(dir.path).empty());
}

TEST_CASE("leap profile: SIGINT mid-calibration exits 130, writes nothing", "[output]") {
  TempDir dir, logs;
  pid_t pid = spawn(dir.path, logs,
                    {"profile", "--model", kTiny, "--backend", "cpu", "--threads", "1", "--images", "64", "--steps",
                     "10000", "--quiet", "--out", "p.json"});
  std::this_thread::sleep_for(std::chrono::milliseconds(1000));
  REQUIRE(kill(pid, SIGINT) == 0);
  CHECK(wait_exit(pid) == 130);
  CHECK(slurp(logs / "err").find("interrupted") != std::string::npos);
  CHECK(TempDir::list_dir(dir.path).empty());
}

TEST_CASE("leap lcsc combine: a signal while the output is written removes the temporary", "[output]") {
  TempDir dir, logs;
  // two 48 MB checkpoints: the output takes long enough to be caught with
  // its temporary on disk
  std::vector<float> v((size_t)12 << 20);
  for (size_t k = 0; k < v.size(); k++) v[k] = (float)(k % 1000) * 1e-3f;
  write_st(dir / "a.safetensors", LP_OUT_CHECKPOINT, v);
  write_st(dir / "b.safetensors", LP_OUT_CHECKPOINT, v);
  const auto before = snapshot(dir.path);
  for (int sig : {SIGINT, SIGTERM}) {
    INFO("signal " << sig);
    pid_t pid = spawn(dir.path, logs,
                      {"lcsc", "combine", "--ckpt", "a.safetensors", "b.safetensors", "--coef", "0.5", "0.5",
                       "--out", "c.safetensors"});
    // freeze it the moment its temporary appears, signal, let it go on
    const bool caught = wait_for_entry(dir.path, "leap-tmp", pid);
    if (caught) {
      kill(pid, SIGSTOP);
      kill(pid, sig);
      kill(pid, SIGCONT);
      CHECK(wait_exit(pid) == 130);
      CHECK(slurp(logs / "err").find("interrupted") != std::string::npos);
    } else {
      lt::skip("the combination ended before its temporary was seen; nothing to check this time");
      wait_exit(pid);
      unlink((dir / "c.safetensors").c_str());
    }
    CHECK(snapshot(dir.path) == before);
  }
}

TEST_CASE("leap bench sample: SIGINT mid-run exits 130", "[output]") {
  TempDir dir, logs;
  pid_t pid = spawn(dir.path, logs,
                    {"bench", "sample", "--model", kTiny, "--backend", "cpu", "--threads", "1", "--batch", "64",
                     "--steps", "10000"});
  std::this_thread::sleep_for(std::chrono::milliseconds(1000));
  REQUIRE(kill(pid, SIGINT) == 0);
  CHECK(wait_exit(pid) == 130);
  CHECK(slurp(logs / "err").find("interrupted") != std::string::npos);
  CHECK(TempDir::list_dir(dir.path).empty());
}

// The shipped model, for the commands that need Fashion-MNIST and the
// shipped classifier; "" when the dataset is not installed.
std::string shipped_model() {
  if (!exists("/usr/share/datasets/fashion-mnist/t10k-images-idx3-ubyte.gz")) {
    lt::skip("Fashion-MNIST is not installed (dataset-fashion-mnist)");
    return "";
  }
  const std::string model = std::string(LEAP_TEST_DATA) + "/../../models/default/leap-fmnist.safetensors";
  REQUIRE(exists(model));
  return model;
}

TEST_CASE("leap eval: SIGTERM mid-sampling exits 130", "[output]") {
  const std::string model = shipped_model();
  if (model.empty()) return;
  TempDir dir, logs;
  pid_t pid = spawn(dir.path, logs,
                    {"eval", "--model", model, "--backend", "cpu", "--threads", "1", "--n", "64", "--steps",
                     "10000", "--reference-n", "100"});
  std::this_thread::sleep_for(std::chrono::milliseconds(3000));
  REQUIRE(kill(pid, SIGTERM) == 0);
  CHECK(wait_exit(pid) == 130);
  CHECK(slurp(logs / "err").find("interrupted") != std::string::npos);
  CHECK(TempDir::list_dir(dir.path).empty());
}

TEST_CASE("leap lcsc search: SIGINT stops it, the work folder goes, the log keeps what was done", "[output]") {
  const std::string model = shipped_model();
  if (model.empty()) return;
  TempDir dir, logs;
  copy_file(model, dir / "a.safetensors");
  copy_file(model, dir / "b.safetensors");
  pid_t pid = spawn(dir.path, logs,
                    {"lcsc", "search", "--ckpt", "a.safetensors", "b.safetensors", "--budget", "100000",
                     "--population", "4", "--n", "8", "--steps", "50", "--threads", "1", "--log", "l.jsonl",
                     "--out", "best.safetensors"});
  REQUIRE(wait_for_entry(dir.path, "leap-work", pid));
  std::this_thread::sleep_for(std::chrono::milliseconds(500));
  REQUIRE(kill(pid, SIGINT) == 0);
  CHECK(wait_exit(pid) == 130);
  CHECK(!exists(dir / "best.safetensors"));
  CHECK(no_leftovers(dir.path));
  CHECK(slurp(dir / "a.safetensors") == slurp(model));
}

TEST_CASE("leap lcsc eval: SIGINT stops it and its work folder goes", "[output]") {
  const std::string model = shipped_model();
  if (model.empty()) return;
  TempDir dir, logs;
  copy_file(model, dir / "a.safetensors");
  copy_file(model, dir / "b.safetensors");
  const auto before = snapshot(dir.path);
  pid_t pid = spawn(dir.path, logs,
                    {"lcsc", "eval", "--ckpt", "a.safetensors", "b.safetensors", "--coef", "0.5", "0.5", "--n", "8",
                     "--nfe", "2000", "--threads", "1", "--quiet"});
  REQUIRE(wait_for_entry(dir.path, "leap-work", pid));
  std::this_thread::sleep_for(std::chrono::milliseconds(1500));
  REQUIRE(kill(pid, SIGINT) == 0);
  CHECK(wait_exit(pid) == 130);
  CHECK(snapshot(dir.path) == before);
}

TEST_CASE("leap train: SIGTERM while saving every step leaves EMA and state at one step", "[output]") {
  if (shipped_model().empty()) return;
  TempDir dir, logs;
  pid_t pid = spawn(dir.path, logs,
                    {"train", "--data", "fashion-mnist:test", "--hidden", "16", "--depth", "1", "--heads", "2",
                     "--patch", "7", "--batch", "4", "--steps", "1000000", "--save-every", "1", "--threads", "1",
                     "--quiet", "--out", "run"});
  REQUIRE(wait_for_entry(dir.path, "run_state.safetensors", pid));
  std::this_thread::sleep_for(std::chrono::milliseconds(300));
  REQUIRE(kill(pid, SIGTERM) == 0);
  CHECK(wait_exit(pid) == 130);
  CHECK(no_leftovers(dir.path));
  const std::string step = lt::meta(dir / "run_state.safetensors", "step");
  CHECK(!step.empty());
  CHECK(lt::meta(dir / "run_ema.safetensors", "step") == step);
  char name[64];
  snprintf(name, sizeof name, "run_step%06d.safetensors", std::atoi(step.c_str()));
  CHECK(exists(dir / name));
}

// The second signal: a command stops at its next step after the first, but
// a second SIGINT (an impatient user) ends the process at once, and even
// then every temporary and work folder leap registered goes with it. In a
// child process, so that the signal's default action can end it.
TEST_CASE("output rule: a second SIGINT ends the process at once and removes every temporary", "[output]") {
  TempDir dir;
  const std::string target = dir / "x.safetensors", work_parent = dir / "work";
  const pid_t pid = fork();
  REQUIRE(pid >= 0);
  if (pid == 0) {
    lp_out_signals_install();
    lp_out *o = nullptr;
    lp_out_workdir *w = nullptr;
    char buf[512];
    if (lp_out_begin(target.c_str(), LP_OUT_SAMPLES, nullptr, 0, &o) != LEAP_OK) _exit(3);
    if (lp_out_workdir_create(work_parent.c_str(), "t", &w) != LEAP_OK) _exit(4);
    const char *f = lp_out_workdir_file(w, "a.bin", buf, sizeof buf);
    const int fd = f ? open(f, O_CREAT | O_WRONLY, 0644) : -1;
    if (fd < 0) _exit(5);
    close(fd);
    raise(SIGINT);
    // the first asks to stop and changes nothing on disk
    if (!lp_out_stop_requested()) _exit(6);
    if (access(lp_out_temp(o), F_OK) != 0 || access(buf, F_OK) != 0) _exit(7);
    raise(SIGINT);
    _exit(8);  // not reached: the second ends the process
  }
  int st = 0;
  REQUIRE(waitpid(pid, &st, 0) == pid);
  INFO("exit status " << (WIFEXITED(st) ? WEXITSTATUS(st) : -1));
  CHECK(WIFSIGNALED(st));
  CHECK((WIFSIGNALED(st) && WTERMSIG(st) == SIGINT));
  // the temporary, the work file, its folder and the parent leap made: gone
  CHECK(TempDir::list_dir(dir.path).empty());
}
