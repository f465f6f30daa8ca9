// The line sources: TCP on loopback and a UNIX socket, bounded line length.
#include "sentinelle/agent/input.h"

#include <gtest/gtest.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>
#include <arpa/inet.h>

#include <cstring>
#include <mutex>
#include <thread>
#include <vector>

#include "process.h"
#include "sentinelle/sensor_line.h"

namespace sentinelle::agent {
namespace {

using sentinelle::testing::TempDir;
using sentinelle::testing::WaitFor;

struct Collected {
  std::mutex mu;
  std::vector<std::string> lines;
  std::vector<std::string> rejects;
};

void SendAll(int fd, const std::string& data) {
  size_t off = 0;
  while (off < data.size()) {
    const ssize_t n = ::write(fd, data.data() + off, data.size() - off);
    ASSERT_GT(n, 0);
    off += static_cast<size_t>(n);
  }
}

void RunAndSend(Input& input, int client_fd, const std::string& data, Collected& got,
                size_t expect_lines) {
  std::thread t([&] {
    input.Run(
        [&](std::string_view l) {
          std::lock_guard lock(got.mu);
          got.lines.emplace_back(l);
        },
        [&](std::string_view r) {
          std::lock_guard lock(got.mu);
          got.rejects.emplace_back(r);
        });
  });
  SendAll(client_fd, data);
  EXPECT_TRUE(WaitFor([&] {
    std::lock_guard lock(got.mu);
    return got.lines.size() >= expect_lines;
  }));
  ::close(client_fd);
  input.Stop();
  t.join();
}

TEST(InputTest, TcpServerOnLoopbackSplitsLinesAndBoundsLength) {
  InputConfig cfg;
  cfg.kind = InputKind::kTcp;
  auto input = Input::Open(cfg);
  ASSERT_TRUE(input) << input.message();
  ASSERT_GT((*input)->port(), 0);
  const int fd = socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_port = htons(static_cast<uint16_t>((*input)->port()));
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  ASSERT_EQ(connect(fd, reinterpret_cast<sockaddr*>(&addr), sizeof(addr)), 0);
  const std::string huge(kMaxSensorLineBytes * 3, 'x');
  Collected got;
  RunAndSend(**input, fd, "first\r\n" + huge + "\nsecond\n\nthird\n", got, 3);
  ASSERT_EQ(got.lines.size(), 3u);
  EXPECT_EQ(got.lines[0], "first\r");
  EXPECT_EQ(got.lines[1], "second");
  EXPECT_EQ(got.lines[2], "third");
  ASSERT_EQ(got.rejects.size(), 1u);
  EXPECT_EQ(got.rejects[0], "too_long");
}

TEST(InputTest, UnixSocketServer) {
  TempDir dir;
  InputConfig cfg;
  cfg.kind = InputKind::kUnix;
  cfg.unix_path = dir.File("sensor.sock");
  auto input = Input::Open(cfg);
  ASSERT_TRUE(input) << input.message();
  const int fd = socket(AF_UNIX, SOCK_STREAM, 0);
  sockaddr_un addr{};
  addr.sun_family = AF_UNIX;
  std::strncpy(addr.sun_path, cfg.unix_path.c_str(), sizeof(addr.sun_path) - 1);
  ASSERT_EQ(connect(fd, reinterpret_cast<sockaddr*>(&addr), sizeof(addr)), 0);
  Collected got;
  RunAndSend(**input, fd, "a\nb\n", got, 2);
  EXPECT_EQ(got.lines, (std::vector<std::string>{"a", "b"}));
}

}  // namespace
}  // namespace sentinelle::agent
