// test_json.cpp - core/json.c on its own: every value kind, escapes and
// surrogate pairs decoded to the bytes RFC 8259 names, integers exact up to
// int64's ends, and each malformed input refused with a message that says
// what is wrong and at which byte (headers, profiles and logs reach the user
// through these messages).
#include <cstring>
#include <string>

#include "test_util.hpp"

extern "C" {
#include "alloc.h"
#include "json.h"
}

namespace {

struct Parsed {
  lp_json *v = nullptr;
  std::string err;
  int oom = -1;
  explicit Parsed(const std::string &text) {
    char buf[256] = "";
    v = lp_json_parse_oom(text.data(), text.size(), buf, sizeof buf, &oom);
    err = buf;
  }
  ~Parsed() { lp_json_free(v); }
  Parsed(const Parsed &) = delete;
  Parsed &operator=(const Parsed &) = delete;
};

// The message of a refused text; fails the test if it parsed.
std::string refusal(const std::string &text) {
  Parsed p(text);
  INFO("text: " << text);
  CHECK(p.v == nullptr);
  CHECK(p.oom == 0);
  return p.err;
}

}  // namespace

TEST_CASE("json: values of every kind, in document order", "[json]") {
  Parsed p(" {\"a\": [1, -2.5e1, true, false, null], \"b\": {\"c\": \"d\"}, \"a\": 3}\r\n\t");
  REQUIRE(p.v != nullptr);
  REQUIRE(p.v->type == LP_JSON_OBJECT);
  REQUIRE(p.v->count == 3);
  CHECK(std::string(p.v->keys[0]) == "a");
  CHECK(std::string(p.v->keys[2]) == "a");
  const lp_json *a = lp_json_get(p.v, "a"); // the first of two "a"
  REQUIRE(a != nullptr);
  REQUIRE(a->type == LP_JSON_ARRAY);
  REQUIRE(a->count == 5);
  CHECK(a->items[0].type == LP_JSON_NUMBER);
  CHECK(a->items[0].is_int == 1);
  CHECK(a->items[0].integer == 1);
  CHECK(a->items[1].number == -25.0);
  CHECK(a->items[1].is_int == 0); // an exponent makes it a double
  CHECK((a->items[2].type == LP_JSON_BOOL && a->items[2].boolean == 1));
  CHECK((a->items[3].type == LP_JSON_BOOL && a->items[3].boolean == 0));
  CHECK(a->items[4].type == LP_JSON_NULL);
  const lp_json *c = lp_json_get(lp_json_get(p.v, "b"), "c");
  REQUIRE(c != nullptr);
  CHECK(std::string(c->string) == "d");
  CHECK(lp_json_get(p.v, "missing") == nullptr);
  CHECK(lp_json_get(a, "a") == nullptr); // not an object
  CHECK(lp_json_get(nullptr, "a") == nullptr);
  Parsed empty("{ } ");
  REQUIRE(empty.v != nullptr);
  CHECK(empty.v->count == 0);
  Parsed nested("[[], [[]]]");
  REQUIRE(nested.v != nullptr);
  CHECK(nested.v->count == 2);
  CHECK(nested.v->items[1].items[0].type == LP_JSON_ARRAY);
  // The text need not be NUL-terminated: only len bytes are read.
  const char cut[] = "12345";
  char err[64];
  lp_json *v = lp_json_parse(cut, 2, err, sizeof err);
  REQUIRE(v != nullptr);
  CHECK(v->integer == 12);
  lp_json_free(v);
  lp_json_free(nullptr);
}

TEST_CASE("json: type names", "[json]") {
  CHECK(std::string(lp_json_type_name(LP_JSON_NULL)) == "null");
  CHECK(std::string(lp_json_type_name(LP_JSON_BOOL)) == "bool");
  CHECK(std::string(lp_json_type_name(LP_JSON_NUMBER)) == "number");
  CHECK(std::string(lp_json_type_name(LP_JSON_STRING)) == "string");
  CHECK(std::string(lp_json_type_name(LP_JSON_ARRAY)) == "array");
  CHECK(std::string(lp_json_type_name(LP_JSON_OBJECT)) == "object");
  CHECK(std::string(lp_json_type_name((lp_json_type)6)) == "?");
}

TEST_CASE("json: escapes and \\u sequences decode to UTF-8", "[json]") {
  Parsed p("[\"q\\\" b\\\\ s\\/ \\b\\f\\n\\r\\t\", \"\\u0041\\u00e9\\u20AC\", \"\\ud83d\\ude00\", \"plain \xc3\xa9\"]");
  REQUIRE(p.v != nullptr);
  REQUIRE(p.v->count == 4);
  CHECK(std::string(p.v->items[0].string) == "q\" b\\ s/ \b\f\n\r\t");
  CHECK(std::string(p.v->items[1].string) == "A\xc3\xa9\xe2\x82\xac");   // 1, 2 and 3 bytes
  CHECK(std::string(p.v->items[2].string) == "\xf0\x9f\x98\x80");        // U+1F600 from its pair
  CHECK(std::string(p.v->items[3].string) == "plain \xc3\xa9");          // raw UTF-8 passes through
  // A long string grows its buffer past the first allocation intact.
  std::string longs(1000, 'x');
  for (size_t k = 0; k < longs.size(); k += 7) longs[k] = 'y';
  Parsed q("\"" + longs + "\\n" + longs + "\"");
  REQUIRE(q.v != nullptr);
  CHECK(std::string(q.v->string) == longs + "\n" + longs);
}

TEST_CASE("json: integers are exact to int64's ends, beyond, only the double is kept", "[json]") {
  Parsed p("[9223372036854775807, -9223372036854775808, 9223372036854775808, 18446744073709551616, "
           "-0, 0.5, 1E2, 1e-2, 9007199254740993]");
  REQUIRE(p.v != nullptr);
  const lp_json *it = p.v->items;
  CHECK((it[0].is_int == 1 && it[0].integer == INT64_MAX));
  CHECK((it[1].is_int == 1 && it[1].integer == INT64_MIN));
  CHECK(it[2].is_int == 0); // INT64_MAX + 1
  CHECK(it[2].number == 9223372036854775808.0);
  CHECK(it[3].is_int == 0); // past UINT64_MAX: the magnitude overflowed
  CHECK(it[3].number == 18446744073709551616.0);
  CHECK((it[4].is_int == 1 && it[4].integer == 0));
  CHECK((it[5].is_int == 0 && it[5].number == 0.5));
  CHECK((it[6].is_int == 0 && it[6].number == 100.0));
  CHECK((it[7].is_int == 0 && it[7].number == 0.01));
  CHECK((it[8].is_int == 1 && it[8].integer == 9007199254740993LL)); // 2^53 + 1: a double would round it
  // A number longer than the parser's copy keeps its leading digits' value.
  Parsed longn("1." + std::string(100, '0') + "1");
  REQUIRE(longn.v != nullptr);
  CHECK(longn.v->number == 1.0);
}

TEST_CASE("json: malformed text is refused with what and where", "[json]") {
  struct Case {
    const char *text;
    const char *says;
  };
  const Case cases[] = {
      {"", "unexpected end of input at byte 0"},
      {"   ", "unexpected end of input at byte 3"},
      {"[1,]", "unexpected character at byte 3"},
      {"[1 2]", "expected ',' or ']' at byte 3"},
      {"{\"a\" 1}", "expected ':' at byte 5"},
      {"{\"a\": 1 \"b\": 2}", "expected ',' or '}' at byte 8"},
      {"{1: 2}", "expected a string key at byte 1"},
      {"{\"a\": 1", "expected ',' or '}'"},
      {"tru", "unexpected character at byte 0"},
      {"nul", "unexpected character"},
      {"fals", "unexpected character"},
      {"@", "unexpected character at byte 0"},
      {"-", "bad number at byte 1"},
      {"-a", "bad number"},
      {"01", "leading zero in number at byte 1"},
      {"1.", "bad fraction in number at byte 2"},
      {"1.e5", "bad fraction in number"},
      {"1e", "bad exponent in number at byte 2"},
      {"1e+", "bad exponent in number"},
      {"1 2", "trailing characters after the value at byte 2"},
      {"\"abc", "unterminated string at byte 4"},
      {"\"abc\\", "unterminated string"},
      {"\"a\nb\"", "control character in string at byte 2"},
      {"\"\\x\"", "bad escape '\\x' at byte 2"},
      {"\"\\u12x\"", "bad hex digit in \\u escape"},
      {"\"\\u12", "truncated \\u escape"},
      {"\"\\u00g0\"", "bad hex digit in \\u escape"},
      {"\"\\udc00\"", "lone low surrogate"},
      {"\"\\ud800\"", "high surrogate without a low one"},
      {"\"\\ud800\\n\"", "high surrogate without a low one"},
      {"\"\\ud800\\u0041\"", "high surrogate without a low one"},
      {"\"\\ud800\\u00", "truncated \\u escape"},
      {"\"a\\u0000b\"", "\\u0000 in a string is not supported"},
      {"{\"a\\u0000\": 1}", "\\u0000 in a string is not supported"},
      {"[\"ok\", {\"k\": [1, \"\\q\"]}]", "bad escape '\\q'"},
  };
  for (const Case &c : cases) {
    const std::string err = refusal(c.text);
    INFO("text: " << c.text << "\nmessage: " << err);
    CHECK(err.find(c.says) != std::string::npos);
  }
  // The message fits a small buffer without overflowing it.
  char small[8];
  std::memset(small, 'z', sizeof small);
  CHECK(lp_json_parse("[1,", 3, small, sizeof small) == nullptr);
  CHECK(std::strlen(small) == sizeof small - 1);
}

TEST_CASE("json: nesting is capped (a hostile header cannot exhaust the stack)", "[json]") {
  // The outermost value is at depth 0 and values down to depth 64 parse:
  // 65 nested arrays, not 66.
  const int levels = 65;
  std::string ok = std::string(levels, '[') + std::string(levels, ']');
  Parsed p(ok);
  CHECK(p.v != nullptr);
  const std::string deep = std::string(levels + 1, '[') + std::string(levels + 1, ']');
  CHECK(refusal(deep).find("nesting deeper than 64") != std::string::npos);
  const std::string objs = [] {
    std::string s;
    for (int k = 0; k < 200; k++) s += "{\"a\":";
    return s + "1" + std::string(200, '}');
  }();
  CHECK(refusal(objs).find("nesting deeper than 64") != std::string::npos);
}

TEST_CASE("json: a failed allocation is reported as out of memory, not as bad text", "[json]") {
  // Enough items that the parser allocates many times; every failure point
  // in turn must give NULL with oom set, and the text parses once it stops.
  std::string text = "{";
  for (int k = 0; k < 20; k++) text += (k ? ", \"key" : "\"key") + std::to_string(k) + "\": [\"v\", " + std::to_string(k) + "]";
  text += "}";
  int failures = 0;
  for (long n = 1;; n++) {
    lp_alloc_fail_at(n, 0);
    char err[128] = "";
    int oom = -1;
    lp_json *v = lp_json_parse_oom(text.data(), text.size(), err, sizeof err, &oom);
    lp_alloc_fail_at(0, 0);
    if (v) {
      CHECK(v->count == 20);
      CHECK(lp_json_get(v, "key19")->items[1].integer == 19);
      lp_json_free(v);
      break;
    }
    failures++;
    INFO("allocation " << n << ": " << err);
    CHECK(oom == 1);
    CHECK(std::string(err).find("out of memory") != std::string::npos);
    REQUIRE(n < 10000);
  }
  CHECK(failures > 20);
}
