/* sample_io.h - the safetensors side of `leap sample` and `leap video`:
 * reading a caller's initial noise and writing the raw samples (or clips)
 * with their settings. */
#ifndef LEAP_CLI_SAMPLE_IO_H
#define LEAP_CLI_SAMPLE_IO_H

#include "leap.h"
#include "output.h"

/* Reads tensor "noise" of shape [n, c, h, w] (any float dtype) from path
 * into out (n*c*h*w floats). A missing tensor or another shape is
 * LEAP_ERR_FORMAT naming the file and both shapes. */
leap_status cli_read_noise(const char *path, int n, int c, int h, int w,
                           float *out);

/* Writes tensor "samples" [n, c, h, w] F32 and the metadata pairs
 * meta[0..2*pairs) (key, value, key, value, ...) for path, a samples output
 * of a job reading inputs[0..ninputs) (core/output.h), and returns the
 * written, not yet landed file in *out (lp_out_commit_all lands it with
 * the PNG). */
leap_status cli_write_samples(const char *path, const float *x, int n, int c,
                              int h, int w, const char *const *meta, int pairs,
                              const char *const *inputs, int ninputs, lp_out **out);

/* The same for `leap video --raw-out`: tensor "video" [n, f, c, h, w] F32
 * (what `leap eval --video --samples` reads). */
leap_status cli_write_video(const char *path, const float *x, int n, int f, int c, int h, int w,
                            const char *const *meta, int pairs, const char *const *inputs, int ninputs,
                            lp_out **out);

#endif
