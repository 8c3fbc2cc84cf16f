/* json.h - a small JSON parser (RFC 8259) for safetensors headers.
 * Parses into a tree; strings come out as NUL-terminated UTF-8 with every
 * escape decoded (\uXXXX surrogate pairs included). */
#ifndef LP_JSON_H
#define LP_JSON_H

#include <stddef.h>
#include <stdint.h>

typedef enum lp_json_type {
  LP_JSON_NULL,
  LP_JSON_BOOL,
  LP_JSON_NUMBER,
  LP_JSON_STRING,
  LP_JSON_ARRAY,
  LP_JSON_OBJECT
} lp_json_type;

typedef struct lp_json lp_json;
struct lp_json {
  lp_json_type type;
  int boolean;     /* LP_JSON_BOOL */
  double number;   /* LP_JSON_NUMBER */
  /* 1 when the number was written without fraction or exponent and fits
   * int64 exactly (then `integer` holds it): shapes and offsets need this,
   * a double would silently round above 2^53. */
  int is_int;
  int64_t integer;
  char *string;    /* LP_JSON_STRING */
  int count;       /* LP_JSON_ARRAY / LP_JSON_OBJECT: number of items */
  lp_json *items;  /* the values, in document order */
  char **keys;     /* LP_JSON_OBJECT: keys[i] names items[i] */
};

/* Parses text[0..len) (it need not be NUL-terminated). Returns NULL on bad
 * JSON or out of memory and writes why (with the byte offset) into err. */
lp_json *lp_json_parse(const char *text, size_t len, char *err, size_t errlen);
/* The same; *oom is set to 1 when it failed for want of memory (the caller
 * then reports LEAP_ERR_NOMEM, not a bad file), else to 0. */
lp_json *lp_json_parse_oom(const char *text, size_t len, char *err, size_t errlen, int *oom);
void lp_json_free(lp_json *v);
/* The first value under `key` in an object; NULL if absent or not an object. */
const lp_json *lp_json_get(const lp_json *obj, const char *key);
/* "null", "bool", "number", "string", "array" or "object". */
const char *lp_json_type_name(lp_json_type t);

#endif
