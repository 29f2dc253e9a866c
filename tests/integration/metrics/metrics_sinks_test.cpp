// Integration tests of the metrics pipeline's sinks at the BatchHandler
// level, against real servers started on free loopback ports: Prometheus 2.42
// (remote write receiver), the Pushgateway and PostgreSQL 15.
#include <gtest/gtest.h>

#include <httplib.h>

#include <atomic>
#include <mutex>
#include <nlohmann/json.hpp>
#include <thread>

#include "shoal/metrics/metrics_handler.h"
#include "shoal/metrics/remote_write_handler.h"
#include "shoal/testing/process.h"
#include "shoal/testing/servers.h"

namespace shoal {
namespace {

using shoal::testing::waitUntil;
using Json = nlohmann::json;

// One server of each kind per test binary, started on first use and stopped
// at exit (function-local statics are destroyed after main returns).
testing::PrometheusServer& prometheus() {
  static testing::PrometheusServer p;
  return p;
}
testing::PostgresServer& postgres() {
  static testing::PostgresServer p;
  return p;
}
testing::PushgatewayServer& pushgateway() {
  static testing::PushgatewayServer p;
  return p;
}

int64_t nowMs() {
  return std::chrono::duration_cast<std::chrono::milliseconds>(std::chrono::system_clock::now().time_since_epoch())
      .count();
}

std::string urlEncode(const std::string& s) {
  std::string out;
  char buf[4];
  for (unsigned char c : s) {
    if (isalnum(c) || c == '-' || c == '_' || c == '.' || c == '~') {
      out += static_cast<char>(c);
    } else {
      std::snprintf(buf, sizeof buf, "%%%02X", c);
      out += buf;
    }
  }
  return out;
}

// Runs an instant query; returns the result vector (empty on any failure).
Json query(const std::string& expr, int64_t atMs) {
  int status = 0;
  const std::string body = testing::httpGet(
      prometheus().port(), "/api/v1/query?query=" + urlEncode(expr) + "&time=" + std::to_string(atMs / 1000.0), &status);
  if (status != 200) return Json::array();
  Json j = Json::parse(body, nullptr, false);
  if (j.is_discarded() || j.value("status", "") != "success") return Json::array();
  return j["data"]["result"];
}

// The single value of an instant query, or NaN when there is not exactly one.
double queryOne(const std::string& expr, int64_t atMs) {
  Json r = query(expr, atMs);
  if (r.size() != 1) return std::nan("");
  return std::stod(r[0]["value"][1].get<std::string>());
}

StreamEntry entry(const std::string& id, const std::string& event, int64_t deliveries = 1) {
  return StreamEntry{id, {{"event", event}}, deliveries};
}

std::string uniq(const std::string& base) {
  static int n = 0;
  return base + "_" + std::to_string(::getpid()) + "_" + std::to_string(++n);
}

PipelineConfig remoteWriteConfig(const std::string& url) {
  PipelineConfig c;
  c.type = "metrics";
  c.redis.stream = "metrics";
  c.sink = YAML::Load("prometheusRemoteWrite: {url: '" + url + "/api/v1/write', shards: 2}");
  return c;
}

void expectAll(const std::vector<EntryResult>& res, EntryOutcome o) {
  for (size_t i = 0; i < res.size(); ++i) EXPECT_EQ(res[i].outcome, o) << i << ": " << res[i].reason;
}

TEST(RemoteWriteIntegration, EveryMetricTypeIsQueryableWithValuesAndLabels) {
  prometheus::Registry reg;
  auto h = makeMetricsHandler(remoteWriteConfig(prometheus().url()), reg, SystemClock::instance(), {});
  const std::string c = uniq("it_requests_total"), g = uniq("it_temperature"), hi = uniq("it_latency"),
                    s = uniq("it_rt");
  const int64_t t = nowMs() - 5000;
  const std::string ts = std::to_string(t);
  std::vector<StreamEntry> entries = {
      entry("1-0", R"({"name":")" + c + R"(","type":"counter","value":12,"labels":{"code":"200","method":"GET"},"timestamp":)" + ts + "}"),
      entry("1-1", R"({"name":")" + g + R"(","type":"gauge","value":-3.5,"labels":"{\"room\":\"lab\"}","timestamp":)" + ts + "}"),
      entry("1-2", R"({"name":")" + hi + R"(","type":"histogram","sum":4.5,"count":9,"buckets":{"0.1":3,"1":7},"labels":{"svc":"api"},"timestamp":)" + ts + "}"),
      entry("1-3", R"({"name":")" + s + R"(","type":"summary","sum":10,"count":4,"quantiles":{"0.5":1.25,"0.99":3},"timestamp":)" + ts + "}"),
  };
  auto res = h->handle(entries, CancelToken{});
  expectAll(res, EntryOutcome::kDelivered);

  Json r = query(c, t);
  ASSERT_EQ(r.size(), 1u) << r.dump();
  EXPECT_EQ(r[0]["metric"], (Json{{"__name__", c}, {"code", "200"}, {"method", "GET"}}));
  EXPECT_EQ(r[0]["value"][1], "12");
  EXPECT_EQ(queryOne(g + "{room=\"lab\"}", t), -3.5);
  EXPECT_EQ(queryOne(hi + "_bucket{le=\"0.1\",svc=\"api\"}", t), 3);
  EXPECT_EQ(queryOne(hi + "_bucket{le=\"1\"}", t), 7);
  EXPECT_EQ(queryOne(hi + "_bucket{le=\"+Inf\"}", t), 9);
  EXPECT_EQ(queryOne(hi + "_sum", t), 4.5);
  EXPECT_EQ(queryOne(hi + "_count", t), 9);
  EXPECT_EQ(query(hi + "_bucket", t).size(), 3u);
  EXPECT_EQ(queryOne(s + "{quantile=\"0.5\"}", t), 1.25);
  EXPECT_EQ(queryOne(s + "{quantile=\"0.99\"}", t), 3);
  EXPECT_EQ(queryOne(s + "_sum", t), 10);
  EXPECT_EQ(queryOne(s + "_count", t), 4);
}

TEST(RemoteWriteIntegration, RedeliveredBatchDoesNotBreakIngestion) {
  prometheus::Registry reg;
  auto h = makeMetricsHandler(remoteWriteConfig(prometheus().url()), reg, SystemClock::instance(), {});
  const std::string g = uniq("it_redelivered");
  const int64_t t = nowMs() - 60000;
  std::vector<StreamEntry> first;
  for (int i = 0; i < 5; ++i)
    first.push_back(entry("2-" + std::to_string(i), R"({"name":")" + g + R"(","type":"gauge","value":)" +
                                                       std::to_string(100 + i) + R"(,"timestamp":)" +
                                                       std::to_string(t + i * 1000) + "}"));
  expectAll(h->handle(first, CancelToken{}), EntryOutcome::kDelivered);

  // The worker died before XACK: the same entries come again (deliveries 2),
  // together with a new one. None may be dead-lettered, the new one stored.
  std::vector<StreamEntry> again = first;
  for (auto& e : again) e.deliveries = 2;
  again.push_back(entry("2-5", R"({"name":")" + g + R"(","type":"gauge","value":105,"timestamp":)" +
                                   std::to_string(t + 5000) + "}"));
  auto* rw = dynamic_cast<metrics::RemoteWriteHandler*>(h.get());
  ASSERT_NE(rw, nullptr);
  const uint64_t before = rw->requestsSent();
  expectAll(h->handle(again, CancelToken{}), EntryOutcome::kDelivered);
  // Prometheus refused the whole request (out of order), so it was bisected.
  EXPECT_GT(rw->requestsSent() - before, 2u);
  EXPECT_EQ(queryOne("count_over_time(" + g + "[1m])", t + 5000), 6);
  EXPECT_EQ(queryOne("sum_over_time(" + g + "[1m])", t + 5000), 615);
}

TEST(RemoteWriteIntegration, InvalidEventsAreDeadLetteredAndValidOnesDelivered) {
  prometheus::Registry reg;
  auto h = makeMetricsHandler(remoteWriteConfig(prometheus().url()), reg, SystemClock::instance(), {});
  const std::string g = uniq("it_mixed");
  const int64_t t = nowMs() - 3000;
  const std::string ts = std::to_string(t);
  std::vector<StreamEntry> entries = {
      entry("3-0", R"({"name":")" + g + R"(","type":"gauge","value":1,"labels":{"k":"a"},"timestamp":)" + ts + "}"),
      entry("3-1", R"({"name":"bad-name","type":"gauge","value":1})"),
      entry("3-2", R"({"name":")" + g + R"(","type":"gauge","value":2,"labels":"{broken","timestamp":)" + ts + "}"),
      entry("3-3", R"({"name":")" + g + R"(","type":"gauge","value":3,"timestamp":"last tuesday"})"),
      entry("3-4", R"({"name":")" + g + R"(","type":"gauge","value":4,"labels":{"k":"b"},"timestamp":)" + ts + "}"),
  };
  auto res = h->handle(entries, CancelToken{});
  EXPECT_EQ(res[0].outcome, EntryOutcome::kDelivered);
  EXPECT_EQ(res[4].outcome, EntryOutcome::kDelivered);
  for (int i : {1, 2, 3}) EXPECT_EQ(res[i].outcome, EntryOutcome::kDeadLetter) << i;
  EXPECT_NE(res[1].reason.find("not a valid metric name"), std::string::npos) << res[1].reason;
  EXPECT_NE(res[2].reason.find("labels"), std::string::npos) << res[2].reason;
  EXPECT_NE(res[3].reason.find("timestamp"), std::string::npos) << res[3].reason;
  EXPECT_EQ(queryOne(g + "{k=\"a\"}", t), 1);
  EXPECT_EQ(queryOne(g + "{k=\"b\"}", t), 4);
  EXPECT_EQ(query(g, t).size(), 2u);
}

TEST(RemoteWriteIntegration, NothingDeliveredWhilePrometheusIsDownThenEverything) {
  prometheus::Registry reg;
  metrics::RemoteWriteConfig cfg;
  cfg.url = prometheus().url() + "/api/v1/write";
  cfg.retryMax = std::chrono::milliseconds(500);
  const std::string base = prometheus().url();
  metrics::RemoteWriteHandler h(
      cfg, metrics::TransformConfig{}, SystemClock::instance(),
      [base] { return *metrics::makeSinkClient(base, std::chrono::seconds(5)); }, &reg);
  const std::string g = uniq("it_outage");
  const int64_t t = nowMs() - 2000;
  std::vector<StreamEntry> entries;
  for (int i = 0; i < 20; ++i)
    entries.push_back(entry("4-" + std::to_string(i), R"({"name":")" + g + R"(","type":"gauge","value":)" +
                                                          std::to_string(i) + R"(,"labels":{"i":")" + std::to_string(i) +
                                                          R"("},"timestamp":)" + std::to_string(t) + "}"));
  prometheus().stop();
  std::atomic<bool> done{false};
  std::vector<EntryResult> res;
  CancelToken cancel;
  std::thread worker([&] {
    res = h.handle(entries, cancel);
    done = true;
  });
  // Several attempts fail while it is down, and handle() does not return.
  EXPECT_TRUE(waitUntil([&] { return h.requestsSent() >= 4; }, std::chrono::seconds(20)));
  EXPECT_FALSE(done.load());
  EXPECT_FALSE(h.sinkReady());
  prometheus().start();
  const bool finished = waitUntil([&] { return done.load(); }, std::chrono::seconds(30));
  if (!finished) cancel.cancel();
  worker.join();
  ASSERT_TRUE(finished);
  expectAll(res, EntryOutcome::kDelivered);
  EXPECT_EQ(query(g, t).size(), 20u);
  EXPECT_TRUE(h.sinkReady());
}

TEST(RemoteWriteIntegration, CancelDuringOutageLeavesEntriesPending) {
  prometheus::Registry reg;
  const int deadPort = testing::freePort();
  auto h = makeMetricsHandler(remoteWriteConfig("http://127.0.0.1:" + std::to_string(deadPort)), reg,
                              SystemClock::instance(), {});
  auto* rw = dynamic_cast<metrics::RemoteWriteHandler*>(h.get());
  ASSERT_NE(rw, nullptr);
  CancelToken cancel;
  std::vector<EntryResult> res;
  std::thread worker([&] {
    res = h->handle(std::vector<StreamEntry>{entry("5-0", R"({"name":"x","type":"gauge","value":1})")}, cancel);
  });
  EXPECT_TRUE(waitUntil([&] { return rw->requestsSent() >= 3; }));
  cancel.cancel();
  worker.join();
  ASSERT_EQ(res.size(), 1u);
  EXPECT_EQ(res[0].outcome, EntryOutcome::kRetry);
}

TEST(PushgatewayIntegration, PushedGroupIsShownByTheGateway) {
  prometheus::Registry reg;
  PipelineConfig c;
  c.type = "metrics";
  c.redis.stream = "metrics";
  const std::string job = uniq("nightly");
  c.sink = YAML::Load("pushgateway: {url: '" + pushgateway().url() + "', job: " + job +
                      ", method: PUT, grouping: {env: prod}, groupingLabels: [instance]}");
  auto h = makeMetricsHandler(c, reg, SystemClock::instance(), {});
  std::vector<StreamEntry> entries = {
      entry("6-0", R"({"name":"it_rows_processed","type":"gauge","value":41,"labels":{"instance":"db/1","table":"t"}})"),
      entry("6-1", R"({"name":"it_rows_processed","type":"gauge","value":42,"labels":{"instance":"db/1","table":"t"},"timestamp":9999999999})"),
      entry("6-2", R"({"name":"it_run_seconds","type":"histogram","sum":3,"count":2,"buckets":{"1":1,"5":2},"labels":{"instance":"db/1"}})"),
      entry("6-3", R"({"name":"it rows","type":"gauge","value":1})"),
  };
  auto res = h->handle(entries, CancelToken{});
  EXPECT_EQ(res[0].outcome, EntryOutcome::kDelivered) << res[0].reason;
  EXPECT_EQ(res[1].outcome, EntryOutcome::kDelivered) << res[1].reason;
  EXPECT_EQ(res[2].outcome, EntryOutcome::kDelivered) << res[2].reason;
  EXPECT_EQ(res[3].outcome, EntryOutcome::kDeadLetter);

  int status = 0;
  const std::string body = testing::httpGet(pushgateway().port(), "/api/v1/metrics", &status);
  ASSERT_EQ(status, 200);
  Json j = Json::parse(body, nullptr, false);
  ASSERT_FALSE(j.is_discarded());
  bool found = false;
  for (auto& group : j["data"]) {
    if (group["labels"].value("job", "") != job) continue;
    found = true;
    EXPECT_EQ(group["labels"], (Json{{"job", job}, {"env", "prod"}, {"instance", "db/1"}}));
    ASSERT_TRUE(group.contains("it_rows_processed"));
    auto& m = group["it_rows_processed"]["metrics"];
    ASSERT_EQ(m.size(), 1u);
    EXPECT_EQ(m[0]["value"], "42");
    EXPECT_EQ(m[0]["labels"]["table"], "t");
    ASSERT_TRUE(group.contains("it_run_seconds"));
    EXPECT_EQ(group["it_run_seconds"]["metrics"][0]["count"], "2");
  }
  EXPECT_TRUE(found) << body;
  const std::string scrape = testing::httpGet(pushgateway().port(), "/metrics");
  EXPECT_NE(scrape.find("it_rows_processed{env=\"prod\",instance=\"db/1\",job=\"" + job + "\",table=\"t\"} 42"),
            std::string::npos);
}

PipelineConfig postgresConfig(const std::string& extra = "") {
  PipelineConfig c;
  c.type = "metrics";
  c.redis.stream = "metrics-pg";
  c.redis.consumerGroup = "g1";
  c.sink = YAML::Load("postgres: {conninfo: '" + postgres().conninfo() + "', windowSeconds: 3600" + extra + "}");
  return c;
}

TEST(PostgresIntegration, AggregatesExactlyOnceAcrossRedelivery) {
  prometheus::Registry reg;
  auto h = makeMetricsHandler(postgresConfig(), reg, SystemClock::instance(), {{"SHOAL_SINK_PASSWORD", "unused"}});
  EXPECT_TRUE(h->sinkReady());
  const std::string g = uniq("pg_load");
  const int64_t t = 1700000000000 + 60000;  // inside one hour window
  std::vector<StreamEntry> batch;
  for (int i = 0; i < 5; ++i)
    batch.push_back(entry("7-" + std::to_string(i), R"({"name":")" + g + R"(","type":"gauge","value":)" +
                                                       std::to_string(100 + i) + R"(,"labels":{"host":"a"},"timestamp":)" +
                                                       std::to_string(t + i) + "}"));
  batch.push_back(entry("7-5", R"({"name":")" + g + R"(","type":"gauge","value":"oops"})"));
  auto res = h->handle(batch, CancelToken{});
  for (int i = 0; i < 5; ++i) EXPECT_EQ(res[i].outcome, EntryOutcome::kDelivered) << res[i].reason;
  EXPECT_EQ(res[5].outcome, EntryOutcome::kDeadLetter);
  const std::string sql = "SELECT count, sum, min, max, last, labels::text, window_start = to_timestamp(1699999200) "
                          "FROM shoal_metric_aggregates WHERE metric_name = '" + g + "'";
  EXPECT_EQ(postgres().psql(sql), "5|510|100|104|104|{\"host\": \"a\"}|t\n");

  // Redelivered (worker killed after COMMIT, before XACK), also to a freshly
  // started handler: recognised by entry id, nothing counted twice.
  for (auto& e : batch) e.deliveries = 2;
  auto again = h->handle(batch, CancelToken{});
  for (int i = 0; i < 5; ++i) EXPECT_EQ(again[i].outcome, EntryOutcome::kDelivered) << again[i].reason;
  EXPECT_EQ(again[5].outcome, EntryOutcome::kDeadLetter);
  auto h2 = makeMetricsHandler(postgresConfig(), reg, SystemClock::instance(), {});
  auto res2 = h2->handle(batch, CancelToken{});
  EXPECT_EQ(res2[5].outcome, EntryOutcome::kDeadLetter);
  for (int i = 0; i < 5; ++i) EXPECT_EQ(res2[i].outcome, EntryOutcome::kDelivered);
  EXPECT_EQ(postgres().psql(sql), "5|510|100|104|104|{\"host\": \"a\"}|t\n");

  // New entries add to the same row; a sample of the same time with a lower
  // value does not replace `last` unless it is newer.
  std::vector<StreamEntry> more = {
      entry("7-6", R"({"name":")" + g + R"(","type":"gauge","value":1,"labels":{"host":"a"},"timestamp":)" + std::to_string(t + 10) + "}")};
  expectAll(h2->handle(more, CancelToken{}), EntryOutcome::kDelivered);
  EXPECT_EQ(postgres().psql(sql), "6|511|1|104|1|{\"host\": \"a\"}|t\n");
}

TEST(PostgresIntegration, HistogramAggregatesPerExpandedSeriesAndSchemaIsIdempotent) {
  prometheus::Registry reg;
  auto h1 = makeMetricsHandler(postgresConfig(), reg, SystemClock::instance(), {});
  auto h2 = makeMetricsHandler(postgresConfig(), reg, SystemClock::instance(), {});  // CREATE IF NOT EXISTS again
  const std::string n = uniq("pg_hist");
  std::vector<StreamEntry> batch = {
      entry("8-0", R"({"name":")" + n + R"(","type":"histogram","sum":3,"count":2,"buckets":{"1":1},"timestamp":1700000000})")};
  expectAll(h2->handle(batch, CancelToken{}), EntryOutcome::kDelivered);
  EXPECT_EQ(postgres().psql("SELECT metric_name || ' ' || coalesce(labels->>'le','-') || ' ' || sum FROM shoal_metric_aggregates "
                            "WHERE metric_name LIKE '" + n + "%' ORDER BY 1"),
            n + "_bucket +Inf 2\n" + n + "_bucket 1 1\n" + n + "_count - 2\n" + n + "_sum - 3\n");
}

}  // namespace
}  // namespace shoal

namespace shoal {
namespace {

// A remote-write endpoint that records the Authorization header it was sent
// and answers 204, for the credential tests (Prometheus itself does not check
// credentials).
class RecordingEndpoint {
 public:
  RecordingEndpoint() {
    server_.Post("/api/v1/write", [this](const httplib::Request& req, httplib::Response& res) {
      std::lock_guard l(mu_);
      auth_ = req.get_header_value("Authorization");
      ++requests_;
      res.status = 204;
    });
    port_ = server_.bind_to_any_port("127.0.0.1");
    thread_ = std::thread([this] { server_.listen_after_bind(); });
    waitUntil([this] { return server_.is_running(); });
  }
  ~RecordingEndpoint() {
    server_.stop();
    thread_.join();
  }
  std::string url() const { return "http://127.0.0.1:" + std::to_string(port_); }
  std::string auth() {
    std::lock_guard l(mu_);
    return auth_;
  }
  int requests() {
    std::lock_guard l(mu_);
    return requests_;
  }

 private:
  httplib::Server server_;
  int port_ = 0;
  std::thread thread_;
  std::mutex mu_;
  std::string auth_;
  int requests_ = 0;
};

std::string oneGauge() {
  return R"({"name":"auth_probe","type":"gauge","value":1,"timestamp":1700000000000})";
}

TEST(RemoteWriteCredentials, BearerTokenFromTheEnvironmentIsSent) {
  RecordingEndpoint ep;
  prometheus::Registry reg;
  auto h = makeMetricsHandler(remoteWriteConfig(ep.url()), reg, SystemClock::instance(),
                              {{"SHOAL_SINK_BEARER_TOKEN", "t0ken"}});
  std::vector<StreamEntry> entries = {entry("1700000000000-0", oneGauge())};
  expectAll(h->handle(entries, CancelToken{}), EntryOutcome::kDelivered);
  EXPECT_EQ(ep.requests(), 1);
  EXPECT_EQ(ep.auth(), "Bearer t0ken");
}

TEST(RemoteWriteCredentials, BasicAuthFromUsernameAndPassword) {
  RecordingEndpoint ep;
  prometheus::Registry reg;
  auto h = makeMetricsHandler(remoteWriteConfig(ep.url()), reg, SystemClock::instance(),
                              {{"SHOAL_SINK_USERNAME", "shoal"}, {"SHOAL_SINK_PASSWORD", "pw"}});
  std::vector<StreamEntry> entries = {entry("1700000000000-0", oneGauge())};
  expectAll(h->handle(entries, CancelToken{}), EntryOutcome::kDelivered);
  EXPECT_EQ(ep.auth(), "Basic c2hvYWw6cHc=");  // base64("shoal:pw")
}

TEST(RemoteWriteCredentials, NoCredentialsNoHeader) {
  RecordingEndpoint ep;
  prometheus::Registry reg;
  auto h = makeMetricsHandler(remoteWriteConfig(ep.url()), reg, SystemClock::instance(), {});
  std::vector<StreamEntry> entries = {entry("1700000000000-0", oneGauge())};
  expectAll(h->handle(entries, CancelToken{}), EntryOutcome::kDelivered);
  EXPECT_EQ(ep.auth(), "");
}

}  // namespace
}  // namespace shoal
