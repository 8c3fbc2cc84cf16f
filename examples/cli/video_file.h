/* video_file.h - a video file written frame by frame through FFmpeg's
 * libraries (libavformat, libavcodec, libswscale), chosen by the file's
 * extension:
 *   .gif   GIF (8-bit palette: gray levels for 1 channel, a dithered 3-3-2
 *          palette for RGB), looping;
 *   .apng  animated PNG (gray or RGB, lossless), looping;
 *   .mp4   H.264 (libx264) when this FFmpeg has it, else MPEG-4 part 2;
 *   .webm  VP9 (libvpx-vp9), else VP8.
 * Frames are w x h 8-bit pixels, gray (1 channel) or packed RGB (3),
 * appended one at a time as they arrive; nothing holds the whole video.
 * Codecs that store 4:2:0 chroma need even sizes: an odd width or height
 * is padded by one mid-gray column or row (video_file_size says the size
 * the file has).
 *
 * Writing follows core/output.h's rule: the path must not name an input of
 * the job (by identity) nor an existing file other than a video leap wrote
 * (the comment "leap.output=video" near its start: the MP4 and WebM
 * comment tag, a GIF comment extension, a PNG tEXt chunk); the bytes go to
 * a unique temporary in the
 * destination's folder that lands (fsync, rename) only when the container
 * is finished. A run that stops early finishes the container with the
 * frames written so far and lands that: the file is a valid, shorter
 * video. */
#ifndef LEAP_CLI_VIDEO_FILE_H
#define LEAP_CLI_VIDEO_FILE_H

#include <stdint.h>

#include "leap.h"
#include "output.h"

typedef struct video_file video_file;

/* Non-zero when path ends in an extension this writer handles (.gif,
 * .apng, .mp4, .webm; any case). */
int video_file_handles(const char *path);

/* Checks, before any work, that path is a video this FFmpeg build can
 * write: a known extension (else LEAP_ERR_INVALID_ARG listing them) and an
 * encoder for it (else LEAP_ERR_UNSUPPORTED naming the ones tried). The
 * encoder's name goes to codec (may be NULL). */
leap_status video_file_probe(const char *path, char *codec, size_t codec_size);

/* Opens the temporary for path (core/output.h's rule, a job reading
 * inputs[0..ninputs)) and writes the container's header. channels: 1 or 3;
 * fps > 0. */
leap_status video_file_open(const char *path, int width, int height, int channels, double fps,
                            const char *const *inputs, int ninputs, video_file **out);

/* Appends one frame: height rows of width pixels, channels bytes each,
 * packed (no row padding). */
leap_status video_file_write(video_file *v, const uint8_t *pixels);

/* Frames appended so far, and the size of the frames in the file. */
int video_file_frames(const video_file *v);
void video_file_size(const video_file *v, int *width, int *height);
const char *video_file_codec(const video_file *v);

/* Drains the encoder and writes the container's trailer; the file is then
 * complete but not landed: *out is the written temporary, for
 * lp_out_commit or lp_out_commit_all. Frees v, also on failure (when the
 * temporary is removed). A video with no frames is LEAP_ERR_INVALID_ARG. */
leap_status video_file_finish_unit(video_file *v, lp_out **out);

/* Removes the temporary and frees v (NULL is fine). */
void video_file_abort(video_file *v);

#endif
