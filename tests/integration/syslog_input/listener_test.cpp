// SyslogListener with real clients on loopback: the exact frames logger,
// Python's SysLogHandler and openssl s_client send arrive; a paused sink
// stalls a TCP sender and loses nothing; UDP drops are counted; bad input,
// limits and timeouts each have their one outcome.
#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <openssl/ssl.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <gtest/gtest.h>

#include <condition_variable>
#include <cstring>
#include <fstream>
#include <functional>
#include <mutex>
#include <thread>

#include "shoal/syslog_input/facility.h"
#include "shoal/syslog_input/listener.h"
#include "shoal/testing/process.h"
#include "shoal/testing/servers.h"
#include "shoal/testing/syslog_clients.h"

namespace shoal::syslog_input {
namespace {

using shoal::testing::runCommand;
using shoal::testing::TempDir;
using shoal::testing::waitUntil;
using namespace std::chrono_literals;

// Keeps every frame it takes, in order; refuses everything while paused.
class CollectingSink : public FrameSink {
 public:
  Accept offer(Transport from, std::vector<Frame>& frames) override {
    std::lock_guard<std::mutex> lock(mu_);
    if (paused_) {
      ++refused_;
      return Accept::kPaused;
    }
    for (auto& f : frames) frames_.push_back(std::move(f));
    from_ = from;
    return Accept::kAccepted;
  }
  void setPaused(bool p) {
    std::lock_guard<std::mutex> lock(mu_);
    paused_ = p;
  }
  std::vector<Frame> frames() const {
    std::lock_guard<std::mutex> lock(mu_);
    return frames_;
  }
  std::vector<std::string> messages() const {
    std::vector<std::string> out;
    for (const auto& f : frames()) out.push_back(f.ok() ? f.message : "!" + std::string(errorReason(f.error)));
    return out;
  }
  size_t count() const {
    std::lock_guard<std::mutex> lock(mu_);
    return frames_.size();
  }
  uint64_t refused() const {
    std::lock_guard<std::mutex> lock(mu_);
    return refused_;
  }
  Transport from() const {
    std::lock_guard<std::mutex> lock(mu_);
    return from_;
  }

 private:
  mutable std::mutex mu_;
  std::vector<Frame> frames_;
  bool paused_ = false;
  uint64_t refused_ = 0;
  Transport from_ = Transport::kTcp;
};

ListenerOptions options(Transport t) {
  ListenerOptions o;
  o.transport = t;
  o.bindAddress = "127.0.0.1";
  o.pollInterval = 20ms;
  o.pauseRetry = 50ms;
  return o;
}

std::string port(const SyslogListener& l) { return std::to_string(l.port()); }

// A plain TCP client socket to 127.0.0.1:port.
int connectTcp(int port) {
  int fd = ::socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in a{};
  a.sin_family = AF_INET;
  a.sin_port = htons(static_cast<uint16_t>(port));
  a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  if (::connect(fd, reinterpret_cast<sockaddr*>(&a), sizeof a) != 0) {
    ::close(fd);
    return -1;
  }
  return fd;
}

void sendAll(int fd, const std::string& s) {
  size_t off = 0;
  while (off < s.size()) {
    ssize_t n = ::send(fd, s.data() + off, s.size() - off, MSG_NOSIGNAL);
    ASSERT_GT(n, 0) << std::strerror(errno);
    off += static_cast<size_t>(n);
  }
}

// Whether the server closed fd (recv sees EOF or a reset) within the deadline.
bool closedByPeer(int fd, std::chrono::milliseconds deadline = 5s) {
  return waitUntil(
      [&] {
        char buf[256];
        ssize_t n = ::recv(fd, buf, sizeof buf, MSG_DONTWAIT);
        return n == 0 || (n < 0 && errno != EAGAIN && errno != EWOULDBLOCK);
      },
      deadline);
}

struct Started {
  CollectingSink sink;
  std::unique_ptr<SyslogListener> listener;
  explicit Started(ListenerOptions o) {
    listener = std::make_unique<SyslogListener>(std::move(o), sink);
    auto r = listener->start();
    EXPECT_TRUE(r.ok()) << r.error().message;
  }
};

// A listener (TCP unless the tweak says otherwise) on a ManualClock.
struct Clocked {
  ManualClock clock;
  Started s;
  explicit Clocked(const std::function<void(ListenerOptions&)>& tweak = {})
      : s([&] {
          auto o = options(Transport::kTcp);
          if (tweak) tweak(o);
          o.clock = &clock;
          return o;
        }()) {}
};

// ---- real clients --------------------------------------------------------

TEST(SyslogListener, LoggerOverTcpNewlineAndOctetCountingArrivesExactly) {
  Started s(options(Transport::kTcp));
  runCommand("logger --tcp -n 127.0.0.1 -P " + port(*s.listener) +
             " --rfc5424=notime,notq,nohost -t app 'hello newline'");
  runCommand("logger --tcp --octet-count -n 127.0.0.1 -P " + port(*s.listener) +
             " --rfc5424=notime,notq,nohost -p local0.warning -t app 'hello octets'");
  // Several messages on one connection: one per line of the file.
  TempDir dir;
  std::ofstream(dir.file("lines")) << "first\nsecond with \"quotes\"\nthird\n";
  runCommand("logger --tcp --octet-count -n 127.0.0.1 -P " + port(*s.listener) +
             " --rfc5424=notime,notq,nohost -t app -f " + dir.file("lines"));
  ASSERT_TRUE(waitUntil([&] { return s.sink.count() == 5; })) << s.sink.count();
  EXPECT_EQ(s.sink.messages(), (std::vector<std::string>{
                                   "<13>1 - - app - - - hello newline",
                                   "<132>1 - - app - - - hello octets",
                                   "<13>1 - - app - - - first",
                                   "<13>1 - - app - - - second with \"quotes\"",
                                   "<13>1 - - app - - - third",
                               }));
  EXPECT_TRUE(waitUntil([&] { return s.listener->stats().connectionsOpen == 0; }));
  auto st = s.listener->stats();
  EXPECT_EQ(st.connectionsAccepted, 3u);
  EXPECT_EQ(st.framesAccepted, 5u);
  EXPECT_EQ(st.framesRejected, 0u);
}

TEST(SyslogListener, LoggerWithFullRfc5424HeaderArrivesUnchanged) {
  Started s(options(Transport::kTcp));
  runCommand("logger --tcp -n 127.0.0.1 -P " + port(*s.listener) +
             " --rfc5424 --msgid ID7 --sd-id test@32473 --sd-param 'k=\"v\"' -t app 'full header'");
  ASSERT_TRUE(waitUntil([&] { return s.sink.count() == 1; }));
  std::string m = s.sink.frames()[0].message;
  EXPECT_EQ(m.rfind("<13>1 ", 0), 0u) << m;
  EXPECT_NE(m.find(" app - ID7 "), std::string::npos) << m;
  EXPECT_NE(m.find("[test@32473 k=\"v\"]"), std::string::npos) << m;
  EXPECT_EQ(m.substr(m.size() - 12), " full header") << m;
}

TEST(SyslogListener, ListensOnIpv6Loopback) {
  int rc = 1;
  runCommand("ip -6 addr show dev lo 2>/dev/null | grep -q '::1/'", false, &rc);
  if (rc != 0) GTEST_SKIP() << "no ::1 on this machine";
  auto o = options(Transport::kTcp);
  o.bindAddress = "::1";
  Started s(o);
  runCommand("logger --tcp -n ::1 -P " + port(*s.listener) + " --rfc5424=notime,notq,nohost -t app 'over v6'");
  ASSERT_TRUE(waitUntil([&] { return s.sink.count() == 1; }));
  EXPECT_EQ(s.sink.messages()[0], "<13>1 - - app - - - over v6");
}

TEST(SyslogListener, LoggerOverUdpIsOneFramePerDatagram) {
  Started s(options(Transport::kUdp));
  runCommand("logger --udp -n 127.0.0.1 -P " + port(*s.listener) +
             " --rfc5424=notime,notq,nohost -p auth.info -t app 'over udp'");
  ASSERT_TRUE(waitUntil([&] { return s.sink.count() == 1; }));
  EXPECT_EQ(s.sink.messages()[0], "<38>1 - - app - - - over udp");
  EXPECT_EQ(s.sink.from(), Transport::kUdp);
}

// Python's SysLogHandler ends each TCP message with NUL, not LF.
TEST(SyslogListener, PythonSysLogHandlerOverTcpAndUdpRoutesByFacility) {
  Started tcp(options(Transport::kTcp));
  Started udp(options(Transport::kUdp));
  TempDir dir;
  shoal::testing::pythonSysLog(dir, tcp.listener->port(), true, "LOCAL0", {"tcp one", "tcp two"});
  shoal::testing::pythonSysLog(dir, udp.listener->port(), false, "AUTH", {"udp one"});
  ASSERT_TRUE(waitUntil([&] { return tcp.sink.count() == 2 && udp.sink.count() == 1; }));
  // warning = severity 4: local0 (16) -> 132, auth (4) -> 36.
  EXPECT_EQ(tcp.sink.messages(), (std::vector<std::string>{"<132>tcp one", "<132>tcp two"}));
  EXPECT_EQ(udp.sink.messages(), (std::vector<std::string>{"<36>udp one"}));
  auto routes = FacilityRoutes::make("syslog:app", {{"local0", "syslog:local0"}});
  ASSERT_TRUE(routes.ok());
  EXPECT_EQ(routes->streamFor(tcp.sink.messages()[0]), "syslog:local0");
  EXPECT_EQ(routes->streamFor(udp.sink.messages()[0]), "syslog:app");
}

// ---- TLS -----------------------------------------------------------------

struct Certs {
  TempDir dir;
  shoal::testing::CertificateFiles server = shoal::testing::selfSignedCertificate(dir, "server");
  shoal::testing::CertificateFiles otherCa = shoal::testing::selfSignedCertificate(dir, "other");
  std::string cert() const { return server.cert; }
  std::string key() const { return server.key; }
  std::string other() const { return otherCa.cert; }
};

ListenerOptions tlsOptions(const Certs& c) {
  auto o = options(Transport::kTls);
  o.tlsCertFile = c.cert();
  o.tlsKeyFile = c.key();
  return o;
}

std::string sClient(int port, const std::string& ca, const std::string& input, int* rc) {
  return shoal::testing::opensslClient(port, ca, input, rc);
}

TEST(SyslogListener, TlsClientWithTheRightCaDeliversFrames) {
  Certs certs;
  Started s(tlsOptions(certs));
  std::ofstream(certs.dir.file("in")) << "12 <13>over tls<14>newline after count?\n";
  std::ofstream(certs.dir.file("in2")) << "<13>line one\n<13>line two\n";
  int rc = -1;
  std::string out = sClient(s.listener->port(), certs.cert(), certs.dir.file("in2"), &rc);
  ASSERT_EQ(rc, 0) << out;
  ASSERT_TRUE(waitUntil([&] { return s.sink.count() == 2; })) << out;
  EXPECT_EQ(s.sink.messages(), (std::vector<std::string>{"<13>line one", "<13>line two"}));
  EXPECT_EQ(s.sink.from(), Transport::kTls);
  // Octet counting over TLS (RFC 5425's framing): "12 <13>over tls" then a
  // count where "<14>" stands is broken: reported, the connection closed.
  out = sClient(s.listener->port(), certs.cert(), certs.dir.file("in"), &rc);
  ASSERT_TRUE(waitUntil([&] { return s.sink.count() == 4; })) << out;
  EXPECT_EQ(s.sink.messages()[2], "<13>over tls");
  EXPECT_EQ(s.sink.messages()[3], "!bad_octet_count");
  EXPECT_EQ(s.listener->stats().closedBadOctetCount, 1u);
  EXPECT_EQ(s.listener->stats().tlsHandshakeFailures, 0u);
}

TEST(SyslogListener, TlsClientWithTheWrongCaFailsTheHandshakeAndSendsNothing) {
  Certs certs;
  Started s(tlsOptions(certs));
  std::ofstream(certs.dir.file("in")) << "<13>must not arrive\n";
  int rc = 0;
  std::string out = sClient(s.listener->port(), certs.other(), certs.dir.file("in"), &rc);
  EXPECT_NE(rc, 0) << out;
  EXPECT_NE(out.find("verify"), std::string::npos) << out;
  EXPECT_TRUE(waitUntil([&] { return s.listener->stats().tlsHandshakeFailures == 1; }));
  EXPECT_TRUE(waitUntil([&] { return s.listener->stats().connectionsOpen == 0; }));
  EXPECT_EQ(s.sink.count(), 0u);
}

TEST(SyslogListener, TlsStartFailsOnAMissingCertificate) {
  CollectingSink sink;
  auto o = options(Transport::kTls);
  o.tlsCertFile = "/nonexistent/cert.pem";
  o.tlsKeyFile = "/nonexistent/key.pem";
  SyslogListener l(o, sink);
  auto r = l.start();
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.error().code, Errc::kInvalidInput);
  EXPECT_NE(r.error().message.find("/nonexistent/cert.pem"), std::string::npos);
}

// ---- back-pressure -------------------------------------------------------

// A client connection that writes without blocking: plain TCP or TLS.
class Writer {
 public:
  virtual ~Writer() = default;
  virtual int fd() const = 0;
  /// Bytes written; 0 if it would block (`events`: what to poll for).
  virtual size_t tryWrite(const std::string& data, short& events) = 0;

  /// Writes all of data, waiting on poll while the peer does not read.
  void writeAll(std::string data) {
    while (!data.empty()) {
      short events = POLLOUT;
      size_t n = tryWrite(data, events);
      if (n > 0) {
        data.erase(0, n);
        continue;
      }
      pollfd p{fd(), events, 0};
      ASSERT_EQ(::poll(&p, 1, 20000), 1) << "the listener stopped reading for 20 s";
    }
  }
};

class TcpWriter : public Writer {
 public:
  explicit TcpWriter(int port) : fd_(connectTcp(port)) {}
  ~TcpWriter() override { ::close(fd_); }
  int fd() const override { return fd_; }
  size_t tryWrite(const std::string& data, short& events) override {
    ssize_t n = ::send(fd_, data.data(), data.size(), MSG_DONTWAIT | MSG_NOSIGNAL);
    if (n > 0) return static_cast<size_t>(n);
    EXPECT_TRUE(errno == EAGAIN || errno == EWOULDBLOCK) << std::strerror(errno);
    events = POLLOUT;
    return 0;
  }

 private:
  int fd_;
};

// The scenario for either transport: a paused sink makes the sender stall;
// after resume everything arrives, in order, nothing lost.
void expectBackPressure(Started& s, Writer& w) {
  // Send numbered lines without blocking until the socket stays unwritable:
  // the listener stopped reading, so the kernel's buffers filled.
  const std::string pad(200, 'x');
  auto line = [&](int i) { return "<13>msg " + std::to_string(i) + " " + pad + "\n"; };
  int next = 0;
  std::string pending;
  bool stalled = false;
  for (int rounds = 0; rounds < 200000 && !stalled; ++rounds) {
    if (pending.empty()) pending = line(next++);
    short events = POLLOUT;
    size_t n = w.tryWrite(pending, events);
    if (n > 0) {
      pending.erase(0, n);
      continue;
    }
    pollfd p{w.fd(), events, 0};
    stalled = ::poll(&p, 1, 500) == 0;  // still unwritable after 0.5 s: the sender stalls
  }
  ASSERT_TRUE(stalled) << "sent " << next << " lines without stalling";
  EXPECT_GT(next, 100);
  // The listener offered, was refused, and stopped reading (on a loaded
  // machine its refusal may come after the sender saw the stall).
  EXPECT_TRUE(waitUntil([&] { return s.sink.refused() >= 1; }));
  EXPECT_GT(s.listener->stats().pauses, 0u);
  EXPECT_EQ(s.sink.count(), 0u);
  // Resume: the rest goes through and nothing was lost or reordered.
  s.sink.setPaused(false);
  s.listener->resume();
  const int total = next + 1000;
  std::string rest = pending;
  for (int i = next; i < total; ++i) rest += line(i);
  w.writeAll(rest);
  ASSERT_TRUE(waitUntil([&] { return s.sink.count() == static_cast<size_t>(total); }, 20s))
      << s.sink.count() << " of " << total;
  auto got = s.sink.messages();
  for (int i = 0; i < total; ++i) ASSERT_EQ(got[static_cast<size_t>(i)], line(i).substr(0, line(i).size() - 1));
  EXPECT_EQ(s.listener->stats().framesAccepted, static_cast<uint64_t>(total));
}

TEST(SyslogListener, PausedSinkStallsATcpSenderAndAfterResumeEverythingArrives) {
  Started s(options(Transport::kTcp));
  s.sink.setPaused(true);
  TcpWriter w(s.listener->port());
  ASSERT_GE(w.fd(), 0);
  expectBackPressure(s, w);
}

// A TLS client verifying the listener's certificate against `ca`.
class TlsWriter : public Writer {
 public:
  TlsWriter(int port, const std::string& ca) : fd_(connectTcp(port)) {
    ctx_ = SSL_CTX_new(TLS_client_method());
    EXPECT_EQ(SSL_CTX_load_verify_locations(ctx_, ca.c_str(), nullptr), 1);
    SSL_CTX_set_verify(ctx_, SSL_VERIFY_PEER, nullptr);
    ssl_ = SSL_new(ctx_);
    SSL_set_mode(ssl_, SSL_MODE_ENABLE_PARTIAL_WRITE | SSL_MODE_ACCEPT_MOVING_WRITE_BUFFER);
    SSL_set_fd(ssl_, fd_);
    SSL_set1_host(ssl_, "localhost");
    EXPECT_EQ(SSL_connect(ssl_), 1) << "handshake";  // blocking, before going non-blocking
    ::fcntl(fd_, F_SETFL, ::fcntl(fd_, F_GETFL) | O_NONBLOCK);
  }
  ~TlsWriter() override {
    SSL_free(ssl_);
    SSL_CTX_free(ctx_);
    ::close(fd_);
  }
  int fd() const override { return fd_; }
  size_t tryWrite(const std::string& data, short& events) override {
    int n = SSL_write(ssl_, data.data(), static_cast<int>(data.size()));
    if (n > 0) return static_cast<size_t>(n);
    int err = SSL_get_error(ssl_, n);
    EXPECT_TRUE(err == SSL_ERROR_WANT_WRITE || err == SSL_ERROR_WANT_READ) << err;
    events = err == SSL_ERROR_WANT_READ ? POLLIN : POLLOUT;
    return 0;
  }

 private:
  int fd_;
  SSL_CTX* ctx_ = nullptr;
  SSL* ssl_ = nullptr;
};

TEST(SyslogListener, PausedSinkStallsATlsSenderAndAfterResumeEverythingArrives) {
  Certs certs;
  Started s(tlsOptions(certs));
  s.sink.setPaused(true);
  TlsWriter w(s.listener->port(), certs.cert());
  expectBackPressure(s, w);
}

TEST(SyslogListener, UdpDropsWhilePausedAreCountedAndTheRestArrives) {
  Started s(options(Transport::kUdp));
  s.sink.setPaused(true);
  for (int i = 0; i < 5; ++i) {
    runCommand("logger --udp -n 127.0.0.1 -P " + port(*s.listener) + " --rfc5424=notime,notq,nohost -t app dropped" +
               std::to_string(i));
  }
  ASSERT_TRUE(waitUntil([&] { return s.listener->stats().udpDropped == 5; })) << s.listener->stats().udpDropped;
  EXPECT_EQ(s.sink.count(), 0u);
  s.sink.setPaused(false);
  runCommand("logger --udp -n 127.0.0.1 -P " + port(*s.listener) + " --rfc5424=notime,notq,nohost -t app kept");
  ASSERT_TRUE(waitUntil([&] { return s.sink.count() == 1; }));
  EXPECT_EQ(s.sink.messages()[0], "<13>1 - - app - - - kept");
  EXPECT_EQ(s.listener->stats().udpDropped, 5u);
}

// Holds the listener's thread inside its first offer() until opened, so the
// kernel's receive buffer fills behind it.
class GateSink : public FrameSink {
 public:
  Accept offer(Transport, std::vector<Frame>& frames) override {
    std::unique_lock<std::mutex> lock(mu_);
    entered_ = true;
    cv_.wait(lock, [&] { return open_; });
    count_ += frames.size();
    for (const auto& f : frames) last_ = f.message;
    return Accept::kAccepted;
  }
  bool entered() {
    std::lock_guard<std::mutex> lock(mu_);
    return entered_;
  }
  void open() {
    std::lock_guard<std::mutex> lock(mu_);
    open_ = true;
    cv_.notify_all();
  }
  std::pair<size_t, std::string> seen() {
    std::lock_guard<std::mutex> lock(mu_);
    return {count_, last_};
  }

 private:
  std::mutex mu_;
  std::condition_variable cv_;
  bool entered_ = false, open_ = false;
  size_t count_ = 0;
  std::string last_;
};

TEST(SyslogListener, DatagramsTheKernelDropsWhileTheListenerIsBusyAreCounted) {
  GateSink sink;
  auto o = options(Transport::kUdp);
  o.udpReceiveBufferBytes = 4096;
  SyslogListener l(o, sink);
  ASSERT_TRUE(l.start().ok());
  int fd = ::socket(AF_INET, SOCK_DGRAM, 0);
  sockaddr_in a{};
  a.sin_family = AF_INET;
  a.sin_port = htons(static_cast<uint16_t>(l.port()));
  a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  ASSERT_EQ(::connect(fd, reinterpret_cast<sockaddr*>(&a), sizeof a), 0);
  auto send = [&](const std::string& m) { ASSERT_GT(::send(fd, m.data(), m.size(), 0), 0); };
  send("<13>first");
  ASSERT_TRUE(waitUntil([&] { return sink.entered(); }));
  const size_t burst = 500;
  for (size_t i = 0; i < burst; ++i) send("<13>burst " + std::to_string(i) + " " + std::string(500, 'x'));
  sink.open();
  // The kernel's count rides on the next datagram read after the drops; a
  // "last" sent while the buffer is still full is dropped (and counted) too,
  // so send them until one arrives.
  size_t lasts = 0;
  ASSERT_TRUE(waitUntil([&] {
    send("<13>last");
    ++lasts;
    return sink.seen().second == "<13>last";
  }));
  // Every datagram sent was either taken by the sink or counted as dropped.
  EXPECT_TRUE(waitUntil([&] { return sink.seen().first + l.stats().udpKernelDropped == 1 + burst + lasts; }))
      << sink.seen().first << " taken, " << l.stats().udpKernelDropped << " dropped, " << 1 + burst + lasts
      << " sent";
  EXPECT_GT(l.stats().udpKernelDropped, 0u);
  EXPECT_EQ(l.stats().udpDropped, 0u);
  ::close(fd);
}

// ---- bad input and limits ------------------------------------------------

TEST(SyslogListener, BrokenOctetCountIsReportedAndTheConnectionClosed) {
  Started s(options(Transport::kTcp));
  int fd = connectTcp(s.listener->port());
  sendAll(fd, "5 <13>a12x <13>b");
  EXPECT_TRUE(closedByPeer(fd));
  ::close(fd);
  ASSERT_TRUE(waitUntil([&] { return s.sink.count() == 2; }));
  auto frames = s.sink.frames();
  EXPECT_EQ(frames[0].message, "<13>a");
  EXPECT_EQ(frames[1].error, FrameError::kBadOctetCount);
  EXPECT_EQ(frames[1].message, "12x");
  EXPECT_EQ(s.listener->stats().closedBadOctetCount, 1u);
}

TEST(SyslogListener, OversizeLineIsRejectedAndTheConnectionGoesOn) {
  auto o = options(Transport::kTcp);
  o.framing.maxFrameBytes = 100;
  o.framing.rejectedHeadBytes = 10;
  Started s(o);
  int fd = connectTcp(s.listener->port());
  sendAll(fd, "<13>" + std::string(300, 'y') + "\n<13>after\n");
  ::close(fd);
  ASSERT_TRUE(waitUntil([&] { return s.sink.count() == 2; }));
  auto frames = s.sink.frames();
  EXPECT_EQ(frames[0].error, FrameError::kTooLarge);
  EXPECT_EQ(frames[0].message, "<13>yyyyyy");
  EXPECT_EQ(frames[1].message, "<13>after");
  EXPECT_EQ(s.listener->stats().framesRejected, 1u);
}

TEST(SyslogListener, ConnectionsBeyondTheLimitAreClosedAtOnce) {
  auto o = options(Transport::kTcp);
  o.maxConnections = 2;
  Started s(o);
  int a = connectTcp(s.listener->port()), b = connectTcp(s.listener->port());
  ASSERT_TRUE(waitUntil([&] { return s.listener->stats().connectionsOpen == 2; }));
  int c = connectTcp(s.listener->port());
  EXPECT_TRUE(closedByPeer(c));
  EXPECT_TRUE(waitUntil([&] { return s.listener->stats().connectionsRefused == 1; }));
  // The two within the limit still work.
  sendAll(a, "<13>a\n");
  sendAll(b, "<13>b\n");
  EXPECT_TRUE(waitUntil([&] { return s.sink.count() == 2; }));
  for (int fd : {a, b, c}) ::close(fd);
}

TEST(SyslogListener, HalfOpenConnectionIsClosedAfterTheIdleTimeoutOnTheClock) {
  Clocked c([](ListenerOptions& o) { o.idleTimeout = 60s; });
  auto& [clock, s] = c;
  int fd = connectTcp(s.listener->port());
  ASSERT_TRUE(waitUntil([&] { return s.listener->stats().connectionsOpen == 1; }));
  clock.advance(59s);
  EXPECT_FALSE(closedByPeer(fd, 200ms));
  clock.advance(2s);
  EXPECT_TRUE(closedByPeer(fd));
  EXPECT_EQ(s.listener->stats().closedIdle, 1u);
  ::close(fd);
}

TEST(SyslogListener, SlowSenderIsClosedAfterTheReadTimeoutAndItsPartialFrameReported) {
  Clocked c([](ListenerOptions& o) { o.readTimeout = 10s; });
  auto& [clock, s] = c;
  int fd = connectTcp(s.listener->port());
  sendAll(fd, "<13>whole\n<13>half of a");
  ASSERT_TRUE(waitUntil([&] { return s.sink.count() == 1; }));
  // Trickling bytes does not reset the read timeout of an unfinished frame.
  clock.advance(6s);
  sendAll(fd, " frame");
  clock.advance(5s);
  EXPECT_TRUE(closedByPeer(fd));
  ::close(fd);
  ASSERT_TRUE(waitUntil([&] { return s.sink.count() == 2; }));
  auto frames = s.sink.frames();
  EXPECT_EQ(frames[1].error, FrameError::kTruncated);
  EXPECT_EQ(s.listener->stats().closedReadTimeout, 1u);
}

TEST(SyslogListener, TlsClientThatNeverFinishesTheHandshakeIsClosedAfterTheReadTimeout) {
  Certs certs;
  Clocked c([&](ListenerOptions& o) {
    o = tlsOptions(certs);
    o.readTimeout = 10s;
  });
  auto& [clock, s] = c;
  int fd = connectTcp(s.listener->port());
  sendAll(fd, "\x16\x03\x01");  // the first bytes of a ClientHello, then nothing
  ASSERT_TRUE(waitUntil([&] { return s.listener->stats().connectionsOpen == 1; }));
  clock.advance(9s);
  EXPECT_FALSE(closedByPeer(fd, 200ms));
  clock.advance(2s);
  EXPECT_TRUE(closedByPeer(fd));
  EXPECT_EQ(s.listener->stats().closedReadTimeout, 1u);
  EXPECT_EQ(s.sink.count(), 0u);
  ::close(fd);
}

TEST(SyslogListener, TimeoutsDoNotRunWhileTheSinkIsPaused) {
  Clocked c([](ListenerOptions& o) { o.idleTimeout = 60s; });
  auto& [clock, s] = c;
  s.sink.setPaused(true);
  int fd = connectTcp(s.listener->port());
  sendAll(fd, "<13>held\n");
  ASSERT_TRUE(waitUntil([&] { return s.sink.refused() >= 1; }));
  clock.advance(120s);
  EXPECT_FALSE(closedByPeer(fd, 200ms));
  s.sink.setPaused(false);
  s.listener->resume();
  ASSERT_TRUE(waitUntil([&] { return s.sink.count() == 1; }));
  EXPECT_EQ(s.listener->stats().closedIdle, 0u);
  ::close(fd);
}

// ---- stop ----------------------------------------------------------------

TEST(SyslogListener, StopFlushesWhatWasReadIncludingAPartialFrame) {
  Started s(options(Transport::kTcp));
  s.sink.setPaused(true);
  int fd = connectTcp(s.listener->port());
  sendAll(fd, "<13>one\n<13>two\n<13>cut");
  ASSERT_TRUE(waitUntil([&] { return s.sink.refused() >= 1; }));
  // stop() keeps offering during its grace; the sink takes them meanwhile.
  std::thread stopper([&] { s.listener->stop(10s); });
  s.sink.setPaused(false);
  stopper.join();
  // One send, one read: the unfinished third frame was read too, and is
  // reported truncated rather than dropped.
  EXPECT_EQ(s.sink.messages(), (std::vector<std::string>{"<13>one", "<13>two", "!truncated"}));
  EXPECT_EQ(s.sink.frames()[2].message, "<13>cut");
  EXPECT_TRUE(closedByPeer(fd));
  EXPECT_FALSE(shoal::testing::portOpen(s.listener->port()));
  EXPECT_EQ(s.listener->stats().lostAtStop, 0u);
  ::close(fd);
}

TEST(SyslogListener, FramesStillRefusedAtTheEndOfTheGraceAreCountedLost) {
  Clocked c;
  auto& [clock, s] = c;
  s.sink.setPaused(true);
  int fd = connectTcp(s.listener->port());
  sendAll(fd, "<13>one\n<13>two\n");
  ASSERT_TRUE(waitUntil([&] { return s.sink.refused() >= 1; }));
  std::thread stopper([&] { s.listener->stop(5s); });
  // The grace runs on the clock: it ends when the clock passes it.
  ASSERT_TRUE(waitUntil([&] {
    clock.advance(1s);
    return s.listener->stats().lostAtStop > 0;
  }));
  stopper.join();
  EXPECT_EQ(s.listener->stats().lostAtStop, 2u);
  EXPECT_EQ(s.sink.count(), 0u);
  ::close(fd);
}

TEST(SyslogListener, BindingATakenPortIsAnError) {
  CollectingSink sink;
  Started first(options(Transport::kTcp));
  auto o = options(Transport::kTcp);
  o.port = first.listener->port();
  SyslogListener second(o, sink);
  auto r = second.start();
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.error().code, Errc::kIo);
}

}  // namespace
}  // namespace shoal::syslog_input
