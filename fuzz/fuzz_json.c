/* fuzz_json.c - the JSON parser under every JSON leap reads (safetensors
 * headers, cache profiles, LCSC logs): any bytes parse or fail cleanly, and
 * a parsed tree can be walked and freed. */
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include "json.h"

static size_t walk(const lp_json *v) {
  size_t n = 1;
  if (v->type == LP_JSON_STRING) n += strlen(v->string);
  for (int i = 0; (v->type == LP_JSON_ARRAY || v->type == LP_JSON_OBJECT) && i < v->count; i++) {
    if (v->type == LP_JSON_OBJECT) n += strlen(v->keys[i]) + (lp_json_get(v, v->keys[i]) != NULL);
    n += walk(&v->items[i]);
  }
  return n;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t len) {
  char err[256];
  lp_json *j = lp_json_parse((const char *)data, len, err, sizeof err);
  if (j) {
    volatile size_t n = walk(j);
    (void)n;
    lp_json_free(j);
  }
  return 0;
}
