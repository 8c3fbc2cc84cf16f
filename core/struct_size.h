/* struct_size.h - leap.h's promise for public structs: each starts with
 * uint32_t struct_size (the caller's sizeof), so that a later minor version
 * can append fields. A caller built against an older header passes a
 * smaller struct: what it has is read, the fields it does not know keep
 * their defaults; on output only the bytes it has are written. A caller
 * built against a newer header passes a larger struct: the bytes past this
 * library's struct are neither read nor written. */
#ifndef LEAP_CORE_STRUCT_SIZE_H
#define LEAP_CORE_STRUCT_SIZE_H

#include <stddef.h>

#include "leap.h"

/* Copies the caller's struct src over dst (size bytes, this library's
 * layout, already holding the defaults): min(src's struct_size, size)
 * bytes. dst's struct_size becomes size. LEAP_ERR_INVALID_ARG naming
 * `what` when src's struct_size cannot even hold struct_size (0: never
 * set). */
leap_status lp_struct_in(void *dst, size_t size, const void *src, const char *what);

/* LEAP_ERR_INVALID_ARG naming `what` unless the caller's struct s (either
 * direction) has a struct_size that holds struct_size itself. */
leap_status lp_struct_check(const void *s, const char *what);

/* Writes src (size bytes, this library's layout) into the caller's dst:
 * min(dst's struct_size, size) bytes; dst's struct_size stays the caller's.
 * LEAP_ERR_INVALID_ARG as lp_struct_in. */
leap_status lp_struct_out(void *dst, const void *src, size_t size, const char *what);

#endif
