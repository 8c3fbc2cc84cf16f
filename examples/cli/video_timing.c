/* video_timing.c - see video_timing.h. */
#define _POSIX_C_SOURCE 200809L
#include "video_timing.h"

#include <stdlib.h>
#include <sys/resource.h>

#include "alloc.h"
#include "progress.h"

int video_timing_init(video_timing *t, int frames, int clips) {
  t->start = cli_now();
  t->frames = frames;
  t->clips = clips > 0 ? clips : 1;
  t->done = 0;
  t->finished = lp_calloc(frames > 0 ? (size_t)frames : 1, sizeof *t->finished);
  return t->finished ? 0 : -1;
}

void video_timing_free(video_timing *t) {
  free(t->finished);
  t->finished = NULL;
}

void video_timing_mark(video_timing *t, int first, int count) {
  const double now = cli_now();
  for (int f = first; f < first + count && f < t->frames; f++) t->finished[f] = now;
  if (first + count > t->done) t->done = first + count < t->frames ? first + count : t->frames;
}

double video_timing_peak_mib(void) {
  struct rusage ru;
  if (getrusage(RUSAGE_SELF, &ru) != 0) return 0;
  return (double)ru.ru_maxrss / 1024.0; /* Linux: KiB */
}

double video_timing_rate(const video_timing *t, int a, int b) {
  if (a < 0 || b > t->done || b <= a) return -1;
  const double from = a == 0 ? t->start : t->finished[a - 1];
  const double dt = t->finished[b - 1] - from;
  return dt > 0 ? (b - a) / dt : -1;
}

static double seconds(const video_timing *t) { return t->done ? t->finished[t->done - 1] - t->start : 0; }

void video_timing_json(const video_timing *t, FILE *out) {
  const double all = video_timing_rate(t, 0, t->done);
  fprintf(out, "\"seconds\":%.6f,\"frames_per_s\":", seconds(t));
  if (all > 0) fprintf(out, "%.6g", all);
  else fputs("null", out);
  fprintf(out, ",\"clips\":%d,\"all_clips_frames_per_s\":", t->clips);
  if (all > 0) fprintf(out, "%.6g", all * t->clips);
  else fputs("null", out);
  fputs(",\"spans\":[", out);
  for (int a = 0; a < t->done; a += VIDEO_TIMING_SPAN) {
    const int b = a + VIDEO_TIMING_SPAN < t->done ? a + VIDEO_TIMING_SPAN : t->done;
    const double r = video_timing_rate(t, a, b);
    fprintf(out, "%s{\"first\":%d,\"count\":%d,\"frames_per_s\":", a ? "," : "", a, b - a);
    if (r > 0) fprintf(out, "%.6g}", r);
    else fputs("null}", out);
  }
  fprintf(out, "],\"peak_rss_mib\":%.1f", video_timing_peak_mib());
}

void video_timing_text(const video_timing *t, FILE *out) {
  const double all = video_timing_rate(t, 0, t->done);
  fprintf(out, "timing: %d frames in %.2f s", t->done, seconds(t));
  if (all > 0 && t->clips > 1) fprintf(out, " (%.2f frames/s per clip, %.2f over %d clips)", all, all * t->clips, t->clips);
  else if (all > 0) fprintf(out, " (%.2f frames/s)", all);
  fprintf(out, "; peak memory %.1f MiB\n", video_timing_peak_mib());
  if (t->done <= VIDEO_TIMING_SPAN) return;
  /* A long run lists its first and last spans (--json has them all). */
  enum { SHOWN = 8 };
  const int spans = (t->done + VIDEO_TIMING_SPAN - 1) / VIDEO_TIMING_SPAN;
  fprintf(out, "frames/s per %d frames:", VIDEO_TIMING_SPAN);
  for (int k = 0; k < spans; k++) {
    if (spans > 2 * SHOWN && k == SHOWN) {
      fputs(" ...", out);
      k = spans - SHOWN;
    }
    const int a = k * VIDEO_TIMING_SPAN;
    const int b = a + VIDEO_TIMING_SPAN < t->done ? a + VIDEO_TIMING_SPAN : t->done;
    const double r = video_timing_rate(t, a, b);
    if (r > 0) fprintf(out, " %d-%d %.2f", a, b, r);
    else fprintf(out, " %d-%d -", a, b);
  }
  fputc('\n', out);
}
