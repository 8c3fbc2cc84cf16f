// test_cli_paths.cpp - the main path of the CLI commands the other CLI
// tests leave out, each checked against the library's own result in
// process: sampling on Vulkan, sampling with a cache (ERTA profile,
// uniform, TeaCache-style), the default model and classifier lookup, and
// LCSC search and evaluation on the shared trajectory, profile's report
// and its usage errors.
#include <sys/wait.h>

#include <cstdlib>
#include <sstream>
#include <string>
#include <vector>

#include "test_util.hpp"

extern "C" {
#include "cache_profile.h"
}

namespace {

const std::string kTiny = LEAP_TEST_DATA "/dit_tiny_f32.safetensors";
const std::string kSource = LEAP_TEST_DATA "/../..";
const std::string kDefault = kSource + "/models/default/leap-fmnist.safetensors";

// Runs `ENV leap ARGS`, stdout and stderr together into *out; the exit code.
int cli(const lt::TempDir &dir, const std::string &env, const std::string &args, std::string *out) {
  const std::string log = dir / "cli.txt";
  const std::string cmd = env + " '" + LEAP_CLI_PATH + "' " + args + " > '" + log + "' 2>&1 < /dev/null";
  const int st = std::system(cmd.c_str());
  *out = lt::slurp(log);
  REQUIRE(WIFEXITED(st));
  return WEXITSTATUS(st);
}

std::vector<float> samples_of(const std::string &path) {
  return lt::to_f32(lt::read_f64(path, "samples"));
}

// leap_sample in process on one CPU thread (as the CLI runs with --threads
// 1, so the two compare bit for bit); with a cache made from cd when set.
std::vector<float> sample_lib(const std::string &model, const leap_sample_desc &sd, const leap_cache_desc *cd) {
  leap_context_desc d = leap_context_desc_default(LEAP_BACKEND_CPU);
  d.threads = 1;
  leap_context *ctx = nullptr;
  REQUIRE(leap_context_create(&d, &ctx) == LEAP_OK);
  leap_model *m = nullptr;
  REQUIRE(leap_model_load(ctx, model.c_str(), &m) == LEAP_OK);
  leap_model_info info{};
  info.struct_size = sizeof info;
  REQUIRE(leap_model_get_info(m, &info) == LEAP_OK);
  leap_cache *c = nullptr;
  leap_sample_desc one = sd;
  if (cd) {
    INFO(leap_last_error());
    REQUIRE(leap_cache_create(ctx, cd, &c) == LEAP_OK);
    one.cache = c;
  }
  std::vector<float> x((size_t)sd.n * info.in_channels * info.input_size * info.input_size);
  INFO(leap_last_error());
  REQUIRE(leap_sample(m, &one, x.data()) == LEAP_OK);
  if (c) leap_cache_destroy(c);
  leap_model_destroy(m);
  leap_context_destroy(ctx);
  return x;
}

}  // namespace

TEST_CASE("cli: sample --backend vulkan gives the CPU's images, validation clean", "[cli][vulkan]") {
  lt::TempDir dir;
  std::string out;
  const std::string common = "sample --model '" + kTiny + "' --n 3 --steps 3 --seed 9 --quiet ";
  const int code = cli(dir, "LEAP_VALIDATION=1", common + "--backend vulkan --out '" + (dir / "v.png") +
                                                    "' --raw-out '" + (dir / "v.safetensors") + "'",
                       &out);
  if (code == 3) {
    lt::skip("no Vulkan device: " + out);
    return;
  }
  INFO(out);
  REQUIRE(code == 0);
  CHECK(out.find("validation") == std::string::npos);
  CHECK(lt::exists(dir / "v.png"));
  REQUIRE(cli(dir, "", common + "--backend cpu --threads 1 --out '" + (dir / "c.png") + "' --raw-out '" +
                           (dir / "c.safetensors") + "'",
              &out) == 0);
  // Measured relative L2 difference of the two backends on this model:
  // about 1e-7 (float rounding in other orders); 1e-4 as elsewhere in the
  // suite for Vulkan against the CPU.
  const double d = lt::rel_l2(samples_of(dir / "v.safetensors"), samples_of(dir / "c.safetensors"));
  INFO("relative L2 difference " << d);
  CHECK(d < 1e-4);
  CHECK(lt::meta(dir / "v.safetensors", "device") != lt::meta(dir / "c.safetensors", "device"));
}

TEST_CASE("cli: sample --cache, --cache-uniform and --cache-teacache give the library's cached images", "[cli]") {
  lt::TempDir dir;
  std::string out;
  const std::string prof = dir / "p.json";
  // A profile of the shipped flow model: 8 steps, 5 computed.
  REQUIRE(cli(dir, "", "profile --model '" + kDefault + "' --backend cpu --threads 1 --images 2 --seed 1000 "
                       "--steps 8 --cfg 3 --computed 5 --out '" + prof + "' --quiet",
              &out) == 0);
  const int32_t labels[2] = {1, 7};
  leap_sample_desc sd = leap_sample_desc_default();
  sd.n = 2, sd.labels = labels, sd.steps = 8, sd.cfg = 3, sd.seed = 4;
  leap_cache_desc cd = leap_cache_desc_default();
  cd.branches = 2, cd.images = 2, cd.steps = 8, cd.cfg = 3;
  const std::string common = "sample --model '" + kDefault + "' --backend cpu --threads 1 --n 2 --labels 1,7 "
                             "--steps 8 --cfg 3 --seed 4 --quiet --out '" + (dir / "x.png") + "' --raw-out '" +
                             (dir / "x.safetensors") + "' ";
  const std::vector<float> full = sample_lib(kDefault, sd, nullptr);
  SECTION("ERTA profile") {
    INFO(out);
    REQUIRE(cli(dir, "", common + "--cache '" + prof + "'", &out) == 0);
    cd.policy = LEAP_CACHE_ERTA, cd.profile = prof.c_str();
    const auto want = sample_lib(kDefault, sd, &cd);
    CHECK(samples_of(dir / "x.safetensors") == want);
    CHECK(want != full);
  }
  SECTION("uniform") {
    REQUIRE(cli(dir, "", common + "--cache-uniform 4", &out) == 0);
    cd.policy = LEAP_CACHE_UNIFORM, cd.uniform_computed = 4;
    const auto want = sample_lib(kDefault, sd, &cd);
    CHECK(samples_of(dir / "x.safetensors") == want);
    CHECK(want != full);
  }
  SECTION("TeaCache-style") {
    REQUIRE(cli(dir, "", common + "--cache '" + prof + "' --cache-teacache 0.3", &out) == 0);
    cd.policy = LEAP_CACHE_TEACACHE, cd.profile = prof.c_str(), cd.teacache_threshold = 0.3;
    const auto want = sample_lib(kDefault, sd, &cd);
    CHECK(samples_of(dir / "x.safetensors") == want);
  }
}

TEST_CASE("cli: the default model and classifier: the environment first, then the source tree", "[cli]") {
  lt::TempDir dir;
  std::string out;
  const std::string args = "sample --backend cpu --threads 1 --n 1 --steps 1 --quiet --out '" + (dir / "x.png") +
                           "' --raw-out '" + (dir / "x.safetensors") + "'";
  REQUIRE(cli(dir, "LEAP_DEFAULT_MODEL='" + kTiny + "'", args, &out) == 0);
  CHECK(lt::meta(dir / "x.safetensors", "model") == kTiny);
  REQUIRE(cli(dir, "env -u LEAP_DEFAULT_MODEL", args, &out) == 0);
  const std::string model = lt::meta(dir / "x.safetensors", "model");
  INFO(model);
  CHECK(model.size() > 38);
  CHECK(model.compare(model.size() - 38, 38, "models/default/leap-fmnist.safetensors") == 0);
  // The classifier of `leap eval`: $LEAP_CLASSIFIER is read first (a file
  // that is not a classifier is an error naming it).
  const std::string samples = dir / "x.safetensors";
  const int code = cli(dir, "LEAP_CLASSIFIER='" + kTiny + "'", "eval --samples '" + samples + "' --reference-n 100", &out);
  INFO(out);
  CHECK(code == 1);
  CHECK(out.find(kTiny) != std::string::npos);
}

TEST_CASE("cli: lcsc search and lcsc eval on the shared trajectory agree on the best candidate's FD", "[cli][lcsc]") {
  const char *ck[3] = {"fixtures/fmnist-dit-traj/traj_005000.safetensors",
                       "fixtures/fmnist-dit-traj/traj_005500.safetensors",
                       "fixtures/fmnist-dit-traj/traj_006000.safetensors"};
  if (!lt::shared_present(ck[2]) || !lt::exists("/usr/share/datasets/fashion-mnist/t10k-images-idx3-ubyte.gz")) {
    lt::skip(std::string("needs ../shared/") + ck[2] + " and Debian's dataset-fashion-mnist");
    return;
  }
  lt::TempDir dir;
  std::string ckpts, out;
  for (auto c : ck) ckpts += " '" + std::string(LEAP_SHARED_DIR) + "/" + c + "'";
  const std::string log = dir / "search.jsonl", best = dir / "best.safetensors";
  const std::string sampling = " --n 10 --steps 1 --seed 1 --cfg 3 --threads 1";
  REQUIRE(cli(dir, "", "lcsc search --ckpt" + ckpts + " --budget 4 --population 2 --elite 1 --log '" + log +
                           "' --out '" + best + "'" + sampling,
              &out) == 0);
  INFO(out);
  // One log line per candidate (after the settings line), the best written.
  std::istringstream lines(lt::slurp(log));
  int candidates = 0;
  for (std::string line; std::getline(lines, line);) candidates += line.find("\"fitness\"") != std::string::npos;
  CHECK(candidates == 4);
  CHECK(lt::exists(best));
  const size_t at = out.find("best FD ");
  REQUIRE(at != std::string::npos);
  const double best_fd = std::strtod(out.c_str() + at + 8, nullptr);
  // eval of the log's best with the search's sampling (1 Euler step = NFE
  // 1, the same seed and count): the same FD, up to its 4 printed decimals.
  std::string ev;
  REQUIRE(cli(dir, "", "lcsc eval --ckpt" + ckpts + " --from-log '" + log + "' --nfe 1 --models lcsc,last --json --quiet" +
                           " --n 10 --seed 1 --cfg 3 --threads 1 --work '" + dir.path + "'",
              &ev) == 0);
  INFO(ev);
  const size_t l = ev.find("{\"model\": \"lcsc\", \"nfe\": 1, \"fd\": ");
  REQUIRE(l != std::string::npos);
  const double fd = std::strtod(ev.c_str() + l + 34, nullptr);
  CHECK(std::fabs(fd - best_fd) <= 5e-5 + 1e-6 * best_fd);
  CHECK(ev.find("{\"model\": \"last\", \"nfe\": 1, \"fd\": ") != std::string::npos);
}

TEST_CASE("cli: profile prints each setting as the file holds it, and refuses bad settings with exit 2", "[cli]") {
  lt::TempDir dir;
  std::string out;
  const std::string prof = dir / "p.json";
  const std::string common = "profile --model '" + kDefault + "' --backend cpu --threads 1 --images 2 --seed 1000 "
                             "--steps 4 --cfg 3 --out '" + prof + "'";
  // Two settings (a threshold and a computed count), one shrinkage tried.
  REQUIRE(cli(dir, "", common + " --lambda 0.5 --computed 3 --shrink 0.5", &out) == 0);
  INFO(out);
  lp_cache_profile p{};
  REQUIRE(lp_cache_profile_read(prof.c_str(), &p) == LEAP_OK);
  REQUIRE(p.nsettings == 2);
  for (int k = 0; k < p.nsettings; k++) {
    const lp_cache_setting &st = p.settings[k];
    const std::string head = "  setting " + std::to_string(k) + " ";
    const size_t at = out.find(head);
    REQUIRE(at != std::string::npos);
    const std::string line = out.substr(at, out.find('\n', at) - at);
    INFO(line);
    CHECK(line.find(": " + std::to_string(st.computed) + " computed, " + std::to_string(4 - st.computed) +
                    " reused") != std::string::npos);
    CHECK(st.rect_ncand == 2);
    CHECK(st.rect_folds == 2);
  }
  CHECK(p.settings[1].computed == 3);
  CHECK(out.find("2-fold CV PSNR") != std::string::npos);
  lp_cache_profile_free(&p);
  // --shrink 0: rectification is not tried, and says so.
  REQUIRE(cli(dir, "", common + " --computed 2 --shrink 0", &out) == 0);
  CHECK(out.find("rectification: off (--shrink 0: not tried)") != std::string::npos);
  // Bad settings are usage errors and write nothing.
  std::remove(prof.c_str());
  for (const char *bad : {" --sampler nope", " --schedule nope", " --backend metal", " --computed 0", " --computed 5",
                          " --shrink 0.5,0.25", " --shrink 2", " --lambda x"}) {
    INFO(bad);
    CHECK(cli(dir, "", common + bad, &out) == 2);
    CHECK(!lt::exists(prof));
  }
}

TEST_CASE("cli: without --backend, sample picks a GPU, else the CPU backend with a notice", "[cli]") {
  lt::TempDir dir;
  std::string out;
  const std::string args = "sample --model '" + kTiny + "' --n 1 --steps 1 --threads 1 --out '" + (dir / "x.png") +
                           "' --raw-out '" + (dir / "x.safetensors") + "'";
  // What this machine has, asked in process: a Vulkan device that is not a
  // CPU (lavapipe is one) makes Vulkan the default.
  int count = 0;
  if (leap_vulkan_device_count(&count) != LEAP_OK) count = 0;
  bool gpu = false;
  for (int i = 0; i < count; i++) {
    leap_device_info info{};
    info.struct_size = sizeof info;
    REQUIRE(leap_vulkan_device_info(i, &info) == LEAP_OK);
    gpu = gpu || info.type != LEAP_DEVICE_CPU;
  }
  REQUIRE(cli(dir, "env -u LEAP_DEVICE", args, &out) == 0);
  INFO(out);
  if (gpu) {
    CHECK(lt::meta(dir / "x.safetensors", "device") != "cpu");
  } else {
    CHECK(lt::meta(dir / "x.safetensors", "device") == "cpu");
    CHECK(out.find(count > 0 ? "no GPU found; using the CPU backend" : "no Vulkan device found; using the CPU backend") !=
          std::string::npos);
  }
  // No Vulkan driver at all: the CPU backend, with the other notice; --quiet
  // silences it.
  const std::string no_icd = "env -u LEAP_DEVICE VK_ICD_FILENAMES='" + (dir / "none.json") + "' VK_DRIVER_FILES='" +
                             (dir / "none.json") + "'";
  REQUIRE(cli(dir, no_icd, args, &out) == 0);
  CHECK(out.find("no Vulkan device found; using the CPU backend") != std::string::npos);
  CHECK(lt::meta(dir / "x.safetensors", "device") == "cpu");
  REQUIRE(cli(dir, no_icd, args + " --quiet", &out) == 0);
  CHECK(out.find("no Vulkan device found") == std::string::npos);
  // LEAP_DEVICE names a Vulkan device: Vulkan, or exit 3 without one.
  const int code = cli(dir, no_icd.substr(std::string("env -u LEAP_DEVICE").size()) + " LEAP_DEVICE=0", args, &out);
  CHECK(code == 3);
}

TEST_CASE("cli: every command's help, and devices without a Vulkan driver", "[cli]") {
  lt::TempDir dir;
  std::string out;
  REQUIRE(cli(dir, "", "--help", &out) == 0);
  // The commands as --help lists them: each has its usage, both ways.
  std::istringstream lines(out.substr(out.find("commands:\n") + 10));
  int commands = 0;
  for (std::string line; std::getline(lines, line) && line.rfind("  ", 0) == 0;) {
    const std::string name = line.substr(2, line.find(' ', 2) - 2);
    INFO(name);
    std::string h1, h2;
    CHECK(cli(dir, "", "help " + name, &h1) == 0);
    CHECK(h1.find("usage: leap " + name) != std::string::npos);
    CHECK(cli(dir, "", name + " --help", &h2) == 0);
    CHECK(h2 == h1);
    commands++;
  }
  CHECK(commands == 12);
  CHECK(cli(dir, "", "help no-such-command", &out) == 2);
  CHECK(cli(dir, "", "help sample info", &out) == 2);
  CHECK(cli(dir, "", "bench nope", &out) == 2);
  CHECK(out.find("sample or erta") != std::string::npos);
  // devices with no driver: still the CPU backend, and Vulkan reported missing.
  REQUIRE(cli(dir, "VK_ICD_FILENAMES='" + (dir / "none.json") + "' VK_DRIVER_FILES='" + (dir / "none.json") + "'",
              "devices", &out) == 0);
  INFO(out);
  CHECK(out.find("cpu") != std::string::npos);
  CHECK((out.find("Vulkan: not available") != std::string::npos || out.find("Vulkan: no device found") != std::string::npos));
}
