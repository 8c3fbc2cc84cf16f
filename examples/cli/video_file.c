/* video_file.c - the FFmpeg video writer; see video_file.h.
 *
 * The container writes through an AVIOContext of our own onto the
 * temporary's descriptor (lp_write_all, so a full disk and LEAP_FAIL_WRITE
 * are seen at the write that hits them); the MP4 muxer's faststart pass
 * re-reads the temporary by its name. */
#define _POSIX_C_SOURCE 200809L
#include "video_file.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <unistd.h>

#include <libavcodec/avcodec.h>
#include <libavformat/avformat.h>
#include <libavutil/imgutils.h>
#include <libavutil/opt.h>
#include <libswscale/swscale.h>
#include <zlib.h>

#include "alloc.h"
#include "error.h"
#include "file_write.h"

/* The mark an existing file must carry to be replaced (core/output.c's
 * video sniffer looks for it). */
#define VIDEO_MARK "leap.output=video"

/* FFmpeg 7 made the write callback's buffer const. */
#if LIBAVFORMAT_VERSION_MAJOR >= 61
#define IO_CONST const
#else
#define IO_CONST
#endif

enum { MAX_ENCODERS = 3, MAX_FMTS = 3 };

/* Where a container's mark goes when its muxer writes no comment tag: the
 * offset and the bytes, from the file's first bytes (head[len]); 0 when
 * the head is not what the muxer writes. */
typedef int (*mark_fn)(const uint8_t *head, size_t len, size_t *at, uint8_t *bytes, size_t *count);
static int mark_gif(const uint8_t *head, size_t len, size_t *at, uint8_t *bytes, size_t *count);
static int mark_png(const uint8_t *head, size_t len, size_t *at, uint8_t *bytes, size_t *count);

/* One row per container: the encoders tried in order, the pixel formats
 * each input (gray, RGB) is handed to the encoder in (the first the encoder
 * takes), and the options that make the file loop or stream. */
typedef struct video_format {
  const char *ext;
  const char *muxer;
  const char *encoders[MAX_ENCODERS];
  enum AVPixelFormat gray[MAX_FMTS], rgb[MAX_FMTS];
  const char *muxer_opts;
  mark_fn mark;   /* NULL: the muxer writes the comment tag itself */
} video_format;

static const video_format kFormats[] = {
    {".gif", "gif", {"gif"}, {AV_PIX_FMT_GRAY8, AV_PIX_FMT_RGB8, AV_PIX_FMT_NONE},
     {AV_PIX_FMT_RGB8, AV_PIX_FMT_NONE}, "loop=0", mark_gif},
    {".apng", "apng", {"apng"}, {AV_PIX_FMT_GRAY8, AV_PIX_FMT_RGB24, AV_PIX_FMT_NONE},
     {AV_PIX_FMT_RGB24, AV_PIX_FMT_NONE}, "plays=0", mark_png},
    /* faststart: the index (and the mark) before the frames, so a browser
     * can start playing before the whole file has arrived. */
    {".mp4", "mp4", {"libx264", "libopenh264", "mpeg4"}, {AV_PIX_FMT_YUV420P, AV_PIX_FMT_NONE},
     {AV_PIX_FMT_YUV420P, AV_PIX_FMT_NONE}, "movflags=+faststart", NULL},
    {".webm", "webm", {"libvpx-vp9", "libvpx"}, {AV_PIX_FMT_YUV420P, AV_PIX_FMT_NONE},
     {AV_PIX_FMT_YUV420P, AV_PIX_FMT_NONE}, "", NULL},
};
enum { FORMAT_COUNT = sizeof kFormats / sizeof kFormats[0] };

/* Encoder settings: a visually clean quality for small frames (the
 * defaults of the lossy ones are tuned for bitrate, not for 32-pixel
 * garments). Unlisted encoders take FFmpeg's defaults. */
static const struct {
  const char *encoder, *opts;
} kEncoderOpts[] = {
    {"libx264", "crf=18"},
    {"libvpx-vp9", "crf=24,b=0,row-mt=0"},
    {"libvpx", "crf=8,b=2M"},
    {"mpeg4", "b=2M"},
};

struct video_file {
  lp_out *out;
  const video_format *format;
  const AVCodec *codec;
  AVFormatContext *oc;
  AVCodecContext *enc;
  AVStream *st;
  AVFrame *frame;
  AVPacket *pkt;
  struct SwsContext *sws;
  uint8_t *padded;        /* the input frame on the encoded canvas */
  int w, h, c;            /* input frames */
  int ew, eh;             /* encoded frames (even for 4:2:0) */
  int frames;
  int header_written;
  int trailer_written; /* av_write_trailer ran (it also frees the muxer's own state) */
  int io_errno;           /* errno of a failed write, for the message */
};

static const video_format *format_of(const char *path) {
  const char *dot = path ? strrchr(path, '.') : NULL;
  const char *slash = path ? strrchr(path, '/') : NULL;
  if (!dot || (slash && dot < slash)) return NULL;
  for (int i = 0; i < FORMAT_COUNT; i++)
    if (strcasecmp(dot, kFormats[i].ext) == 0) return &kFormats[i];
  return NULL;
}

int video_file_handles(const char *path) { return format_of(path) != NULL; }

static const AVCodec *find_encoder(const video_format *f) {
  for (int i = 0; i < MAX_ENCODERS && f->encoders[i]; i++) {
    const AVCodec *c = avcodec_find_encoder_by_name(f->encoders[i]);
    if (c) return c;
  }
  return NULL;
}

leap_status video_file_probe(const char *path, char *codec, size_t codec_size) {
  const video_format *f = format_of(path);
  if (!f)
    return lp_error(LEAP_ERR_INVALID_ARG,
                    "%s: unknown video type; the extension must be .gif, .apng, .mp4 or .webm",
                    path ? path : "(null)");
  if (!av_guess_format(f->muxer, NULL, NULL))
    return lp_error(LEAP_ERR_UNSUPPORTED, "%s: this FFmpeg (libavformat %s) has no %s muxer", path,
                    AV_STRINGIFY(LIBAVFORMAT_VERSION), f->muxer);
  const AVCodec *c = find_encoder(f);
  if (!c) {
    char tried[128] = "";
    for (int i = 0; i < MAX_ENCODERS && f->encoders[i]; i++)
      snprintf(tried + strlen(tried), sizeof tried - strlen(tried), "%s%s", i ? ", " : "", f->encoders[i]);
    return lp_error(LEAP_ERR_UNSUPPORTED, "%s: this FFmpeg has no encoder for %s (tried %s)", path, f->ext, tried);
  }
  if (codec && codec_size) snprintf(codec, codec_size, "%s", c->name);
  return LEAP_OK;
}

/* ------------------------------------------------------------ I/O */

static int io_write(void *opaque, IO_CONST uint8_t *buf, int size) {
  video_file *v = opaque;
  if (size <= 0) return 0;
  if (!lp_write_all(lp_out_fd(v->out), buf, (size_t)size)) {
    v->io_errno = errno ? errno : EIO;
    return AVERROR(v->io_errno);
  }
  return size;
}

static int64_t io_seek(void *opaque, int64_t offset, int whence) {
  video_file *v = opaque;
  const int fd = lp_out_fd(v->out);
  if (whence & AVSEEK_SIZE) {
    struct stat st;
    return fstat(fd, &st) == 0 ? (int64_t)st.st_size : AVERROR(errno);
  }
  const off_t r = lseek(fd, (off_t)offset, whence & ~AVSEEK_FORCE);
  return r < 0 ? AVERROR(errno) : (int64_t)r;
}

/* An FFmpeg failure as leap's error, naming the file and the step. */
static leap_status av_fail(const video_file *v, int err, const char *what) {
  const char *path = v->out ? lp_out_path(v->out) : "video";
  if (v->io_errno)
    return lp_error(LEAP_ERR_IO, "%s: cannot write the video: %s", path, strerror(v->io_errno));
  char why[AV_ERROR_MAX_STRING_SIZE];
  av_strerror(err, why, sizeof why);
  return lp_error(err == AVERROR(ENOMEM) ? LEAP_ERR_NOMEM : LEAP_ERR_IO, "%s: %s (%s): %s", path, what,
                  v->codec ? v->codec->name : v->format->muxer, why);
}

/* ------------------------------------------------------------ open */

static enum AVPixelFormat pick_pix_fmt(const AVCodec *c, const enum AVPixelFormat *want) {
  for (int i = 0; i < MAX_FMTS && want[i] != AV_PIX_FMT_NONE; i++) {
    if (!c->pix_fmts) return want[i];
    for (const enum AVPixelFormat *p = c->pix_fmts; *p != AV_PIX_FMT_NONE; p++)
      if (*p == want[i]) return want[i];
  }
  return AV_PIX_FMT_NONE;
}

static const char *encoder_opts(const char *name) {
  for (size_t i = 0; i < sizeof kEncoderOpts / sizeof kEncoderOpts[0]; i++)
    if (strcmp(kEncoderOpts[i].encoder, name) == 0) return kEncoderOpts[i].opts;
  return "";
}

static leap_status open_encoder(video_file *v, double fps) {
  const enum AVPixelFormat pf = pick_pix_fmt(v->codec, v->c == 1 ? v->format->gray : v->format->rgb);
  if (pf == AV_PIX_FMT_NONE)
    return lp_error(LEAP_ERR_UNSUPPORTED, "%s: the %s encoder takes none of the pixel formats leap writes",
                    lp_out_path(v->out), v->codec->name);
  const AVPixFmtDescriptor *d = av_pix_fmt_desc_get(pf);
  const int sub_w = d ? d->log2_chroma_w : 0, sub_h = d ? d->log2_chroma_h : 0;
  v->ew = (v->w + (1 << sub_w) - 1) >> sub_w << sub_w;
  v->eh = (v->h + (1 << sub_h) - 1) >> sub_h << sub_h;

  AVCodecContext *e = v->enc = avcodec_alloc_context3(v->codec);
  if (!e) return lp_error(LEAP_ERR_NOMEM, "%s: out of memory", lp_out_path(v->out));
  const AVRational rate = av_d2q(fps, 100000);
  e->width = v->ew;
  e->height = v->eh;
  e->pix_fmt = pf;
  e->time_base = av_inv_q(rate);
  e->framerate = rate;
  e->sample_aspect_ratio = (AVRational){1, 1};
  /* One thread: frames arrive seconds apart, and the cores belong to the
   * sampler; it also keeps the files the same from run to run. */
  e->thread_count = 1;
  if (d && !(d->flags & AV_PIX_FMT_FLAG_RGB) && d->nb_components > 1) e->color_range = AVCOL_RANGE_MPEG;
  if (v->oc->oformat->flags & AVFMT_GLOBALHEADER) e->flags |= AV_CODEC_FLAG_GLOBAL_HEADER;
  AVDictionary *opts = NULL;
  int r = av_dict_parse_string(&opts, encoder_opts(v->codec->name), "=", ",", 0);
  if (r >= 0) r = avcodec_open2(e, v->codec, &opts);
  av_dict_free(&opts);
  if (r < 0) return av_fail(v, r, "cannot open the encoder");

  v->st = avformat_new_stream(v->oc, NULL);
  if (!v->st) return lp_error(LEAP_ERR_NOMEM, "%s: out of memory", lp_out_path(v->out));
  v->st->time_base = e->time_base;
  v->st->avg_frame_rate = rate;
  v->st->sample_aspect_ratio = e->sample_aspect_ratio;
  if ((r = avcodec_parameters_from_context(v->st->codecpar, e)) < 0)
    return av_fail(v, r, "cannot describe the stream");

  v->frame = av_frame_alloc();
  v->pkt = av_packet_alloc();
  if (!v->frame || !v->pkt) return lp_error(LEAP_ERR_NOMEM, "%s: out of memory", lp_out_path(v->out));
  v->frame->format = pf;
  v->frame->width = v->ew;
  v->frame->height = v->eh;
  if ((r = av_frame_get_buffer(v->frame, 0)) < 0) return av_fail(v, r, "cannot allocate a frame");
  /* Same size, only the pixel format changes (gray or RGB to the
   * encoder's); exact rounding and no scaling filter. */
  const enum AVPixelFormat src = v->c == 1 ? AV_PIX_FMT_GRAY8 : AV_PIX_FMT_RGB24;
  v->sws = sws_getContext(v->ew, v->eh, src, v->ew, v->eh, pf, SWS_POINT | SWS_ACCURATE_RND, NULL, NULL, NULL);
  if (!v->sws) return lp_error(LEAP_ERR_UNSUPPORTED, "%s: cannot convert frames for %s", lp_out_path(v->out), v->codec->name);
  v->padded = lp_malloc((size_t)v->ew * (size_t)v->eh * (size_t)v->c);
  if (!v->padded) return lp_error(LEAP_ERR_NOMEM, "%s: out of memory", lp_out_path(v->out));
  /* Mid-gray padding, as the gaps between tiles. */
  memset(v->padded, 128, (size_t)v->ew * (size_t)v->eh * (size_t)v->c);
  return LEAP_OK;
}

static void free_video(video_file *v) {
  if (!v) return;
  /* A muxer frees what it holds between packets only in its trailer (the
   * GIF muxer keeps the previous packet): a video abandoned after its
   * header still gets one, written into the temporary that is removed. */
  if (v->oc && v->header_written && !v->trailer_written) av_write_trailer(v->oc);
  if (v->oc) {
    if (v->oc->pb) {
      av_freep(&v->oc->pb->buffer);
      avio_context_free(&v->oc->pb);
    }
    avformat_free_context(v->oc);
  }
  avcodec_free_context(&v->enc);
  av_frame_free(&v->frame);
  av_packet_free(&v->pkt);
  sws_freeContext(v->sws);
  free(v->padded);
  free(v);
}

void video_file_abort(video_file *v) {
  if (!v) return;
  lp_out *o = v->out;
  free_video(v);
  lp_out_abort(o);
}

leap_status video_file_open(const char *path, int width, int height, int channels, double fps,
                            const char *const *inputs, int ninputs, video_file **out) {
  if (!out) return lp_error(LEAP_ERR_INVALID_ARG, "video_file_open: out is NULL");
  *out = NULL;
  char codec[32];
  leap_status s = video_file_probe(path, codec, sizeof codec);
  if (s != LEAP_OK) return s;
  if (width < 1 || height < 1 || width > 16384 || height > 16384)
    return lp_error(LEAP_ERR_INVALID_ARG, "%s: frames of %d x %d pixels cannot be written", path, width, height);
  if (channels != 1 && channels != 3)
    return lp_error(LEAP_ERR_UNSUPPORTED, "%s: video output needs 1 or 3 channels, the frames have %d", path, channels);
  if (!(fps > 0 && fps <= 1000)) return lp_error(LEAP_ERR_INVALID_ARG, "%s: fps %g is not in (0, 1000]", path, fps);
  /* FFmpeg's own messages (an encoder's reason for failing) still reach
   * stderr; its progress chatter does not. */
  av_log_set_level(AV_LOG_ERROR);

  video_file *v = lp_calloc(1, sizeof *v);
  if (!v) return lp_error(LEAP_ERR_NOMEM, "%s: out of memory", path);
  v->format = format_of(path);
  v->codec = find_encoder(v->format);
  v->w = width, v->h = height, v->c = channels;
  if ((s = lp_out_begin(path, LP_OUT_VIDEO, inputs, ninputs, &v->out)) != LEAP_OK) {
    free_video(v);
    return s;
  }
  /* The temporary's name is the context's url: the MP4 faststart pass
   * reopens it to move the index to the front. */
  int r = avformat_alloc_output_context2(&v->oc, NULL, v->format->muxer, lp_out_temp(v->out));
  if (r < 0 || !v->oc) {
    s = av_fail(v, r < 0 ? r : AVERROR(ENOMEM), "cannot create the container");
    video_file_abort(v);
    return s;
  }
  enum { IO_BUFFER = 64 << 10 };
  uint8_t *buf = av_malloc(IO_BUFFER);
  v->oc->pb = buf ? avio_alloc_context(buf, IO_BUFFER, 1, v, NULL, io_write, io_seek) : NULL;
  if (!v->oc->pb) {
    av_free(buf);
    video_file_abort(v);
    return lp_error(LEAP_ERR_NOMEM, "%s: out of memory", path);
  }
  v->oc->flags |= AVFMT_FLAG_CUSTOM_IO;
  av_dict_set(&v->oc->metadata, "comment", VIDEO_MARK, 0);
  if ((s = open_encoder(v, fps)) != LEAP_OK) {
    video_file_abort(v);
    return s;
  }
  AVDictionary *mopts = NULL;
  r = av_dict_parse_string(&mopts, v->format->muxer_opts, "=", ",", 0);
  if (r >= 0) r = avformat_write_header(v->oc, &mopts);
  av_dict_free(&mopts);
  if (r < 0) {
    s = av_fail(v, r, "cannot write the header");
    video_file_abort(v);
    return s;
  }
  v->header_written = 1;
  *out = v;
  return LEAP_OK;
}

/* ------------------------------------------------------------ frames */

/* Sends frame (NULL: drain) and writes every packet the encoder has. */
static leap_status encode(video_file *v, AVFrame *frame) {
  int r = avcodec_send_frame(v->enc, frame);
  if (r < 0) return av_fail(v, r, "cannot encode a frame");
  for (;;) {
    r = avcodec_receive_packet(v->enc, v->pkt);
    if (r == AVERROR(EAGAIN) || r == AVERROR_EOF) return LEAP_OK;
    if (r < 0) return av_fail(v, r, "cannot encode a frame");
    av_packet_rescale_ts(v->pkt, v->enc->time_base, v->st->time_base);
    v->pkt->stream_index = v->st->index;
    r = av_interleaved_write_frame(v->oc, v->pkt);
    if (r < 0) return av_fail(v, r, "cannot write a frame");
  }
}

leap_status video_file_write(video_file *v, const uint8_t *pixels) {
  if (!v || !pixels) return lp_error(LEAP_ERR_INVALID_ARG, "video_file_write: NULL argument");
  const size_t row = (size_t)v->w * (size_t)v->c, erow = (size_t)v->ew * (size_t)v->c;
  for (int y = 0; y < v->h; y++) memcpy(v->padded + (size_t)y * erow, pixels + (size_t)y * row, row);
  int r = av_frame_make_writable(v->frame);
  if (r < 0) return av_fail(v, r, "cannot allocate a frame");
  const uint8_t *src[4] = {v->padded, NULL, NULL, NULL};
  const int src_stride[4] = {(int)erow, 0, 0, 0};
  sws_scale(v->sws, src, src_stride, 0, v->eh, v->frame->data, v->frame->linesize);
  v->frame->pts = v->frames;
  leap_status s = encode(v, v->frame);
  if (s == LEAP_OK) v->frames++;
  return s;
}

int video_file_frames(const video_file *v) { return v ? v->frames : 0; }

void video_file_size(const video_file *v, int *width, int *height) {
  if (width) *width = v ? v->ew : 0;
  if (height) *height = v ? v->eh : 0;
}

const char *video_file_codec(const video_file *v) { return v && v->codec ? v->codec->name : ""; }

/* ------------------------------------------------------------ the mark */

/* FFmpeg's GIF and APNG muxers write no comment, so the mark goes in
 * afterwards, as the formats allow: a GIF comment extension after the
 * global colour table, a PNG tEXt chunk after IHDR. */
enum { MARK_MAX = 64 };

static int mark_gif(const uint8_t *h, size_t len, size_t *at, uint8_t *bytes, size_t *count) {
  if (len < 13 || (memcmp(h, "GIF87a", 6) != 0 && memcmp(h, "GIF89a", 6) != 0)) return 0;
  const size_t table = h[10] & 0x80 ? 3u << ((h[10] & 7) + 1) : 0;
  static const char mark[] = VIDEO_MARK;
  *at = 13 + table;
  bytes[0] = 0x21, bytes[1] = 0xfe, bytes[2] = (uint8_t)(sizeof mark - 1); /* comment: one sub-block */
  memcpy(bytes + 3, mark, sizeof mark - 1);
  bytes[3 + sizeof mark - 1] = 0; /* block terminator */
  *count = 4 + sizeof mark - 1;
  return 1;
}

static void put_be32(uint8_t *p, uint32_t x) {
  p[0] = (uint8_t)(x >> 24), p[1] = (uint8_t)(x >> 16), p[2] = (uint8_t)(x >> 8), p[3] = (uint8_t)x;
}

static int mark_png(const uint8_t *h, size_t len, size_t *at, uint8_t *bytes, size_t *count) {
  static const uint8_t sig[8] = {0x89, 'P', 'N', 'G', '\r', '\n', 0x1a, '\n'};
  static const char text[] = "Comment\0" VIDEO_MARK; /* keyword, NUL, text */
  if (len < 33 || memcmp(h, sig, 8) != 0 || memcmp(h + 12, "IHDR", 4) != 0 || h[8] || h[9] || h[10] || h[11] != 13)
    return 0;
  const uint32_t n = sizeof text - 1;
  *at = 33; /* signature, IHDR (length, type, 13 bytes, CRC) */
  put_be32(bytes, n);
  memcpy(bytes + 4, "tEXt", 4);
  memcpy(bytes + 8, text, n);
  put_be32(bytes + 8 + n, (uint32_t)crc32(crc32(0L, Z_NULL, 0), bytes + 4, 4 + n));
  *count = 12 + n;
  return 1;
}

/* Inserts the container's mark into the finished temporary, moving what
 * follows (from the end, a block at a time, so no video is held). */
static leap_status insert_mark(video_file *v) {
  const char *tmp = lp_out_temp(v->out), *path = lp_out_path(v->out);
  const int wfd = lp_out_fd(v->out), rfd = open(tmp, O_RDONLY | O_CLOEXEC);
  if (rfd < 0) return lp_error(LEAP_ERR_IO, "%s: cannot reread %s: %s", path, tmp, strerror(errno));
  enum { BLOCK = 64 << 10 };
  uint8_t *buf = lp_malloc(BLOCK), mark[MARK_MAX];
  struct stat st;
  size_t at = 0, k = 0;
  leap_status s = LEAP_OK;
  ssize_t head = -1;
  if (!buf) s = lp_error(LEAP_ERR_NOMEM, "%s: out of memory", path);
  else if (fstat(rfd, &st) != 0 || (head = pread(rfd, buf, 1024, 0)) < 0)
    s = lp_error(LEAP_ERR_IO, "%s: cannot reread %s: %s", path, tmp, strerror(errno));
  else if (!v->format->mark(buf, (size_t)head, &at, mark, &k) || at > (size_t)st.st_size)
    s = lp_error(LEAP_ERR_FORMAT, "%s: the %s muxer wrote an unexpected header", path, v->format->muxer);
  for (off_t end = st.st_size; s == LEAP_OK && end > (off_t)at;) {
    const off_t start = end - BLOCK > (off_t)at ? end - BLOCK : (off_t)at;
    const size_t len = (size_t)(end - start);
    if (pread(rfd, buf, len, start) != (ssize_t)len || lseek(wfd, start + (off_t)k, SEEK_SET) < 0 ||
        !lp_write_all(wfd, buf, len))
      s = lp_error(LEAP_ERR_IO, "%s: cannot write the video: %s", path, strerror(errno));
    end = start;
  }
  if (s == LEAP_OK && (lseek(wfd, (off_t)at, SEEK_SET) < 0 || !lp_write_all(wfd, mark, k)))
    s = lp_error(LEAP_ERR_IO, "%s: cannot write the video: %s", path, strerror(errno));
  close(rfd);
  free(buf);
  return s;
}

leap_status video_file_finish_unit(video_file *v, lp_out **out) {
  if (!out) return lp_error(LEAP_ERR_INVALID_ARG, "video_file_finish_unit: out is NULL");
  *out = NULL;
  if (!v) return lp_error(LEAP_ERR_INVALID_ARG, "video_file_finish_unit: no video");
  if (v->frames == 0) {
    leap_status s = lp_error(LEAP_ERR_INVALID_ARG, "%s: no frames to write", lp_out_path(v->out));
    video_file_abort(v);
    return s;
  }
  leap_status s = encode(v, NULL);
  if (s == LEAP_OK) {
    const int r = av_write_trailer(v->oc);
    v->trailer_written = 1;
    if (r < 0) s = av_fail(v, r, "cannot finish the container");
  }
  if (s == LEAP_OK) {
    avio_flush(v->oc->pb);
    if (v->io_errno) s = av_fail(v, AVERROR(v->io_errno), "cannot finish the container");
  }
  if (s == LEAP_OK && v->format->mark) s = insert_mark(v);
  if (s != LEAP_OK) {
    video_file_abort(v);
    return s;
  }
  *out = v->out;
  v->out = NULL;
  free_video(v);
  return LEAP_OK;
}
