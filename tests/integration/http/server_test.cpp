// http::makeServer on loopback with the real curl as the client: routes and
// their captures, decoded gzip bodies, the body limit on the decoded size,
// the connection limit, the read timeout and the graceful stop.
#include <gtest/gtest.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <condition_variable>
#include <fstream>
#include <future>
#include <mutex>

#include "shoal/http/server.h"
#include "shoal/testing/curl.h"
#include "shoal/testing/process.h"

namespace shoal::http {
namespace {

using shoal::testing::curl;
using shoal::testing::Process;
using shoal::testing::TempDir;
using shoal::testing::waitUntil;
using namespace std::chrono_literals;

// A latch a handler waits on until the test opens it.
struct Gate {
  std::mutex mu;
  std::condition_variable cv;
  bool open = false;
  int waiting = 0;
  void pass() {
    std::unique_lock l(mu);
    ++waiting;
    cv.notify_all();
    cv.wait(l, [&] { return open; });
  }
  void release() {
    std::lock_guard l(mu);
    open = true;
    cv.notify_all();
  }
  int waiters() {
    std::lock_guard l(mu);
    return waiting;
  }
};

class ServerTest : public ::testing::Test {
 protected:
  void start(ServerOptions o = {}) {
    o.host = "127.0.0.1";
    server_ = makeServer(o);
    server_->route("POST", "/echo", [](const ServerRequest& r) {
      return ServerResponse{200, r.body, "application/octet-stream", {{"X-Len", std::to_string(r.body.size())}}};
    });
    server_->route("POST", "/([^/]+)/_bulk", [](const ServerRequest& r) {
      return ServerResponse{201, "index=" + r.captures.at(0) + " ua=" + r.header("user-agent").substr(0, 4), "text/plain", {}};
    });
    server_->route("GET", "/hold", [this](const ServerRequest&) {
      gate_.pass();
      return ServerResponse{200, "held\n", "text/plain", {}};
    });
    ASSERT_TRUE(server_->start().ok());
    base_ = "http://127.0.0.1:" + std::to_string(server_->port());
  }

  // A plain TCP connection to the server, for what curl will not send.
  int connectRaw() {
    int fd = ::socket(AF_INET, SOCK_STREAM, 0);
    sockaddr_in a{};
    a.sin_family = AF_INET;
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    a.sin_port = htons(static_cast<uint16_t>(server_->port()));
    if (::connect(fd, reinterpret_cast<sockaddr*>(&a), sizeof a) != 0) {
      ::close(fd);
      return -1;
    }
    return fd;
  }

  std::string gzipFile(const std::string& content) {
    const std::string plain = dir_.file("body-" + std::to_string(files_++));
    std::ofstream(plain, std::ios::binary) << content;
    Process gz(Process::Options{{"gzip", "-f", plain}});
    auto st = gz.wait(10s);
    EXPECT_TRUE(st && WIFEXITED(*st) && WEXITSTATUS(*st) == 0);
    return plain + ".gz";
  }

  TempDir dir_;
  int files_ = 0;
  Gate gate_;
  std::unique_ptr<Server> server_;
  std::string base_;
};

TEST_F(ServerTest, RoutesGetTheBodyTheHeadersAndTheCaptures) {
  start();
  auto r = curl({"--data-binary", "hello", base_ + "/echo"});
  EXPECT_EQ(r.status, 200);
  EXPECT_EQ(r.body, "hello");
  EXPECT_EQ(r.header("X-Len"), "5");
  auto b = curl({"--data-binary", "{}", base_ + "/logs-2026/_bulk"});
  EXPECT_EQ(b.status, 201);
  EXPECT_EQ(b.body, "index=logs-2026 ua=curl");
  EXPECT_EQ(curl({"--data-binary", "x", base_ + "/nothing"}).status, 404);
}

TEST_F(ServerTest, GzipBodiesArriveDecoded) {
  start();
  const std::string text(100000, 'a');
  auto r = curl({"--data-binary", "@" + gzipFile(text), "-H", "Content-Encoding: gzip", base_ + "/echo"});
  EXPECT_EQ(r.status, 200);
  EXPECT_EQ(r.body, text);
  std::ofstream(dir_.file("junk.gz")) << "not gzip at all";
  auto bad = curl({"--data-binary", "@" + dir_.file("junk.gz"), "-H", "Content-Encoding: gzip", base_ + "/echo"});
  EXPECT_EQ(bad.status, 400);
}

TEST_F(ServerTest, BodiesOverTheLimitAre413EvenWhenTheyOnlyGrowOnDecoding) {
  ServerOptions o;
  o.maxBodyBytes = 1000;
  start(o);
  EXPECT_EQ(curl({"--data-binary", std::string(1000, 'x'), base_ + "/echo"}).status, 200);
  auto big = curl({"--data-binary", std::string(1001, 'x'), base_ + "/echo"});
  EXPECT_EQ(big.status, 413);
  // 50 kB of zeros gzip to well under 1000 bytes; decoded they are over.
  const std::string gz = gzipFile(std::string(50000, '0'));
  auto bomb = curl({"--data-binary", "@" + gz, "-H", "Content-Encoding: gzip", base_ + "/echo"});
  EXPECT_EQ(bomb.status, 413);
  // The server still serves afterwards.
  EXPECT_EQ(curl({"--data-binary", "ok", base_ + "/echo"}).status, 200);
}

TEST_F(ServerTest, AConnectionOverTheLimitIsAnswered503) {
  ServerOptions o;
  o.maxConnections = 1;
  start(o);
  auto held = std::async(std::launch::async, [&] { return curl({base_ + "/hold"}); });
  ASSERT_TRUE(waitUntil([&] { return gate_.waiters() == 1; }));
  auto refused = curl({"--data-binary", "x", base_ + "/echo"});
  EXPECT_EQ(refused.status, 503);
  gate_.release();
  EXPECT_EQ(held.get().status, 200);
  // The slot is free again once the held connection closed.
  EXPECT_TRUE(waitUntil([&] { return curl({"--data-binary", "x", base_ + "/echo"}).status == 200; }));
}

TEST_F(ServerTest, AClientThatStopsSendingIsDisconnectedAfterTheReadTimeout) {
  ServerOptions o;
  o.readTimeout = 1s;
  start(o);
  const int fd = connectRaw();
  ASSERT_GE(fd, 0);
  const std::string partial = "POST /echo HTTP/1.1\r\nHost: x\r\nContent-Length: 100\r\n\r\nonly a part";
  ASSERT_EQ(::send(fd, partial.data(), partial.size(), 0), static_cast<ssize_t>(partial.size()));
  timeval tv{5, 0};
  ::setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
  const auto t0 = std::chrono::steady_clock::now();
  char buf[512];
  ssize_t n;
  while ((n = ::recv(fd, buf, sizeof buf, 0)) > 0) {
  }
  const auto waited = std::chrono::steady_clock::now() - t0;
  ::close(fd);
  EXPECT_EQ(n, 0) << "the server should close the connection";
  EXPECT_LT(waited, 4s);
}

TEST_F(ServerTest, AKeptAliveConnectionWithNothingToSendIsClosedAfterTheIdleTimeout) {
  ServerOptions o;
  o.idleTimeout = 1s;
  start(o);
  const int fd = connectRaw();
  ASSERT_GE(fd, 0);
  const std::string req = "POST /echo HTTP/1.1\r\nHost: x\r\nContent-Length: 2\r\n\r\nok";
  ASSERT_EQ(::send(fd, req.data(), req.size(), 0), static_cast<ssize_t>(req.size()));
  timeval tv{6, 0};
  ::setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
  std::string got;
  char buf[512];
  ssize_t n;
  const auto t0 = std::chrono::steady_clock::now();
  while ((n = ::recv(fd, buf, sizeof buf, 0)) > 0) got.append(buf, static_cast<size_t>(n));
  const auto waited = std::chrono::steady_clock::now() - t0;
  ::close(fd);
  EXPECT_EQ(got.rfind("HTTP/1.1 200", 0), 0u) << got;
  EXPECT_EQ(n, 0) << "the server should close the idle connection";
  EXPECT_LT(waited, 5s);
}

TEST_F(ServerTest, StopFinishesTheRequestInFlightAndRefusesNewConnections) {
  start();
  auto held = std::async(std::launch::async, [&] { return curl({base_ + "/hold"}); });
  ASSERT_TRUE(waitUntil([&] { return gate_.waiters() == 1; }));
  auto stopped = std::async(std::launch::async, [&] { server_->stop(); });
  EXPECT_EQ(stopped.wait_for(200ms), std::future_status::timeout) << "stop() must wait for the request in flight";
  gate_.release();
  auto r = held.get();
  EXPECT_EQ(r.status, 200);
  EXPECT_EQ(r.body, "held\n");
  stopped.get();
  EXPECT_NE(curl({"--data-binary", "x", base_ + "/echo"}).exitCode, 0);
}

TEST_F(ServerTest, HttpsWithTheGivenCertificateAndNoAnswerToAClientThatDoesNotTrustIt) {
  const std::string cert = dir_.file("server.crt"), key = dir_.file("server.key");
  Process gen(Process::Options{{"openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-keyout", key, "-out",
                                cert, "-days", "1", "-subj", "/CN=127.0.0.1", "-addext",
                                "subjectAltName=IP:127.0.0.1"},
                               {},
                               {},
                               dir_.file("openssl.out"),
                               dir_.file("openssl.err")});
  auto st = gen.wait(30s);
  ASSERT_TRUE(st && WIFEXITED(*st) && WEXITSTATUS(*st) == 0) << Process::readFile(dir_.file("openssl.err"));
  ServerOptions o;
  o.tlsCertFile = cert;
  o.tlsKeyFile = key;
  start(o);
  const std::string https = "https://127.0.0.1:" + std::to_string(server_->port()) + "/echo";
  auto r = curl({"--cacert", cert, "--data-binary", "secret", https});
  EXPECT_EQ(r.status, 200) << r.stderrText;
  EXPECT_EQ(r.body, "secret");
  auto untrusted = curl({"--data-binary", "secret", https});
  EXPECT_EQ(untrusted.exitCode, 60) << "curl: the certificate cannot be verified";
  EXPECT_EQ(untrusted.status, 0);
  auto plain = curl({"--data-binary", "secret", base_ + "/echo"});
  EXPECT_NE(plain.status, 200);
}

TEST_F(ServerTest, AMissingCertificateIsAStartError) {
  ServerOptions o;
  o.tlsCertFile = dir_.file("nope.crt");
  o.tlsKeyFile = dir_.file("nope.key");
  auto s = makeServer(o);
  auto r = s->start();
  ASSERT_FALSE(r.ok());
  EXPECT_NE(r.error().message.find("nope.crt"), std::string::npos);
}

TEST_F(ServerTest, StopWaitsForABodyStillArrivingAndAnswersIt) {
  start();
  const int fd = connectRaw();
  ASSERT_GE(fd, 0);
  const std::string head = "POST /echo HTTP/1.1\r\nHost: x\r\nContent-Length: 10\r\n\r\nhello";
  ASSERT_EQ(::send(fd, head.data(), head.size(), 0), static_cast<ssize_t>(head.size()));
  // Our connection's thread reads the headers within microseconds of the
  // accept; a whole curl request served after it (a process start and a
  // round trip) leaves it far behind.
  ASSERT_EQ(curl({"--data-binary", "x", base_ + "/echo"}).status, 200);
  auto stopped = std::async(std::launch::async, [&] { server_->stop(); });
  EXPECT_EQ(stopped.wait_for(200ms), std::future_status::timeout) << "stop() must wait for the body being read";
  ASSERT_EQ(::send(fd, "world", 5, 0), 5);
  timeval tv{5, 0};
  ::setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
  std::string got;
  char buf[512];
  ssize_t n;
  while ((n = ::recv(fd, buf, sizeof buf, 0)) > 0) {
    got.append(buf, static_cast<size_t>(n));
    if (got.find("helloworld") != std::string::npos) break;
  }
  ::close(fd);
  EXPECT_EQ(got.rfind("HTTP/1.1 200", 0), 0u) << got;
  EXPECT_NE(got.find("helloworld"), std::string::npos);
  stopped.get();
}

}  // namespace
}  // namespace shoal::http
