// http::makeClient against a real server on loopback: the base path, the
// merged headers, methods and content types it puts on the wire, whole
// bodies back, every HTTP status as a response, status 0 with a reason when
// no answer comes, and concurrent senders on one client.
#include <gtest/gtest.h>

#include <httplib.h>

#include <condition_variable>
#include <mutex>
#include <thread>
#include <vector>

#include "shoal/http/client.h"
#include "shoal/testing/process.h"

namespace shoal::http {
namespace {

using shoal::testing::waitUntil;

struct Seen {
  std::string method, path, body, contentType, acceptEncoding, accept;
  std::vector<std::string> custom;  // every X-Custom value
};

// Records every request; /status/<n> answers n, /big a 10000-byte body,
// /hold waits until released, anything else 200 "ok".
class RecordingServer {
 public:
  RecordingServer() {
    auto handler = [this](const httplib::Request& req, httplib::Response& res) {
      {
        std::lock_guard l(mu_);
        Seen s{req.method,
               req.path,
               req.body,
               req.get_header_value("Content-Type"),
               req.get_header_value("Accept-Encoding"),
               req.get_header_value("Accept"),
               {}};
        for (size_t i = 0; i < req.get_header_value_count("X-Custom"); ++i)
          s.custom.push_back(req.get_header_value("X-Custom", i));
        seen_.push_back(std::move(s));
      }
      if (req.path.rfind("/status/", 0) == 0) {
        res.status = std::stoi(req.path.substr(8));
        res.set_content("answer " + req.path.substr(8), "text/plain");
      } else if (req.path == "/big") {
        res.set_content(std::string(10000, 'b'), "text/plain");
      } else if (req.path == "/hold") {
        std::unique_lock l(mu_);
        released_.wait(l, [this] { return release_; });
        res.set_content("late", "text/plain");
      } else {
        res.set_content("ok", "text/plain");
      }
    };
    server_.Get(".*", handler);
    server_.Post(".*", handler);
    server_.Put(".*", handler);
    server_.Delete(".*", handler);
    port_ = server_.bind_to_any_port("127.0.0.1");
    thread_ = std::thread([this] { server_.listen_after_bind(); });
    waitUntil([this] { return server_.is_running(); });
  }
  ~RecordingServer() {
    release();
    server_.stop();
    thread_.join();
  }
  std::string url(const std::string& path = "") const {
    return "http://127.0.0.1:" + std::to_string(port_) + path;
  }
  std::vector<Seen> seen() {
    std::lock_guard l(mu_);
    return seen_;
  }
  void release() {
    std::lock_guard l(mu_);
    release_ = true;
    released_.notify_all();
  }

 private:
  httplib::Server server_;
  int port_ = 0;
  std::thread thread_;
  std::mutex mu_;
  std::condition_variable released_;
  bool release_ = false;
  std::vector<Seen> seen_;
};

std::unique_ptr<Transport> client(ClientOptions o) {
  auto c = makeClient(o);
  EXPECT_TRUE(c.ok()) << c.error().message;
  return std::move(*c);
}

TEST(HttpClient, PutsTheBasePathHeadersMethodsAndContentTypesOnTheWire) {
  RecordingServer server;
  ClientOptions o;
  o.url = server.url("/base/");
  o.headers = {{"Accept", "application/json"}, {"X-Custom", "default"}};
  auto c = client(o);

  Response r = c->send(Request{.method = "POST",
                               .path = "/_bulk",
                               .headers = {{"X-Custom", "mine"}},
                               .body = "{}\n",
                               .contentType = "application/x-ndjson"});
  EXPECT_EQ(r.status, 200);
  EXPECT_EQ(r.body, "ok");
  EXPECT_EQ(r.error, "");
  c->send(Request{
      .method = "PUT", .path = "/p", .body = "x 1\n", .contentType = "text/plain; version=0.0.4"});
  c->send(Request{.method = "GET", .path = "/"});
  c->send(Request{.method = "DELETE", .path = "/d?q=1"});

  const auto seen = server.seen();
  ASSERT_EQ(seen.size(), 4u);
  EXPECT_EQ(seen[0].method, "POST");
  EXPECT_EQ(seen[0].path, "/base/_bulk");
  EXPECT_EQ(seen[0].body, "{}\n");
  EXPECT_EQ(seen[0].contentType, "application/x-ndjson");
  EXPECT_EQ(seen[0].accept, "application/json");
  EXPECT_EQ(seen[0].custom, (std::vector<std::string>{"mine"}));  // the request's header wins, once
  EXPECT_EQ(seen[1].method, "PUT");
  EXPECT_EQ(seen[1].path, "/base/p");
  EXPECT_EQ(seen[1].contentType, "text/plain; version=0.0.4");
  EXPECT_EQ(seen[1].custom, (std::vector<std::string>{"default"}));
  EXPECT_EQ(seen[2].method, "GET");
  EXPECT_EQ(seen[2].path, "/base/");
  EXPECT_EQ(seen[2].body, "");
  EXPECT_EQ(seen[3].method, "DELETE");
  EXPECT_EQ(seen[3].path, "/base/d");
}

TEST(HttpClient, SendsOnlyTheAcceptEncodingItIsGivenAndDecompressDecodesAnswers) {
  RecordingServer server;
  ClientOptions plain;
  plain.url = server.url();
  plain.headers = {{"Accept-Encoding", "identity"}};
  client(plain)->send(Request{.method = "GET", .path = "/"});
  ClientOptions decompress;
  decompress.url = server.url();
  decompress.decompress = true;
  client(decompress)->send(Request{.method = "GET", .path = "/"});

  // A server that compresses when asked: decoded only with `decompress`.
  ClientOptions gzip = decompress;
  gzip.headers = {{"Accept-Encoding", "gzip"}};
  const Response decoded = client(gzip)->send(Request{.method = "GET", .path = "/big"});
  gzip.decompress = false;
  const Response raw = client(gzip)->send(Request{.method = "GET", .path = "/big"});

  const auto seen = server.seen();
  ASSERT_EQ(seen.size(), 4u);
  EXPECT_EQ(seen[0].acceptEncoding, "identity");
  EXPECT_EQ(seen[1].acceptEncoding, "");  // cpp-httplib adds none of its own
  EXPECT_EQ(decoded.body, std::string(10000, 'b'));
  EXPECT_EQ(raw.status, 200);
  EXPECT_NE(raw.body, std::string(10000, 'b'));
  EXPECT_LT(raw.body.size(), 1000u);  // still gzip
}

TEST(HttpClient, EveryStatusIsAResponseAndBodiesComeBackWhole) {
  RecordingServer server;
  ClientOptions o;
  o.url = server.url();
  auto c = client(o);
  for (int status : {201, 400, 404, 429, 503}) {
    const Response r = c->send(Request{.path = "/status/" + std::to_string(status)});
    EXPECT_EQ(r.status, status);
    EXPECT_EQ(r.body, "answer " + std::to_string(status));
    EXPECT_EQ(r.error, "");
  }
  const Response big = c->send(Request{.method = "GET", .path = "/big"});
  EXPECT_EQ(big.status, 200);
  EXPECT_EQ(big.body, std::string(10000, 'b'));
}

TEST(HttpClient, NoAnswerIsStatusZeroWithAReason) {
  ClientOptions refused;
  refused.url = "http://127.0.0.1:" + std::to_string(shoal::testing::freePort());
  refused.connectTimeout = std::chrono::milliseconds(500);
  const Response r = client(refused)->send(Request{.path = "/x", .body = "b"});
  EXPECT_EQ(r.status, 0);
  EXPECT_NE(r.error, "");
  EXPECT_EQ(r.body, "");

  RecordingServer server;
  ClientOptions slow;
  slow.url = server.url();
  slow.requestTimeout = std::chrono::milliseconds(200);
  const Response t = client(slow)->send(Request{.method = "GET", .path = "/hold"});
  server.release();
  EXPECT_EQ(t.status, 0);
  EXPECT_NE(t.error, "");

  ClientOptions o;
  o.url = server.url();
  const Response m = client(o)->send(Request{.method = "PATCH", .path = "/"});
  EXPECT_EQ(m.status, 0);
  EXPECT_NE(m.error.find("PATCH"), std::string::npos) << m.error;
}

TEST(HttpClient, ConcurrentSendersOnOneClientAllGetTheirAnswers) {
  RecordingServer server;
  ClientOptions o;
  o.url = server.url();
  auto c = client(o);
  std::vector<std::thread> senders;
  std::atomic<int> ok{0};
  for (int t = 0; t < 4; ++t)
    senders.emplace_back([&, t] {
      for (int i = 0; i < 25; ++i) {
        const Response r =
            c->send(Request{.path = "/status/20" + std::to_string(t % 2), .body = "x"});
        if (r.status == 200 + t % 2 && r.body == "answer 20" + std::to_string(t % 2)) ++ok;
      }
    });
  for (auto& s : senders) s.join();
  EXPECT_EQ(ok.load(), 100);
  EXPECT_EQ(server.seen().size(), 100u);
}

TEST(HttpClient, ABadUrlIsAnErrorValue) {
  ClientOptions o;
  o.url = "ftp://x";
  auto c = makeClient(o);
  ASSERT_FALSE(c.ok());
  EXPECT_EQ(c.error().code, Errc::kInvalidInput);
}

}  // namespace
}  // namespace shoal::http
