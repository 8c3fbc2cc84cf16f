// test_cache_profile_errors.cpp - a cache profile (JSON a user hands to
// `leap sample --cache` or leap_cache_create) with one thing wrong: each is
// a LEAP_ERR_FORMAT naming the file and the field, and a profile made for
// another run is LEAP_ERR_INVALID_ARG naming what differs, what the profile
// has and what the run wants. Every text is the writer's own output with one
// change (test_hardening.cpp covers the counts that would size memory).
#include <string>
#include <vector>

#include "test_util.hpp"

extern "C" {
#include "cache_profile.h"
}

namespace {

// The writer's text of a small valid profile: 5 steps, the last reused,
// rectification off.
std::string small_profile(const lt::TempDir &dir) {
  const int steps = 5;
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
  INFO("replacing " << from);
  REQUIRE(at != std::string::npos);
  return text.replace(at, from.size(), to);
}

// The same profile with rectification on at the reused step 4.
std::string rectified(const std::string &text, const std::string &entries) {
  const std::string on = replaced(text, "\"shrink\": 0,", "\"shrink\": 0.5,");
  return replaced(on, "\"rect\": []", "\"rect\": [" + entries + "]");
}

const std::string kEntry = "{\"step\": 4, \"a\": [[1,1,1],[1,1,1]], \"b\": [[0,0,0],[0,0,0]]}";

struct Parsed {
  leap_status status;
  std::string error;
};

Parsed parse(const std::string &text, const leap_cache_desc *run = nullptr) {
  lp_cache_profile p{};
  const leap_status s = lp_cache_profile_parse(text.data(), text.size(), "p.json", run, &p);
  Parsed r{s, s == LEAP_OK ? "" : leap_last_error()};
  if (s == LEAP_OK) lp_cache_profile_free(&p);
  return r;
}

}  // namespace

TEST_CASE("cache profile: each malformed field is a format error naming it", "[cache]") {
  lt::TempDir dir;
  const std::string text = small_profile(dir);
  REQUIRE(parse(text).status == LEAP_OK);
  REQUIRE(parse(rectified(text, kEntry)).status == LEAP_OK);
  struct Case {
    std::string text, says;
  };
  std::vector<Case> cases = {
      {replaced(text, "\"version\": 2", "\"version\": 99"),
       "p.json: profile version 99 is not supported (this leap reads version 2)"},
      {replaced(text, "\"solver\": \"euler\"", "\"solver\": \"rk4\""), "p.json: unknown solver 'rk4'"},
      {replaced(text, "\"schedule\": \"default\"", "\"schedule\": \"cubic\""), "p.json: unknown schedule 'cubic'"},
      {replaced(text, "\"level\": \"hidden\"", "\"level\": \"middle\""),
       "p.json: level 'middle' is not hidden or output"},
      {replaced(text, "\"steps\": 5", "\"steps\": \"5\""), "p.json: profile field 'steps' is string, expected number"},
      {replaced(text, "\"model_id\": \"0123456789abcdef\",", ""), "profile field 'model_id' is missing, expected string"},
      {replaced(text, "\"steps\": 5", "\"steps\": 4.5"), "profile field 'steps' = 4.5 must be an integer in"},
      {replaced(text, "\"labels\": [1,3]", "\"labels\": [1]"), "profile field 'labels' has 1 items, expected 2"},
      {replaced(text, "\"poly\": [0,0,0,0,0]", "\"poly\": [0,0]"), "profile field 'poly' has 2 items, expected"},
      {replaced(replaced(text, "\"settings\": [", "\"settings\": [], \"unused\": ["), "\n  ]\n}", "\n  ]}\n"),
       "p.json: the profile has no settings"},
      {replaced(replaced(text, "\"settings\": [", "\"settings\": [1], \"unused\": ["), "\n  ]\n}", "\n  ]}\n"),
       "p.json: setting 0 is not an object"},
      {replaced(text, "\"computed\": 4", "\"computed\": 3"),
       "setting '' computes 4 steps but says 3 (step 0 must be computed)"},
      {replaced(replaced(text, "\"reuse\": [0,0,0,0,1]", "\"reuse\": [1,0,0,0,1]"), "\"computed\": 4",
                "\"computed\": 3"),
       "computes 3 steps but says 3 (step 0 must be computed)"},
      {replaced(text, "\"shrink\": 0,", "\"shrink\": 1.5,"), "setting '' rectification shrink 1.5 is outside 0..1"},
      {replaced(text, "\"grid\": []", "\"grid\": [0,0,0,0,0,0,0,0,0,0]"),
       "setting '' has 10 rectification candidates, at most 9"},
      {replaced(text, "\"grid\": []", "\"grid\": [0, 0.5]"), "profile field 'cv_psnr' has 0 items, expected 2"},
      {replaced(text, "\"phi\": [1,1,1,1,1]", "\"phi\": [1,1,1,1,0]"), "setting '' step 4 has phi 0"},
      {replaced(text, "\"phi_paper\": [1,1,1,1,1]", "\"phi_paper\": [1,1,1,1,2]"), "phi_paper 2 (must be in 0..1)"},
      {rectified(text, "1"), "setting '' rect entry 0 is not an object"},
      {rectified(text, replaced(kEntry, "\"step\": 4", "\"step\": 5")), "profile field 'step' = 5 must be an integer in 0..4"},
      {rectified(text, replaced(kEntry, "[[1,1,1],[1,1,1]]", "[[1,1,1]]")), "profile field 'a' has 1 items, expected 2"},
      {rectified(text, replaced(kEntry, "[[0,0,0],[0,0,0]]", "[[0,0,0],[0,0]]")),
       "setting '' rect of step 4: b[1] is not 3 numbers"},
      {rectified(text, replaced(kEntry, "[[1,1,1],[1,1,1]]", "[[1,1,1],[1,\"x\",1]]")), "profile field 'a' item 1 is not a finite number"},
  };
  { // two reused steps, step 4 given twice
    const std::string two = replaced(replaced(text, "\"reuse\": [0,0,0,0,1]", "\"reuse\": [0,0,0,1,1]"), "\"computed\": 4",
                               "\"computed\": 3");
    cases.push_back({rectified(two, kEntry + "," + kEntry), "setting '' has two rect entries for step 4"});
  }
  for (size_t k = 0; k < cases.size(); k++) {
    const Parsed r = parse(cases[k].text);
    INFO("case " << k << ": " << r.error);
    CHECK(r.status == LEAP_ERR_FORMAT);
    CHECK(r.error.find(cases[k].says) != std::string::npos);
  }
}

TEST_CASE("cache profile: a profile for another run names what differs", "[cache]") {
  lt::TempDir dir;
  const std::string text = small_profile(dir);
  // The run the profile was made for.
  leap_cache_desc run = leap_cache_desc_default();
  run.policy = LEAP_CACHE_ERTA, run.branches = 2, run.images = 2, run.steps = 5, run.cfg = 3, run.shift = 1;
  run.solver = LEAP_SOLVER_EULER, run.schedule = LEAP_SCHEDULE_DEFAULT, run.model_id = "0123456789abcdef";
  run.level = LEAP_CACHE_HIDDEN;
  REQUIRE(parse(text, &run).status == LEAP_OK);
  struct Case {
    leap_cache_desc run;
    std::string says;
  };
  std::vector<Case> cases;
  auto add = [&](auto change, const std::string &says) {
    leap_cache_desc d = run;
    change(d);
    cases.push_back({d, says});
  };
  add([](leap_cache_desc &d) { d.steps = 6; }, "steps 5, this run uses 6");
  add([](leap_cache_desc &d) { d.solver = LEAP_SOLVER_DDIM; }, "sampler euler, this run uses ddim");
  add([](leap_cache_desc &d) { d.schedule = LEAP_SCHEDULE_KARRAS; }, "schedule default, this run uses karras");
  add([](leap_cache_desc &d) { d.shift = 3; }, "shift 1, this run uses 3");
  add([](leap_cache_desc &d) { d.cfg = 4.5; }, "guidance (cfg) 3, this run uses 4.5");
  add([](leap_cache_desc &d) { d.model_id = "fedcba9876543210"; },
      "model id 0123456789abcdef, this run uses id fedcba9876543210");
  add([](leap_cache_desc &d) { d.branches = 1; }, "CFG branches 2, this run uses 1");
  add([](leap_cache_desc &d) { d.level = LEAP_CACHE_OUTPUT; }, "cache level hidden, this run uses output");
  for (const Case &c : cases) {
    const Parsed r = parse(text, &c.run);
    INFO(r.error);
    CHECK(r.status == LEAP_ERR_INVALID_ARG);
    CHECK(r.error.find("p.json: the profile was made for " + c.says + "; profile again with 'leap profile' for this run") != std::string::npos);
  }
  // A host's own model (no id) and a level that only rectification reads
  // are not differences.
  leap_cache_desc host = run;
  host.model_id = nullptr;
  CHECK(parse(text, &host).status == LEAP_OK);
  leap_cache_desc plain = run;
  plain.level = LEAP_CACHE_OUTPUT, plain.rectify = 0;
  CHECK(parse(text, &plain).status == LEAP_OK);
}
