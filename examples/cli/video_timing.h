/* video_timing.h - how fast `leap video` finished its frames: frames/s
 * over the whole run and over each span of 16 frames, and the process's
 * peak resident memory. Issue 12's flat-cost bar compares frames/s over
 * frames 240-256 with frames 16-32, and peak memory at 64 and 256 frames.
 *
 * A frame's time is when leap_video_sample delivered it (its chunk
 * finished); a span's rate is its frames over the time from the previous
 * span's last frame (or the start) to its own last frame. Frames that
 * arrive together (the synchronous family finishes every chunk at once)
 * leave the later spans without a rate (null). Frames are counted per clip
 * (the n clips advance together); the JSON report also gives the rate over
 * all clips (frames/s times n), what a host producing n videos gets. */
#ifndef LEAP_CLI_VIDEO_TIMING_H
#define LEAP_CLI_VIDEO_TIMING_H

#include <stdio.h>

enum { VIDEO_TIMING_SPAN = 16 };

typedef struct video_timing {
  double start;       /* cli_now() when sampling began */
  double *finished;   /* [frames] cli_now() when each frame arrived */
  int frames;         /* frames asked for */
  int done;           /* frames arrived (in order) */
  int clips;          /* clips advancing together (>= 1) */
} video_timing;

/* 0, or -1 out of memory. */
int video_timing_init(video_timing *t, int frames, int clips);
void video_timing_free(video_timing *t);
/* Frames [first, first + count) arrived now. */
void video_timing_mark(video_timing *t, int first, int count);
/* Peak resident memory of the process (getrusage ru_maxrss), MiB. */
double video_timing_peak_mib(void);
/* Frames/s over frames [a, b) (b <= done); < 0 when they took no time. */
double video_timing_rate(const video_timing *t, int a, int b);

/* `"timing": {...}` members for the JSON report: seconds, frames_per_s
 * (per clip), clips, all_clips_frames_per_s, spans (first, count, frames_per_s or null), peak_rss_mib. */
void video_timing_json(const video_timing *t, FILE *out);
/* The same as text lines (a long run: the first and last 8 spans). */
void video_timing_text(const video_timing *t, FILE *out);

#endif
