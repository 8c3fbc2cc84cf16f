// test_lcsc_mismatch.cpp - leap_lcsc_combine over checkpoints that are not
// of one run: a tensor only the second file has, a float tensor stored as
// an integer in one file, an integer tensor that differs, and bad
// descriptions. Each is an error naming the files and the tensor, and no
// output file appears.
#include <cstring>
#include <string>
#include <vector>

#include "test_util.hpp"

namespace {

const std::string kTiny = LEAP_TEST_DATA "/dit_tiny_f32.safetensors";

// The tiny model's tensors, then the extra ones; a tensor named in as_i32
// is stored as I32 (its values truncated).
void write_variant(const std::string &path, const std::vector<std::pair<std::string, std::vector<int32_t>>> &extra,
                   const std::string &as_i32 = "") {
  lp_st_file *f = nullptr;
  REQUIRE(lp_st_open(kTiny.c_str(), &f) == LEAP_OK);
  lp_st_writer *w = nullptr;
  REQUIRE(lp_st_writer_create(path.c_str(), &w) == LEAP_OK);
  for (int i = 0; i < lp_st_meta_count(f); i++)
    REQUIRE(lp_st_writer_meta(w, lp_st_meta_key(f, i), lp_st_meta(f, lp_st_meta_key(f, i))) == LEAP_OK);
  for (int i = 0; i < lp_st_count(f); i++) {
    const lp_st_tensor *t = lp_st_at(f, i);
    std::vector<float> v((size_t)t->numel);
    REQUIRE(lp_st_read_f32(f, t, v.data()) == LEAP_OK);
    if (as_i32 == t->name) {
      std::vector<int32_t> iv(v.begin(), v.end());
      REQUIRE(lp_st_writer_add(w, t->name, LEAP_I32, t->ndim, t->shape, iv.data()) == LEAP_OK);
    } else {
      REQUIRE(lp_st_writer_add(w, t->name, LEAP_F32, t->ndim, t->shape, v.data()) == LEAP_OK);
    }
  }
  for (const auto &e : extra) {
    const int64_t shape[1] = {(int64_t)e.second.size()};
    REQUIRE(lp_st_writer_add(w, e.first.c_str(), LEAP_I32, 1, shape, e.second.data()) == LEAP_OK);
  }
  REQUIRE(lp_st_writer_finish(w) == LEAP_OK);
  lp_st_close(f);
}

}  // namespace

TEST_CASE("lcsc combine: checkpoints of different runs are refused naming the tensor, no output", "[lcsc]") {
  lt::TempDir dir;
  const std::string a = dir / "a.safetensors", b = dir / "b.safetensors", out = dir / "out.safetensors";
  const double coefs[2] = {0.5, 0.5};
  auto combine = [&](const std::string &first, const std::string &second) {
    const char *paths[2] = {first.c_str(), second.c_str()};
    leap_lcsc_combine_desc d = leap_lcsc_combine_desc_default();
    d.count = 2, d.paths = paths, d.coefs = coefs, d.out_path = out.c_str();
    const leap_status s = leap_lcsc_combine(&d, nullptr);
    CHECK(!lt::exists(out));
    return s;
  };
  write_variant(a, {{"step", {7}}});
  struct Case {
    std::vector<std::pair<std::string, std::vector<int32_t>>> extra;
    std::string as_i32, says;
  };
  const std::vector<Case> cases = {
      {{{"step", {7}}, {"extra", {1, 2}}}, "", b + ": tensor 'extra' is not in " + a},
      {{{"step", {8}}}, "", b + ": tensor 'step' (I32) differs from " + a +
                                ": only float tensors can be combined, others must be identical"},
      {{{"step", {7}}}, "pos_embed", b + ": tensor 'pos_embed' is I32 but " + a + " has F32"},
      {{}, "", b + ": no tensor 'step' (it is in " + a + ")"},
  };
  for (size_t k = 0; k < cases.size(); k++) {
    std::remove(b.c_str());
    write_variant(b, cases[k].extra, cases[k].as_i32);
    const leap_status s = combine(a, b);
    const std::string err = s == LEAP_OK ? "" : leap_last_error();
    INFO("case " << k << ": " << err);
    CHECK(s == LEAP_ERR_FORMAT);
    CHECK(err.find(cases[k].says) != std::string::npos);
  }
  // The same file twice combines (identical integer tensors are copied).
  const char *same[2] = {a.c_str(), a.c_str()};
  leap_lcsc_combine_desc d = leap_lcsc_combine_desc_default();
  d.count = 2, d.paths = same, d.coefs = coefs, d.out_path = out.c_str();
  REQUIRE(leap_lcsc_combine(&d, nullptr) == LEAP_OK);
  CHECK(lt::exists(out));
  std::remove(out.c_str());
  // Descriptions: an older, smaller struct is read as far as it goes (here
  // struct_size and count only: no paths, so nothing to combine); one whose
  // struct_size was never set is refused.
  leap_lcsc_combine_desc small = d;
  small.struct_size = 8;
  CHECK(leap_lcsc_combine(&small, nullptr) == LEAP_ERR_INVALID_ARG);
  CHECK(std::string(leap_last_error()) == "leap_lcsc_combine: need at least one path and coefficient");
  small.struct_size = 0;
  CHECK(leap_lcsc_combine(&small, nullptr) == LEAP_ERR_INVALID_ARG);
  CHECK(std::string(leap_last_error()).find("leap_lcsc_combine: desc") != std::string::npos);
  leap_lcsc_combine_desc none = d;
  none.count = 0;
  CHECK(leap_lcsc_combine(&none, nullptr) == LEAP_ERR_INVALID_ARG);
  CHECK(std::string(leap_last_error()) == "leap_lcsc_combine: need at least one path and coefficient");
  none = d, none.coefs = nullptr;
  CHECK(leap_lcsc_combine(&none, nullptr) == LEAP_ERR_INVALID_ARG);
  none = d, none.out_path = "";
  CHECK(leap_lcsc_combine(&none, nullptr) == LEAP_ERR_INVALID_ARG);
  CHECK(std::string(leap_last_error()) == "leap_lcsc_combine: no output path");
  none = d, none.out_dtype = LEAP_I32;
  CHECK(leap_lcsc_combine(&none, nullptr) == LEAP_ERR_INVALID_ARG);
  CHECK(std::string(leap_last_error()) == "leap_lcsc_combine: output dtype 5 is not F32, F16 or BF16");
  CHECK(!lt::exists(out));
  // Stats from an older caller that knows only struct_size: the combine
  // runs and nothing past those 4 bytes is written.
  struct {
    leap_lcsc_combine_stats st;
    uint64_t guard;
  } old{};
  std::memset(&old, 0xab, sizeof old);
  old.st.struct_size = 4;
  CHECK(leap_lcsc_combine(&d, &old.st) == LEAP_OK);
  CHECK(old.st.struct_size == 4);
  CHECK(old.st.bytes_read == 0xababababababababull);
  CHECK(old.guard == 0xababababababababull);
  CHECK(lt::exists(out));
}
