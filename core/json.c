/* json.c - recursive-descent JSON parser. Nesting is capped so that a
 * hostile header cannot overflow the stack. */
#include "json.h"
#include "alloc.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define MAX_DEPTH 64

typedef struct parser {
  const char *s;
  size_t len, pos;
  char *err;
  size_t errlen;
  int failed;
  int oom; /* the failure was an allocation, not the text */
} parser;

static int fail(parser *p, const char *fmt, ...) {
  if (!p->failed) {
    char msg[200];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    snprintf(p->err, p->errlen, "%s at byte %zu", msg, p->pos);
    p->failed = 1;
  }
  return 0;
}

static int fail_oom(parser *p) {
  if (!p->failed) p->oom = 1;
  return fail(p, "out of memory");
}

static void skip_ws(parser *p) {
  while (p->pos < p->len) {
    char c = p->s[p->pos];
    if (c != ' ' && c != '\t' && c != '\n' && c != '\r') break;
    p->pos++;
  }
}

static int peek(const parser *p) {
  return p->pos < p->len ? (unsigned char)p->s[p->pos] : -1;
}

/* A growable byte buffer for decoded strings. */
typedef struct sbuf {
  char *data;
  size_t len, cap;
} sbuf;

static int sbuf_put(sbuf *b, const char *src, size_t n) {
  if (b->len + n + 1 > b->cap) {
    size_t cap = b->cap ? b->cap * 2 : 32;
    while (cap < b->len + n + 1) cap *= 2;
    char *d = lp_realloc(b->data, cap);
    if (!d) return 0;
    b->data = d;
    b->cap = cap;
  }
  memcpy(b->data + b->len, src, n);
  b->len += n;
  b->data[b->len] = 0;
  return 1;
}

static int put_utf8(sbuf *b, uint32_t cp) {
  char u[4];
  size_t n;
  if (cp < 0x80) {
    u[0] = (char)cp;
    n = 1;
  } else if (cp < 0x800) {
    u[0] = (char)(0xc0 | (cp >> 6));
    u[1] = (char)(0x80 | (cp & 0x3f));
    n = 2;
  } else if (cp < 0x10000) {
    u[0] = (char)(0xe0 | (cp >> 12));
    u[1] = (char)(0x80 | ((cp >> 6) & 0x3f));
    u[2] = (char)(0x80 | (cp & 0x3f));
    n = 3;
  } else {
    u[0] = (char)(0xf0 | (cp >> 18));
    u[1] = (char)(0x80 | ((cp >> 12) & 0x3f));
    u[2] = (char)(0x80 | ((cp >> 6) & 0x3f));
    u[3] = (char)(0x80 | (cp & 0x3f));
    n = 4;
  }
  return sbuf_put(b, u, n);
}

static int hex4(parser *p, uint32_t *out) {
  if (p->len - p->pos < 4) return fail(p, "truncated \\u escape");
  uint32_t v = 0;
  for (int i = 0; i < 4; i++) {
    char c = p->s[p->pos + i];
    int d = c >= '0' && c <= '9'   ? c - '0'
            : c >= 'a' && c <= 'f' ? c - 'a' + 10
            : c >= 'A' && c <= 'F' ? c - 'A' + 10
                                   : -1;
    if (d < 0) return fail(p, "bad hex digit in \\u escape");
    v = v * 16 + (uint32_t)d;
  }
  p->pos += 4;
  *out = v;
  return 1;
}

static int parse_escape(parser *p, sbuf *b) {
  char c = p->s[p->pos++];
  static const char from[] = "\"\\/bfnrt", to[] = "\"\\/\b\f\n\r\t";
  const char *k = c ? strchr(from, c) : NULL;
  if (k) return sbuf_put(b, &to[k - from], 1) || fail_oom(p);
  if (c != 'u') {
    p->pos--;
    return fail(p, "bad escape '\\%c'", c);
  }
  uint32_t cp;
  if (!hex4(p, &cp)) return 0;
  if (cp >= 0xdc00 && cp <= 0xdfff) return fail(p, "lone low surrogate");
  if (cp >= 0xd800 && cp <= 0xdbff) {
    uint32_t lo;
    if (p->len - p->pos < 2 || p->s[p->pos] != '\\' || p->s[p->pos + 1] != 'u')
      return fail(p, "high surrogate without a low one");
    p->pos += 2;
    if (!hex4(p, &lo)) return 0;
    if (lo < 0xdc00 || lo > 0xdfff)
      return fail(p, "high surrogate without a low one");
    cp = 0x10000 + ((cp - 0xd800) << 10) + (lo - 0xdc00);
  }
  /* Names become C strings: an embedded NUL would silently cut them. */
  if (cp == 0) return fail(p, "\\u0000 in a string is not supported");
  return put_utf8(b, cp) || fail_oom(p);
}

/* Parses a string at p->pos (which is at the opening quote). */
static char *parse_string(parser *p) {
  sbuf b = {0};
  p->pos++;
  if (!sbuf_put(&b, "", 0)) {
    fail_oom(p);
    return NULL;
  }
  for (;;) {
    if (p->pos >= p->len) {
      fail(p, "unterminated string");
      break;
    }
    unsigned char c = (unsigned char)p->s[p->pos];
    if (c == '"') {
      p->pos++;
      return b.data;
    }
    if (c < 0x20) {
      fail(p, "control character in string");
      break;
    }
    if (c == '\\') {
      p->pos++;
      if (p->pos >= p->len) {
        fail(p, "unterminated string");
        break;
      }
      if (!parse_escape(p, &b)) break;
      continue;
    }
    /* Copy the run of plain bytes at once. */
    size_t start = p->pos;
    while (p->pos < p->len) {
      unsigned char d = (unsigned char)p->s[p->pos];
      if (d == '"' || d == '\\' || d < 0x20) break;
      p->pos++;
    }
    if (!sbuf_put(&b, p->s + start, p->pos - start)) {
      fail_oom(p);
      break;
    }
  }
  free(b.data);
  return NULL;
}

static int is_digit(int c) { return c >= '0' && c <= '9'; }

static int parse_number(parser *p, lp_json *v) {
  size_t start = p->pos;
  int neg = 0, is_int = 1, overflow = 0;
  uint64_t mag = 0;
  if (peek(p) == '-') {
    neg = 1;
    p->pos++;
  }
  if (!is_digit(peek(p))) return fail(p, "bad number");
  if (peek(p) == '0') {
    p->pos++;
    if (is_digit(peek(p))) return fail(p, "leading zero in number");
  } else {
    while (is_digit(peek(p))) {
      unsigned d = (unsigned)(p->s[p->pos++] - '0');
      if (mag > (UINT64_MAX - d) / 10) overflow = 1;
      else mag = mag * 10 + d;
    }
  }
  if (peek(p) == '.') {
    is_int = 0;
    p->pos++;
    if (!is_digit(peek(p))) return fail(p, "bad fraction in number");
    while (is_digit(peek(p))) p->pos++;
  }
  if (peek(p) == 'e' || peek(p) == 'E') {
    is_int = 0;
    p->pos++;
    if (peek(p) == '+' || peek(p) == '-') p->pos++;
    if (!is_digit(peek(p))) return fail(p, "bad exponent in number");
    while (is_digit(peek(p))) p->pos++;
  }
  /* strtod needs a terminated copy; numbers are short (bounded here). */
  char buf[64];
  size_t n = p->pos - start;
  if (n >= sizeof buf) n = sizeof buf - 1; /* only the double loses digits */
  memcpy(buf, p->s + start, n);
  buf[n] = 0;
  v->type = LP_JSON_NUMBER;
  v->number = strtod(buf, NULL);
  if (is_int && !overflow &&
      (neg ? mag <= (uint64_t)INT64_MAX + 1 : mag <= (uint64_t)INT64_MAX)) {
    v->is_int = 1;
    v->integer = neg ? (int64_t)(0 - mag) : (int64_t)mag;
  }
  return 1;
}

static int parse_value(parser *p, lp_json *v, int depth);

static int grow(parser *p, lp_json *v, int *cap, int with_keys) {
  if (v->count < *cap) return 1;
  int nc = *cap ? *cap * 2 : 8;
  lp_json *items = lp_realloc(v->items, (size_t)nc * sizeof *items);
  if (!items) return fail_oom(p);
  v->items = items;
  if (with_keys) {
    char **keys = lp_realloc(v->keys, (size_t)nc * sizeof *keys);
    if (!keys) return fail_oom(p);
    v->keys = keys;
  }
  *cap = nc;
  return 1;
}

static int parse_container(parser *p, lp_json *v, int depth, int is_object) {
  char close = is_object ? '}' : ']';
  int cap = 0;
  v->type = is_object ? LP_JSON_OBJECT : LP_JSON_ARRAY;
  p->pos++;
  skip_ws(p);
  if (peek(p) == close) {
    p->pos++;
    return 1;
  }
  for (;;) {
    if (!grow(p, v, &cap, is_object)) return 0;
    char *key = NULL;
    if (is_object) {
      skip_ws(p);
      if (peek(p) != '"') return fail(p, "expected a string key");
      if (!(key = parse_string(p))) return 0;
      skip_ws(p);
      if (peek(p) != ':') {
        free(key);
        return fail(p, "expected ':'");
      }
      p->pos++;
      v->keys[v->count] = key;
    }
    lp_json *item = &v->items[v->count];
    memset(item, 0, sizeof *item);
    v->count++; /* counted now so that lp_json_free frees a partial item */
    if (!parse_value(p, item, depth + 1)) return 0;
    skip_ws(p);
    int c = peek(p);
    p->pos++;
    if (c == close) return 1;
    if (c != ',') {
      p->pos--;
      return fail(p, is_object ? "expected ',' or '}'" : "expected ',' or ']'");
    }
  }
}

static int match_word(parser *p, const char *w) {
  size_t n = strlen(w);
  if (p->len - p->pos < n || memcmp(p->s + p->pos, w, n) != 0)
    return fail(p, "unexpected character");
  p->pos += n;
  return 1;
}

static int parse_value(parser *p, lp_json *v, int depth) {
  if (depth > MAX_DEPTH) return fail(p, "nesting deeper than %d", MAX_DEPTH);
  skip_ws(p);
  int c = peek(p);
  switch (c) {
  case -1: return fail(p, "unexpected end of input");
  case '{': return parse_container(p, v, depth, 1);
  case '[': return parse_container(p, v, depth, 0);
  case '"':
    v->type = LP_JSON_STRING;
    return (v->string = parse_string(p)) != NULL;
  case 't': v->type = LP_JSON_BOOL; v->boolean = 1; return match_word(p, "true");
  case 'f': v->type = LP_JSON_BOOL; return match_word(p, "false");
  case 'n': v->type = LP_JSON_NULL; return match_word(p, "null");
  default:
    if (c == '-' || is_digit(c)) return parse_number(p, v);
    return fail(p, "unexpected character");
  }
}

static void free_inner(lp_json *v) {
  free(v->string);
  for (int i = 0; i < v->count; i++) {
    free_inner(&v->items[i]);
    if (v->keys) free(v->keys[i]);
  }
  free(v->items);
  free(v->keys);
}

void lp_json_free(lp_json *v) {
  if (!v) return;
  free_inner(v);
  free(v);
}

lp_json *lp_json_parse_oom(const char *text, size_t len, char *err, size_t errlen, int *oom) {
  parser p = {text, len, 0, err, errlen, 0, 0};
  if (oom) *oom = 0;
  lp_json *v = lp_calloc(1, sizeof *v);
  if (!v) {
    snprintf(err, errlen, "out of memory");
    if (oom) *oom = 1;
    return NULL;
  }
  if (parse_value(&p, v, 0)) {
    skip_ws(&p);
    if (p.pos == p.len) return v;
    fail(&p, "trailing characters after the value");
  }
  if (oom) *oom = p.oom;
  lp_json_free(v);
  return NULL;
}

lp_json *lp_json_parse(const char *text, size_t len, char *err, size_t errlen) {
  return lp_json_parse_oom(text, len, err, errlen, NULL);
}

const lp_json *lp_json_get(const lp_json *obj, const char *key) {
  if (!obj || obj->type != LP_JSON_OBJECT) return NULL;
  for (int i = 0; i < obj->count; i++)
    if (strcmp(obj->keys[i], key) == 0) return &obj->items[i];
  return NULL;
}

const char *lp_json_type_name(lp_json_type t) {
  static const char *names[] = {"null", "bool", "number", "string", "array", "object"};
  return (unsigned)t < 6 ? names[t] : "?";
}
