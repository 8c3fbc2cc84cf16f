// test_cli_eval_samples.cpp - `leap eval --samples FILE` given a samples
// file it cannot score: the wrong image shape for the classifier, a tensor
// that is not [N,C,H,W], labels metadata that does not match N, a label the
// classifier lacks, a NaN pixel. Each exits 1 with a message naming the
// fault (and the sample or label), prints no score, writes nothing and
// leaves the file as it was. The checks run before the reference set is
// read, so no data set is needed.
#include <sys/wait.h>

#include <cmath>
#include <string>
#include <vector>

#include "test_util.hpp"

extern "C" {
#include "safetensors.h"
}

namespace {

struct Result {
  int code;
  std::string out, err;
};

Result eval_samples(const lt::TempDir &dir, const lt::TempDir &logs, const std::string &samples) {
  const std::string cmd = "cd '" + dir.path + "' && timeout 120 '" + std::string(LEAP_CLI_PATH) +
                          "' eval --samples '" + samples + "' > '" + (logs / "out") + "' 2> '" + (logs / "err") +
                          "' < /dev/null";
  const int status = std::system(cmd.c_str());
  REQUIRE(WIFEXITED(status));
  return Result{WEXITSTATUS(status), lt::slurp(logs / "out"), lt::slurp(logs / "err")};
}

// A samples file as leap sample --raw-out writes it: tensor "samples" with
// the given shape (pixels from a pattern, one NaN where asked) and the
// labels metadata ("" = none).
void write_samples(const std::string &path, std::vector<int64_t> shape, const std::string &labels,
                   long nan_at = -1) {
  int64_t numel = 1;
  for (int64_t d : shape) numel *= d;
  std::vector<float> x((size_t)numel);
  for (size_t k = 0; k < x.size(); k++) x[k] = (float)((k * 37) % 200) / 100.0f - 1.0f;
  if (nan_at >= 0) x[(size_t)nan_at] = std::nanf("");
  lp_st_writer *w = nullptr;
  REQUIRE(lp_st_writer_create(path.c_str(), &w) == LEAP_OK);
  if (!labels.empty()) REQUIRE(lp_st_writer_meta(w, "labels", labels.c_str()) == LEAP_OK);
  REQUIRE(lp_st_writer_add(w, "samples", LEAP_F32, (int)shape.size(), shape.data(), x.data()) == LEAP_OK);
  REQUIRE(lp_st_writer_finish(w) == LEAP_OK);
}

}  // namespace

TEST_CASE("cli: eval --samples refuses a file it cannot score, naming the fault", "[cli]") {
  const std::string classifier = std::string(LEAP_TEST_DATA) + "/../../models/classifier/fmnist-classifier.safetensors";
  if (!lt::exists(classifier)) {
    lt::skip("no shipped classifier at " + classifier);
    return;
  }
  struct Case {
    std::vector<int64_t> shape;
    std::string labels;
    long nan_at;
    std::string says;
  };
  const int64_t img = 28 * 28;
  const std::vector<Case> cases = {
      {{2, 3, 8, 8}, "", -1, "samples are [3,8,8] but the classifier"},
      {{28, 28}, "", -1, "tensor 'samples' must be [N,C,H,W] with 2 <= N <="},
      {{1, 1, 28, 28}, "", -1, "tensor 'samples' must be [N,C,H,W] with 2 <= N <="},
      {{2, 1, 28, 28}, "0,x", -1, "metadata 'labels' is not 2 comma-separated labels"},
      {{2, 1, 28, 28}, "0", -1, "metadata 'labels' is not 2 comma-separated labels"},
      {{2, 1, 28, 28}, "0,1,2", -1, "metadata 'labels' has more than 2 labels"},
      {{3, 1, 28, 28}, "0,12,1", -1, "label 12 of sample 1 is not a class of the classifier"},
      {{3, 1, 28, 28}, "", 2 * img + 5, "sample 2 has a non-finite pixel"},
  };
  for (size_t k = 0; k < cases.size(); k++) {
    const Case &c = cases[k];
    lt::TempDir dir, logs, in;
    const std::string path = in / "s.safetensors";
    write_samples(path, c.shape, c.labels, c.nan_at);
    const std::string before = lt::slurp(path);
    const Result r = eval_samples(dir, logs, path);
    INFO("case " << k << ": exit " << r.code << "\nstderr: " << r.err << "\nstdout: " << r.out);
    CHECK(r.code == 1);
    CHECK(r.err.find(c.says) != std::string::npos);
    CHECK(r.out.find("FD") == std::string::npos);
    CHECK(dir.list().empty());
    CHECK(lt::slurp(path) == before);
  }
}
