// test_vk_profile.cpp - LEAP_VK_PROFILE=1 (plugin/vk_profile.c): the
// per-row time table a Vulkan backend prints when it is destroyed. Run
// through the CLI (the table goes to stderr): the table must count every
// dispatch where it belongs (each LINEAR row's calls follow from the
// model's shape and the step count, worked out here), carry real GPU time
// when the queue has timestamps, sort and add up, and change nothing in the
// samples; without the variable (or with 0) there is no table.
#include <sys/wait.h>

#include <map>
#include <sstream>
#include <string>
#include <vector>

#include "test_util.hpp"

namespace {

const std::string kTiny = LEAP_TEST_DATA "/dit_tiny_f32.safetensors";

struct Run {
  int code;
  std::string err;
};

Run sample(const lt::TempDir &dir, const std::string &env, const std::string &name, int steps) {
  const std::string cmd = "env " + env + " '" + std::string(LEAP_CLI_PATH) + "' sample --model '" + kTiny +
                          "' --backend vulkan --labels 0,1 --steps " + std::to_string(steps) + " --seed 3 --out '" +
                          (dir / (name + ".png")) + "' --raw-out '" + (dir / (name + ".safetensors")) + "' > /dev/null 2> '" +
                          (dir / (name + ".err")) + "' < /dev/null";
  const int status = std::system(cmd.c_str());
  REQUIRE(WIFEXITED(status));
  return Run{WEXITSTATUS(status), lt::slurp(dir / (name + ".err"))};
}

struct Row {
  long long calls;
  double total_ms, mean_us, percent;
};

}  // namespace

TEST_CASE("LEAP_VK_PROFILE: a table of every dispatch's time, right counts, samples unchanged", "[vulkan][cli]") {
  lt::TempDir dir;
  const int steps = 3;
  const Run plain = sample(dir, "LEAP_VK_PROFILE=0", "plain", steps);
  if (plain.code == 3) {
    lt::skip("no Vulkan device: " + plain.err);
    return;
  }
  INFO(plain.err);
  REQUIRE(plain.code == 0);
  CHECK(plain.err.find("vulkan profile") == std::string::npos);
  const Run prof = sample(dir, "LEAP_VK_PROFILE=1", "prof", steps);
  INFO(prof.err);
  REQUIRE(prof.code == 0);
  // Profiling only adds timestamps: the samples are the same bytes.
  const std::string a = lt::slurp(dir / "plain.safetensors"), b = lt::slurp(dir / "prof.safetensors");
  REQUIRE(!a.empty());
  CHECK(a == b);

  const size_t head = prof.err.find("leap: vulkan profile on ");
  REQUIRE(head != std::string::npos);
  const bool timestamps = prof.err.find("host times only", head) == std::string::npos;
  std::istringstream in(prof.err.substr(head));
  std::string line;
  std::getline(in, line); // title
  std::getline(in, line); // column names
  CHECK(line.find("calls") != std::string::npos);
  CHECK(line.find("total ms") != std::string::npos);
  std::map<std::string, Row> rows;
  std::vector<double> order;
  double percent = 0;
  while (std::getline(in, line) && line.rfind("  ", 0) == 0) {
    std::istringstream f(line);
    std::vector<std::string> tok;
    for (std::string t; f >> t;) tok.push_back(t);
    REQUIRE(tok.size() >= 5);
    std::string label = tok[0];
    for (size_t k = 1; k + 4 < tok.size(); k++) label += " " + tok[k];
    Row r{std::stoll(tok[tok.size() - 4]), std::stod(tok[tok.size() - 3]), std::stod(tok[tok.size() - 2]),
          std::stod(tok[tok.size() - 1])};
    INFO(line);
    CHECK(r.calls > 0);
    CHECK(r.total_ms >= 0);
    // The mean from the total as printed (rounded to 0.01 ms = 10 us).
    CHECK(r.mean_us == Approx(r.total_ms * 1e3 / (double)r.calls).margin(5.0 / (double)r.calls + 0.05));
    rows[label] = r;
    order.push_back(r.total_ms);
    percent += r.percent;
  }
  REQUIRE(rows.size() > 5);
  // Sorted by total time, largest first; the shares add up to 100% (each
  // rounded to 0.1).
  for (size_t k = 1; k < order.size(); k++) CHECK(order[k] <= order[k - 1]);
  CHECK(percent == Approx(100).margin(0.05 * (double)rows.size() + 0.1));

  // Every LINEAR of the DiT, one dispatch per forward pass per weight, at
  // its N x K: worked out from the model's shape.
  leap_context_desc cd = leap_context_desc_default(LEAP_BACKEND_CPU);
  cd.threads = 1;
  leap_context *ctx = nullptr;
  REQUIRE(leap_context_create(&cd, &ctx) == LEAP_OK);
  leap_model *m = nullptr;
  REQUIRE(leap_model_load(ctx, kTiny.c_str(), &m) == LEAP_OK);
  leap_model_info info{};
  info.struct_size = sizeof info;
  REQUIRE(leap_model_get_info(m, &info) == LEAP_OK);
  leap_model_destroy(m);
  leap_context_destroy(ctx);
  const int H = info.hidden_size, P = info.patch_size, depth = info.depth;
  const int mlp = (int)(H * info.mlp_ratio);
  std::map<std::string, long long> linear; // "linear N=.. K=.." -> dispatches per forward pass
  auto add = [&](int n, int k, int per_forward) {
    linear["linear N=" + std::to_string(n) + " K=" + std::to_string(k)] += per_forward;
  };
  add(H, info.in_channels * P * P, 1);             // patch embedding
  add(H, 256, 1);                                  // timestep MLP, frequency embedding in
  add(H, H, 1 + depth);                            // timestep MLP out, each block's attention out
  add(3 * H, H, depth);                            // qkv
  add(mlp, H, depth);                              // MLP in
  add(H, mlp, depth);                              // MLP out
  add(6 * H, H, depth);                            // each block's adaLN
  add(2 * H, H, 1);                                // final adaLN
  add(P * P * info.out_channels, H, 1);            // final linear
  double gpu_ms = 0;
  for (const auto &kv : linear) {
    INFO(kv.first);
    REQUIRE(rows.count(kv.first) == 1);
    CHECK(rows[kv.first].calls == kv.second * steps);
    gpu_ms += rows[kv.first].total_ms;
  }
  size_t linear_rows = 0;
  for (const auto &kv : rows) linear_rows += kv.first.rfind("linear ", 0) == 0;
  CHECK(linear_rows == linear.size()); // no LINEAR filed under another shape
  CHECK(rows.count("attention") == 1);
  CHECK(rows["attention"].calls == (long long)depth * steps);
  CHECK(rows.count("(submit + wait, host)") == 1);
  CHECK(rows.count("(pipeline creation, host)") == 1);
  if (timestamps) {
    // The GPU rows carry time: a timer that always read 0 fails here.
    REQUIRE(rows.count("(barriers)") == 1);
    CHECK(gpu_ms > 0);
    CHECK(rows["attention"].total_ms > 0);
  }
  // Unset is off too.
  const Run unset = sample(dir, "-u LEAP_VK_PROFILE", "unset", steps);
  CHECK(unset.code == 0);
  CHECK(unset.err.find("vulkan profile") == std::string::npos);
}
