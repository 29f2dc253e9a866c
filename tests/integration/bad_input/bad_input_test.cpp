// Bad input, end to end: each test puts one kind of bad entry between valid
// entries of the same batch into a real redis-server, runs the real
// shoal-worker process against a real sink (shoal-bulk-server for logs, the
// rw_receiver remote-write receiver for metrics) and asserts the one defined
// outcome (dead-lettered with the reason in `shoal.reason`, or delivered as
// documented), that every valid entry was delivered and that nothing stays
// pending. Invalid worker config: exit code 2 with the field named on stderr.
// docs/bad-input.md maps each row of the bad-input table to a test here.
#include <gtest/gtest.h>
#include <sys/wait.h>

#include <fstream>
#include <iostream>
#include <nlohmann/json.hpp>
#include <set>

#include "shoal/redis/client.h"
#include "shoal/testing/bulk_server.h"
#include "shoal/testing/servers.h"

#ifndef SHOAL_WORKER_BINARY
#error "SHOAL_WORKER_BINARY must name the shoal-worker executable"
#endif
#ifndef SHOAL_RW_RECEIVER_BINARY
#error "SHOAL_RW_RECEIVER_BINARY must name the rw_receiver executable"
#endif

namespace shoal {
namespace {

using shoal::testing::BulkServer;
using shoal::testing::Process;
using shoal::testing::RedisServer;
using shoal::testing::TempDir;
using shoal::testing::waitUntil;
using namespace std::chrono_literals;

constexpr int kValidBefore = 10;
constexpr int kValidAfter = 10;

// Shared by both pipelines: a redis-server, a client, the dead-letter view.
class BadInputTest : public ::testing::Test {
 protected:
  void SetUp() override {
    redis_ = std::make_unique<RedisServer>();
    auto o = redis::parseUrl(redis_->url());
    ASSERT_TRUE(o.ok());
    client_ = std::make_unique<redis::Client>(*o, SystemClock::instance());
  }

  void add(const std::string& stream, const std::vector<std::pair<std::string, std::string>>& fields,
           const std::string& id = "*") {
    redis::Command c{"XADD", stream, id};
    for (auto& [k, v] : fields) {
      c.push_back(k);
      c.push_back(v);
    }
    auto r = client_->command(c);
    ASSERT_TRUE(r.ok()) << r.error().message;
  }
  std::vector<StreamEntry> deadLetters(const std::string& stream) {
    auto r = client_->command({"XRANGE", stream + ":dead", "-", "+"});
    if (!r.ok()) return {};
    auto d = redis::decodeEntries(*r);
    return d.ok() ? *d : std::vector<StreamEntry>{};
  }
  int64_t pending(const std::string& stream) {
    auto s = client_->pendingSummary(stream, "g");
    return s.ok() ? s->count : -1;
  }
  // Prints each dead letter's reason (the examples in docs/bad-input.md).
  void printReasons(const std::string& stream) {
    for (auto& d : deadLetters(stream))
      std::cout << "  shoal.reason: " << (d.field("shoal.reason") ? *d.field("shoal.reason") : "<none>") << "\n";
  }
  std::string reasons(const std::string& stream) {
    std::string out;
    for (auto& d : deadLetters(stream))
      out += (d.field("shoal.reason") ? *d.field("shoal.reason") : "<no reason>") + "\n";
    return out;
  }
  Process startWorker(const std::string& yaml) {
    const std::string path = dir_.file("pipeline.yaml");
    std::ofstream(path) << yaml;
    Process::Options po;
    po.argv = {SHOAL_WORKER_BINARY, "--config", path, "--listen",
               "127.0.0.1:" + std::to_string(shoal::testing::freePort())};
    po.env = {{"SHOAL_CONSUMER_NAME", "bad-input"}, {"SHOAL_REDIS_URL", redis_->url()}};
    po.stderrPath = dir_.file("worker.log");
    return Process(po);
  }
  std::string log() { return Process::readFile(dir_.file("worker.log")); }

  TempDir dir_;
  std::unique_ptr<RedisServer> redis_;
  std::unique_ptr<redis::Client> client_;
};

// ---------------------------------------------------------------- logs

class BadLogInputTest : public BadInputTest {
 protected:
  void SetUp() override {
    BadInputTest::SetUp();
    bulk_ = std::make_unique<BulkServer>();
  }
  std::string config(const std::string& format, int64_t maxEntryBytes = 1 << 20,
                     const std::string& logsExtra = "") {
    return "spec:\n  type: logs\n  source:\n    redis:\n"
           "      stream: logs\n      consumerGroup: g\n      startId: \"0\"\n      blockMs: 50\n"
           "  delivery: {batchSize: 500, lingerMs: 20, retryInitialMs: 10, retryMaxMs: 200, "
           "maxEntryBytes: " +
           std::to_string(maxEntryBytes) + "}\n  transform: {logs: {format: " + format + logsExtra +
           "}}\n  sink:\n    elasticsearch: {url: \"" + bulk_->url() + "\", index: logs-test}\n";
  }
  void addValidJson(int n, int from) {
    for (int i = from; i < from + n; ++i)
      add("logs", {{"message", R"({"@timestamp":"2026-11-21T05:00:00.000Z","level":"info","message":"valid )" +
                                   std::to_string(i) + "\"}"}});
  }
  // Valid, bad..., valid in one stream (one batch), then the worker; returns
  // the dead letters once every valid entry is indexed and nothing is pending.
  std::vector<StreamEntry> run(
      const std::vector<std::vector<std::pair<std::string, std::string>>>& bad, size_t expectDead,
      int64_t expectDocs, const std::string& format = "json", int64_t maxEntryBytes = 1 << 20,
      const std::string& logsExtra = "") {
    addValidJson(kValidBefore, 0);
    for (auto& b : bad) add("logs", b);
    addValidJson(kValidAfter, kValidBefore);
    auto w = startWorker(config(format, maxEntryBytes, logsExtra));
    EXPECT_TRUE(waitUntil([&] { return bulk_->totalDocs() == expectDocs && deadLetters("logs").size() == expectDead; },
                          30s))
        << "docs=" << bulk_->totalDocs() << " dead:\n" << reasons("logs") << log();
    EXPECT_TRUE(waitUntil([&] { return pending("logs") == 0; })) << log();
    EXPECT_TRUE(w.running()) << log();  // no crash
    for (auto& d : deadLetters("logs")) {
      EXPECT_NE(d.field("shoal.original_id"), nullptr);
      EXPECT_NE(d.field("shoal.reason"), nullptr);
    }
    printReasons("logs");
    return deadLetters("logs");
  }
  static std::string reasonOf(const StreamEntry& d) {
    return d.field("shoal.reason") ? *d.field("shoal.reason") : "";
  }
  std::unique_ptr<BulkServer> bulk_;
};

constexpr int64_t kValid = kValidBefore + kValidAfter;

TEST_F(BadLogInputTest, MalformedJsonIsDeadLettered) {
  auto dead = run({{{"message", R"({"message":"cut off)"}}, {{"message", "{\"a\":1,,}"}}}, 2, kValid);
  ASSERT_EQ(dead.size(), 2u);
  for (auto& d : dead) EXPECT_NE(reasonOf(d).find("parse: json:"), std::string::npos) << reasonOf(d);
}

TEST_F(BadLogInputTest, JsonThatIsNotAnObjectIsDeadLettered) {
  auto dead = run({{{"message", "[1,2,3]"}}}, 1, kValid);
  ASSERT_EQ(dead.size(), 1u);
  EXPECT_NE(reasonOf(dead[0]).find("payload is not a JSON object"), std::string::npos) << reasonOf(dead[0]);
}

TEST_F(BadLogInputTest, OversizedEntryIsDeadLetteredBeforeTheSink) {
  const std::string big = R"({"message":")" + std::string(10000, 'x') + "\"}";
  auto dead = run({{{"message", big}}}, 1, kValid, "json", 4096);
  ASSERT_EQ(dead.size(), 1u);
  EXPECT_NE(reasonOf(dead[0]).find("entry too large"), std::string::npos) << reasonOf(dead[0]);
  EXPECT_NE(reasonOf(dead[0]).find("maxEntryBytes 4096"), std::string::npos) << reasonOf(dead[0]);
}

TEST_F(BadLogInputTest, InvalidUtf8IsDeadLettered) {
  // In the JSON payload, and in another entry field (which would become a label).
  auto dead = run({{{"message", "{\"message\":\"caf\xC3\x28\"}"}},
                   {{"message", R"({"message":"ok"})"}, {"host", "bad\xFF\xFEhost"}}},
                  2, kValid);
  ASSERT_EQ(dead.size(), 2u);
  for (auto& d : dead) EXPECT_NE(reasonOf(d).find("UTF-8"), std::string::npos) << reasonOf(d);
}

TEST_F(BadLogInputTest, MissingTimestampIsIndexedAtTheEntryIdTime) {
  // 1700000000123 ms = 2023-11-14T22:13:20.123Z; an explicit id so the
  // expected time is known (and smaller than the '*' ids that follow).
  add("logs", {{"message", R"({"message":"no timestamp here","level":"warn"})"}}, "1700000000123-0");
  auto dead = run({}, 0, kValid + 1);
  EXPECT_TRUE(dead.empty());
  bool found = false;
  for (auto& doc : bulk_->docs("logs-test")) {
    const auto& src = doc["_source"];
    if (src.value("message", "") != "no timestamp here") continue;
    found = true;
    EXPECT_EQ(src.value("@timestamp", "").rfind("2023-11-14T22:13:20.123", 0), 0u) << src.dump();
  }
  EXPECT_TRUE(found);
}

TEST_F(BadLogInputTest, UnparseableTimestampIsDeadLettered) {
  auto dead = run({{{"message", R"({"@timestamp":"yesterday at noon","message":"x"})"}},
                   {{"message", R"({"timestamp":"2026-13-45T99:00:00Z","message":"y"})"}}},
                  2, kValid);
  ASSERT_EQ(dead.size(), 2u);
  for (auto& d : dead) EXPECT_NE(reasonOf(d).find("timestamp: cannot parse"), std::string::npos) << reasonOf(d);
}

TEST_F(BadLogInputTest, EntryWithoutThePayloadFieldIsDeadLettered) {
  auto dead = run({{{"msg", R"({"message":"wrong field"})"}}}, 1, kValid);
  ASSERT_EQ(dead.size(), 1u);
  EXPECT_NE(reasonOf(dead[0]).find("entry has no field \"message\""), std::string::npos) << reasonOf(dead[0]);
}

// auto reads a payload like json does: without one the entry is a producer's
// mistake, not a log to index without a message.
TEST_F(BadLogInputTest, EntryWithoutThePayloadFieldIsDeadLetteredByAnAutoPipeline) {
  auto dead = run({{{"msg", "wrong field"}, {"level", "info"}}}, 1, kValid, "auto");
  ASSERT_EQ(dead.size(), 1u);
  EXPECT_EQ(reasonOf(dead[0]), "parse: entry has no field \"message\"");
}

// plain reads the entry's own fields: there is no payload to miss.
TEST_F(BadLogInputTest, EntryWithoutThePayloadFieldIsIndexedByAPlainPipeline) {
  auto dead = run({{{"msg", "the fields are the log"}, {"level", "warn"}}}, 0, kValid + 1, "plain");
  EXPECT_TRUE(dead.empty());
  bool found = false;
  for (auto& doc : bulk_->docs("logs-test"))
    if (doc["_source"].value("message", "") == "the fields are the log") found = true;
  EXPECT_TRUE(found);
}

TEST_F(BadLogInputTest, EntryWithMoreFieldsThanMaxFieldsIsDeadLettered) {
  // 60 JSON fields and one other entry field, over maxFields 50; 49 + 1 pass.
  auto wide = [](int n) {
    std::string s = R"({"message":"wide")";
    for (int i = 1; i < n; ++i) s += ",\"f" + std::to_string(i) + "\":" + std::to_string(i);
    return s + "}";
  };
  auto dead = run(
      {{{"message", wide(60)}, {"source", "edge"}}, {{"message", wide(49)}, {"source", "edge"}}}, 1,
      kValid + 1, "json", 1 << 20, ", maxFields: 50");
  ASSERT_EQ(dead.size(), 1u);
  EXPECT_EQ(reasonOf(dead[0]), "too many fields: 61, more than maxFields 50");
}

TEST_F(BadLogInputTest, NumberOutOfRangeIsDeadLetteredNamingTheField) {
  auto dead = run({{{"message", R"({"message":"huge","bytes":1e400})"}}}, 1, kValid);
  ASSERT_EQ(dead.size(), 1u);
  EXPECT_EQ(reasonOf(dead[0]), "parse: json: bytes: number 1e400 is out of range");
}

// Syslog pipelines: the valid entries are syslog lines of the configured RFC.
class BadSyslogInputTest : public BadLogInputTest {
 protected:
  std::vector<StreamEntry> runSyslog(
      const std::string& format, const std::string& validLine,
      const std::vector<std::string>& badLines, const std::vector<std::string>& acceptedLines = {},
      const std::vector<std::pair<std::string, std::string>>& badEntry = {}) {
    for (int i = 0; i < kValidBefore; ++i) add("logs", {{"message", validLine + " " + std::to_string(i)}});
    for (auto& b : badLines) add("logs", {{"message", b}});
    if (!badEntry.empty()) add("logs", badEntry);
    const size_t bad = badLines.size() + (badEntry.empty() ? 0 : 1);
    for (auto& a : acceptedLines) add("logs", {{"message", a}});
    const int64_t docs = kValid + static_cast<int64_t>(acceptedLines.size());
    for (int i = 0; i < kValidAfter; ++i) add("logs", {{"message", validLine + " after " + std::to_string(i)}});
    auto w = startWorker(config(format));
    EXPECT_TRUE(waitUntil(
        [&] { return bulk_->totalDocs() == docs && deadLetters("logs").size() == bad; }, 30s))
        << "docs=" << bulk_->totalDocs() << " dead:\n"
        << reasons("logs") << log();
    EXPECT_TRUE(waitUntil([&] { return pending("logs") == 0; })) << log();
    EXPECT_TRUE(w.running()) << log();
    printReasons("logs");
    return deadLetters("logs");
  }
};

TEST_F(BadSyslogInputTest, LinesThatFitNoRfcAreDeadLetteredByAnRfc5424Pipeline) {
  auto dead = runSyslog("rfc5424", "<34>1 2026-11-21T05:00:00.000Z host app 42 ID47 - valid",
                        {"just some text", "<34>1 not-a-time host app - - - msg", "<999>1 2026-11-21T05:00:00Z h a - - - m"});
  ASSERT_EQ(dead.size(), 3u);
  for (auto& d : dead) EXPECT_NE(reasonOf(d).find("parse: rfc5424:"), std::string::npos) << reasonOf(d);
}

TEST_F(BadSyslogInputTest, LinesThatFitNoRfcAreDeadLetteredByAnRfc3164Pipeline) {
  // RFC 3164 4.3.3: a line without a valid PRI/timestamp header is all
  // message, so only a broken header is bad.
  auto dead = runSyslog("rfc3164", "<13>Nov 21 05:00:00 host app[1]: valid",
                        {"<abc>Nov 21 05:00:00 h m", "<13>2026-13-45T99:00:00Z host app: m"}, {"no header at all"});
  ASSERT_EQ(dead.size(), 2u);
  for (auto& d : dead) EXPECT_NE(reasonOf(d).find("parse: rfc3164:"), std::string::npos) << reasonOf(d);
}

// A syslog format parses the payload field: an entry without it is poison.
TEST_F(BadSyslogInputTest, EntryWithoutThePayloadFieldIsDeadLetteredBySyslogPipelines) {
  auto dead =
      runSyslog("rfc5424", "<34>1 2026-11-21T05:00:00.000Z host app 42 ID47 - valid", {}, {},
                {{"line", "<34>1 2026-11-21T05:00:00.000Z host app 42 ID47 - in the wrong field"}});
  ASSERT_EQ(dead.size(), 1u);
  EXPECT_EQ(reasonOf(dead[0]), "parse: entry has no field \"message\"");
}

TEST_F(BadSyslogInputTest, EntryWithoutThePayloadFieldIsDeadLetteredByAnRfc3164Pipeline) {
  auto dead = runSyslog("rfc3164", "<13>Nov 21 05:00:00 host app[1]: valid", {}, {},
                        {{"line", "<13>Nov 21 05:00:00 host app[1]: in the wrong field"}});
  ASSERT_EQ(dead.size(), 1u);
  EXPECT_EQ(reasonOf(dead[0]), "parse: entry has no field \"message\"");
}

TEST_F(BadLogInputTest, LinesThatFitNoRfcAreIndexedAsPlainTextByAnAutoPipeline) {
  // format: auto picks a syslog parser only for lines that look like syslog;
  // anything else is a plain message (documented), not a dead letter.
  auto dead = run({{{"message", "just some text, no PRI <no> RFC"}}}, 0, kValid + 1, "auto");
  EXPECT_TRUE(dead.empty());
  bool found = false;
  for (auto& doc : bulk_->docs("logs-test"))
    if (doc["_source"].dump().find("just some text, no PRI <no> RFC") != std::string::npos) found = true;
  EXPECT_TRUE(found);
}

// ---------------------------------------------------------------- metrics

class BadMetricInputTest : public BadInputTest {
 protected:
  void SetUp() override {
    BadInputTest::SetUp();
    for (int attempt = 0; attempt < 5 && rwPort_ == 0; ++attempt) {
      const int port = shoal::testing::freePort();
      Process::Options po;
      po.argv = {SHOAL_RW_RECEIVER_BINARY, "--port", std::to_string(port)};
      po.stdoutPath = dir_.file("rw.out");
      po.stderrPath = dir_.file("rw.err");
      receiver_ = Process(po);
      if (waitUntil([&] { return shoal::testing::portOpen(port) || !receiver_.running(); }) && receiver_.running())
        rwPort_ = port;
    }
    ASSERT_NE(rwPort_, 0) << "rw_receiver did not start";
  }
  int64_t samples() {
    auto j = nlohmann::json::parse(shoal::testing::httpGet(rwPort_, "/stats"), nullptr, false);
    return j.is_discarded() ? -1 : j.value("samples", int64_t{-1});
  }
  static std::string counter(int i) {
    return R"({"name":"jobs_total","type":"counter","value":)" + std::to_string(i) +
           R"(,"labels":{"worker":"w)" + std::to_string(i) + "\"}}";
  }
  // Valid counters, the bad events, valid counters; returns the dead letters
  // once every valid sample arrived and nothing is pending.
  std::vector<StreamEntry> run(const std::vector<std::vector<std::pair<std::string, std::string>>>& bad,
                               size_t expectDead, int64_t expectSamples) {
    for (int i = 0; i < kValidBefore; ++i) add("metrics", {{"event", counter(i)}});
    for (auto& b : bad) add("metrics", b);
    for (int i = kValidBefore; i < kValid; ++i) add("metrics", {{"event", counter(i)}});
    auto w = startWorker(
        "spec:\n  type: metrics\n  source:\n    redis:\n      stream: metrics\n      consumerGroup: g\n"
        "      startId: \"0\"\n      blockMs: 50\n"
        "  delivery: {batchSize: 500, lingerMs: 20, retryInitialMs: 10, retryMaxMs: 200}\n"
        "  sink:\n    prometheusRemoteWrite: {url: \"http://127.0.0.1:" + std::to_string(rwPort_) + "/api/v1/write\"}\n");
    EXPECT_TRUE(waitUntil([&] { return samples() == expectSamples && deadLetters("metrics").size() == expectDead; }, 30s))
        << "samples=" << samples() << " dead:\n" << reasons("metrics") << log();
    EXPECT_TRUE(waitUntil([&] { return pending("metrics") == 0; })) << log();
    EXPECT_TRUE(w.running()) << log();
    printReasons("metrics");
    return deadLetters("metrics");
  }
  static std::string reasonOf(const StreamEntry& d) {
    return d.field("shoal.reason") ? *d.field("shoal.reason") : "";
  }
  int rwPort_ = 0;
  Process receiver_;
};

TEST_F(BadMetricInputTest, MetricNamesPrometheusRejectsAreDeadLettered) {
  auto dead = run({{{"event", R"({"name":"bad name","type":"gauge","value":1})"}},
                   {{"event", R"({"name":"9starts_with_digit","type":"gauge","value":1})"}},
                   {{"event", R"({"name":"","type":"gauge","value":1})"}}},
                  3, kValid);
  ASSERT_EQ(dead.size(), 3u);
  for (auto& d : dead) EXPECT_NE(reasonOf(d).find("is not a valid metric name"), std::string::npos) << reasonOf(d);
}

TEST_F(BadMetricInputTest, LabelNamesPrometheusRejectsAreDeadLettered) {
  auto dead = run({{{"event", R"({"name":"g","type":"gauge","value":1,"labels":{"bad-label":"x"}})"}},
                   {{"event", R"({"name":"g","type":"gauge","value":1,"labels":{"__reserved":"x"}})"}},
                   {{"event", R"({"name":"h","type":"histogram","buckets":{"1":1},"sum":1,"count":1,"labels":{"le":"x"}})"}}},
                  3, kValid);
  ASSERT_EQ(dead.size(), 3u);
  std::string all;
  for (auto& d : dead) all += reasonOf(d) + "\n";
  EXPECT_NE(all.find("is not a valid label name"), std::string::npos) << all;
  EXPECT_NE(all.find("is reserved (starts with __)"), std::string::npos) << all;
  EXPECT_NE(all.find("\"le\" is reserved on histograms"), std::string::npos) << all;
}

TEST_F(BadMetricInputTest, NanWhereNotAllowedIsDeadLetteredAndNanGaugesAreDelivered) {
  // A NaN gauge is a valid sample (Prometheus stores it); a NaN or negative
  // counter and a NaN histogram sum are not.
  auto dead = run({{{"event", R"({"name":"c_total","type":"counter","value":"NaN"})"}},
                   {{"event", R"({"name":"c_total","type":"counter","value":-1})"}},
                   {{"event", R"({"name":"h","type":"histogram","buckets":{"1":1},"sum":"NaN","count":1})"}},
                   {{"event", R"({"name":"g","type":"gauge","value":"NaN"})"}}},
                  3, kValid + 1);
  ASSERT_EQ(dead.size(), 3u);
  EXPECT_NE(reasonOf(dead[0]).find("a counter must be finite and >= 0"), std::string::npos) << reasonOf(dead[0]);
  EXPECT_NE(reasonOf(dead[1]).find("a counter must be finite and >= 0"), std::string::npos) << reasonOf(dead[1]);
  EXPECT_NE(reasonOf(dead[2]).find("sum: must be finite"), std::string::npos) << reasonOf(dead[2]);
}

TEST_F(BadMetricInputTest, HugeLabelSetsAreDeadLettered) {
  std::string many = R"({"name":"g","type":"gauge","value":1,"labels":{)";
  for (int i = 0; i < 1000; ++i) many += (i ? "," : "") + std::string("\"l") + std::to_string(i) + "\":\"v\"";
  many += "}}";
  const std::string longValue =
      R"({"name":"g","type":"gauge","value":1,"labels":{"k":")" + std::string(100000, 'v') + "\"}}";
  auto dead = run({{{"event", many}}, {{"event", longValue}}}, 2, kValid);
  ASSERT_EQ(dead.size(), 2u);
  EXPECT_NE(reasonOf(dead[0]).find("labels: more than 30 labels"), std::string::npos) << reasonOf(dead[0]);
  EXPECT_NE(reasonOf(dead[1]).find("is longer than"), std::string::npos) << reasonOf(dead[1]);
}

TEST_F(BadMetricInputTest, MalformedJsonAndMissingPayloadFieldAreDeadLettered) {
  auto dead = run({{{"event", R"({"name":"g","type":)"}}, {{"other", R"({"name":"g","type":"gauge","value":1})"}}}, 2,
                  kValid);
  ASSERT_EQ(dead.size(), 2u);
  EXPECT_NE(reasonOf(dead[0]).find("parse: invalid JSON"), std::string::npos) << reasonOf(dead[0]);
  EXPECT_NE(reasonOf(dead[1]).find("entry has no field \"event\""), std::string::npos) << reasonOf(dead[1]);
}

TEST_F(BadMetricInputTest, NumbersOutOfRangeAreDeadLetteredNamingTheField) {
  auto dead = run({{{"event", R"({"name":"g","type":"gauge","value":1e400})"}},
                   {{"event", R"({"name":"g","type":"gauge","value":1,"timestamp":1e400})"}}},
                  2, kValid);
  ASSERT_EQ(dead.size(), 2u);
  EXPECT_EQ(reasonOf(dead[0]), "invalid metric event: value: number 1e400 is out of range");
  EXPECT_EQ(reasonOf(dead[1]), "invalid metric event: timestamp: number 1e400 is out of range");
}

TEST_F(BadMetricInputTest, InvalidUtf8IsDeadLettered) {
  auto dead = run({{{"event", "{\"name\":\"g\",\"type\":\"gauge\",\"value\":1,\"labels\":{\"k\":\"\xFF\xFE\"}}"}}}, 1,
                  kValid);
  ASSERT_EQ(dead.size(), 1u);
  EXPECT_NE(reasonOf(dead[0]).find("UTF-8"), std::string::npos) << reasonOf(dead[0]);
}

// ---------------------------------------------------------------- worker config

struct ConfigCase {
  std::string name;
  std::string yaml;
  std::string expected;  // on stderr: the field path and the problem
};

class InvalidWorkerConfigTest : public ::testing::TestWithParam<ConfigCase> {};

TEST_P(InvalidWorkerConfigTest, ExitsTwoNamingTheField) {
  TempDir dir;
  std::ofstream(dir.file("pipeline.yaml")) << GetParam().yaml;
  Process::Options po;
  po.argv = {SHOAL_WORKER_BINARY, "--config", dir.file("pipeline.yaml")};
  po.env = {{"SHOAL_REDIS_URL", "redis://127.0.0.1:1"}};
  po.stderrPath = dir.file("err.log");
  Process p(po);
  auto st = p.wait(10s);
  ASSERT_TRUE(st.has_value());
  const std::string err = Process::readFile(dir.file("err.log"));
  ASSERT_TRUE(WIFEXITED(*st)) << err;
  EXPECT_EQ(WEXITSTATUS(*st), 2) << err;
  EXPECT_NE(err.find(GetParam().expected), std::string::npos) << err;
}

const std::string kRedis = "  source: {redis: {stream: s}}\n";
const std::string kEs = "  sink: {elasticsearch: {url: \"http://127.0.0.1:1\"}}\n";

INSTANTIATE_TEST_SUITE_P(
    BadInput, InvalidWorkerConfigTest,
    ::testing::Values(
        ConfigCase{"UnknownType", "spec:\n  type: traces\n" + kRedis + kEs, "spec.type"},
        ConfigCase{"NegativeBatchSize", "spec:\n  type: logs\n" + kRedis + "  delivery: {batchSize: -5}\n" + kEs,
                   "spec.delivery.batchSize: must be at least"},
        ConfigCase{"NonNumericMaxEntryBytes",
                   "spec:\n  type: logs\n" + kRedis + "  delivery: {maxEntryBytes: lots}\n" + kEs,
                   "spec.delivery.maxEntryBytes: must be an integer"},
        ConfigCase{"UnknownDeliveryField", "spec:\n  type: logs\n" + kRedis + "  delivery: {batchSise: 5}\n" + kEs,
                   "spec.delivery.batchSise: unknown field"},
        ConfigCase{"UnknownLogFormat", "spec:\n  type: logs\n" + kRedis + "  transform: {logs: {format: xml}}\n" + kEs,
                   "spec.transform.logs.format"},
        ConfigCase{"MissingSinkUrl", "spec:\n  type: logs\n" + kRedis + "  sink: {elasticsearch: {index: x}}\n",
                   "spec.sink.elasticsearch.url"},
        ConfigCase{"MetricsWithoutSink", "spec:\n  type: metrics\n" + kRedis, "spec.sink"},
        ConfigCase{"DeadLetterStreamIsTheSource",
                   "spec:\n  type: logs\n  source: {redis: {stream: s, deadLetterStream: s}}\n" + kEs,
                   "spec.source.redis.deadLetterStream: must differ from the source stream"},
        ConfigCase{"NotYaml", "spec: [unclosed\n", "--config: invalid YAML"},
        ConfigCase{"NotAMapping", "just a string\n", "spec: the config must be a YAML mapping"}),
    [](const ::testing::TestParamInfo<ConfigCase>& i) { return i.param.name; });

}  // namespace
}  // namespace shoal
