#include "sentinelle/agent/input.h"

#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <vector>

#include "sentinelle/sensor_line.h"

namespace sentinelle::agent {

namespace {

Error SysError(const std::string& what) { return MakeError(what + ": " + std::strerror(errno)); }

struct Conn {
  int fd = -1;
  bool owned = true;  // stdin is not closed
  std::string buf;
  bool discarding = false;
};

// Splits new bytes into lines; returns false when the handler asked to stop.
void Feed(Conn& c, const char* data, size_t n, const Input::LineHandler& on_line,
          const Input::RejectHandler& on_reject) {
  size_t pos = 0;
  while (pos < n) {
    const char* nl = static_cast<const char*>(std::memchr(data + pos, '\n', n - pos));
    const size_t end = nl ? static_cast<size_t>(nl - data) : n;
    if (!c.discarding) {
      c.buf.append(data + pos, end - pos);
      if (c.buf.size() > kMaxSensorLineBytes + 1) {  // +1 tolerates a trailing '\r'
        on_reject("too_long");
        c.buf.clear();
        c.discarding = true;
      }
    }
    if (!nl) break;
    if (!c.discarding && !c.buf.empty()) {
      on_line(c.buf);
    }
    c.buf.clear();
    c.discarding = false;
    pos = end + 1;
  }
}

}  // namespace

Result<std::unique_ptr<Input>> Input::Open(const InputConfig& config) {
  std::unique_ptr<Input> in(new Input(config));
  if (pipe2(in->wake_fds_, O_CLOEXEC | O_NONBLOCK) != 0) return SysError("pipe");
  if (config.kind == InputKind::kUnix) {
    sockaddr_un addr{};
    addr.sun_family = AF_UNIX;
    if (config.unix_path.size() >= sizeof(addr.sun_path)) return MakeError("unix_path too long");
    std::strncpy(addr.sun_path, config.unix_path.c_str(), sizeof(addr.sun_path) - 1);
    in->listen_fd_ = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (in->listen_fd_ < 0) return SysError("socket");
    ::unlink(config.unix_path.c_str());  // a stale socket from a killed agent
    if (bind(in->listen_fd_, reinterpret_cast<sockaddr*>(&addr), sizeof(addr)) != 0) {
      return SysError("bind " + config.unix_path);
    }
    if (listen(in->listen_fd_, 16) != 0) return SysError("listen");
  } else if (config.kind == InputKind::kTcp) {
    in->listen_fd_ = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (in->listen_fd_ < 0) return SysError("socket");
    const int one = 1;
    setsockopt(in->listen_fd_, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
    sockaddr_in addr{};
    addr.sin_family = AF_INET;
    addr.sin_port = htons(static_cast<uint16_t>(config.tcp_port));
    addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);  // loopback only, by design
    if (bind(in->listen_fd_, reinterpret_cast<sockaddr*>(&addr), sizeof(addr)) != 0) {
      return SysError("bind 127.0.0.1:" + std::to_string(config.tcp_port));
    }
    if (listen(in->listen_fd_, 16) != 0) return SysError("listen");
    socklen_t len = sizeof(addr);
    getsockname(in->listen_fd_, reinterpret_cast<sockaddr*>(&addr), &len);
    in->port_ = ntohs(addr.sin_port);
  }
  return in;
}

Input::~Input() {
  if (listen_fd_ >= 0) ::close(listen_fd_);
  if (config_.kind == InputKind::kUnix) ::unlink(config_.unix_path.c_str());
  for (int fd : wake_fds_) {
    if (fd >= 0) ::close(fd);
  }
}

void Input::Stop() {
  stop_ = true;
  const char b = 1;
  [[maybe_unused]] ssize_t n = ::write(wake_fds_[1], &b, 1);
}

void Input::Run(const LineHandler& on_line, const RejectHandler& on_reject) {
  std::vector<Conn> conns;
  if (config_.kind == InputKind::kStdin) conns.push_back({STDIN_FILENO, false, {}, false});
  std::vector<char> chunk(64 * 1024);
  while (!stop_) {
    std::vector<pollfd> fds;
    fds.push_back({wake_fds_[0], POLLIN, 0});
    if (listen_fd_ >= 0) fds.push_back({listen_fd_, POLLIN, 0});
    const size_t first_conn = fds.size();
    for (const Conn& c : conns) fds.push_back({c.fd, POLLIN, 0});
    const int rc = ::poll(fds.data(), fds.size(), -1);
    if (rc < 0) {
      if (errno == EINTR) continue;
      break;
    }
    if (fds[0].revents != 0) break;
    const size_t polled = conns.size();  // a connection accepted below was not polled yet
    if (listen_fd_ >= 0 && (fds[1].revents & POLLIN)) {
      const int fd = ::accept4(listen_fd_, nullptr, nullptr, SOCK_CLOEXEC);
      if (fd >= 0) {
        if (conns.size() >= static_cast<size_t>(config_.max_clients)) {
          on_reject("overflow");
          ::close(fd);
        } else {
          conns.push_back({fd, true, {}, false});
        }
      }
    }
    std::vector<size_t> closed;
    for (size_t i = 0; i < polled; ++i) {
      const short ev = fds[first_conn + i].revents;
      if (ev == 0) continue;
      const ssize_t n = ::read(conns[i].fd, chunk.data(), chunk.size());
      if (n > 0) {
        Feed(conns[i], chunk.data(), static_cast<size_t>(n), on_line, on_reject);
      } else if (n == 0 || (errno != EINTR && errno != EAGAIN)) {
        // End of stream: a final line without '\n' still counts.
        if (!conns[i].discarding && !conns[i].buf.empty()) on_line(conns[i].buf);
        closed.push_back(i);
      }
      if (stop_) break;
    }
    for (auto it = closed.rbegin(); it != closed.rend(); ++it) {
      Conn& c = conns[*it];
      if (!c.owned) {
        eof_ = true;
        return;
      }
      ::close(c.fd);
      conns.erase(conns.begin() + static_cast<std::ptrdiff_t>(*it));
    }
  }
  for (Conn& c : conns) {
    if (c.owned) ::close(c.fd);
  }
}

}  // namespace sentinelle::agent
