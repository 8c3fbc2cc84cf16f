// test_file_read.cpp - core/file_read.c, the one way leap reads a file a
// user names: only a regular file, within its size limit, read whole and
// NUL-terminated, and a descriptor that reads more or fails says so. The
// kinds test_hardening.cpp drives through the commands (FIFO, directory,
// character device) are joined here by a socket and a block device, and
// the errors only a descriptor can give.
#include <fcntl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include <cstdlib>
#include <cstring>
#include <string>

#include "test_util.hpp"

extern "C" {
#include "file_read.h"
}

TEST_CASE("file_read: a regular file reads whole and NUL-terminated, over its limit it is a format error",
          "[core]") {
  lt::TempDir dir;
  const std::string path = dir / "p.json";
  const std::string text = std::string("{\"a\": 1}\n") + std::string(91, 'x');
  lt::write_text(path, text);
  char *buf = nullptr;
  size_t len = 0;
  REQUIRE(lp_file_read_all(path.c_str(), "profile", 100, &buf, &len) == LEAP_OK);
  CHECK(len == 100);
  CHECK(std::string(buf, len) == text);
  CHECK(buf[len] == '\0');
  free(buf);
  // One byte over the limit: refused before any byte is read.
  CHECK(lp_file_read_all(path.c_str(), "profile", 99, &buf, &len) == LEAP_ERR_FORMAT);
  CHECK(buf == nullptr);
  CHECK(len == 0);
  CHECK(std::string(leap_last_error()) == path + ": the profile is 100 bytes, more than the 99 a profile may have");
  // The same limit on a descriptor read from where it stands.
  const int fd = open(path.c_str(), O_RDONLY);
  REQUIRE(fd >= 0);
  REQUIRE(lseek(fd, 10, SEEK_SET) == 10);
  CHECK(lp_file_read_fd(fd, path.c_str(), "log", 89, &buf, &len) == LEAP_ERR_FORMAT);
  CHECK(std::string(leap_last_error()).find("the log is 90 bytes, more than the 89") != std::string::npos);
  REQUIRE(lp_file_read_fd(fd, path.c_str(), "log", 90, &buf, &len) == LEAP_OK);
  CHECK(std::string(buf, len) == text.substr(10));
  free(buf);
  close(fd);
  // An empty file is an empty, terminated buffer.
  const std::string empty = dir / "empty";
  lt::write_text(empty, "");
  REQUIRE(lp_file_read_all(empty.c_str(), "profile", 0, &buf, &len) == LEAP_OK);
  CHECK(len == 0);
  CHECK(buf[0] == '\0');
  free(buf);
}

TEST_CASE("file_read: no path, a missing file, a socket and a block device are refused before reading",
          "[core]") {
  lt::TempDir dir;
  int fd = 7;
  uint64_t size = 9;
  CHECK(lp_file_open_regular(nullptr, "profile", 0, 0, &fd, &size) == LEAP_ERR_INVALID_ARG);
  CHECK(std::string(leap_last_error()) == "no path given for the profile");
  CHECK(fd == -1);
  CHECK(size == 0);
  const std::string missing = dir / "missing";
  CHECK(lp_file_open_regular(missing.c_str(), "profile", 0, 0, &fd, &size) == LEAP_ERR_IO);
  CHECK(std::string(leap_last_error()) == "cannot open " + missing + ": No such file or directory");

  // A listening Unix socket.
  const std::string sock = dir / "s";
  const int s = socket(AF_UNIX, SOCK_STREAM, 0);
  REQUIRE(s >= 0);
  sockaddr_un addr{};
  addr.sun_family = AF_UNIX;
  REQUIRE(sock.size() < sizeof addr.sun_path);
  std::memcpy(addr.sun_path, sock.c_str(), sock.size() + 1);
  REQUIRE(bind(s, (const sockaddr *)&addr, sizeof addr) == 0);
  CHECK(lp_file_open_regular(sock.c_str(), "model", 0, 0, &fd, &size) == LEAP_ERR_IO);
  CHECK(std::string(leap_last_error()) == sock + ": the model is a socket, not a regular file");
  CHECK(fd == -1);
  close(s);

  // A block device, where the machine has one we can name.
  const char *blocks[] = {"/dev/loop0", "/dev/sda", "/dev/vda", "/dev/nvme0n1"};
  const char *block = nullptr;
  for (const char *b : blocks) {
    struct stat st;
    if (stat(b, &st) == 0 && S_ISBLK(st.st_mode)) {
      block = b;
      break;
    }
  }
  if (!block) {
    lt::skip("no block device to name: that case is not run");
    return;
  }
  char *buf = nullptr;
  size_t len = 0;
  CHECK(lp_file_read_all(block, "model", 0, &buf, &len) == LEAP_ERR_IO);
  CHECK(std::string(leap_last_error()) == std::string(block) + ": the model is a block device, not a regular file");
  CHECK(buf == nullptr);
}

TEST_CASE("file_read: a descriptor that gives more than its size, or cannot be read, is an error", "[core]") {
  lt::TempDir dir;
  char *buf = nullptr;
  size_t len = 0;
  // A pipe's size is 0, so its bytes are more than the file had.
  int p[2];
  REQUIRE(pipe(p) == 0);
  REQUIRE(write(p[1], "abc", 3) == 3);
  close(p[1]);
  CHECK(lp_file_read_fd(p[0], "pipe", "state", 0, &buf, &len) == LEAP_ERR_IO);
  CHECK(std::string(leap_last_error()) == "pipe: the state grew while it was read");
  CHECK(buf == nullptr);
  close(p[0]);
  // A descriptor opened for writing only.
  const std::string path = dir / "w";
  lt::write_text(path, "0123456789");
  const int fd = open(path.c_str(), O_WRONLY);
  REQUIRE(fd >= 0);
  CHECK(lp_file_read_fd(fd, path.c_str(), "state", 0, &buf, &len) == LEAP_ERR_IO);
  CHECK(std::string(leap_last_error()) == "cannot read the state " + path + ": Bad file descriptor");
  CHECK(buf == nullptr);
  close(fd);
  // A closed descriptor cannot even be measured.
  CHECK(lp_file_read_fd(fd, path.c_str(), "state", 0, &buf, &len) == LEAP_ERR_IO);
  CHECK(std::string(leap_last_error()).find("cannot stat the state " + path) == 0);
  // The file is as it was.
  CHECK(lt::slurp(path) == "0123456789");
}
