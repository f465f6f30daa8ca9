// The real sentinelle-agent binary: command line, kill -9 mid-burst and
// restart without losing a window, graceful SIGTERM.
#include <gtest/gtest.h>
#include <signal.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include <cstring>
#include <fstream>
#include <iterator>
#include <map>
#include <nlohmann/json.hpp>

#include "ack_peer.h"
#include "broker.h"
#include "process.h"
#include "sentinelle/codec.h"
#include "sentinelle/sqlite.h"
#include "sentinelle/topics.h"
#include "test_util.h"

namespace sentinelle::agent {
namespace {

using nlohmann::json;
using sentinelle::testing::AckPeer;
using sentinelle::testing::BinPath;
using sentinelle::testing::ChildProcess;
using sentinelle::testing::MosquittoBroker;
using sentinelle::testing::TempDir;
using sentinelle::testing::WaitFor;
using namespace std::chrono_literals;

std::string WriteConfig(const TempDir& dir, const json& extra) {
  json c = {{"station_id", "st-proc"},
            {"clock", {{"source", "input"}}},
            {"store", {{"path", dir.File("agent.db")}}},
            {"metrics", {{"listen", ""}}},
            {"log", {{"level", "info"}}}};
  c.merge_patch(extra);
  const std::string path = dir.File("agent.json");
  std::ofstream(path) << c.dump(2);
  return path;
}

int64_t Unconfirmed(const std::string& db_path) {
  DbOptions o;
  o.read_only = true;
  auto db = Db::Open(db_path, o);
  if (!db) return -1;
  auto st = (*db)->Prepare("SELECT COUNT(*) FROM readings WHERE confirmed = 0");
  if (!st || !st->Step()) return -1;
  return st->ColumnInt(0);
}

// The shared objects mapped into a running process (/proc/PID/maps).
std::string MappedFiles(pid_t pid) {
  std::ifstream in("/proc/" + std::to_string(pid) + "/maps");
  return std::string(std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>());
}

TEST(AgentProcessTest, HelpVersionAndBadConfig) {
  TempDir dir;
  {
    ChildProcess p({BinPath("sentinelle-agent"), "--help"}, dir.File("help.log"));
    ASSERT_TRUE(p.Start());
    EXPECT_EQ(p.Wait(), 0);
    EXPECT_NE(p.Log().find("--config FILE"), std::string::npos);
  }
  {
    ChildProcess p({BinPath("sentinelle-agent"), "--version"}, dir.File("version.log"));
    ASSERT_TRUE(p.Start());
    EXPECT_EQ(p.Wait(), 0);
    EXPECT_NE(p.Log().find("sentinelle-agent 0."), std::string::npos);
  }
  {
    const std::string cfg = WriteConfig(dir, {{"mqtt", {{"no_such_key", 1}}}});
    ChildProcess p({BinPath("sentinelle-agent"), "--config", cfg}, dir.File("bad.log"));
    ASSERT_TRUE(p.Start());
    EXPECT_EQ(p.Wait(), 2);
    EXPECT_NE(p.Log().find("mqtt.no_such_key"), std::string::npos) << p.Log();
  }
  {
    ChildProcess p({BinPath("sentinelle-agent"), "--bogus"}, dir.File("bogus.log"));
    ASSERT_TRUE(p.Start());
    EXPECT_EQ(p.Wait(), 2);
  }
}

TEST(AgentProcessTest, KillDashNineMidBurstThenRestartLosesNoWindow) {
  TempDir dir;
  MosquittoBroker broker;
  ASSERT_TRUE(broker.Start()) << broker.Log();
  AckPeer peer(broker.uri());
  ASSERT_TRUE(peer.Connect());
  const std::string cfg = WriteConfig(
      dir, {{"input", {{"kind", "stdin"}}},
            {"mqtt", {{"uri", broker.uri()}, {"reconnect_min_ms", 100}, {"reconnect_max_ms", 400},
                      {"batch_max_readings", 7}}}});
  constexpr int kWindows = 60;
  const auto lines = test::Burst(0, kWindows);

  auto agent = std::make_unique<ChildProcess>(
      std::vector<std::string>{BinPath("sentinelle-agent"), "--config", cfg}, dir.File("a1.log"));
  ASSERT_TRUE(agent->Start(/*pipe_stdin=*/true));
  // First half, then wait for some windows to be confirmed.
  size_t i = 0;
  for (; i < lines.size() / 2; ++i) ASSERT_TRUE(agent->WriteStdin(lines[i] + "\n"));
  ASSERT_TRUE(WaitFor([&] { return peer.received_count() >= 10; }, 20s)) << agent->Log();
  // Mid-burst: more lines on their way, then kill -9 without warning.
  std::string chunk;
  for (; i < lines.size() * 3 / 4; ++i) chunk += lines[i] + "\n";
  agent->WriteStdin(chunk);
  agent->Signal(SIGKILL);
  EXPECT_EQ(agent->Wait(), 128 + SIGKILL);
  const size_t before_restart = peer.received_count();

  // Restart; the firmware replays its buffer from the start (the agent
  // refuses what it already committed as late).
  agent = std::make_unique<ChildProcess>(
      std::vector<std::string>{BinPath("sentinelle-agent"), "--config", cfg}, dir.File("a2.log"));
  ASSERT_TRUE(agent->Start(true));
  std::string all;
  for (const auto& l : lines) all += l + "\n";
  ASSERT_TRUE(agent->WriteStdin(all));
  ASSERT_TRUE(WaitFor([&] {
    std::map<int64_t, int64_t> w;
    for (const auto& r : peer.received()) w.emplace(r.window_end_s, r.seq);
    return w.size() == kWindows;
  }, 30s)) << agent->Log();
  ASSERT_TRUE(WaitFor([&] { return Unconfirmed(dir.File("agent.db")) == 0; }, 20s));

  // Every window exactly one seq; seqs 1..60 in window order; duplicates
  // only as re-deliveries of the same (seq, window).
  const auto got = peer.received();
  EXPECT_GE(got.size(), static_cast<size_t>(kWindows));
  EXPECT_GT(before_restart, 0u);
  std::map<int64_t, int64_t> window_of_seq;
  std::map<int64_t, int64_t> seq_of_window;
  std::set<std::string> boots;
  for (const auto& r : got) {
    auto [a, new_seq] = window_of_seq.emplace(r.seq, r.window_end_s);
    EXPECT_EQ(a->second, r.window_end_s) << "seq " << r.seq;
    auto [b, new_window] = seq_of_window.emplace(r.window_end_s, r.seq);
    EXPECT_EQ(b->second, r.seq) << "window " << r.window_end_s;
    boots.insert(r.boot_id);
  }
  ASSERT_EQ(window_of_seq.size(), static_cast<size_t>(kWindows));
  int64_t expect = 1;
  for (const auto& [seq, end] : window_of_seq) {
    EXPECT_EQ(seq, expect);
    EXPECT_EQ(end, test::kT0s + 300 * seq);
    ++expect;
  }
  EXPECT_EQ(boots.size(), 2u);  // windows made by both processes
  // Graceful stop: exit 0.
  agent->Signal(SIGTERM);
  EXPECT_EQ(agent->Wait(), 0) << agent->Log();
}

TEST(AgentProcessTest, UnixSocketInputAndGracefulSigterm) {
  TempDir dir;
  MosquittoBroker broker;
  ASSERT_TRUE(broker.Start()) << broker.Log();
  AckPeer peer(broker.uri());
  ASSERT_TRUE(peer.Connect());
  const Topics topics;
  ASSERT_TRUE(peer.SubscribeRaw(topics.Status("st-proc")));
  const std::string sock = dir.File("sensor.sock");
  const std::string cfg = WriteConfig(
      dir, {{"input", {{"kind", "unix"}, {"unix_path", sock}}}, {"mqtt", {{"uri", broker.uri()}}}});
  ChildProcess agent({BinPath("sentinelle-agent"), "--config", cfg}, dir.File("agent.log"));
  ASSERT_TRUE(agent.Start());
  ASSERT_TRUE(WaitFor([&] { return access(sock.c_str(), F_OK) == 0; })) << agent.Log();
  const int fd = socket(AF_UNIX, SOCK_STREAM, 0);
  sockaddr_un addr{};
  addr.sun_family = AF_UNIX;
  std::strncpy(addr.sun_path, sock.c_str(), sizeof(addr.sun_path) - 1);
  ASSERT_TRUE(WaitFor([&] { return connect(fd, reinterpret_cast<sockaddr*>(&addr), sizeof(addr)) == 0; }));
  std::string data;
  for (const auto& l : test::Burst(0, 4)) data += l + "\n";
  ASSERT_EQ(write(fd, data.data(), data.size()), static_cast<ssize_t>(data.size()));
  ASSERT_TRUE(WaitFor([&] { return peer.received_count() >= 4; }, 15s)) << agent.Log();
  ASSERT_TRUE(WaitFor([&] {
    auto s = DecodeStatus(peer.LastRaw(topics.Status("st-proc")), "st-proc");
    return s && s->state == "online";
  }));
  // A tcp:// station that downloads no model never maps OpenSSL, paho's TLS
  // build or libcurl (loaded on first use; docs/PERFORMANCE.md, "Resident
  // memory"), and runs paho's plain build.
  const std::string maps = MappedFiles(agent.pid());
  EXPECT_NE(maps.find("libpaho-mqtt3a.so"), std::string::npos) << maps;
  for (const char* lib : {"libcrypto.so", "libssl.so", "libpaho-mqtt3as.so", "libcurl"}) {
    EXPECT_EQ(maps.find(lib), std::string::npos) << lib << " is mapped:\n" << maps;
  }
  agent.Signal(SIGTERM);
  EXPECT_EQ(agent.Wait(), 0) << agent.Log();
  close(fd);
  ASSERT_TRUE(WaitFor([&] {
    auto s = DecodeStatus(peer.LastRaw(topics.Status("st-proc")), "st-proc");
    return s && s->state == "offline";
  }));
  EXPECT_NE(access(sock.c_str(), F_OK), 0);  // socket file removed
  EXPECT_EQ(Unconfirmed(dir.File("agent.db")), 0);
}

}  // namespace
}  // namespace sentinelle::agent
