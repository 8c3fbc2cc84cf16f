// test_samples_index.cpp - a shard index (S.safetensors.index.json, what
// `leap sample --raw-out S --shard i/N` writes and `leap merge` / `leap eval
// --samples` read) that is wrong in any one way is an error that names what
// is wrong, and nothing is written. Each case is the valid index of a real
// two-part run with one thing changed.
#include <string>
#include <utility>
#include <vector>

#include "test_util.hpp"

namespace {

const std::string kTiny = LEAP_TEST_DATA "/dit_tiny_f32.safetensors";

// s with the first `from` replaced by `to` (REQUIREs it is there).
std::string replaced(const std::string &s, const std::string &from, const std::string &to) {
  const size_t at = s.find(from);
  REQUIRE(at != std::string::npos);
  return s.substr(0, at) + to + s.substr(at + from.size());
}

}  // namespace

TEST_CASE("shard index: each kind of damage is an error naming it, and merge writes nothing", "[scale][cli]") {
  lt::TempDir dir;
  const std::string run = "sample --model '" + kTiny + "' --backend cpu --threads 1 --n 5 --batch 2 --steps 1 "
                          "--seed 3 --quiet --raw-out s.safetensors --shard ";
  for (const char *shard : {"0/2", "1/2"}) {
    const lt::CliResult r = lt::leap_in(dir, "", run + shard);
    INFO(r.err);
    REQUIRE(r.code == 0);
  }
  const std::string good = lt::slurp(dir / "s.safetensors.index.json");
  REQUIRE(lt::leap_in(dir, "", "merge s.safetensors.index.json --out whole.safetensors --quiet").code == 0);
  REQUIRE(lt::exists(dir / "whole.safetensors"));
  const std::string part0 = "\"file\": \"s-00000-of-00002.safetensors\", \"first\": 0, \"count\": 2";
  const std::vector<std::pair<std::string, std::string>> cases = {
      {"{\"format\": \"leap-samples-index\", \"n\": ", "unexpected end of input"},  // not JSON
      {replaced(good, "leap-samples-index", "leap-sample-index"), "no \"format\": \"leap-samples-index\""},
      {replaced(good, "\"n\": 5", "\"n\": 0"), "\"n\" is not a positive whole number"},
      {replaced(good, "\"n\": 5", "\"n\": \"5\""), "\"n\" is not a positive whole number"},
      {replaced(good, "\"n\": 5", "\"n\": 5.5"), "\"n\" is not a positive whole number"},
      {replaced(good, "[3, 8, 8]", "[3, 8]"), "\"shape\" is not [C, H, W]"},
      {replaced(good, "[3, 8, 8]", "[0, 8, 8]"), "\"shape\" is not [C, H, W]"},
      {replaced(good, "[3, 8, 8]", "[3, 8, 70000]"), "\"shape\" is not [C, H, W]"},
      {replaced(good, "[3, 8, 8]", "[3, -8, 8]"), "\"shape\" is not [C, H, W]"},
      {replaced(good, "\"settings\": {", "\"settings\": [], \"x\": {"), "no \"settings\" object"},
      {replaced(replaced(good, "\"parts\"", "\"parts\": [], \"old\""), "", ""), "no \"parts\" list"},
      {replaced(good, "\"seed\": \"3\"", "\"sed\": \"3\""), "setting \"seed\" is missing"},
      {replaced(good, "\"seed\": \"3\"", "\"seed\": 3"), "setting \"seed\" is missing"},
      {replaced(good, "\"file\": \"s-00000", "\"file\": \"../s-00000"), "part 0 is not {\"file\": NAME"},
      {replaced(good, "\"file\": \"s-00000-of-00002.safetensors\"", "\"file\": \"\""), "part 0 is not {\"file\": NAME"},
      {replaced(good, part0, "\"file\": \"s-00000-of-00002.safetensors\", \"first\": 0"), "part 0 is not"},
      {replaced(good, "\"first\": 0", "\"first\": 1"), "part 0 (s-00000-of-00002.safetensors) starts at image 1"},
      {replaced(good, "\"count\": 3", "\"count\": 4"), "runs past the 5 images of the run"},
      {replaced(good, "\"n\": 5", "\"n\": 6"), "the parts hold 5 images, the run 6"},
      {replaced(good, "s-00001-of-00002.safetensors", "s-00007-of-00002.safetensors"),
       "part 1 of 2 (s-00007-of-00002.safetensors) is missing"},
      {replaced(good, "\"seed\": \"3\"", "\"seed\": \"4\""), "a part of another run?"},
      {replaced(good, "\"label_cycle\": \"", "\"label_cycle\": \"x"), "is not comma-separated labels"},
  };
  for (size_t i = 0; i < cases.size(); i++) {
    const std::string name = "bad" + std::to_string(i) + ".safetensors.index.json";
    // the parts are named relative to the index: the damaged copies sit beside it
    lt::write_text(dir / name, cases[i].first);
    const std::string out = "m" + std::to_string(i) + ".safetensors";
    const lt::CliResult r = lt::leap_in(dir, "", "merge " + name + " --out " + out + " --quiet");
    INFO("case " << i << ": " << cases[i].second << "\nindex:\n" << cases[i].first << "\nstderr: " << r.err);
    CHECK(r.code == 1);
    CHECK(r.err.find(cases[i].second) != std::string::npos);
    CHECK_FALSE(lt::exists(dir / out));
    // leap eval opens the index through the same checks (a part's own
    // metadata is read later, after eval has refused these 3x8x8 samples
    // for its 28x28 classifier)
    if (cases[i].second.find("another run") != std::string::npos) continue;
    const lt::CliResult e = lt::leap_in(dir, "", "eval --samples " + name + " --quiet");
    CHECK(e.code == 1);
    CHECK(e.err.find(cases[i].second) != std::string::npos);
  }
  // no temporary left behind by any refusal
  for (const std::string &n : dir.list()) CHECK(n.find(".tmp") == std::string::npos);
}
