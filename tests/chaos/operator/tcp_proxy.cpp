// The cuttable TCP forwarder (see tcp_proxy.h): one poll() loop over the
// listening socket, a wake-up pipe and both ends of every link.
#include "tcp_proxy.h"

#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cerrno>
#include <stdexcept>
#include <tuple>

namespace shoal::chaos {

namespace {
sockaddr_in loopback(int port) {
  sockaddr_in a{};
  a.sin_family = AF_INET;
  a.sin_port = htons(static_cast<uint16_t>(port));
  a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  return a;
}

// Writes all of buf (blocking); false if the peer is gone.
bool writeAll(int fd, const char* buf, ssize_t n) {
  while (n > 0) {
    ssize_t w = ::send(fd, buf, static_cast<size_t>(n), MSG_NOSIGNAL);
    if (w < 0 && errno == EINTR) continue;
    if (w <= 0) return false;
    buf += w;
    n -= w;
  }
  return true;
}
}  // namespace

TcpProxy::TcpProxy(int upstreamPort) : upstreamPort_(upstreamPort) {
  listenFd_ = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  int one = 1;
  ::setsockopt(listenFd_, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
  sockaddr_in a = loopback(0);
  if (listenFd_ < 0 || ::bind(listenFd_, reinterpret_cast<sockaddr*>(&a), sizeof a) != 0 ||
      ::listen(listenFd_, 64) != 0) {
    throw std::runtime_error("tcp proxy: cannot listen");
  }
  socklen_t len = sizeof a;
  ::getsockname(listenFd_, reinterpret_cast<sockaddr*>(&a), &len);
  port_ = ntohs(a.sin_port);
  if (::pipe2(wakePipe_, O_CLOEXEC | O_NONBLOCK) != 0) throw std::runtime_error("tcp proxy: pipe");
  thread_ = std::thread([this] { run(); });
}

TcpProxy::~TcpProxy() {
  stop_ = true;
  wake();
  thread_.join();
  closeAll();
  ::close(listenFd_);
  ::close(wakePipe_[0]);
  ::close(wakePipe_[1]);
}

void TcpProxy::cut() {
  cut_ = true;
  wake();
}

void TcpProxy::restore() {
  cut_ = false;
  wake();
}

void TcpProxy::wake() {
  char c = 1;
  [[maybe_unused]] auto r = ::write(wakePipe_[1], &c, 1);
}

void TcpProxy::closeAll() {
  for (auto& l : links_) {
    ::close(l.client);
    ::close(l.upstream);
  }
  links_.clear();
}

void TcpProxy::run() {
  std::vector<char> buf(64 * 1024);
  while (!stop_) {
    if (cut_) closeAll();
    std::vector<pollfd> fds;
    fds.push_back({wakePipe_[0], POLLIN, 0});
    fds.push_back({listenFd_, POLLIN, 0});
    for (auto& l : links_) {
      fds.push_back({l.client, POLLIN, 0});
      fds.push_back({l.upstream, POLLIN, 0});
    }
    if (::poll(fds.data(), fds.size(), 1000) < 0) continue;
    if (fds[0].revents) {
      char drain[64];
      while (::read(wakePipe_[0], drain, sizeof drain) > 0) {
      }
      continue;  // re-check cut_/stop_ before moving bytes
    }
    if (fds[1].revents & POLLIN) {
      int c = ::accept4(listenFd_, nullptr, nullptr, SOCK_CLOEXEC);
      if (c >= 0) {
        int u = cut_ ? -1 : ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
        sockaddr_in a = loopback(upstreamPort_);
        if (u >= 0 && ::connect(u, reinterpret_cast<sockaddr*>(&a), sizeof a) == 0) {
          int one = 1;
          ::setsockopt(c, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
          ::setsockopt(u, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
          links_.push_back({c, u});
        } else {
          if (u >= 0) ::close(u);
          ::close(c);
          if (cut_) ++refused_;
        }
      }
    }
    // Links are polled in the order they were pushed; walk backwards so a
    // closed link can be erased without disturbing the indexes still to visit.
    for (size_t i = links_.size(); i-- > 0;) {
      const pollfd& pc = fds[2 + 2 * i];
      const pollfd& pu = fds[3 + 2 * i];
      bool open = true;
      for (auto [from, ev, to] : {std::tuple{links_[i].client, pc.revents, links_[i].upstream},
                                  std::tuple{links_[i].upstream, pu.revents, links_[i].client}}) {
        if (!open || !(ev & (POLLIN | POLLHUP | POLLERR))) continue;
        ssize_t n = ::recv(from, buf.data(), buf.size(), 0);
        if (n <= 0 || !writeAll(to, buf.data(), n)) open = false;
      }
      if (!open) {
        ::close(links_[i].client);
        ::close(links_[i].upstream);
        links_.erase(links_.begin() + static_cast<std::ptrdiff_t>(i));
      }
    }
  }
}

}  // namespace shoal::chaos
