#include "relay.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cerrno>
#include <chrono>

#include "process.h"

namespace sentinelle::testing {

namespace {

sockaddr_in Loopback(int port) {
  sockaddr_in a{};
  a.sin_family = AF_INET;
  a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  a.sin_port = htons(static_cast<uint16_t>(port));
  return a;
}

void CloseWithReset(int fd) {
  const linger l{1, 0};
  setsockopt(fd, SOL_SOCKET, SO_LINGER, &l, sizeof l);
  close(fd);
}

}  // namespace

ResettableRelay::ResettableRelay(int target_port) : target_port_(target_port) {
  listen_fd_ = socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in a = Loopback(0);
  if (listen_fd_ < 0 || bind(listen_fd_, reinterpret_cast<sockaddr*>(&a), sizeof a) != 0 ||
      listen(listen_fd_, 8) != 0) {
    return;
  }
  socklen_t len = sizeof a;
  getsockname(listen_fd_, reinterpret_cast<sockaddr*>(&a), &len);
  port_ = ntohs(a.sin_port);
  acceptor_ = std::thread([this] { AcceptLoop(); });
}

ResettableRelay::~ResettableRelay() {
  stop_ = true;
  if (acceptor_.joinable()) acceptor_.join();
  for (auto& t : relays_) t.join();
  if (listen_fd_ >= 0) close(listen_fd_);
}

bool ResettableRelay::Reset() {
  const int gen = ++generation_;
  return WaitFor([&] { return OpenBefore(gen) == 0; });
}

int ResettableRelay::OpenBefore(int gen) {
  std::lock_guard lock(mu_);
  int n = 0;
  for (auto it = open_.begin(); it != open_.end() && it->first < gen; ++it) n += it->second;
  return n;
}

void ResettableRelay::AcceptLoop() {
  while (!stop_) {
    pollfd p{listen_fd_, POLLIN, 0};
    if (poll(&p, 1, 20) <= 0) continue;
    const int client = accept(listen_fd_, nullptr, nullptr);
    if (client < 0) continue;
    const int upstream = socket(AF_INET, SOCK_STREAM, 0);
    const sockaddr_in a = Loopback(target_port_);
    if (upstream < 0 || connect(upstream, reinterpret_cast<const sockaddr*>(&a), sizeof a) != 0) {
      if (upstream >= 0) close(upstream);
      close(client);
      continue;
    }
    const int gen = generation_.load();
    {
      std::lock_guard lock(mu_);
      ++open_[gen];
    }
    relays_.emplace_back([this, client, upstream, gen] { Relay(client, upstream, gen); });
  }
}

void ResettableRelay::Relay(int client, int upstream, int gen) {
  auto reset_requested = [&] { return generation_.load() != gen; };
  char buf[16384];
  bool done = false;
  while (!stop_ && !done && !reset_requested()) {
    pollfd p[2] = {{client, POLLIN, 0}, {upstream, POLLIN, 0}};
    if (poll(p, 2, 10) <= 0) continue;
    for (int i = 0; i < 2 && !done; ++i) {
      if ((p[i].revents & (POLLIN | POLLHUP | POLLERR)) == 0) continue;
      const ssize_t n = read(p[i].fd, buf, sizeof buf);
      if (n <= 0) {
        done = true;
        break;
      }
      const int out = i == 0 ? upstream : client;
      for (ssize_t off = 0; off < n && !done;) {
        const ssize_t w =
            send(out, buf + off, static_cast<size_t>(n - off), MSG_DONTWAIT | MSG_NOSIGNAL);
        if (w > 0) {
          off += w;
        } else if (w < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) {
          if (reset_requested() || stop_) done = true;
          pollfd q{out, POLLOUT, 0};
          poll(&q, 1, 10);
        } else {
          done = true;
        }
      }
    }
  }
  if (reset_requested()) {
    CloseWithReset(client);
    CloseWithReset(upstream);
  } else {
    close(client);
    close(upstream);
  }
  std::lock_guard lock(mu_);
  --open_[gen];
}

RepeatingThread::RepeatingThread(std::function<bool()> step)
    : thread_([this, step = std::move(step)] {
        while (running_) {
          if (!step()) std::this_thread::sleep_for(std::chrono::microseconds(200));
        }
      }) {}

void RepeatingThread::Stop() {
  running_ = false;
  if (thread_.joinable()) thread_.join();
}

}  // namespace sentinelle::testing
