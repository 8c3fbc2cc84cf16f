// test_cli_usage.cpp - every command's bad command lines: exit code 2, a
// message on stderr that names the option and the bad value, the "Try
// 'leap CMD --help'" hint, nothing on stdout, and no file written in the
// folder the command ran in. Each line below was a branch no test ran
// (examples/cli/*.c's option checks); they all fail before any model is
// read, so the table runs in about a second.
#include <sys/stat.h>
#include <sys/wait.h>

#include <string>
#include <vector>

#include "stb_write.hpp"
#include "test_util.hpp"

namespace {

const std::string kTiny = LEAP_TEST_DATA "/dit_tiny_f32.safetensors";

struct Result {
  int code;
  std::string out, err;
};

// Runs `leap ARGS` inside dir (its working folder), output captured
// outside it, so that anything the command writes shows up in dir.
Result leap_in(const lt::TempDir &dir, const lt::TempDir &logs, const std::string &args) {
  const std::string cmd = "cd '" + dir.path + "' && timeout 60 '" + std::string(LEAP_CLI_PATH) + "' " + args + " > '" +
                          (logs / "out") + "' 2> '" + (logs / "err") + "' < /dev/null";
  const int status = std::system(cmd.c_str());
  REQUIRE(WIFEXITED(status));
  return Result{WEXITSTATUS(status), lt::slurp(logs / "out"), lt::slurp(logs / "err")};
}

struct Case {
  std::string args;
  std::string says; // a part of the message
  std::string hint; // the command named in "Try 'leap ... --help'."
};

void check_usage(const std::vector<Case> &cases) {
  for (const Case &c : cases) {
    lt::TempDir dir, logs;
    const Result r = leap_in(dir, logs, c.args);
    INFO("leap " << c.args << "\nexit " << r.code << "\nstderr: " << r.err << "\nstdout: " << r.out);
    CHECK(r.code == 2);
    CHECK(r.err.find(c.says) != std::string::npos);
    CHECK(r.err.find("Try 'leap " + c.hint + " --help'.") != std::string::npos);
    CHECK(r.out.empty());
    CHECK(dir.list().empty());
  }
}

}  // namespace

TEST_CASE("cli usage: option values of every kind are checked (flags, integers, seeds, numbers, labels)",
          "[cli]") {
  check_usage({
      {"sample --quiet=1", "option '--quiet' takes no value", "sample"},
      {"sample --steps=", "--steps: '' is not an integer", "sample"},
      {"sample --steps 99999999999999999999", "--steps: '99999999999999999999' is not an integer", "sample"},
      {"sample --seed -1", "--seed: '-1' is not a non-negative integer", "sample"},
      {"sample --seed 12x", "--seed: '12x' is not a non-negative integer", "sample"},
      {"sample --cfg 1e9", "--cfg: 1e+09 is out of range", "sample"},
      {"sample --cfg inf", "--cfg: 'inf' is not a finite number", "sample"},
      {"sample --labels 0-2000000", "--labels: more than 1048576 labels", "sample"},
      {"sample --labels 1,,2", "--labels: '1,,2' is not a label list", "sample"},
      {"sample --labels a", "--labels: 'a' is not a label list", "sample"},
      {"sample --labels 5-", "--labels: '5-' is not a label list", "sample"},
      {"sample --labels 99999999999", "--labels: '99999999999' is not a label list", "sample"},
      {"sample --labels 0,1 --steps", "option '--steps' needs a value", "sample"},
  });
}

TEST_CASE("cli usage: leap sample's option conflicts", "[cli]") {
  check_usage({
      {"sample --model '" + kTiny + "' --backend cpu --device 0",
       "--device selects a Vulkan device; it cannot go with --backend cpu", "sample"},
      {"sample --schedule nope", "--schedule: 'nope' is not default, flow, vp_linear", "sample"},
      {"sample --cache-uniform 3 --cache-teacache 0.1",
       "--cache-uniform and --cache-teacache are two different baselines", "sample"},
      {"sample --cache-teacache 0.1", "--cache-teacache needs --cache PROFILE", "sample"},
      {"sample --no-rectify", "the ERTACache switches need --cache PROFILE", "sample"},
      {"sample --paper-phi", "the ERTACache switches need --cache PROFILE", "sample"},
      {"sample --raw-out ''", "--raw-out: empty path", "sample"},
      {"sample --out ''", "--out: empty path", "sample"},
      {"sample --out x.png --raw-out x.png", "--out and --raw-out are the same file", "sample"},
      // The same file by another spelling is caught once the paths resolve.
      {"sample --model '" + kTiny + "' --backend cpu --out ./y.png --raw-out y.png",
       "--out and --raw-out name the same file (./y.png)", "sample"},
  });
}

TEST_CASE("cli usage: leap distill, train and train-classifier", "[cli]") {
  check_usage({
      {"distill --method nope --out d", "--method: 'nope' is not dmd or disback", "distill"},
      {"distill --switch nope --out d", "--switch: 'nope' is not interval or converged", "distill"},
      {"distill --dtype f64 --out d", "--dtype: 'f64' is not f32 or f16", "distill"},
      {"distill", "--out DIR is required", "distill"},
      {"distill --t-min 0.9 --t-max 0.1 --out d", "--t-min 0.9 must be below --t-max 0.1", "distill"},
      {"distill --bogus", "unknown option '--bogus'", "distill"},
      {"distill stray", "unexpected argument 'stray'", "distill"},
      {"train --objective nope --out t", "--objective: 'nope' is not flow_v or eps", "train"},
      {"train --dtype f64 --out t", "--dtype: 'f64' is not f32 or f16", "train"},
      {"train --out ''", "--out: empty prefix", "train"},
      {"train --hidden 30 --heads 4 --out t", "--hidden 30 is not divisible by --heads 4", "train"},
      {"train --hidden 34 --heads 2 --out t", "--hidden 34 must be a multiple of 4", "train"},
      {"train --bogus", "unknown option '--bogus'", "train"},
      {"train-classifier", "--out PATH is required", "train-classifier"},
      {"train-classifier --out ''", "--out PATH is required", "train-classifier"},
  });
}

TEST_CASE("cli usage: leap train names the image size a --patch does not divide", "[cli]") {
  // A folder data set of 12x12 images: --patch 5 does not divide 12. (The
  // message used to say "the image size 0": it read the size after the
  // data set was freed.)
  lt::TempDir data;
  const std::vector<unsigned char> px(12 * 12, 128);
  for (const char *cls : {"a", "b"}) {
    REQUIRE(mkdir((data / cls).c_str(), 0700) == 0);
    REQUIRE(stbi_write_png((data / cls + "/0.png").c_str(), 12, 12, 1, px.data(), 12) != 0);
  }
  check_usage({{"train --data '" + data.path + "' --patch 5 --hidden 32 --heads 2 --steps 1 --out t",
                "--patch 5 does not divide the image size 12", "train"}});
}

TEST_CASE("cli usage: leap lcsc, eval, profile and bench", "[cli]") {
  check_usage({
      {"lcsc", "expected combine, search or eval", "lcsc"},
      {"lcsc nope", "unknown mode 'nope' (combine, search or eval)", "lcsc"},
      {"lcsc combine", "give the checkpoints with --ckpt", "lcsc"},
      {"lcsc combine --ckpt a b --coef 1", "2 checkpoints but 1 coefficients", "lcsc"},
      {"lcsc combine --ckpt a --coef 1 --backend metal --out o", "--backend: 'metal' is not cpu or vulkan", "lcsc"},
      {"lcsc combine --ckpt a --out o", "give the coefficients with --coef", "lcsc combine"},
      {"lcsc combine --ckpt a --coef 1", "give the output with --out", "lcsc combine"},
      {"lcsc combine --ckpt a --coef 1 --dtype f8 --out o", "--dtype: 'f8' is not f32, f16 or bf16", "lcsc combine"},
      {"lcsc combine --ckpt", "option '--ckpt' needs values", "lcsc"},
      {"lcsc eval --ckpt a --models ema", "--models ema needs --ema PATH", "lcsc eval"},
      {"lcsc eval --ckpt a", "give --coef or --from-log", "lcsc eval"},
      {"eval --model a --samples b", "give exactly one of --model and --samples", "eval"},
      {"eval", "give exactly one of --model and --samples", "eval"},
      {"eval --model a --backend metal", "--backend: 'metal' is not cpu or vulkan", "eval"},
      {"eval --model a --sampler nope", "--sampler: 'nope' is not euler, heun, ddim", "eval"},
      {"eval --video", "--video: give exactly one of --samples and --real", "eval"},
      {"profile --model /nonexistent --sampler nope", "--sampler: 'nope' is not a sampler", "profile"},
      {"profile --model /nonexistent --schedule nope", "--schedule: 'nope' is not a schedule", "profile"},
      {"profile --model /nonexistent --backend metal", "--backend: 'metal' is not vulkan or cpu", "profile"},
      {"profile --model /nonexistent --computed 0 --steps 5", "--computed: 0 outside 1..5", "profile"},
      {"profile --model /nonexistent --computed 1,x", "--computed: '1,x' is not a list of up to 32", "profile"},
      {"profile --model /nonexistent --shrink 0.5,0.25", "--shrink: '0.5,0.25' must rise within (0, 1]", "profile"},
      {"profile --model /nonexistent --shrink 0.1,0.2,0.3,0.4,0.5,0.6,0.7,0.8,0.9", "--shrink: at most 8 candidates",
       "profile"},
      {"bench erta", "--profile PATH is required", "bench erta"},
      {"bench erta --profile p --backend metal", "--backend: 'metal' is not cpu or vulkan", "bench erta"},
      {"bench sample --sampler nope", "--sampler: unknown sampler 'nope'", "bench sample"},
      {"bench sample --backend metal", "--backend: 'metal' is not cpu or vulkan", "bench sample"},
  });
}
