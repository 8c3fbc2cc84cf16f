// test_cli_video.cpp - `leap video`'s FFmpeg writer: its files decoded
// back with libavformat (frame count, size, and the pixels of the lossless
// containers) and the output rule on videos.
#include <sys/stat.h>
#include <unistd.h>

#include <cstring>
#include <string>
#include <vector>

#include "test_util.hpp"

extern "C" {
#include <libavcodec/avcodec.h>
#include <libavformat/avformat.h>
#include <libswscale/swscale.h>

#include "output.h"
#include "video_file.h"
}

namespace {

// A decoded video: its frames as gray bytes (converted by swscale).
struct Decoded {
  int frames = 0, width = 0, height = 0;
  std::string codec;
  std::vector<std::vector<uint8_t>> gray;
};

void receive_all(AVCodecContext *cc, AVFrame *f, Decoded *d) {
  while (avcodec_receive_frame(cc, f) == 0) {
    d->frames++;
    d->width = f->width;
    d->height = f->height;
    SwsContext *sws = sws_getContext(f->width, f->height, (AVPixelFormat)f->format, f->width, f->height,
                                     AV_PIX_FMT_GRAY8, SWS_POINT | SWS_ACCURATE_RND, nullptr, nullptr, nullptr);
    REQUIRE(sws != nullptr);
    std::vector<uint8_t> g((size_t)f->width * f->height);
    uint8_t *dst[4] = {g.data(), nullptr, nullptr, nullptr};
    int stride[4] = {f->width, 0, 0, 0};
    sws_scale(sws, f->data, f->linesize, 0, f->height, dst, stride);
    sws_freeContext(sws);
    d->gray.push_back(std::move(g));
    av_frame_unref(f);
  }
}

// Every frame of the file's video stream (REQUIREs that it decodes).
Decoded decode(const std::string &path) {
  Decoded d;
  AVFormatContext *fc = nullptr;
  INFO(path);
  REQUIRE(avformat_open_input(&fc, path.c_str(), nullptr, nullptr) == 0);
  REQUIRE(avformat_find_stream_info(fc, nullptr) >= 0);
  const AVCodec *dec = nullptr;
  const int si = av_find_best_stream(fc, AVMEDIA_TYPE_VIDEO, -1, -1, &dec, 0);
  REQUIRE(si >= 0);
  AVCodecContext *cc = avcodec_alloc_context3(dec);
  REQUIRE(avcodec_parameters_to_context(cc, fc->streams[si]->codecpar) >= 0);
  REQUIRE(avcodec_open2(cc, dec, nullptr) == 0);
  d.codec = dec->name;
  AVPacket *pkt = av_packet_alloc();
  AVFrame *f = av_frame_alloc();
  while (av_read_frame(fc, pkt) >= 0) {
    if (pkt->stream_index == si) REQUIRE(avcodec_send_packet(cc, pkt) == 0);
    av_packet_unref(pkt);
    receive_all(cc, f, &d);
  }
  avcodec_send_packet(cc, nullptr);
  receive_all(cc, f, &d);
  av_frame_free(&f);
  av_packet_free(&pkt);
  avcodec_free_context(&cc);
  avformat_close_input(&fc);
  return d;
}

// Frame k of a w x h test video: a gradient that moves, every gray level
// from dark to light present somewhere.
std::vector<uint8_t> pattern(int w, int h, int c, int k) {
  std::vector<uint8_t> p((size_t)w * h * c);
  for (int y = 0; y < h; y++)
    for (int x = 0; x < w; x++)
      for (int ch = 0; ch < c; ch++) p[((size_t)y * w + x) * c + ch] = (uint8_t)((x * 19 + y * 7 + k * 23 + ch * 60) % 256);
  return p;
}

// Writes frames of the pattern through video_file and lands the file.
leap_status write_video(const std::string &path, int w, int h, int c, int frames, const char *input = nullptr) {
  video_file *v = nullptr;
  const char *inputs[1] = {input};
  leap_status s = video_file_open(path.c_str(), w, h, c, 8.0, inputs, input ? 1 : 0, &v);
  if (s != LEAP_OK) return s;
  for (int k = 0; k < frames; k++) {
    const std::vector<uint8_t> p = pattern(w, h, c, k);
    REQUIRE(video_file_write(v, p.data()) == LEAP_OK);
  }
  REQUIRE(video_file_frames(v) == frames);
  lp_out *o = nullptr;
  s = video_file_finish_unit(v, &o);
  return s == LEAP_OK ? lp_out_commit(o) : s;
}

}  // namespace

TEST_CASE("video_file: GIF, APNG, MP4 and WebM decode to the frames written", "[cli][video]") {
  lt::TempDir dir;
  // An odd size: the 4:2:0 codecs pad it to even, the others keep it.
  const int w = 13, h = 7, frames = 5;
  struct Case {
    const char *name;
    int c;
    bool lossless;
  } cases[] = {{"a.gif", 1, true}, {"a.apng", 1, true}, {"rgb.apng", 3, true}, {"a.mp4", 1, false},
               {"a.webm", 1, false}, {"rgb.gif", 3, false}, {"rgb.mp4", 3, false}};
  for (const Case &c : cases) {
    const std::string path = dir / c.name;
    INFO(c.name << ": " << leap_last_error());
    REQUIRE(write_video(path, w, h, c.c, frames) == LEAP_OK);
    const Decoded d = decode(path);
    CHECK(d.frames == frames);
    const bool yuv = std::strstr(c.name, ".mp4") || std::strstr(c.name, ".webm");
    CHECK(d.width == (yuv ? w + 1 : w));
    CHECK(d.height == (yuv ? h + 1 : h));
    if (!c.lossless || c.c != 1 || d.frames != frames) continue;
    // gray in, gray out: the palette (GIF) and PNG keep every level
    for (int k = 0; k < frames; k++) {
      const std::vector<uint8_t> want = pattern(w, h, 1, k);
      int worst = 0;
      for (size_t i = 0; i < want.size(); i++) worst = std::max(worst, std::abs((int)want[i] - (int)d.gray[k][i]));
      CHECK(worst == 0);
    }
  }
  // The temporaries are gone; only the videos remain.
  CHECK(dir.list().size() == sizeof cases / sizeof cases[0]);
}

TEST_CASE("video_file: unknown types and bad frames are clear errors that write nothing", "[cli][video]") {
  lt::TempDir dir;
  CHECK(video_file_handles("x.GIF"));
  CHECK(!video_file_handles("x.avi"));
  CHECK(!video_file_handles("dir.gif/x"));
  CHECK(video_file_probe((dir / "x.avi").c_str(), nullptr, 0) == LEAP_ERR_INVALID_ARG);
  CHECK(std::string(leap_last_error()).find(".mp4") != std::string::npos);
  char codec[32];
  REQUIRE(video_file_probe((dir / "x.mp4").c_str(), codec, sizeof codec) == LEAP_OK);
  CHECK(codec[0] != 0);
  video_file *v = nullptr;
  CHECK(video_file_open((dir / "x.gif").c_str(), 4, 4, 2, 8.0, nullptr, 0, &v) == LEAP_ERR_UNSUPPORTED);
  CHECK(video_file_open((dir / "x.gif").c_str(), 4, 4, 1, 0.0, nullptr, 0, &v) == LEAP_ERR_INVALID_ARG);
  // no frames: no file
  REQUIRE(video_file_open((dir / "x.gif").c_str(), 4, 4, 1, 8.0, nullptr, 0, &v) == LEAP_OK);
  lp_out *o = nullptr;
  CHECK(video_file_finish_unit(v, &o) == LEAP_ERR_INVALID_ARG);
  CHECK(o == nullptr);
  CHECK(dir.list().empty());
}

TEST_CASE("video_file: replaces its own earlier video, never a foreign file or an input", "[cli][video]") {
  lt::TempDir dir;
  for (const char *name : {"v.gif", "v.apng", "v.mp4", "v.webm"}) {
    INFO(name << ": " << leap_last_error());
    const std::string path = dir / name;
    REQUIRE(write_video(path, 8, 6, 1, 3) == LEAP_OK);
    // leap's own video carries the mark: a second run replaces it
    REQUIRE(write_video(path, 8, 6, 1, 2) == LEAP_OK);
    CHECK(decode(path).frames == 2);
  }
  // a file leap did not write, with a video's name, is left alone
  const std::string foreign = dir / "mine.mp4";
  lt::write_text(foreign, "not leap's");
  CHECK(write_video(foreign, 8, 6, 1, 2) == LEAP_ERR_INVALID_ARG);
  CHECK(std::string(leap_last_error()).find("mine.mp4") != std::string::npos);
  CHECK(lt::slurp(foreign) == "not leap's");
  // an input of the job, even through a symbolic link, is never an output
  const std::string input = dir / "input.gif", link = dir / "link.gif";
  REQUIRE(write_video(input, 8, 6, 1, 2) == LEAP_OK);
  const std::string before = lt::slurp(input);
  REQUIRE(symlink(input.c_str(), link.c_str()) == 0);
  CHECK(write_video(link, 8, 6, 1, 3, input.c_str()) == LEAP_ERR_INVALID_ARG);
  CHECK(lt::slurp(input) == before);
}

