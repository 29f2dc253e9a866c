// The real shoal-receiver process against a real redis-server, with the real
// curl as the client: what a 2xx means (exact XLEN and contents), the _bulk
// item answers, gzip bodies, 413, 400 with the position, 429 while a group's
// backlog is over maxBacklog and 2xx again once it acknowledged, 503 and
// /readyz while Redis is down, WAIT for replicas, config errors and SIGTERM;
// a real Prometheus remote-writing to it; routing by a field
// (streamFromField); syslog from the real logger, Python's SysLogHandler and
// openssl s_client over TLS.
#include <gtest/gtest.h>
#include <nlohmann/json.hpp>
#include <signal.h>
#include <sys/wait.h>

#include <fstream>
#include <set>

#include "shoal/redis/client.h"
#include "shoal/stream/shards.h"
#include "shoal/testing/curl.h"
#include "shoal/testing/servers.h"
#include "shoal/testing/syslog_clients.h"

#ifndef SHOAL_RECEIVER_BINARY
#error "SHOAL_RECEIVER_BINARY must name the shoal-receiver executable"
#endif

namespace shoal {
namespace {

using shoal::testing::curl;
using shoal::testing::CurlResult;
using shoal::testing::freePort;
using shoal::testing::Process;
using shoal::testing::RedisServer;
using shoal::testing::TempDir;
using shoal::testing::waitUntil;
using Json = nlohmann::json;
using namespace std::chrono_literals;

struct Options {
  int64_t maxBodyBytes = 1 << 20;
  int64_t maxEntryBytes = 4096;
  int64_t maxBacklog = 1000000;
  int64_t waitReplicas = 0;
  std::string extra;  // more YAML under spec
  std::map<std::string, std::string> env;
  std::string redis;  // the spec.redis flow mapping; empty: the test's redis-server
  std::string logsRoute = "{stream: \"logs:app\"}";
  std::string metricsRoute = "{stream: \"metrics:app\"}";
  std::string bulkRoute = "{stream: \"logs:bulk\"}";
};

class ReceiverProcessTest : public ::testing::Test {
 protected:
  void SetUp() override {
    redis_ = std::make_unique<RedisServer>();
    auto o = redis::parseUrl(redis_->url());
    ASSERT_TRUE(o.ok());
    client_ = std::make_unique<redis::Client>(*o, SystemClock::instance());
  }

  std::string writeConfig(const Options& o) {
    httpPort_ = freePort();
    metricsPort_ = freePort();
    const std::string path = dir_.file("receiver-" + std::to_string(starts_) + ".yaml");
    std::ofstream f(path);
    f << "apiVersion: shoal.dev/v1alpha1\nkind: Receiver\nmetadata: {name: front}\nspec:\n"
      << "  redis: "
      << (o.redis.empty() ? "{address: \"127.0.0.1:" + std::to_string(redis_->port()) +
                                "\", readTimeoutMs: 1000, connectTimeoutMs: 500}"
                          : o.redis)
      << "\n"
      << "  http:\n    port: " << httpPort_ << "\n    maxBodyBytes: " << o.maxBodyBytes << "\n"
      << "    routes:\n      logs: " << o.logsRoute << "\n      metrics: " << o.metricsRoute << "\n"
      << "      bulk: " << o.bulkRoute << "\n      remoteWrite: {stream: \"metrics:rw\"}\n"
      << "  limits: {maxEntryBytes: " << o.maxEntryBytes << ", readTimeoutSeconds: 5}\n"
      << "  backpressure: {maxBacklog: " << o.maxBacklog << ", retryAfterSeconds: 2, checkIntervalMilliseconds: 50}\n"
      << "  durability: {waitReplicas: " << o.waitReplicas << ", waitTimeoutMilliseconds: 50}\n"
      << "  metricsPort: " << metricsPort_ << "\n"
      << o.extra;
    return path;
  }

  Process start(const Options& o = {}) {
    Process::Options po;
    po.argv = {SHOAL_RECEIVER_BINARY, "--config", writeConfig(o)};
    po.env = o.env;
    po.stderrPath = dir_.file("receiver-" + std::to_string(starts_++) + ".log");
    lastLog_ = po.stderrPath;
    Process p(po);
    EXPECT_TRUE(waitUntil([&] { return shoal::testing::portOpen(httpPort_) && shoal::testing::portOpen(metricsPort_); }))
        << log();
    return p;
  }

  std::string url(const std::string& path) const { return "http://127.0.0.1:" + std::to_string(httpPort_) + path; }
  std::string opsUrl(const std::string& path) const {
    return "http://127.0.0.1:" + std::to_string(metricsPort_) + path;
  }
  std::string file(const std::string& name, const std::string& content) {
    const std::string p = dir_.file(name);
    std::ofstream(p, std::ios::binary) << content;
    return p;
  }
  CurlResult post(const std::string& path, const std::string& bodyFile, std::vector<std::string> extra = {}) {
    std::vector<std::string> args = {"--data-binary", "@" + bodyFile, "-H", "Content-Type: application/x-ndjson"};
    args.insert(args.end(), extra.begin(), extra.end());
    args.push_back(url(path));
    return curl(args);
  }
  int64_t xlen(const std::string& stream) {
    auto r = client_->command({"XLEN", stream});
    return r.ok() ? r->asInt().value_or(-1) : -1;
  }
  std::vector<StreamEntry> entries(const std::string& stream) {
    auto r = client_->command({"XRANGE", stream, "-", "+"});
    if (!r.ok()) return {};
    auto d = redis::decodeEntries(*r);
    return d.ok() ? *d : std::vector<StreamEntry>{};
  }
  std::string log() { return Process::readFile(lastLog_); }

  static std::string logLine(int i) {
    // About 300 bytes, like the benchmark's logs.
    return R"({"@timestamp":"2026-12-04T10:00:00.000Z","level":"info","service":"checkout","host":"web-)" +
           std::to_string(i % 7) + R"(","message":"request )" + std::to_string(i) + " " + std::string(180, 'x') +
           R"("})";
  }

  TempDir dir_;
  std::unique_ptr<RedisServer> redis_;
  std::unique_ptr<redis::Client> client_;
  int httpPort_ = 0, metricsPort_ = 0, starts_ = 0;
  std::string lastLog_;
};

TEST_F(ReceiverProcessTest, AnNdjsonBatchIsStoredExactlyWhenAnswered200) {
  Process p = start();
  std::string body;
  for (int i = 0; i < 500; ++i) body += logLine(i) + "\n";
  auto r = post("/v1/logs", file("batch.ndjson", body));
  ASSERT_EQ(r.status, 200) << r.body;
  EXPECT_EQ(Json::parse(r.body)["accepted"], 500);
  EXPECT_EQ(xlen("logs:app"), 500);
  auto got = entries("logs:app");
  ASSERT_EQ(got.size(), 500u);
  for (int i = 0; i < 500; ++i) {
    ASSERT_EQ(got[i].fields.size(), 1u);
    EXPECT_EQ(got[i].fields[0].first, "message");
    EXPECT_EQ(got[i].fields[0].second, logLine(i));
  }
  auto m = post("/v1/metrics", file("m.json", R"([{"name":"up","value":1},{"name":"up","value":0}])"));
  EXPECT_EQ(m.status, 200);
  ASSERT_EQ(entries("metrics:app").size(), 2u);
  EXPECT_EQ(entries("metrics:app")[0].fields[0].first, "event");
  auto metrics = curl({opsUrl("/metrics")});
  EXPECT_NE(metrics.body.find(R"(shoal_receiver_requests_total{code="200",path="/v1/logs"} 1)"), std::string::npos)
      << metrics.body;
  EXPECT_NE(metrics.body.find(R"(shoal_receiver_entries_accepted_total{stream="logs:app"} 500)"), std::string::npos);
  EXPECT_NE(metrics.body.find("shoal_receiver_xadd_seconds_count"), std::string::npos);
}

TEST_F(ReceiverProcessTest, BulkAnswersEachItemInTheElasticsearchShape) {
  Process p = start();
  auto r = post("/logs-2026/_bulk", file("bulk.ndjson", "{\"index\":{}}\n{\"m\":1}\n"
                                                        "{\"create\":{\"_index\":\"other\",\"_id\":\"a1\"}}\n{\"m\":2}\n"
                                                        "{\"index\":{}}\n{\"m\":\n"),
                {"-H", "Content-Type: application/x-ndjson"});
  ASSERT_EQ(r.status, 200) << r.body;
  auto j = Json::parse(r.body);
  EXPECT_EQ(j["errors"], true);
  ASSERT_EQ(j["items"].size(), 3u);
  EXPECT_EQ(j["items"][0]["index"]["status"], 201);
  EXPECT_EQ(j["items"][0]["index"]["_index"], "logs-2026");
  EXPECT_EQ(j["items"][1]["create"]["status"], 201);
  EXPECT_EQ(j["items"][1]["create"]["_id"], "a1");
  EXPECT_EQ(j["items"][2]["index"]["status"], 400);
  EXPECT_EQ(xlen("logs:bulk"), 2);
  auto rejected = entries("logs:bulk:rejected");
  ASSERT_EQ(rejected.size(), 1u);
  EXPECT_EQ(rejected[0].fields[0], (std::pair<std::string, std::string>{"reason", "malformed_json"}));
  EXPECT_EQ(rejected[0].fields[1], (std::pair<std::string, std::string>{"payload", "{\"m\":"}));
}

TEST_F(ReceiverProcessTest, AGzipBodyIsDecoded) {
  Process p = start();
  std::string body;
  for (int i = 0; i < 200; ++i) body += logLine(i) + "\n";
  const std::string plain = file("gz.ndjson", body);
  Process gz(Process::Options{{"gzip", "-f", plain}});
  ASSERT_TRUE(gz.wait(10s).has_value());
  auto r = curl({"--data-binary", "@" + plain + ".gz", "-H", "Content-Encoding: gzip", url("/v1/logs")});
  ASSERT_EQ(r.status, 200) << r.body;
  EXPECT_EQ(xlen("logs:app"), 200);
  EXPECT_EQ(entries("logs:app")[199].fields[0].second, logLine(199));
}

TEST_F(ReceiverProcessTest, ABodyOverMaxBodyBytesIs413AndNothingIsWritten) {
  Options o;
  o.maxBodyBytes = 1000;
  Process p = start(o);
  std::string body;
  for (int i = 0; i < 10; ++i) body += logLine(i) + "\n";
  auto r = post("/v1/logs", file("big.ndjson", body));
  EXPECT_EQ(r.status, 413);
  EXPECT_EQ(xlen("logs:app"), 0);
}

TEST_F(ReceiverProcessTest, MalformedJsonIs400NamingThePosition) {
  Process p = start();
  auto r = post("/v1/logs", file("bad.ndjson", "{\"a\":1}\n{\"a\":2}\n{\"a\" 3}\n"));
  ASSERT_EQ(r.status, 400);
  auto j = Json::parse(r.body);
  EXPECT_EQ(j["line"], 3);
  EXPECT_EQ(j["byte"], 21);
  EXPECT_NE(j["error"].get<std::string>().find("line 3, column 6"), std::string::npos) << r.body;
  auto u = post("/v1/logs", file("utf8.ndjson", "{\"a\":\"\xC3\x28\"}\n"));
  EXPECT_EQ(u.status, 400);
  EXPECT_NE(u.body.find("UTF-8"), std::string::npos) << u.body;
  EXPECT_EQ(xlen("logs:app"), 0);
}

TEST_F(ReceiverProcessTest, AnEntryOverMaxEntryBytesGoesToTheRejectedStream) {
  Options o;
  o.maxEntryBytes = 100;
  Process p = start(o);
  auto r = post("/v1/logs", file("mixed.ndjson", "{\"a\":1}\n" + logLine(1) + "\n"));
  ASSERT_EQ(r.status, 200);
  auto j = Json::parse(r.body);
  EXPECT_EQ(j["accepted"], 1);
  EXPECT_EQ(j["rejected"][0]["line"], 2);
  EXPECT_EQ(xlen("logs:app"), 1);
  auto rej = entries("logs:app:rejected");
  ASSERT_EQ(rej.size(), 1u);
  EXPECT_EQ(rej[0].fields[0].second, "entry_too_large");
  EXPECT_EQ(rej[0].fields[1].second, logLine(1));
}

TEST_F(ReceiverProcessTest, ABacklogOverMaxBacklogIs429UntilTheGroupAcknowledges) {
  Options o;
  o.maxBacklog = 10;
  ASSERT_TRUE(client_->createGroup("logs:app", "g", "$").ok());
  Process p = start(o);
  std::string body;
  for (int i = 0; i < 20; ++i) body += logLine(i) + "\n";
  const std::string batch = file("twenty.ndjson", body);
  ASSERT_EQ(post("/v1/logs", batch).status, 200);  // the backlog was 0
  CurlResult refused;
  ASSERT_TRUE(waitUntil([&] {
    refused = post("/v1/logs", batch);
    return refused.status == 429;
  })) << "last: " << refused.status;
  EXPECT_EQ(refused.header("Retry-After"), "2");
  const int64_t stored = xlen("logs:app");
  // The group reads and acknowledges everything: the backlog falls to 0.
  auto read = client_->readGroup("logs:app", "g", "c1", ">", 1000, -1);
  ASSERT_TRUE(read.ok());
  std::vector<std::string> ids;
  for (auto& e : *read) ids.push_back(e.id);
  ASSERT_EQ(static_cast<int64_t>(ids.size()), stored);
  ASSERT_TRUE(client_->ack("logs:app", "g", ids).ok());
  ASSERT_TRUE(waitUntil([&] { return post("/v1/logs", batch).status == 200; }));
  auto metrics = curl({opsUrl("/metrics")});
  EXPECT_NE(metrics.body.find("shoal_receiver_entries_throttled_total"), std::string::npos);
  EXPECT_EQ(metrics.body.find("shoal_receiver_entries_throttled_total 0\n"), std::string::npos) << metrics.body;
}

TEST_F(ReceiverProcessTest, WhileRedisIsDownWritesAre503AndReadyzIsNotReady) {
  Process p = start();
  const std::string one = file("one.ndjson", "{\"a\":1}\n");
  ASSERT_TRUE(waitUntil([&] { return curl({opsUrl("/readyz")}).status == 200; }));
  EXPECT_EQ(curl({opsUrl("/healthz")}).status, 200);
  redis_->stop();
  auto r = post("/v1/logs", one);
  EXPECT_EQ(r.status, 503) << r.body;
  EXPECT_EQ(r.header("Retry-After"), "2");
  EXPECT_TRUE(waitUntil([&] { return curl({opsUrl("/readyz")}).status == 503; }));
  EXPECT_EQ(curl({opsUrl("/healthz")}).status, 200);
  redis_->restart();
  ASSERT_TRUE(waitUntil([&] { return post("/v1/logs", one).status == 200; }, 20s));
  EXPECT_TRUE(waitUntil([&] { return curl({opsUrl("/readyz")}).status == 200; }));
}

TEST_F(ReceiverProcessTest, WaitForMoreReplicasThanThereAreIs503) {
  Options o;
  o.waitReplicas = 1;
  Process p = start(o);
  auto r = post("/v1/logs", file("one.ndjson", "{\"a\":1}\n"));
  EXPECT_EQ(r.status, 503);
  EXPECT_NE(r.body.find("replicas"), std::string::npos) << r.body;
}

TEST_F(ReceiverProcessTest, SigtermStopsAcceptingAndExitsZero) {
  Process p = start();
  ASSERT_EQ(post("/v1/logs", file("one.ndjson", "{\"a\":1}\n")).status, 200);
  p.signal(SIGTERM);
  auto st = p.wait(10s);
  ASSERT_TRUE(st.has_value());
  EXPECT_TRUE(WIFEXITED(*st));
  EXPECT_EQ(WEXITSTATUS(*st), 0) << log();
  EXPECT_FALSE(shoal::testing::portOpen(httpPort_));
  EXPECT_NE(log().find("shoal-receiver stopped"), std::string::npos);
}

TEST_F(ReceiverProcessTest, WithABearerTokenSetRequestsWithoutItAre401) {
  Options o;
  o.env["SHOAL_RECEIVER_BEARER_TOKEN"] = "tok-123";
  Process p = start(o);
  const std::string one = file("one.ndjson", "{\"a\":1}\n");
  EXPECT_EQ(post("/v1/logs", one).status, 401);
  EXPECT_EQ(post("/v1/logs", one, {"-H", "Authorization: Bearer wrong"}).status, 401);
  EXPECT_EQ(xlen("logs:app"), 0);
  EXPECT_EQ(post("/v1/logs", one, {"-H", "Authorization: Bearer tok-123"}).status, 200);
  EXPECT_EQ(xlen("logs:app"), 1);
}

TEST_F(ReceiverProcessTest, OnARedisClusterOneRequestsShardsAreWrittenOnTheirOwnNodes) {
  shoal::testing::RedisCluster cluster(shoal::testing::RedisCluster::Options{.primaries = 3, .replicasPerPrimary = 0});
  Options o;
  o.redis = "{address: \"127.0.0.1:" + std::to_string(cluster.ports().front()) + "\", cluster: true}";
  o.logsRoute = "{stream: \"logs:app\", shards: 3, shardKey: host}";
  Process p = start(o);
  std::string body;
  for (int i = 0; i < 300; ++i) body += logLine(i) + "\n";  // hosts web-0 .. web-6
  auto r = post("/v1/logs", file("cluster.ndjson", body));
  ASSERT_EQ(r.status, 200) << r.body << log();
  int64_t total = 0;
  std::set<int> nodes;
  for (int s = 0; s < 3; ++s) {
    const std::string stream = "logs:app:{" + std::to_string(s) + "}";
    const int port = cluster.primaryFor(stream);
    nodes.insert(port);
    const std::string out = cluster.cli(port, "XLEN " + stream);
    total += std::stoll(out);
  }
  EXPECT_EQ(total, 300);
  EXPECT_GE(nodes.size(), 2u) << "one request's shards live on more than one primary";
  // Entries of one host share one shard.
  const std::string webOne = "logs:app:{" + std::to_string(shardForKey("web-1", 3)) + "}";
  const std::string range = cluster.cli(cluster.primaryFor(webOne), "XRANGE " + webOne + " - +");
  int webOneCount = 0;
  for (size_t at = 0; (at = range.find("\"host\":\"web-1\"", at)) != std::string::npos; ++at) ++webOneCount;
  EXPECT_EQ(webOneCount, 43);  // i % 7 == 1 for i < 300
}

TEST_F(ReceiverProcessTest, ABadConfigExits2NamingTheField) {
  Process::Options po;
  po.argv = {SHOAL_RECEIVER_BINARY, "--config", writeConfig(Options{.extra = "  surprise: 1\n"})};
  po.stderrPath = dir_.file("bad.log");
  Process p(po);
  auto st = p.wait(10s);
  ASSERT_TRUE(st.has_value());
  EXPECT_EQ(WEXITSTATUS(*st), 2);
  EXPECT_NE(Process::readFile(po.stderrPath).find("spec.surprise: unknown field"), std::string::npos)
      << Process::readFile(po.stderrPath);
}

TEST_F(ReceiverProcessTest, ARealPrometheusRemoteWritesItsSamplesAsMetricEvents) {
  Process p = start();
  // Prometheus scrapes the receiver's own /metrics and remote-writes what it
  // scraped to the receiver.
  shoal::testing::PrometheusServer::Options po;
  po.scrapeInterval = "1s";
  po.scrapeConfigs = "  - job_name: receiver\n    static_configs: [{targets: ['127.0.0.1:" +
                     std::to_string(metricsPort_) + "']}]\n";
  po.remoteWrite = "  - url: " + url("/api/v1/write") +
                   "\n    queue_config: {batch_send_deadline: 200ms, min_backoff: 50ms, max_backoff: 200ms}\n";
  shoal::testing::PrometheusServer prom(po);
  Json up;
  ASSERT_TRUE(waitUntil(
      [&] {
        for (const auto& e : entries("metrics:rw")) {
          auto j = Json::parse(e.fields.at(0).second, nullptr, false);
          if (j.is_object() && j["name"] == "up") {
            up = j;
            return true;
          }
        }
        return false;
      },
      30s))
      << "no 'up' event arrived; stream holds " << xlen("metrics:rw");
  EXPECT_EQ(up["labels"]["job"], "receiver");
  EXPECT_EQ(up["value"], 1);
  EXPECT_EQ(up["type"], "gauge");
  EXPECT_GT(up["timestamp"].get<int64_t>(), 1700000000000);
  auto metrics = curl({opsUrl("/metrics")});
  EXPECT_NE(metrics.body.find(R"(shoal_receiver_requests_total{code="204",path="/api/v1/write"})"), std::string::npos);
}

TEST_F(ReceiverProcessTest, SyslogOverTcpAndUdpFromLoggerIsStoredByFacilityAndThrottledTcpStalls) {
  const int tcp = freePort(), udp = freePort();
  Options o;
  o.maxBacklog = 5;
  o.extra = "  syslog:\n    tcp: {port: " + std::to_string(tcp) + "}\n    udp: {port: " + std::to_string(udp) +
            "}\n    route: {stream: \"syslog:app\", byFacility: {local3: \"syslog:local3\"}}\n";
  Process p = start(o);
  ASSERT_TRUE(waitUntil([&] { return shoal::testing::portOpen(tcp); })) << log();
  auto logger = [&](const std::vector<std::string>& args) {
    std::string cmd = "logger";
    for (const auto& a : args) cmd += " '" + a + "'";
    int code = -1;
    const std::string out = shoal::testing::runCommand(cmd + " 2>&1", false, &code);
    EXPECT_EQ(code, 0) << cmd << ": " << out;
  };
  // The real util-linux logger: octet-counted RFC 5424 over TCP, a local3 message over UDP.
  logger({"--tcp", "--octet-count", "--rfc5424", "-n", "127.0.0.1", "-P", std::to_string(tcp), "-t", "app",
          "tcp one"});
  logger({"--udp", "--rfc5424", "-p", "local3.info", "-n", "127.0.0.1", "-P", std::to_string(udp), "-t", "app",
          "udp local3"});
  ASSERT_TRUE(waitUntil([&] { return xlen("syslog:app") == 1 && xlen("syslog:local3") == 1; })) << log();
  const auto tcpEntry = entries("syslog:app");
  ASSERT_EQ(tcpEntry.size(), 1u);
  const std::string* line = tcpEntry[0].field("message");
  ASSERT_NE(line, nullptr);
  EXPECT_EQ(line->rfind("<13>1 ", 0), 0u) << *line;  // user.notice, the raw line, not parsed
  EXPECT_NE(line->find("tcp one"), std::string::npos) << *line;
  EXPECT_NE(entries("syslog:local3")[0].field("message")->find("udp local3"), std::string::npos);

  // A group that has read nothing and a backlog past maxBacklog: the
  // receiver stops reading TCP syslog (logger's lines wait in the socket);
  // once the group acknowledges everything, what was held is stored.
  ASSERT_TRUE(client_->createGroup("syslog:app", "g", "0").ok());
  for (int i = 0; i < 10; ++i) ASSERT_TRUE(client_->add("syslog:app", {{"message", "filler"}}).ok());
  auto throttling = [&] {
    return curl({opsUrl("/metrics")}).body.find("shoal_receiver_throttling{stream=\"syslog:app\"} 1") !=
           std::string::npos;
  };
  ASSERT_TRUE(waitUntil(throttling)) << curl({opsUrl("/metrics")}).body;
  auto throttledTotal = [&] {
    const std::string body = curl({opsUrl("/metrics")}).body;
    const auto at = body.find("\nshoal_receiver_entries_throttled_total ");  // the sample, not # HELP/# TYPE
    return at == std::string::npos ? -1.0 : std::stod(body.substr(at + 40));
  };
  const double before = throttledTotal();
  for (int i = 0; i < 5; ++i)
    logger({"--tcp", "-n", "127.0.0.1", "-P", std::to_string(tcp), "-t", "app", "held " + std::to_string(i)});
  // The sink refused the lines (counted), and none of them is in the stream.
  ASSERT_TRUE(waitUntil([&] { return throttledTotal() > before; })) << log();
  EXPECT_EQ(xlen("syslog:app"), 11);
  auto read = client_->readGroup("syslog:app", "g", "c1", ">", 1000, -1);
  ASSERT_TRUE(read.ok());
  std::vector<std::string> ids;
  for (auto& e : *read) ids.push_back(e.id);
  ASSERT_EQ(ids.size(), 11u);
  ASSERT_TRUE(client_->ack("syslog:app", "g", ids).ok());
  ASSERT_TRUE(waitUntil([&] { return xlen("syslog:app") == 16; })) << log();
  // Each logger run is its own connection: all five arrive, in whatever order the connections are read.
  std::set<std::string> held;
  const auto all = entries("syslog:app");
  for (size_t k = 11; k < all.size(); ++k) {
    const std::string& m = *all[k].field("message");
    held.insert(m.substr(m.find("held ")));
  }
  EXPECT_EQ(held, (std::set<std::string>{"held 0", "held 1", "held 2", "held 3", "held 4"}));
}

TEST_F(ReceiverProcessTest, StreamFromFieldSendsEachEntryToTheStreamItsFieldNames) {
  Options o;
  o.logsRoute = "{stream: \"logs:app\", streamFromField: {field: service, streams: {checkout: \"logs:checkout\"}}}";
  o.metricsRoute = "{stream: \"metrics:app\", streamFromField: {field: name, streams: {up: \"metrics:up\"}}}";
  o.bulkRoute = "{stream: \"logs:bulk\", streamFromField: {streams: {nginx: \"logs:nginx\"}}}";  // by _index
  Process p = start(o);
  std::string body;
  for (int i = 0; i < 6; ++i) body += logLine(i) + "\n";  // service checkout
  body += "{\"service\":\"billing\",\"n\":1}\n{\"n\":2}\n{\"service\":{\"name\":\"checkout\"}}\n";
  auto r = post("/v1/logs", file("mixed.ndjson", body));
  ASSERT_EQ(r.status, 200) << r.body;
  EXPECT_EQ(xlen("logs:checkout"), 6);
  EXPECT_EQ(entries("logs:checkout")[5].fields[0].second, logLine(5));
  // Unknown value, missing field, a value that is not a scalar: the route's stream.
  EXPECT_EQ(xlen("logs:app"), 3);
  EXPECT_EQ(entries("logs:app")[0].fields[0].second, "{\"service\":\"billing\",\"n\":1}");

  ASSERT_EQ(post("/v1/metrics", file("m.json", R"([{"name":"up","value":1},{"name":"load1","value":0.5}])")).status, 200);
  EXPECT_EQ(xlen("metrics:up"), 1);
  EXPECT_EQ(xlen("metrics:app"), 1);

  auto b = post("/nginx/_bulk", file("bulk.ndjson", "{\"index\":{}}\n{\"m\":1}\n"
                                                    "{\"index\":{\"_index\":\"other\"}}\n{\"m\":2}\n"));
  ASSERT_EQ(b.status, 200) << b.body;
  EXPECT_EQ(xlen("logs:nginx"), 1);
  EXPECT_EQ(xlen("logs:bulk"), 1);
  auto metrics = curl({opsUrl("/metrics")});
  EXPECT_NE(metrics.body.find(R"(shoal_receiver_entries_accepted_total{stream="logs:checkout"} 6)"), std::string::npos)
      << metrics.body;
}

TEST_F(ReceiverProcessTest, AStreamFromFieldTargetOverMaxBacklogIs429AndTheOthersStillFlow) {
  Options o;
  o.maxBacklog = 3;
  o.logsRoute = "{stream: \"logs:app\", streamFromField: {field: service, streams: {checkout: \"logs:checkout\"}}}";
  ASSERT_TRUE(client_->createGroup("logs:checkout", "g", "$").ok());
  Process p = start(o);
  std::string body;
  for (int i = 0; i < 5; ++i) body += logLine(i) + "\n";
  const std::string checkout = file("checkout.ndjson", body);
  ASSERT_EQ(post("/v1/logs", checkout).status, 200);
  ASSERT_TRUE(waitUntil([&] { return post("/v1/logs", checkout).status == 429; })) << log();
  const int64_t stored = xlen("logs:checkout");
  EXPECT_EQ(stored % 5, 0) << "a request is stored whole or not at all";
  // Another stream of the same route is not held back; the throttled one stays refused.
  EXPECT_EQ(post("/v1/logs", file("other.ndjson", "{\"service\":\"billing\"}\n")).status, 200);
  EXPECT_EQ(xlen("logs:app"), 1);
  EXPECT_EQ(post("/v1/logs", checkout).status, 429);
  EXPECT_EQ(xlen("logs:checkout"), stored);
}

TEST_F(ReceiverProcessTest, AStreamFromFieldMistakeExits2NamingTheField) {
  Options o;
  o.logsRoute = "{stream: \"logs:app\", shards: 2, streamFromField: {field: service, streams: {a: b}}}";
  Process::Options po;
  po.argv = {SHOAL_RECEIVER_BINARY, "--config", writeConfig(o)};
  po.stderrPath = dir_.file("bad-from-field.log");
  Process bad(po);
  auto st = bad.wait(10s);
  ASSERT_TRUE(st.has_value());
  EXPECT_EQ(WEXITSTATUS(*st), 2);
  EXPECT_NE(Process::readFile(po.stderrPath).find("spec.http.routes.logs.streamFromField: cannot be combined"),
            std::string::npos)
      << Process::readFile(po.stderrPath);
}

// RFC 5425 through the process: the certificate and key from files; a
// client that trusts the certificate delivers octet-counted frames into the
// stream, one that trusts another CA refuses the handshake and nothing of it
// is stored.
TEST_F(ReceiverProcessTest, SyslogOverTlsWithTheCertificateFromFilesAndAClientWithAWrongCaIsRefused) {
  const auto server = shoal::testing::selfSignedCertificate(dir_, "server");
  const auto other = shoal::testing::selfSignedCertificate(dir_, "other");
  const int tls = freePort();
  Options o;
  o.env = {{"SHOAL_RECEIVER_TLS_CERT_FILE", server.cert}, {"SHOAL_RECEIVER_TLS_KEY_FILE", server.key}};
  o.extra = "  syslog:\n    tls: {port: " + std::to_string(tls) + ", secretName: front-tls}\n" +
            "    route: {stream: \"syslog:tls\", byFacility: {local0: \"syslog:local0\"}}\n";
  Process p = start(o);
  ASSERT_TRUE(waitUntil([&] { return shoal::testing::portOpen(tls); })) << log();
  const std::string one = "<134>1 2026-12-06T10:00:00Z host app - - - over tls one";
  const std::string two = "<13>1 2026-12-06T10:00:01Z host app - - - over tls two";
  const std::string frames = std::to_string(one.size()) + " " + one + std::to_string(two.size()) + " " + two;
  int rc = -1;
  std::string out = shoal::testing::opensslClient(tls, server.cert, file("frames", frames), &rc);
  ASSERT_EQ(rc, 0) << out;
  ASSERT_TRUE(waitUntil([&] { return xlen("syslog:local0") == 1 && xlen("syslog:tls") == 1; })) << out << log();
  EXPECT_EQ(*entries("syslog:local0")[0].field("message"), one);
  EXPECT_EQ(*entries("syslog:tls")[0].field("message"), two);

  out = shoal::testing::opensslClient(tls, other.cert, file("refused", "13 <13>must not"), &rc);
  EXPECT_NE(rc, 0) << out;
  EXPECT_NE(out.find("verify"), std::string::npos) << out;
  // The receiver goes on: another trusted client is served, and nothing of the refused one was stored.
  out = shoal::testing::opensslClient(tls, server.cert, file("again", "9 <13>again"), &rc);
  ASSERT_EQ(rc, 0) << out;
  ASSERT_TRUE(waitUntil([&] { return xlen("syslog:tls") == 2; })) << log();
  EXPECT_EQ(*entries("syslog:tls")[1].field("message"), "<13>again");
  EXPECT_EQ(xlen("syslog:tls:rejected"), 0);
  EXPECT_EQ(xlen("syslog:local0"), 1);
}

// Python's logging.handlers.SysLogHandler, the standard library's syslog
// client (TCP frames end with NUL), through the process into the streams.
TEST_F(ReceiverProcessTest, PythonSysLogHandlerOverTcpAndUdpArrivesInTheStreams) {
  const int tcp = freePort(), udp = freePort();
  Options o;
  o.extra = "  syslog:\n    tcp: {port: " + std::to_string(tcp) + "}\n    udp: {port: " + std::to_string(udp) +
            "}\n    route: {stream: \"syslog:app\", byFacility: {local0: \"syslog:local0\"}}\n";
  Process p = start(o);
  ASSERT_TRUE(waitUntil([&] { return shoal::testing::portOpen(tcp); })) << log();
  shoal::testing::pythonSysLog(dir_, tcp, true, "LOCAL0", {"tcp one", "tcp two"});
  shoal::testing::pythonSysLog(dir_, udp, false, "AUTH", {"udp one"});
  ASSERT_TRUE(waitUntil([&] { return xlen("syslog:local0") == 2 && xlen("syslog:app") == 1; })) << log();
  // warning = severity 4: local0 (16) -> <132>, auth (4) -> <36>; the raw message, unparsed.
  const auto tcpEntries = entries("syslog:local0");
  EXPECT_EQ(*tcpEntries[0].field("message"), "<132>tcp one");
  EXPECT_EQ(*tcpEntries[1].field("message"), "<132>tcp two");
  EXPECT_EQ(*entries("syslog:app")[0].field("message"), "<36>udp one");
  auto metrics = curl({opsUrl("/metrics")});
  EXPECT_NE(metrics.body.find(R"(shoal_receiver_entries_accepted_total{stream="syslog:local0"} 2)"), std::string::npos)
      << metrics.body;
}

TEST_F(ReceiverProcessTest, AMalformedRemoteWriteBodyIs400) {
  Process p = start();
  auto r = curl({"--data-binary", "@" + file("junk.bin", "not snappy at all"), "-H", "Content-Encoding: snappy",
                 "-H", "Content-Type: application/x-protobuf", url("/api/v1/write")});
  EXPECT_EQ(r.status, 400);
  EXPECT_EQ(xlen("metrics:rw"), 0);
}

}  // namespace
}  // namespace shoal
