// test_output_kinds.cpp - core/output.c's kind table and work folders,
// called directly: each JSON kind replaces an existing file only when the
// file begins with that kind's own mark (the distill log and the DisBack
// manifest had no test), the message names the file and what it must be,
// bad kinds and paths are refused, and a work folder cannot be made inside
// a file, under a missing folder's missing parent, or with a '/' in its
// prefix; a made parent folder goes again with the work folder.
#include <sys/stat.h>

#include <string>
#include <vector>

#include "test_util.hpp"

extern "C" {
#include "output.h"
}

TEST_CASE("output kinds: a JSON kind replaces only a file that carries its mark", "[output]") {
  lt::TempDir dir;
  struct Case {
    lp_out_kind kind;
    std::string own, what;
  };
  const std::vector<Case> cases = {
      {LP_OUT_DISTILL_LOG, "{\"distill\": 1, \"method\": \"dmd\"}\n", "a leap distill log"},
      {LP_OUT_DISBACK_PATH, "{\"format\": \"leap-disback-path\", \"checkpoints\": []}", "a DisBack path manifest leap wrote"},
      {LP_OUT_LCSC_LOG, "{\"lcsc_search\": 1, \"ckpt\": []}\n", "an LCSC search log"},
      {LP_OUT_SAMPLES_INDEX, "{\"format\": \"leap-samples-index\", \"parts\": []}\n", "a samples index leap wrote"},
  };
  for (const Case &c : cases) {
    INFO(lp_out_kind_name(c.kind));
    const std::string path = dir / (std::string(lp_out_kind_name(c.kind)) + ".json");
    lt::write_text(path, c.own);
    CHECK(lp_out_check(path.c_str(), c.kind, nullptr, 0) == LEAP_OK);
    // Someone else's JSON, and a file shorter than the mark.
    for (const std::string &other : {std::string("{\"notes\": 1}"), c.own.substr(0, 5)}) {
      lt::write_text(path, other);
      CHECK(lp_out_check(path.c_str(), c.kind, nullptr, 0) == LEAP_ERR_INVALID_ARG);
      CHECK(std::string(leap_last_error()) ==
            "output " + path + " exists and is not " + c.what +
                "; leap replaces only its own earlier output of the same kind (remove the file or choose another name)");
      CHECK(lt::slurp(path) == other);
    }
  }
  // An empty file is an LCSC log whose header never landed (nothing to
  // lose), but not a distill log.
  const std::string empty = dir / "empty.jsonl";
  lt::write_text(empty, "");
  CHECK(lp_out_check(empty.c_str(), LP_OUT_LCSC_LOG, nullptr, 0) == LEAP_OK);
  CHECK(lp_out_check(empty.c_str(), LP_OUT_DISTILL_LOG, nullptr, 0) == LEAP_ERR_INVALID_ARG);
  // Names, the finite rule, and bad calls.
  CHECK(std::string(lp_out_kind_name(LP_OUT_DISTILL_LOG)) == "distill-log");
  CHECK(std::string(lp_out_kind_name(LP_OUT_COMBINED)) == "lcsc-combined");
  CHECK(std::string(lp_out_kind_name((lp_out_kind)99)) == "file");
  CHECK(lp_out_kind_needs_finite(LP_OUT_CHECKPOINT) == 1);
  CHECK(lp_out_kind_needs_finite(LP_OUT_SAMPLES) == 0);
  CHECK(lp_out_kind_needs_finite((lp_out_kind)99) == 0);
  CHECK(lp_out_check(nullptr, LP_OUT_ANY, nullptr, 0) == LEAP_ERR_INVALID_ARG);
  CHECK(std::string(leap_last_error()) == "no output path");
  CHECK(lp_out_check("", LP_OUT_ANY, nullptr, 0) == LEAP_ERR_INVALID_ARG);
  CHECK(lp_out_check(empty.c_str(), (lp_out_kind)99, nullptr, 0) == LEAP_ERR_INVALID_ARG);
  CHECK(std::string(leap_last_error()) == empty + ": bad output kind");
  // A path through a file is an I/O error naming it.
  const std::string through = empty + "/x";
  CHECK(lp_out_check(through.c_str(), LP_OUT_ANY, nullptr, 0) == LEAP_ERR_IO);
  CHECK(std::string(leap_last_error()) == "output " + through + ": Not a directory");
}

TEST_CASE("output work folders: refused parents and prefixes, a parent leap made goes with it", "[output]") {
  lt::TempDir dir;
  lp_out_workdir *w = nullptr;
  CHECK(lp_out_workdir_create(dir.path.c_str(), "a/b", &w) == LEAP_ERR_INVALID_ARG);
  CHECK(std::string(leap_last_error()) == "lp_out_workdir_create: bad argument");
  CHECK(lp_out_workdir_create(dir.path.c_str(), nullptr, &w) == LEAP_ERR_INVALID_ARG);
  CHECK(w == nullptr);
  // A file as the parent: refused, and the file stays.
  const std::string file = dir / "notes.txt";
  lt::write_text(file, "mine");
  CHECK(lp_out_workdir_create(file.c_str(), "search", &w) == LEAP_ERR_INVALID_ARG);
  CHECK(std::string(leap_last_error()).find("work folder " + file + " is not a folder") == 0);
  CHECK(lt::slurp(file) == "mine");
  // A missing parent whose own parent is missing too.
  const std::string deep = dir / "no/such";
  CHECK(lp_out_workdir_create(deep.c_str(), "search", &w) == LEAP_ERR_IO);
  CHECK(std::string(leap_last_error()) == "work folder " + deep + ": No such file or directory");
  CHECK(!lt::exists(dir / "no"));
  // A missing parent one level down: made, used, and removed with the
  // work folder; the files leap named in it go too.
  const std::string fresh = dir / "fresh";
  REQUIRE(lp_out_workdir_create(fresh.c_str(), "search", &w) == LEAP_OK);
  const std::string wpath = lp_out_workdir_path(w);
  CHECK(wpath.rfind(fresh + "/.leap-work-search-", 0) == 0);
  struct stat st;
  REQUIRE(stat(wpath.c_str(), &st) == 0);
  CHECK((st.st_mode & 0777) == 0700);
  char buf[4096];
  const char *scratch = lp_out_workdir_file(w, "m.safetensors", buf, sizeof buf);
  REQUIRE(scratch != nullptr);
  lt::write_text(scratch, "scratch");
  char tiny[8];
  CHECK(lp_out_workdir_file(w, "m.safetensors", tiny, sizeof tiny) == nullptr); // does not fit
  lp_out_workdir_remove(w);
  CHECK(!lt::exists(wpath));
  CHECK(!lt::exists(fresh));
  // An existing parent stays, with what else it holds.
  REQUIRE(lp_out_workdir_create(dir.path.c_str(), "eval", &w) == LEAP_OK);
  lp_out_workdir_remove(w);
  CHECK(lt::exists(file));
  CHECK(dir.list() == std::vector<std::string>{"notes.txt"});
  lp_out_workdir_remove(nullptr);
}
