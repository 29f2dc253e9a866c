// SyslogListener: one thread per listening socket, poll() over it and its
// connections (see listener.h for the design and the back-pressure rules).
#include "shoal/syslog_input/listener.h"

#include <fcntl.h>
#include <netdb.h>
#include <netinet/in.h>
#include <openssl/err.h>
#include <openssl/ssl.h>
#include <poll.h>
#include <sys/eventfd.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cerrno>
#include <csignal>
#include <cstring>
#include <list>
#include <mutex>
#include <optional>
#include <thread>

#include "shoal/common/log.h"

namespace shoal::syslog_input {
namespace {

std::string sslErrorText() {
  unsigned long e = ERR_get_error();
  ERR_clear_error();
  if (e == 0) return "unknown TLS error";
  char buf[256];
  ERR_error_string_n(e, buf, sizeof buf);
  return buf;
}

void ignoreSigpipeIfDefault() {
  struct sigaction current {};
  if (sigaction(SIGPIPE, nullptr, &current) == 0 && current.sa_handler == SIG_DFL) {
    std::signal(SIGPIPE, SIG_IGN);
  }
}

int pollMs(Duration d) {
  auto ms = std::chrono::duration_cast<std::chrono::milliseconds>(d).count();
  if (ms < 0) return 0;
  return static_cast<int>(std::min<int64_t>(ms, 1 << 30));
}

// A listening socket bound as asked, non-blocking.
Result<int> bindSocket(const ListenerOptions& o) {
  addrinfo hints{};
  hints.ai_family = AF_UNSPEC;
  hints.ai_socktype = o.transport == Transport::kUdp ? SOCK_DGRAM : SOCK_STREAM;
  hints.ai_flags = AI_PASSIVE | AI_NUMERICSERV;
  addrinfo* res = nullptr;
  std::string port = std::to_string(o.port);
  int rc = getaddrinfo(o.bindAddress.empty() ? nullptr : o.bindAddress.c_str(), port.c_str(), &hints,
                       &res);
  if (rc != 0) {
    return makeError(Errc::kInvalidInput, "syslog: cannot resolve bind address '" + o.bindAddress +
                                              "': " + gai_strerror(rc));
  }
  std::string lastError = "no address";
  int fd = -1;
  for (addrinfo* a = res; a; a = a->ai_next) {
    fd = ::socket(a->ai_family, a->ai_socktype | SOCK_NONBLOCK | SOCK_CLOEXEC, a->ai_protocol);
    if (fd < 0) {
      lastError = std::strerror(errno);
      continue;
    }
    int one = 1;
    if (o.transport != Transport::kUdp) setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
    if (o.transport == Transport::kUdp) {
      setsockopt(fd, SOL_SOCKET, SO_RXQ_OVFL, &one, sizeof one);
      if (o.udpReceiveBufferBytes > 0) {
        int size = static_cast<int>(std::min<size_t>(o.udpReceiveBufferBytes, 1 << 30));
        setsockopt(fd, SOL_SOCKET, SO_RCVBUF, &size, sizeof size);  // best effort, capped by rmem_max
      }
    }
    if (::bind(fd, a->ai_addr, a->ai_addrlen) == 0 &&
        (o.transport == Transport::kUdp || ::listen(fd, 128) == 0)) {
      break;
    }
    lastError = std::strerror(errno);
    ::close(fd);
    fd = -1;
  }
  freeaddrinfo(res);
  if (fd < 0) {
    return makeError(Errc::kIo, "syslog " + std::string(transportName(o.transport)) + ": cannot listen on " +
                                    o.bindAddress + ":" + port + ": " + lastError);
  }
  return fd;
}

int boundPort(int fd) {
  sockaddr_storage ss{};
  socklen_t len = sizeof ss;
  if (getsockname(fd, reinterpret_cast<sockaddr*>(&ss), &len) != 0) return 0;
  if (ss.ss_family == AF_INET) return ntohs(reinterpret_cast<sockaddr_in*>(&ss)->sin_port);
  if (ss.ss_family == AF_INET6) return ntohs(reinterpret_cast<sockaddr_in6*>(&ss)->sin6_port);
  return 0;
}

// The counters, written by the listener's thread, read by anyone.
struct Counters {
  std::atomic<uint64_t> connectionsAccepted{0}, connectionsRefused{0}, connectionsOpen{0};
  std::atomic<uint64_t> closedIdle{0}, closedReadTimeout{0}, closedBadOctetCount{0};
  std::atomic<uint64_t> tlsHandshakeFailures{0}, framesAccepted{0}, framesRejected{0};
  std::atomic<uint64_t> pauses{0}, udpDropped{0}, udpKernelDropped{0}, lostAtStop{0};
};

struct Connection {
  int fd = -1;
  SSL* ssl = nullptr;
  bool handshakeDone = true;
  bool wantWrite = false;  // TLS asked for writability before it can go on
  bool moreBuffered = false;  // TLS holds decrypted bytes poll() cannot see
  bool closing = false;
  FrameDecoder decoder;
  MonoTime lastActivity;
  std::optional<MonoTime> partialSince;  // a frame (or the handshake) is unfinished since

  explicit Connection(const DecoderOptions& o) : decoder(o) {}
  ~Connection() {
    if (ssl) {
      SSL_shutdown(ssl);  // best-effort close_notify; the socket is non-blocking
      SSL_free(ssl);
    }
    if (fd >= 0) ::close(fd);
  }
  Connection(const Connection&) = delete;
  Connection& operator=(const Connection&) = delete;
};

}  // namespace

std::string_view transportName(Transport t) {
  switch (t) {
    case Transport::kTcp: return "tcp";
    case Transport::kUdp: return "udp";
    case Transport::kTls: return "tls";
  }
  return "?";
}

struct SyslogListener::Impl {
  ListenerOptions o;
  FrameSink& sink;
  Clock& clock;
  Counters n;
  int listenFd = -1;
  int wakeFd = -1;
  int port = 0;
  SSL_CTX* ctx = nullptr;
  std::thread thread;
  std::mutex stopMu;  // serialises start/stop
  std::atomic<bool> stopping{false};
  std::atomic<bool> resumeRequested{false};
  std::atomic<int64_t> graceNs{0};

  // Listener-thread state.
  std::list<Connection> conns;
  std::vector<Frame> batch;  // read this round, or held while paused
  bool paused = false;
  MonoTime nextRetry{};
  bool atLimitLogged = false;
  bool acceptFailing = false;   // logged once per episode
  bool skipAcceptOnce = false;  // leave the listening socket out of the next poll
  uint64_t udpDropsThisPause = 0;
  size_t roundStart = 0;
  std::vector<char> readBuf;

  Impl(ListenerOptions opts, FrameSink& s)
      : o(std::move(opts)), sink(s), clock(o.clock ? *o.clock : SystemClock::instance()) {}
  ~Impl() {
    if (ctx) SSL_CTX_free(ctx);
    if (listenFd >= 0) ::close(listenFd);
    if (wakeFd >= 0) ::close(wakeFd);
  }

  nlohmann::json fields() const {
    return {{"transport", std::string(transportName(o.transport))}, {"port", port}};
  }

  void wake() {
    uint64_t one = 1;
    [[maybe_unused]] auto w = ::write(wakeFd, &one, sizeof one);
  }
  void drainWake() {
    uint64_t v;
    [[maybe_unused]] auto r = ::read(wakeFd, &v, sizeof v);
  }

  Result<void> loadTls() {
    ctx = SSL_CTX_new(TLS_server_method());
    if (!ctx) return makeError(Errc::kIo, "syslog tls: " + sslErrorText());
    SSL_CTX_set_min_proto_version(ctx, TLS1_2_VERSION);
    if (o.tlsCertFile.empty() || o.tlsKeyFile.empty()) {
      return makeError(Errc::kInvalidInput, "syslog tls: a certificate and a key file are required");
    }
    if (SSL_CTX_use_certificate_chain_file(ctx, o.tlsCertFile.c_str()) != 1) {
      return makeError(Errc::kInvalidInput,
                       "syslog tls: certificate " + o.tlsCertFile + ": " + sslErrorText());
    }
    if (SSL_CTX_use_PrivateKey_file(ctx, o.tlsKeyFile.c_str(), SSL_FILETYPE_PEM) != 1 ||
        SSL_CTX_check_private_key(ctx) != 1) {
      return makeError(Errc::kInvalidInput, "syslog tls: key " + o.tlsKeyFile + ": " + sslErrorText());
    }
    ignoreSigpipeIfDefault();
    return {};
  }

  // ---- offering to the sink ----------------------------------------------

  void countTaken(const std::vector<Frame>& frames) {
    uint64_t ok = 0;
    for (const auto& f : frames) ok += f.ok() ? 1 : 0;
    n.framesAccepted += ok;
    n.framesRejected += frames.size() - ok;
  }

  // Offers `batch`; true if the sink took it (the batch is then empty).
  bool offerBatch() {
    if (batch.empty()) return true;
    if (sink.offer(o.transport, batch) == Accept::kPaused) {
      ++n.pauses;
      return false;
    }
    countTaken(batch);
    batch.clear();
    return true;
  }

  void pause() {
    if (!paused) log::warn("syslog: sink paused, not reading connections", fields());
    paused = true;
    nextRetry = clock.now() + o.pauseRetry;
  }

  void unpause() {
    paused = false;
    // The silence while paused was ours: timeouts start again from now.
    MonoTime now = clock.now();
    for (auto& c : conns) {
      c.lastActivity = now;
      if (c.partialSince) c.partialSince = now;
    }
    log::info("syslog: sink resumed, reading connections", fields());
  }

  // ---- stream listeners (TCP, TLS) ---------------------------------------

  void acceptAll() {
    for (int i = 0; i < 64; ++i) {
      int fd = ::accept4(listenFd, nullptr, nullptr, SOCK_NONBLOCK | SOCK_CLOEXEC);
      if (fd < 0) {
        if (errno != EAGAIN && errno != EWOULDBLOCK && errno != EINTR && errno != ECONNABORTED) {
          // Out of descriptors (EMFILE, ENFILE) the pending connection stays
          // and poll would report it at once again: leave the listening
          // socket out of the next poll so the loop waits instead of spinning.
          if (!acceptFailing) {
            log::warn("syslog: accept failed", {{"error", std::strerror(errno)}, {"port", port}});
          }
          acceptFailing = true;
          skipAcceptOnce = true;
        }
        return;
      }
      acceptFailing = false;
      if (conns.size() >= o.maxConnections) {
        ::close(fd);
        ++n.connectionsRefused;
        if (!atLimitLogged) {
          auto f = fields();
          f["maxConnections"] = o.maxConnections;
          log::warn("syslog: connection limit reached, refusing connections", f);
          atLimitLogged = true;
        }
        continue;
      }
      atLimitLogged = false;
      conns.emplace_back(o.framing);
      Connection& c = conns.back();
      c.fd = fd;
      c.lastActivity = clock.now();
      if (o.transport == Transport::kTls) {
        c.ssl = SSL_new(ctx);
        SSL_set_fd(c.ssl, fd);
        SSL_set_accept_state(c.ssl);
        c.handshakeDone = false;
        c.partialSince = c.lastActivity;
      }
      ++n.connectionsAccepted;
      ++n.connectionsOpen;
    }
  }

  void closeConn(Connection& c, std::atomic<uint64_t>* reason, const char* why) {
    if (c.closing) return;
    c.closing = true;
    c.decoder.abandon(batch);
    if (reason) {
      ++*reason;
      auto f = fields();
      f["reason"] = why;
      log::info("syslog: closing connection", f);
    }
  }

  void handshake(Connection& c) {
    int rc = SSL_accept(c.ssl);
    if (rc == 1) {
      c.handshakeDone = true;
      c.partialSince.reset();
      return;
    }
    int err = SSL_get_error(c.ssl, rc);
    if (err == SSL_ERROR_WANT_READ || err == SSL_ERROR_WANT_WRITE) {
      c.wantWrite = err == SSL_ERROR_WANT_WRITE;
      return;
    }
    ++n.tlsHandshakeFailures;
    auto f = fields();
    f["error"] = err == SSL_ERROR_SSL ? sslErrorText() : "connection closed during handshake";
    ERR_clear_error();
    log::info("syslog: TLS handshake failed", f);
    SSL_free(c.ssl);  // no close_notify after a failed handshake
    c.ssl = nullptr;
    c.closing = true;
  }

  // Reads once (TLS: until readBytes or nothing buffered) and decodes into
  // batch. Returns the bytes read.
  size_t readConn(Connection& c, MonoTime now) {
    if (c.ssl && !c.handshakeDone) {
      handshake(c);
      if (c.closing || !c.handshakeDone) return 0;
    }
    c.wantWrite = false;
    c.moreBuffered = false;
    size_t before = batch.size();
    size_t total = 0;
    bool eof = false, broken = false;
    while (total < o.readBytes) {
      ssize_t got;
      if (c.ssl) {
        int r = SSL_read(c.ssl, readBuf.data(), static_cast<int>(readBuf.size()));
        if (r <= 0) {
          int err = SSL_get_error(c.ssl, r);
          if (err == SSL_ERROR_WANT_READ) break;
          if (err == SSL_ERROR_WANT_WRITE) {
            c.wantWrite = true;
            break;
          }
          if (err == SSL_ERROR_ZERO_RETURN) {
            eof = true;
          } else {
            ERR_clear_error();
            broken = true;
          }
          break;
        }
        got = r;
      } else {
        got = ::recv(c.fd, readBuf.data(), readBuf.size(), 0);
        if (got == 0) {
          eof = true;
          break;
        }
        if (got < 0) {
          if (errno != EAGAIN && errno != EWOULDBLOCK && errno != EINTR) broken = true;
          break;
        }
      }
      total += static_cast<size_t>(got);
      c.decoder.feed(std::string_view(readBuf.data(), static_cast<size_t>(got)), batch);
      if (c.decoder.failed() || !c.ssl) break;  // plain TCP: one read per round
    }
    if (total > 0) c.lastActivity = now;
    if (c.ssl && !eof && !broken && total >= o.readBytes) c.moreBuffered = true;
    if (c.decoder.failed()) {
      closeConn(c, &n.closedBadOctetCount, "bad_octet_count");
    } else if (eof) {
      c.decoder.finish(batch);
      c.closing = true;
    } else if (broken) {
      closeConn(c, nullptr, "read error");
    } else if (!c.decoder.hasPartial()) {
      c.partialSince.reset();
    } else if (!c.partialSince || batch.size() > before) {
      c.partialSince = now;  // a new frame began in this read
    }
    return total;
  }

  void checkTimeouts(MonoTime now) {
    for (auto& c : conns) {
      if (c.closing) continue;
      if (c.partialSince && now - *c.partialSince >= o.readTimeout) {
        closeConn(c, &n.closedReadTimeout, "read_timeout");
      } else if (now - c.lastActivity >= o.idleTimeout) {
        closeConn(c, &n.closedIdle, "idle_timeout");
      }
    }
  }

  void reap() {
    for (auto it = conns.begin(); it != conns.end();) {
      if (it->closing) {
        it = conns.erase(it);
        --n.connectionsOpen;
      } else {
        ++it;
      }
    }
  }

  // How long poll may wait: until the next deadline, at most pollInterval.
  Duration pollWait(MonoTime now) const {
    Duration wait = o.pollInterval;
    if (paused) return std::min(wait, nextRetry - now);
    for (const auto& c : conns) {
      if (c.moreBuffered) return Duration::zero();
      wait = std::min(wait, c.lastActivity + o.idleTimeout - now);
      if (c.partialSince) wait = std::min(wait, *c.partialSince + o.readTimeout - now);
    }
    return wait;
  }

  void runStream() {
    std::vector<pollfd> fds;
    std::vector<Connection*> polled;
    while (!stopping.load()) {
      MonoTime now = clock.now();
      fds.clear();
      polled.clear();
      fds.push_back({wakeFd, POLLIN, 0});
      fds.push_back({skipAcceptOnce ? -1 : listenFd, POLLIN, 0});
      skipAcceptOnce = false;
      // While paused connections are left out of poll altogether: even with no
      // events asked for, a reset peer would report POLLHUP on every round.
      for (auto& c : conns) {
        if (paused) break;
        fds.push_back({c.fd, static_cast<short>(POLLIN | (c.wantWrite ? POLLOUT : 0)), 0});
        polled.push_back(&c);
      }
      int rc = ::poll(fds.data(), fds.size(), pollMs(pollWait(now)));
      if (rc < 0 && errno != EINTR) {
        log::error("syslog: poll failed", {{"error", std::strerror(errno)}});
        return;
      }
      if (stopping.load()) break;
      if (fds[0].revents) drainWake();
      now = clock.now();
      if (fds[1].revents & POLLIN) acceptAll();
      if (paused) {
        if (resumeRequested.exchange(false) || now >= nextRetry) {
          if (offerBatch()) {
            unpause();
          } else {
            nextRetry = now + o.pauseRetry;
          }
        }
        if (paused) continue;
      }
      // One round reads at most maxRoundBytes, starting one connection later
      // each round so none starves; poll reports the rest again.
      size_t roundBytes = 0;
      for (size_t k = 0; k < polled.size() && roundBytes < o.maxRoundBytes; ++k) {
        size_t i = (roundStart + k) % polled.size();
        Connection& c = *polled[i];
        short re = fds[i + 2].revents;
        if (c.moreBuffered || (re & (POLLIN | POLLOUT | POLLHUP | POLLERR))) roundBytes += readConn(c, now);
      }
      roundStart = polled.empty() ? 0 : (roundStart + 1) % polled.size();
      checkTimeouts(now);
      if (!offerBatch()) pause();
      reap();
    }
  }

  // ---- UDP ----------------------------------------------------------------

  void readDatagrams() {
    // SO_RXQ_OVFL: the kernel's count of datagrams it dropped on this socket
    // (receive buffer full) rides along with the next datagram read.
    alignas(cmsghdr) char control[CMSG_SPACE(sizeof(uint32_t))];
    uint64_t kernelDropsBefore = n.udpKernelDropped.load();
    for (int i = 0; i < 256; ++i) {
      iovec iov{readBuf.data(), readBuf.size()};
      msghdr msg{};
      msg.msg_iov = &iov;
      msg.msg_iovlen = 1;
      msg.msg_control = control;
      msg.msg_controllen = sizeof control;
      ssize_t got = ::recvmsg(listenFd, &msg, MSG_TRUNC | MSG_DONTWAIT);
      if (got < 0) break;
      for (cmsghdr* c = CMSG_FIRSTHDR(&msg); c; c = CMSG_NXTHDR(&msg, c)) {
        if (c->cmsg_level == SOL_SOCKET && c->cmsg_type == SO_RXQ_OVFL) {
          uint32_t drops;
          std::memcpy(&drops, CMSG_DATA(c), sizeof drops);
          n.udpKernelDropped.store(drops);
        }
      }
      size_t sent = static_cast<size_t>(got);
      std::string_view data(readBuf.data(), std::min(sent, readBuf.size()));
      if (auto f = datagramFrame(data, sent, o.framing)) batch.push_back(std::move(*f));
    }
    if (n.udpKernelDropped.load() > kernelDropsBefore) {
      auto f = fields();
      f["droppedTotal"] = n.udpKernelDropped.load();
      log::warn("syslog: the kernel dropped udp datagrams (receive buffer full)", f);
    }
  }

  void offerDatagrams() {
    if (batch.empty()) return;
    size_t count = batch.size();
    if (offerBatch()) {
      if (udpDropsThisPause > 0) {
        auto f = fields();
        f["dropped"] = udpDropsThisPause;
        log::info("syslog: sink resumed, udp drops ended", f);
        udpDropsThisPause = 0;
      }
      return;
    }
    if (udpDropsThisPause == 0) log::warn("syslog: sink paused, dropping udp datagrams", fields());
    udpDropsThisPause += count;
    n.udpDropped += count;
    batch.clear();
  }

  void runUdp() {
    while (!stopping.load()) {
      pollfd fds[2] = {{wakeFd, POLLIN, 0}, {listenFd, POLLIN, 0}};
      int rc = ::poll(fds, 2, pollMs(o.pollInterval));
      if (rc < 0 && errno != EINTR) {
        log::error("syslog: poll failed", {{"error", std::strerror(errno)}});
        return;
      }
      if (stopping.load()) break;
      if (fds[0].revents) drainWake();
      resumeRequested.store(false);
      if (fds[1].revents & POLLIN) readDatagrams();
      offerDatagrams();
    }
  }

  // ---- stop ---------------------------------------------------------------

  // The frames already read, and the partial ones as truncated, are offered
  // until the sink takes them or the grace period ends.
  void flushAtStop() {
    ::close(listenFd);
    listenFd = -1;
    for (auto& c : conns) closeConn(c, nullptr, "stop");
    MonoTime deadline = clock.now() + Duration(graceNs.load());
    while (!offerBatch()) {
      if (clock.now() >= deadline) {
        n.lostAtStop += batch.size();
        auto f = fields();
        f["frames"] = batch.size();
        log::error("syslog: sink still paused at the end of the stop grace, frames lost", f);
        batch.clear();
        break;
      }
      pollfd p{wakeFd, POLLIN, 0};
      ::poll(&p, 1, pollMs(std::min(o.pauseRetry, deadline - clock.now())));
      if (p.revents) drainWake();
    }
    reap();
  }

  void run() {
    if (o.transport == Transport::kUdp) {
      runUdp();
    } else {
      runStream();
    }
    flushAtStop();
  }
};

SyslogListener::SyslogListener(ListenerOptions o, FrameSink& sink)
    : impl_(std::make_unique<Impl>(std::move(o), sink)) {}

SyslogListener::~SyslogListener() { stop(); }

Result<void> SyslogListener::start() {
  std::lock_guard<std::mutex> lock(impl_->stopMu);
  Impl& m = *impl_;
  if (m.thread.joinable()) return makeError(Errc::kInvalidInput, "syslog: listener already started");
  if (m.o.transport == Transport::kTls) {
    auto tls = m.loadTls();
    if (!tls) return tls;
  }
  auto fd = bindSocket(m.o);
  if (!fd) return fd.error();
  m.listenFd = *fd;
  m.port = boundPort(m.listenFd);
  m.wakeFd = ::eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
  if (m.wakeFd < 0) return makeError(Errc::kIo, std::string("syslog: eventfd: ") + std::strerror(errno));
  // UDP reads whole datagrams (64 KiB is the protocol's bound); one byte
  // more than the frame limit tells an oversize stream read from a full one.
  m.readBuf.resize(m.o.transport == Transport::kUdp ? 65536 : std::max<size_t>(m.o.readBytes, 1));
  m.thread = std::thread([&m] { m.run(); });
  log::info("syslog: listening", m.fields());
  return {};
}

int SyslogListener::port() const { return impl_->port; }

void SyslogListener::resume() {
  impl_->resumeRequested.store(true);
  if (impl_->wakeFd >= 0) impl_->wake();
}

void SyslogListener::stop(Duration grace) {
  std::lock_guard<std::mutex> lock(impl_->stopMu);
  Impl& m = *impl_;
  if (!m.thread.joinable()) return;
  m.graceNs.store(grace.count());
  m.stopping.store(true);
  m.wake();
  m.thread.join();
}

ListenerStats SyslogListener::stats() const {
  const Counters& c = impl_->n;
  ListenerStats s;
  s.connectionsAccepted = c.connectionsAccepted.load();
  s.connectionsRefused = c.connectionsRefused.load();
  s.connectionsOpen = c.connectionsOpen.load();
  s.closedIdle = c.closedIdle.load();
  s.closedReadTimeout = c.closedReadTimeout.load();
  s.closedBadOctetCount = c.closedBadOctetCount.load();
  s.tlsHandshakeFailures = c.tlsHandshakeFailures.load();
  s.framesAccepted = c.framesAccepted.load();
  s.framesRejected = c.framesRejected.load();
  s.pauses = c.pauses.load();
  s.udpDropped = c.udpDropped.load();
  s.udpKernelDropped = c.udpKernelDropped.load();
  s.lostAtStop = c.lostAtStop.load();
  return s;
}

}  // namespace shoal::syslog_input
