// test_lcsc_log.cpp - the LCSC search log (checkpoints/lcsc_log.c) on its
// own: what a search writes reads back bit for bit (a non-finite fitness as
// null, read as infinity), a torn last line is cut on resume, and a log that
// is not this search's (another header, another setting, a candidate out of
// order, a short or non-numeric coefficient list, a line that is not JSON)
// is refused naming the file, the line and the fault. `leap lcsc search
// --log` resumes from these files; `lcsc eval --from-log` reads them.
#include <sys/stat.h>

#include <cmath>
#include <limits>
#include <string>
#include <vector>

#include "test_util.hpp"

extern "C" {
#include "lcsc_log.h"
}

namespace {

leap_lcsc_search_desc desc(const std::string &path) {
  leap_lcsc_search_desc d = leap_lcsc_search_desc_default();
  d.count = 3, d.seed = 11;
  d.log_path = path.c_str();
  return d;
}

}  // namespace

TEST_CASE("lcsc log: written candidates read back exactly, a torn last line is cut", "[lcsc]") {
  lt::TempDir dir;
  const std::string path = dir / "search.jsonl";
  const leap_lcsc_search_desc d = desc(path);
  const double c0[3] = {0.1, 1.0 / 3.0, -2.5e-7}, c1[3] = {1, 2, 3};
  {
    lp_lcsc_log log;
    REQUIRE(lp_lcsc_log_open(&log, &d) == LEAP_OK);
    CHECK(log.ndone == 0);
    REQUIRE(lp_lcsc_log_append(&log, 0, 0, "init", c0, 0.125, 0.125, 1.5) == LEAP_OK);
    REQUIRE(lp_lcsc_log_append(&log, 1, 0, "child", c1, std::numeric_limits<double>::quiet_NaN(), 0.125, 2) ==
            LEAP_OK);
    lp_lcsc_log_close(&log);
  }
  const std::string text = lt::slurp(path);
  CHECK(text.rfind("{\"lcsc_search\": 1, \"count\": 3", 0) == 0);
  CHECK(text.find("\"fitness\": null") != std::string::npos);
  // A search killed mid-line: the torn line goes, the rest resumes.
  lt::write_text(path, text + "{\"candidate\": 2, \"gener");
  lp_lcsc_log log;
  REQUIRE(lp_lcsc_log_open(&log, &d) == LEAP_OK);
  REQUIRE(log.ndone == 2);
  CHECK(log.done[0].fitness == 0.125);
  CHECK(std::isinf(log.done[1].fitness));
  for (int k = 0; k < 3; k++) {
    CHECK(log.done[0].coefs[k] == c0[k]); // 17 digits: bit for bit
    CHECK(log.done[1].coefs[k] == c1[k]);
  }
  lp_lcsc_log_close(&log);
  CHECK(lt::slurp(path) == text);
  // No log path: nothing is opened or written.
  leap_lcsc_search_desc none = d;
  none.log_path = nullptr;
  REQUIRE(lp_lcsc_log_open(&log, &none) == LEAP_OK);
  CHECK(log.f == nullptr);
  CHECK(lp_lcsc_log_append(&log, 0, 0, "init", c0, 1, 1, 0) == LEAP_OK);
  lp_lcsc_log_close(&log);
  // A log in a folder that does not exist cannot be opened for appending.
  const std::string lost = dir / "no/search.jsonl";
  const leap_lcsc_search_desc ld = desc(lost);
  CHECK(lp_lcsc_log_open(&log, &ld) == LEAP_ERR_IO);
  CHECK(std::string(leap_last_error()) == "cannot open " + lost + " for appending: No such file or directory");
}

TEST_CASE("lcsc log: a log that is not this search's is refused by line and fault", "[lcsc]") {
  lt::TempDir dir;
  const std::string path = dir / "search.jsonl";
  const leap_lcsc_search_desc d = desc(path);
  {
    lp_lcsc_log log;
    REQUIRE(lp_lcsc_log_open(&log, &d) == LEAP_OK);
    lp_lcsc_log_close(&log);
  }
  std::string header = lt::slurp(path);
  REQUIRE(!header.empty());
  header.pop_back(); // without its newline, for editing
  auto replaced = [](std::string s, const std::string &from, const std::string &to) {
    const size_t at = s.find(from);
    REQUIRE(at != std::string::npos);
    return s.replace(at, from.size(), to);
  };
  const std::string cand = "{\"candidate\": 0, \"fitness\": 1.5, \"coefs\": [1, 2, 3]}";
  struct Case {
    std::string text;
    leap_status status;
    std::string says;
  };
  const std::vector<Case> cases = {
      {"{\"something\": 1}\n", LEAP_ERR_FORMAT, "L: line 1 is not an LCSC search header"},
      {"{\"lcsc_search\": 2}\n", LEAP_ERR_FORMAT, "L: line 1 is not an LCSC search header"},
      {replaced(header, "\"elite\"", "\"elites\"") + "\n", LEAP_ERR_FORMAT, "L: header has no number 'elite'"},
      {replaced(header, "\"count\": 3", "\"count\": 4") + "\n", LEAP_ERR_INVALID_ARG,
       "L: the log was written with count = 4, not 3; resume with the same settings or use another log"},
      {replaced(header, "\"seed\": 11", "\"seed\": 12") + "\n", LEAP_ERR_INVALID_ARG,
       "the log was written with seed = 12, not 11"},
      {header + "\nnot json\n", LEAP_ERR_FORMAT, "L: line 2 is not JSON: unexpected character at byte 0"},
      {header + "\n" + replaced(cand, "\"candidate\": 0", "\"candidate\": 1") + "\n", LEAP_ERR_FORMAT,
       "L: line 2 is not candidate 0"},
      {header + "\n" + cand + "\n" + cand + "\n", LEAP_ERR_FORMAT, "L: line 3 is not candidate 1"},
      {header + "\n" + replaced(cand, "\"fitness\": 1.5", "\"fitness\": \"good\"") + "\n", LEAP_ERR_FORMAT,
       "L: line 2 has no fitness"},
      {header + "\n" + replaced(cand, "[1, 2, 3]", "[1, 2]") + "\n", LEAP_ERR_FORMAT, "L: line 2 does not have 3 coefs"},
      {header + "\n" + replaced(cand, "[1, 2, 3]", "[1, \"2\", 3]") + "\n", LEAP_ERR_FORMAT,
       "L: line 2: coefficient 1 is not a number"},
  };
  for (size_t k = 0; k < cases.size(); k++) {
    lp_lcsc_log log{};
    log.path = "L", log.count = 3;
    size_t valid = 0;
    const leap_status s = lp_lcsc_log_parse(&log, &d, cases[k].text.data(), cases[k].text.size(), &valid);
    const std::string err = s == LEAP_OK ? "" : leap_last_error();
    INFO("case " << k << ": " << err);
    CHECK(s == cases[k].status);
    CHECK(err.find(cases[k].says) != std::string::npos);
    lp_lcsc_log_close(&log);
  }
  // Through the file: refused, and the log is left as it was.
  const std::string other = replaced(header, "\"count\": 3", "\"count\": 4") + "\n" + cand + "\n";
  lt::write_text(path, other);
  lp_lcsc_log log;
  CHECK(lp_lcsc_log_open(&log, &d) == LEAP_ERR_INVALID_ARG);
  CHECK(std::string(leap_last_error()).find(path + ": the log was written with count = 4") == 0);
  CHECK(lt::slurp(path) == other);
}
