// FetchToFile against a real HTTP server (civetweb) on loopback.
#include "sentinelle/fetch.h"

#include <civetweb.h>
#include <gtest/gtest.h>

#include <atomic>
#include <cstring>
#include <string>

#include "process.h"

namespace sentinelle {
namespace {

struct ServerState {
  std::string body;
  std::atomic<int> requests{0};
  std::atomic<bool> cut_first{false};   // first response stops halfway
  std::atomic<bool> ignore_range{false};
  std::string last_auth;
};

int Handle(mg_connection* conn, void* data) {
  auto* s = static_cast<ServerState*>(data);
  const int n = ++s->requests;
  const mg_request_info* ri = mg_get_request_info(conn);
  if (std::strcmp(ri->local_uri, "/missing") == 0) {
    mg_printf(conn, "HTTP/1.1 404 Not Found\r\nContent-Length: 0\r\nConnection: close\r\n\r\n");
    return 404;
  }
  const char* auth = mg_get_header(conn, "Authorization");
  s->last_auth = auth ? auth : "";
  size_t from = 0;
  const char* range = mg_get_header(conn, "Range");
  if (range && !s->ignore_range) from = std::stoul(std::string(range).substr(6));
  const std::string rest = s->body.substr(from);
  if (from > 0) {
    mg_printf(conn,
              "HTTP/1.1 206 Partial Content\r\nContent-Length: %zu\r\nContent-Range: bytes "
              "%zu-%zu/%zu\r\nConnection: close\r\n\r\n",
              rest.size(), from, s->body.size() - 1, s->body.size());
  } else {
    mg_printf(conn, "HTTP/1.1 200 OK\r\nContent-Length: %zu\r\nConnection: close\r\n\r\n",
              rest.size());
  }
  const size_t send = (n == 1 && s->cut_first) ? rest.size() / 2 : rest.size();
  mg_write(conn, rest.data(), send);
  return from > 0 ? 206 : 200;
}

class FetchTest : public ::testing::Test {
 protected:
  void SetUp() override {
    port_ = testing::FreeLoopbackPort();
    const std::string ports = "127.0.0.1:" + std::to_string(port_);
    const char* options[] = {"listening_ports", ports.c_str(), "num_threads", "2", nullptr};
    for (int i = 0; i < 3000; ++i) state_.body.push_back(static_cast<char>('a' + i % 26));
    ctx_ = mg_start(nullptr, nullptr, options);
    ASSERT_NE(ctx_, nullptr);
    mg_set_request_handler(ctx_, "/", Handle, &state_);
  }
  void TearDown() override { mg_stop(ctx_); }
  std::string Url(const char* path) {
    return "http://127.0.0.1:" + std::to_string(port_) + path;
  }
  testing::TempDir dir_;
  ServerState state_;
  mg_context* ctx_ = nullptr;
  int port_ = 0;
};

TEST_F(FetchTest, DownloadsCompletelyAndSendsToken) {
  FetchOptions o;
  o.bearer_token = "t0k";
  auto r = FetchToFile(Url("/model"), dir_.File("m.json"), o);
  ASSERT_TRUE(r) << r.message();
  EXPECT_EQ(r->bytes, 3000);
  EXPECT_EQ(*ReadFile(dir_.File("m.json")), state_.body);
  EXPECT_EQ(state_.last_auth, "Bearer t0k");
}

TEST_F(FetchTest, ResumesAfterACutTransfer) {
  state_.cut_first = true;
  FetchOptions o;
  o.total_timeout_ms = 3000;
  auto first = FetchToFile(Url("/model"), dir_.File("m.json"), o);
  ASSERT_FALSE(first);
  EXPECT_FALSE(ReadFile(dir_.File("m.json")));  // never a partial file under the real name
  auto second = FetchToFile(Url("/model"), dir_.File("m.json"), o);
  ASSERT_TRUE(second) << second.message();
  EXPECT_EQ(second->resumed_from, 1500);
  EXPECT_EQ(second->http_status, 206);
  EXPECT_EQ(*ReadFile(dir_.File("m.json")), state_.body);
}

TEST_F(FetchTest, ServerIgnoringRangeDoesNotCorrupt) {
  state_.cut_first = true;
  state_.ignore_range = true;
  FetchOptions o;
  o.total_timeout_ms = 3000;
  ASSERT_FALSE(FetchToFile(Url("/model"), dir_.File("m.json"), o));
  ASSERT_FALSE(FetchToFile(Url("/model"), dir_.File("m.json"), o));  // 200 to a range: restart
  auto third = FetchToFile(Url("/model"), dir_.File("m.json"), o);
  ASSERT_TRUE(third) << third.message();
  EXPECT_EQ(*ReadFile(dir_.File("m.json")), state_.body);
}

TEST_F(FetchTest, SizeCapStatusAndRefusedConnection) {
  FetchOptions small;
  small.max_bytes = 1000;
  auto r = FetchToFile(Url("/model"), dir_.File("m.json"), small);
  ASSERT_FALSE(r);
  EXPECT_NE(r.message().find("exceeds"), std::string::npos);
  auto nf = FetchToFile(Url("/missing"), dir_.File("x"));
  ASSERT_FALSE(nf);
  EXPECT_NE(nf.message().find("404"), std::string::npos);
  FetchOptions quick;
  quick.connect_timeout_ms = 1000;
  EXPECT_FALSE(FetchToFile("http://127.0.0.1:" + std::to_string(testing::FreeLoopbackPort()) + "/",
                           dir_.File("y"), quick));
  EXPECT_FALSE(FetchToFile("file:///etc/hostname", dir_.File("z")));
}

TEST(WriteFileAtomicTest, ReplacesWholeFile) {
  testing::TempDir dir;
  ASSERT_TRUE(WriteFileAtomic(dir.File("a"), "first version"));
  ASSERT_TRUE(WriteFileAtomic(dir.File("a"), "v2"));
  EXPECT_EQ(*ReadFile(dir.File("a")), "v2");
  EXPECT_FALSE(WriteFileAtomic("/nonexistent/a", "x"));
  EXPECT_FALSE(ReadFile(dir.File("a"), 1));
}

}  // namespace
}  // namespace sentinelle
