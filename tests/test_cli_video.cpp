// test_cli_video.cpp - `leap video` and its FFmpeg writer: the writer's
// files decoded back with libavformat (frame count, size, and the pixels of
// the lossless containers), the output rule on videos, the command's usage
// errors, --raw-out against leap_video_sample in process, the frame strip,
// the timing report, and Ctrl-C keeping a shorter valid video.
#include <signal.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <cstdlib>
#include <cstring>
#include <string>
#include <thread>
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

const std::string kVideoTiny = LEAP_TEST_DATA "/video_dit_tiny_f32.safetensors";
const std::string kSource = LEAP_TEST_DATA "/../..";

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

struct Result {
  int code;
  std::string out, err;
};

// Runs `leap ARGS` (with ENV before it) with stdout and stderr captured
// into dir.
Result leap(const lt::TempDir &dir, const std::string &args, const std::string &env = "") {
  const std::string cmd = env + " '" + LEAP_CLI_PATH + "' " + args + " > '" + (dir / "stdout.txt") + "' 2> '" +
                          (dir / "stderr.txt") + "' < /dev/null";
  const int st = std::system(cmd.c_str());
  REQUIRE(WIFEXITED(st));
  return Result{WEXITSTATUS(st), lt::slurp(dir / "stdout.txt"), lt::slurp(dir / "stderr.txt")};
}

// The files in dir other than the captured output.
std::vector<std::string> outputs_in(const lt::TempDir &dir) {
  std::vector<std::string> names;
  for (const std::string &n : dir.list())
    if (n != "stdout.txt" && n != "stderr.txt") names.push_back(n);
  return names;
}

leap_model_info video_info() {
  leap_context_desc cd = leap_context_desc_default(LEAP_BACKEND_CPU);
  leap_context *ctx = nullptr;
  REQUIRE(leap_context_create(&cd, &ctx) == LEAP_OK);
  leap_model *m = nullptr;
  REQUIRE(leap_model_load(ctx, kVideoTiny.c_str(), &m) == LEAP_OK);
  leap_model_info info{};
  info.struct_size = sizeof info;
  REQUIRE(leap_model_get_info(m, &info) == LEAP_OK);
  leap_model_destroy(m);
  leap_context_destroy(ctx);
  return info;
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
  // the mark alone, outside a container, is not leap's video either
  const std::string fake = dir / "fake.gif";
  lt::write_text(fake, "leap.output=video");
  CHECK(write_video(fake, 8, 6, 1, 2) == LEAP_ERR_INVALID_ARG);
  CHECK(lt::slurp(fake) == "leap.output=video");
  // an input of the job, even through a symbolic link, is never an output
  const std::string input = dir / "input.gif", link = dir / "link.gif";
  REQUIRE(write_video(input, 8, 6, 1, 2) == LEAP_OK);
  const std::string before = lt::slurp(input);
  REQUIRE(symlink(input.c_str(), link.c_str()) == 0);
  CHECK(write_video(link, 8, 6, 1, 3, input.c_str()) == LEAP_ERR_INVALID_ARG);
  CHECK(lt::slurp(input) == before);
}

// ------------------------------------------------------------ leap video

TEST_CASE("cli video: bad options exit 2 before loading anything and write nothing", "[cli][video]") {
  lt::TempDir dir;
  const std::string m = "--model '" + kVideoTiny + "' ";
  const std::string out = " --out '" + (dir / "v.gif") + "'";
  const std::string png = " --out '" + (dir / "v.png") + "'";
  const struct {
    std::string args, says;
  } cases[] = {
      {m + "--family spiral" + out, "--family"},
      {m + "--kv most" + out, "--kv"},
      {m + "--ar-step 2" + out, "--ar-step"},
      {m + "--family pyramid --window 2" + out, "--window"},
      {m + "--kv all --kv-sinks 1" + out, "--kv-sinks"},
      {m + "--kv rolling --kv-store 8" + out, "--kv-store"},
      {m + "--kv sparse --kv-store 3 --kv-sinks 1 --kv-window 2 --kv-topk 2" + out, "--kv-store"},
      {m + "--kv rolling --kv-window 0" + out, "--kv-window"},
      {m + "--shuffle=0" + out, "--shuffle"},
      {m + "--shuffle=4,2,1" + out, "--shuffle"},
      {m + "--frames 0" + out, "--frames"},
      {m + "--steps x" + out, "--steps"},
      {m + "--fps 0" + out, "--fps"},
      {m + "--fps 10" + png, "--fps"},
      {m + "--strip-every 2" + out, "--strip-every"},
      {m + "--out '" + (dir / "v.avi") + "'", ".avi"},
      {m + "--backend metal" + out, "--backend"},
      {m + "--labels 3-1" + out, "--labels"},
      {m + "--raw-out '" + (dir / "v.gif") + "'" + out, "same file"},
      {m + "--bogus" + out, "--bogus"},
      {m + "--cache '" + (dir / "p.json") + "' --cache-profile '" + (dir / "q.json") + "'", "not both"},
      {m + "--cache-profile '" + (dir / "q.json") + "'" + out, "--cache-profile"},
      {m + "--computed 3" + out, "--computed"},
      {m + "--cache-setting 1" + out, "--cache-setting"},
      {m + "--no-adjust" + out, "--no-adjust"},
      {m + "--kv none --cache '" + (dir / "p.json") + "'" + out, "--kv none"},
      {m + "--family pyramid --lag 3" + out, "--window and --lag apply to --family pipelined"},
      {m + "--kv rolling --kv-topk 2" + out, "--kv-store and --kv-topk apply to --kv sparse"},
      {m + "--device 0 --backend cpu" + out, "--device selects a Vulkan device"},
      {m + "--out ''", "--out: empty path"},
      {m + "--raw-out ''" + out, "--raw-out: empty path"},
      {m + "--cache-profile ''", "--cache-profile: empty path"},
      {m + "--cache-profile '" + (dir / "q.json") + "' --json", "--cache-profile writes only the profile"},
      {m + "--reuse-window 4" + out, "--computed and --reuse-window apply to --cache-profile"},
      {m + "--backend cpu --labels 7" + out, "--labels: 7 is not a class of this model"},
  };
  for (const auto &c : cases) {
    INFO(c.args);
    const Result r = leap(dir, "video " + c.args);
    CHECK(r.code == 2);
    CHECK(r.err.rfind("leap video: ", 0) == 0);
    CHECK(r.err.find(c.says) != std::string::npos);
    CHECK(outputs_in(dir).empty());
  }
  // a model whose file is missing is a runtime error, exit 1
  const Result r = leap(dir, "video --model '" + (dir / "nope.safetensors") + "'" + out);
  CHECK(r.code == 1);
  CHECK(r.err.find("nope.safetensors") != std::string::npos);
  CHECK(outputs_in(dir).empty());
  // no --model and no shipped video model: --model is required (exit 2)
  if (!lt::exists(kSource + "/models/default/leap-mfmnist-video.safetensors")) {
    const Result d = leap(dir, "video" + out, "LEAP_DEFAULT_VIDEO_MODEL=");
    CHECK(d.code == 2);
    CHECK(d.err.find("--model is required") != std::string::npos);
    CHECK(outputs_in(dir).empty());
  } else {
    // the shipped video model is the default: one short clip of it
    const Result d = leap(dir, "video --n 1 --labels 3 --frames 4 --steps 2 --backend cpu --raw-out '" +
                                   (dir / "d.safetensors") + "'" + out, "LEAP_DEFAULT_VIDEO_MODEL=");
    INFO(d.err);
    CHECK(d.code == 0);
    CHECK(lt::exists(dir / "v.gif"));
    CHECK(lt::meta(dir / "d.safetensors", "model").find("leap-mfmnist-video.safetensors") != std::string::npos);
  }
}

TEST_CASE("cli video: --out naming the model is refused and the model is untouched", "[cli][video]") {
  lt::TempDir dir;
  // the model under a video's name, and a link to it
  const std::string model = dir / "m.gif", link = dir / "link.mp4", raw_model = dir / "m.safetensors";
  lt::write_text(model, lt::slurp(kVideoTiny));
  lt::write_text(raw_model, lt::slurp(kVideoTiny));
  REQUIRE(symlink(model.c_str(), link.c_str()) == 0);
  const std::string bytes = lt::slurp(kVideoTiny);
  for (const std::string &args :
       {"--model '" + model + "' --out '" + model + "'", "--model '" + model + "' --out '" + link + "'",
        "--model '" + raw_model + "' --out '" + (dir / "v.gif") + "' --raw-out '" + raw_model + "'"}) {
    INFO(args);
    const Result r = leap(dir, "video --backend cpu " + args);
    CHECK(r.code == 1);
    CHECK(r.err.find("input") != std::string::npos);
  }
  CHECK(lt::slurp(model) == bytes);
  CHECK(lt::slurp(raw_model) == bytes);
  CHECK(!lt::exists(dir / "v.gif"));
}

TEST_CASE("cli video: --raw-out equals leap_video_sample in process, with the settings", "[cli][video]") {
  lt::TempDir dir;
  const leap_model_info info = video_info();
  const int n = 2, frames = 7, steps = 3;
  const std::string raw = dir / "v.safetensors", gif = dir / "v.gif";
  const Result r = leap(dir, "video --model '" + kVideoTiny + "' --backend cpu --threads 1 --labels 1,2 --n 2 --frames 7 "
                             "--steps 3 --cfg 2 --seed 5 --family pyramid --ar-step 1 --shuffle=4,2 --kv rolling "
                             "--kv-sinks 1 --kv-window 1 --quiet --out '" + gif + "' --raw-out '" + raw + "'");
  INFO(r.out << r.err);
  REQUIRE(r.code == 0);
  std::vector<int64_t> shape;
  const std::vector<double> got = lt::read_f64(raw, "video", &shape);
  REQUIRE(shape == std::vector<int64_t>{n, frames, info.in_channels, info.height, info.width});

  leap_context_desc cd = leap_context_desc_default(LEAP_BACKEND_CPU);
  cd.threads = 1;
  leap_context *ctx = nullptr;
  REQUIRE(leap_context_create(&cd, &ctx) == LEAP_OK);
  leap_model *m = nullptr;
  REQUIRE(leap_model_load(ctx, kVideoTiny.c_str(), &m) == LEAP_OK);
  const int32_t labels[2] = {1, 2};
  leap_video_desc d = leap_video_desc_default();
  d.n = n;
  d.labels = labels;
  d.frames = frames;
  d.steps = steps;
  d.cfg = 2;
  d.seed = 5;
  d.family = LEAP_BLOCK_PYRAMID;
  d.ar_step = 1;
  d.shuffle_window = 4;
  d.shuffle_stride = 2;
  d.kv.kind = LEAP_KV_ROLLING;
  d.kv.sinks = 1;
  d.kv.window = 1;
  std::vector<float> want((size_t)n * frames * info.in_channels * info.height * info.width);
  INFO(leap_last_error());
  REQUIRE(leap_video_sample(m, &d, want.data()) == LEAP_OK);
  leap_model_destroy(m);
  leap_context_destroy(ctx);
  REQUIRE(got.size() == want.size());
  size_t differ = 0;
  for (size_t i = 0; i < got.size(); i++) differ += got[i] != (double)want[i];
  CHECK(differ == 0);

  CHECK(lt::meta(raw, "leap.output") == "samples");
  CHECK(lt::meta(raw, "family") == "pyramid");
  CHECK(lt::meta(raw, "ar_step") == "1");
  CHECK(lt::meta(raw, "kv") == "rolling");
  CHECK(lt::meta(raw, "shuffle_window") == "4");
  CHECK(lt::meta(raw, "shuffle_stride") == "2");
  CHECK(lt::meta(raw, "frames") == "7");
  CHECK(lt::meta(raw, "labels") == "1,2");
  CHECK(lt::meta(raw, "seed") == "5");
  CHECK(lt::meta(raw, "canvas_height") == std::to_string(info.height));
  CHECK(lt::meta(raw, "canvas_width") == std::to_string(info.width));
  CHECK(lt::meta(raw, "frames_per_chunk") == std::to_string(info.frames_per_chunk));
  CHECK(lt::meta(raw, "interrupted") == "false");
  // the GIF holds the same frames, the two clips side by side
  const Decoded v = decode(gif);
  CHECK(v.frames == frames);
  CHECK(v.width == 2 * info.width + 2);
  CHECK(v.height == info.height);
}

TEST_CASE("cli video: APNG, MP4, WebM and the PNG frame strip have the clips' geometry", "[cli][video]") {
  lt::TempDir dir;
  const leap_model_info info = video_info();
  const std::string base = "video --model '" + kVideoTiny + "' --backend cpu --threads 1 --n 3 --frames 5 --steps 2 "
                           "--family autoregressive --quiet --out '";
  // three clips tile as 2 x 2 (one empty tile)
  const int w = 2 * info.width + 2, h = 2 * info.height + 2;
  for (const char *name : {"v.apng", "v.mp4", "v.webm"}) {
    INFO(name);
    const Result r = leap(dir, base + (dir / name) + "' --fps 12");
    INFO(r.err);
    REQUIRE(r.code == 0);
    const Decoded d = decode(dir / name);
    CHECK(d.frames == 5);
    CHECK(d.width == w + (w & 1));
    CHECK(d.height == h + (h & 1));
  }
  // the strip: a row per clip, every second frame (0, 2, 4) as columns
  const std::string strip = dir / "s.png";
  const Result r = leap(dir, base + strip + "' --strip-every 2");
  INFO(r.err);
  REQUIRE(r.code == 0);
  const std::string png = lt::slurp(strip);
  REQUIRE(png.size() > 24);
  auto be32 = [&](size_t at) {
    return (uint32_t)(unsigned char)png[at] << 24 | (uint32_t)(unsigned char)png[at + 1] << 16 |
           (uint32_t)(unsigned char)png[at + 2] << 8 | (uint32_t)(unsigned char)png[at + 3];
  };
  CHECK(be32(16) == (uint32_t)(3 * info.width + 2 * 2));
  CHECK(be32(20) == (uint32_t)(3 * info.height + 2 * 2));
}

TEST_CASE("cli video: --json reports frames/s per 16 frames and peak memory", "[cli][video]") {
  lt::TempDir dir;
  const Result r = leap(dir, "video --model '" + kVideoTiny + "' --backend cpu --threads 1 --n 1 --frames 20 --steps 1 "
                             "--family autoregressive --kv rolling --quiet --json --out '" + (dir / "v.gif") + "'");
  INFO(r.out << r.err);
  REQUIRE(r.code == 0);
  CHECK(r.err.empty());
  CHECK(r.out.rfind("{\"video\":1,", 0) == 0);
  CHECK(r.out.find("\"frames\":20,\"frames_written\":20,") != std::string::npos);
  CHECK(r.out.find("{\"first\":0,\"count\":16,\"frames_per_s\":") != std::string::npos);
  CHECK(r.out.find("{\"first\":16,\"count\":4,\"frames_per_s\":") != std::string::npos);
  const size_t at = r.out.find("\"peak_rss_mib\":");
  // the rate over all clips is the per-clip rate times the clips (n = 1 here; n = 2 below)
  auto number_after = [](const std::string &s, const char *key) {
    const size_t k = s.find(key);
    return k == std::string::npos ? -1.0 : std::strtod(s.c_str() + k + std::strlen(key), nullptr);
  };
  CHECK(r.out.find("\"clips\":1,") != std::string::npos);
  CHECK(number_after(r.out, "\"all_clips_frames_per_s\":") ==
        Approx(number_after(r.out, "\"frames_per_s\":")).epsilon(1e-5));
  const Result r2 = leap(dir, "video --model '" + kVideoTiny + "' --backend cpu --threads 1 --n 2 --frames 4 --steps 1 "
                              "--family autoregressive --quiet --json --out '" + (dir / "v2.gif") + "'");
  INFO(r2.out << r2.err);
  REQUIRE(r2.code == 0);
  CHECK(r2.out.find("\"clips\":2,") != std::string::npos);
  CHECK(number_after(r2.out, "\"all_clips_frames_per_s\":") ==
        Approx(2 * number_after(r2.out, "\"frames_per_s\":")).epsilon(1e-5));
  REQUIRE(at != std::string::npos);
  CHECK(std::strtod(r.out.c_str() + at + 15, nullptr) > 0);
}

TEST_CASE("cli video: --cache-profile makes a block-cache profile that --cache samples with", "[cli][video][cache]") {
  lt::TempDir dir;
  const std::string run = "video --model '" + kVideoTiny + "' --backend cpu --threads 1 --n 2 --frames 8 --steps 8 "
                          "--family pyramid --ar-step 3 ";
  const std::string prof = dir / "p.json";
  Result r = leap(dir, run + "--computed 9,6 --cache-profile '" + prof + "'");
  INFO(r.out << r.err);
  REQUIRE(r.code == 0);
  CHECK(r.out.find("setting 0 computed=9") != std::string::npos);
  CHECK(r.out.find("setting 1 computed=6") != std::string::npos);
  const std::string text = lt::slurp(prof);
  CHECK(text.rfind("{\n  \"format\": \"leap-video-cache-profile\"", 0) == 0);
  // Its own earlier output is replaced; the settings' computed rows.
  r = leap(dir, run + "--computed 9,6 --cache-profile '" + prof + "'");
  REQUIRE(r.code == 0);
  std::vector<int> computed;
  for (size_t at = 0; (at = text.find("\"computed\": ", at)) != std::string::npos; at++)
    computed.push_back(std::atoi(text.c_str() + at + 12));
  REQUIRE(computed.size() == 2);
  r = leap(dir, run + "--seed 3 --cache '" + prof + "' --cache-setting 1 --json --quiet --out '" + (dir / "v.png") + "'");
  INFO(r.out << r.err);
  REQUIRE(r.code == 0);
  CHECK(r.out.find("\"evaluations\":17,\"computed\":" + std::to_string(computed[1]) + ",\"reused\":" +
                   std::to_string(17 - computed[1]) + ",\"cache\":") != std::string::npos);
  r = leap(dir, run + "--out '" + (dir / "v.png") + "'");
  REQUIRE(r.code == 0);
  CHECK(r.err.find("model evaluations: 17 (17 computed, 0 reused)") != std::string::npos);
  // Another run's profile: refused naming the field, nothing written.
  lt::TempDir other;
  r = leap(other, run + "--steps 9 --cache '" + prof + "' --out '" + (other / "w.png") + "'");
  CHECK(r.code == 1);
  CHECK(r.err.find("for steps 8, this run has 9") != std::string::npos);
  CHECK(outputs_in(other).empty());
  // A profile never overwrites the model, nor a foreign file.
  lt::write_text(dir / "mine.json", "{}");
  r = leap(dir, run + "--cache-profile '" + (dir / "mine.json") + "'");
  CHECK(r.code == 1);
  CHECK(lt::slurp(dir / "mine.json") == "{}");
}

TEST_CASE("cli video: Ctrl-C keeps a valid, shorter video and exits 130", "[cli][video]") {
  lt::TempDir dir;
  const std::string gif = dir / "v.gif", raw = dir / "v.safetensors";
  // Far more frames than can finish: the run is stopped mid-way.
  const int frames = 20000;
  pid_t pid = fork();
  REQUIRE(pid >= 0);
  if (pid == 0) {
    if (!freopen((dir / "stdout.txt").c_str(), "w", stdout) || !freopen((dir / "stderr.txt").c_str(), "w", stderr))
      _exit(126);
    execl(LEAP_CLI_PATH, "leap", "video", "--model", kVideoTiny.c_str(), "--backend", "cpu", "--threads", "1", "--n",
          "2", "--frames", std::to_string(frames).c_str(), "--steps", "4", "--family", "autoregressive", "--kv",
          "rolling", "--out", gif.c_str(), "--raw-out", raw.c_str(), (char *)nullptr);
    _exit(127);
  }
  // Stop once some frames are in the video's temporary (it grows as
  // frames arrive), or after a while in any case.
  const auto t0 = std::chrono::steady_clock::now();
  for (;;) {
    off_t size = 0;
    for (const std::string &n : dir.list()) {
      struct stat st;
      if (n.rfind(".v.gif.leap-tmp", 0) == 0 && stat((dir / n).c_str(), &st) == 0) size = st.st_size;
    }
    if (size > 4096 || std::chrono::steady_clock::now() - t0 > std::chrono::seconds(60)) break;
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
  REQUIRE(kill(pid, SIGINT) == 0);
  int status = 0;
  REQUIRE(waitpid(pid, &status, 0) == pid);
  REQUIRE(WIFEXITED(status));
  const std::string err = lt::slurp(dir / "stderr.txt");
  INFO(err);
  CHECK(WEXITSTATUS(status) == 130);
  CHECK(err.find("interrupted; kept the") != std::string::npos);
  REQUIRE(lt::exists(gif));
  const Decoded d = decode(gif);
  CHECK(d.frames >= 1);
  CHECK(d.frames < frames);
  // the raw clips hold the same finished frames
  std::vector<int64_t> shape;
  lt::read_f64(raw, "video", &shape);
  REQUIRE(shape.size() == 5);
  CHECK(shape[1] == d.frames);
  CHECK(lt::meta(raw, "interrupted") == "true");
  CHECK(lt::meta(raw, "frames_requested") == std::to_string(frames));
  // no temporaries left
  for (const std::string &n : dir.list()) CHECK(n.find("leap-tmp") == std::string::npos);
}
