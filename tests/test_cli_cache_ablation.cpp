// test_cli_cache_ablation.cpp - `leap sample --cache P --no-policy`, the
// paper's ablation of the reuse policy: the profile's budget of computed
// steps spent uniformly. It must give exactly the samples of
// `--cache-uniform K` with K read from the profile, differ from ERTACache's
// own schedule, and say how many evaluations it computed.
#include <sys/wait.h>

#include <string>

#include "test_util.hpp"

extern "C" {
#include "cache_profile.h"
}

namespace {

const std::string kTiny = LEAP_TEST_DATA "/dit_tiny_f32.safetensors";

struct Result {
  int code;
  std::string out, err;
};

Result leap(const lt::TempDir &dir, const std::string &args) {
  const std::string cmd = "cd '" + dir.path + "' && timeout 120 '" + std::string(LEAP_CLI_PATH) + "' " + args +
                          " > out.txt 2> err.txt < /dev/null";
  const int status = std::system(cmd.c_str());
  REQUIRE(WIFEXITED(status));
  return Result{WEXITSTATUS(status), lt::slurp(dir / "out.txt"), lt::slurp(dir / "err.txt")};
}

}  // namespace

TEST_CASE("cli: sample --cache P --no-policy spends the profile's budget uniformly", "[cli][cache]") {
  lt::TempDir dir;
  const int steps = 10;
  const Result prof = leap(dir, "profile --model '" + kTiny + "' --steps 10 --cfg 3 --computed 5 --images 4 "
                                                              "--backend cpu --out p.json");
  INFO(prof.out << prof.err);
  REQUIRE(prof.code == 0);
  lp_cache_profile p{};
  REQUIRE(lp_cache_profile_read((dir / "p.json").c_str(), &p) == LEAP_OK);
  REQUIRE(p.nsettings == 1);
  const int k = p.settings[0].computed;
  lp_cache_profile_free(&p);
  REQUIRE(k >= 1);
  REQUIRE(k < steps);
  const std::string common = "sample --model '" + kTiny + "' --backend cpu --labels 0,1,2,3 --steps 10 --cfg 3 --seed 5 ";
  const std::string said = "cache: " + std::to_string(k) + " of 10 evaluations computed, " +
                           std::to_string(steps - k) + " reused";
  const Result ablation = leap(dir, common + "--cache p.json --no-policy --out a.png --raw-out a.safetensors");
  INFO(ablation.out << ablation.err);
  REQUIRE(ablation.code == 0);
  CHECK(ablation.out.find(said) != std::string::npos);
  const Result uniform = leap(dir, common + "--cache-uniform " + std::to_string(k) + " --out b.png --raw-out b.safetensors");
  REQUIRE(uniform.code == 0);
  CHECK(uniform.out.find(said) != std::string::npos);
  const Result erta = leap(dir, common + "--cache p.json --out c.png --raw-out c.safetensors");
  REQUIRE(erta.code == 0);
  CHECK(erta.out.find(said) != std::string::npos); // the same budget ...
  const std::string a = lt::slurp(dir / "a.safetensors"), b = lt::slurp(dir / "b.safetensors"),
                    c = lt::slurp(dir / "c.safetensors");
  REQUIRE(!a.empty());
  CHECK(a == b);  // the ablation is the uniform baseline at the profile's budget
  CHECK(a != c);  // ... spent where the profile says, it gives other images
}
