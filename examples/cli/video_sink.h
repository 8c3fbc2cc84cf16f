/* video_sink.h - where `leap video`'s frames go as leap_video_sample
 * delivers them (its on_frames callback): appended to the video file at
 * once (the n clips tiled in each frame), kept for a PNG frame strip (every
 * k-th frame: clips as rows, frames as columns) and for --raw-out. A video
 * file alone keeps no frames in memory, so a long video need not fit.
 *
 * Every output lands by core/output.h's rule, all together at the end
 * (lp_out_commit_all). A run stopped early (Ctrl-C) lands what it finished:
 * the video with the frames written so far, the strip and the raw clips
 * cut to the same frames. A failure lands nothing. */
#ifndef LEAP_CLI_VIDEO_SINK_H
#define LEAP_CLI_VIDEO_SINK_H

#include "leap.h"
#include "video_timing.h"

typedef struct video_sink_desc {
  const char *out;       /* .png (frame strip), or .gif/.apng/.mp4/.webm */
  int strip_every;       /* PNG strip: every k-th frame (>= 1) */
  double fps;            /* video file */
  const char *raw_out;   /* NULL: none */
  int n, frames, c, h, w;
  const char *const *inputs; /* the job's input files (never an output) */
  int ninputs;
} video_sink_desc;

typedef struct video_sink video_sink;

/* Allocates what the outputs keep and opens the video file (its header is
 * written to a temporary). */
leap_status video_sink_open(const video_sink_desc *d, video_sink **out);

/* leap_video_sample's on_frames (user = the sink). Frames must arrive in
 * order; a failure (a write, non-finite pixels, frames out of order) stops
 * the run and is kept for video_sink_error. Returns non-zero to stop: on
 * that failure, or once Ctrl-C has arrived. */
int video_sink_on_frames(void *user, int first, int count, const float *video);

/* LEAP_OK, or the failure that stopped the run from inside on_frames (its
 * message is set again, so leap_last_error says it). */
leap_status video_sink_error(const video_sink *s);
/* Frames received so far (of each clip), and when each arrived. */
int video_sink_done(const video_sink *s);
const video_timing *video_sink_timing(const video_sink *s);
/* The encoder writing the video file ("" for a PNG strip). */
const char *video_sink_codec(const video_sink *s);

/* Finishes every output with the frames done (the raw clips carry
 * meta[0..2*pairs) as settings) and lands them together; on failure none
 * lands. Once only; the timing stays readable until video_sink_close. No
 * frames done is LEAP_ERR_INVALID_ARG and lands nothing. */
leap_status video_sink_finish(video_sink *s, const char *const *meta, int pairs);
/* Removes every temporary not landed and frees s (NULL is fine). */
void video_sink_close(video_sink *s);

#endif
