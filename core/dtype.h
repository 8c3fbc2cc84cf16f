/* dtype.h - element types of tensors in files: sizes, names, and the
 * float16 / bfloat16 <-> float32 conversions (round to nearest even). */
#ifndef LP_DTYPE_H
#define LP_DTYPE_H

#include <stddef.h>
#include <stdint.h>

#include "leap.h"

#ifdef __cplusplus
extern "C" {
#endif

/* safetensors files may hold types leap never computes with. They get codes
 * outside the public leap_dtype range so that foreign files still open (and
 * copy through the writer); lp_st_read_f32 refuses them. C++ callers: such
 * a code is outside leap_dtype's C++ value range, so read it through an int
 * (memcpy), not a leap_dtype lvalue (UBSan's -fsanitize=enum flags that). */
enum {
  LP_DTYPE_BOOL = 16,
  LP_DTYPE_U8,
  LP_DTYPE_I8,
  LP_DTYPE_I16,
  LP_DTYPE_U16,
  LP_DTYPE_U32,
  LP_DTYPE_U64
};

/* Bytes per element; 0 for an unknown code. */
size_t lp_dtype_size(leap_dtype d);
/* The safetensors name ("F32", "F16", "BF16", "F64", "I64", "I32", "BOOL",
 * "U8", ...); "?" for an unknown code. */
const char *lp_dtype_name(leap_dtype d);
/* Parses a safetensors dtype name; returns 0 if it is unknown. */
int lp_dtype_from_name(const char *name, leap_dtype *out);
/* 1 for F32, F16, BF16 and F64. */
int lp_dtype_is_float(leap_dtype d);

float lp_f16_to_f32(uint16_t h);
uint16_t lp_f32_to_f16(float f);
float lp_bf16_to_f32(uint16_t h);
uint16_t lp_f32_to_bf16(float f);

#ifdef __cplusplus
}
#endif

#endif
