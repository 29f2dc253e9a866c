// The request path over a recording appender and a real throttle gate:
// what is written where, what each outcome answers, and that nothing is
// answered 2xx that the appender did not store.
#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include <algorithm>
#include <mutex>

#include "shoal/metrics/remote_write_codec.h"
#include "shoal/receiver/receiver.h"
#include "shoal/stream/shards.h"

namespace shoal::receiver {
namespace {

using http::ServerRequest;
using Json = nlohmann::json;

struct Written {
  std::string stream;
  std::vector<std::pair<std::string, std::string>> fields;
};

class RecordingAppender final : public StreamAppender {
 public:
  Result<std::vector<std::string>> append(const std::vector<Append>& entries) override {
    std::lock_guard l(mu);
    ++calls;
    if (failWith) return *failWith;
    std::vector<std::string> ids;
    for (const Append& a : entries) {
      Written w{std::string(a.stream), {}};
      for (uint8_t i = 0; i < a.fieldCount; ++i) w.fields.emplace_back(a.fields[i].first, a.fields[i].second);
      written.push_back(std::move(w));
      ids.push_back("1-" + std::to_string(written.size()));
    }
    return ids;
  }
  std::mutex mu;
  int calls = 0;
  std::optional<Error> failWith;
  std::vector<Written> written;
};

struct CountingStats final : ReceiverStats {
  void request(std::string_view, int) override {}
  void accepted(std::string_view stream, int64_t n) override { acceptedBy[std::string(stream)] += n; }
  void rejected(std::string_view reason, int64_t n) override { rejectedBy[std::string(reason)] += n; }
  void throttled(int64_t n) override { throttledEntries += n; }
  void writeOutcome(bool ok) override { reachable = ok; }
  std::map<std::string, int64_t> acceptedBy, rejectedBy;
  int64_t throttledEntries = 0;
  std::optional<bool> reachable;
};

class ReceiverTest : public ::testing::Test {
 protected:
  ReceiverTest() {
    cfg_.logs = {true, "logs:app", 1, ""};
    cfg_.metrics = {true, "metrics:app", 1, ""};
    cfg_.bulk = {true, "logs:bulk", 1, ""};
    cfg_.remoteWrite = {true, "metrics:rw", 1, ""};
    cfg_.maxEntryBytes = 64;
    cfg_.retryAfterSeconds = 7;
  }
  Receiver& receiver() {
    if (!receiver_) {
      gate_ = std::make_unique<ThrottleGate>(targetStreams(cfg_));
      receiver_ = std::make_unique<Receiver>(cfg_, appender_, *gate_, stats_, clock_);
    }
    return *receiver_;
  }
  static ServerRequest post(std::string body, std::vector<std::string> captures = {}) {
    ServerRequest r;
    r.method = "POST";
    r.body = std::move(body);
    r.captures = std::move(captures);
    return r;
  }

  ReceiverConfig cfg_;
  RecordingAppender appender_;
  CountingStats stats_;
  ManualClock clock_;
  std::unique_ptr<ThrottleGate> gate_;
  std::unique_ptr<Receiver> receiver_;
};

TEST_F(ReceiverTest, NdjsonLogsAreWrittenAsMessageEntriesAndAnswered200) {
  auto r = receiver().events(Receiver::Kind::kLogs, post("{\"a\":1}\n{\"b\":2}\n"));
  EXPECT_EQ(r.status, 200);
  EXPECT_EQ(Json::parse(r.body), Json::parse(R"({"accepted":2,"rejected":[]})"));
  ASSERT_EQ(appender_.written.size(), 2u);
  EXPECT_EQ(appender_.written[0].stream, "logs:app");
  EXPECT_EQ(appender_.written[0].fields, (std::vector<std::pair<std::string, std::string>>{{"message", "{\"a\":1}"}}));
  EXPECT_EQ(stats_.acceptedBy["logs:app"], 2);
}

TEST_F(ReceiverTest, MetricEventsUseTheEventField) {
  auto r = receiver().events(Receiver::Kind::kMetrics, post("[{\"name\":\"up\",\"value\":1}]"));
  EXPECT_EQ(r.status, 200);
  ASSERT_EQ(appender_.written.size(), 1u);
  EXPECT_EQ(appender_.written[0].stream, "metrics:app");
  EXPECT_EQ(appender_.written[0].fields[0].first, "event");
}

TEST_F(ReceiverTest, MalformedBodiesAre400WithThePositionAndWriteNothing) {
  auto r = receiver().events(Receiver::Kind::kLogs, post("{\"a\":1}\n{\"a\" 1}\n"));
  EXPECT_EQ(r.status, 400);
  auto j = Json::parse(r.body);
  EXPECT_EQ(j["line"], 2);
  EXPECT_EQ(j["column"], 6);
  EXPECT_EQ(j["byte"], 13);
  EXPECT_EQ(appender_.calls, 0);
  auto u = receiver().events(Receiver::Kind::kLogs, post("{\"a\":\"\xFF\"}"));
  EXPECT_EQ(u.status, 400);
  EXPECT_NE(Json::parse(u.body)["error"].get<std::string>().find("UTF-8"), std::string::npos);
  EXPECT_EQ(stats_.rejectedBy["invalid_utf8"], 1);
}

TEST_F(ReceiverTest, EntriesOverTheLimitGoToTheRejectedStreamAndAreNamed) {
  const std::string big = "{\"m\":\"" + std::string(100, 'x') + "\"}";
  auto r = receiver().events(Receiver::Kind::kLogs, post("{\"a\":1}\n" + big + "\n"));
  EXPECT_EQ(r.status, 200);
  auto j = Json::parse(r.body);
  EXPECT_EQ(j["accepted"], 1);
  ASSERT_EQ(j["rejected"].size(), 1u);
  EXPECT_EQ(j["rejected"][0]["index"], 1);
  EXPECT_EQ(j["rejected"][0]["line"], 2);
  EXPECT_EQ(j["rejected"][0]["reason"], "entry_too_large");
  ASSERT_EQ(appender_.written.size(), 2u);
  const Written& rej = appender_.written[1];
  EXPECT_EQ(rej.stream, "logs:app:rejected");
  EXPECT_EQ(rej.fields[0], (std::pair<std::string, std::string>{"reason", "entry_too_large"}));
  EXPECT_EQ(rej.fields[1].second, big);  // under the truncation length
  EXPECT_EQ(rej.fields[2], (std::pair<std::string, std::string>{"bytes", std::to_string(big.size())}));
  EXPECT_EQ(stats_.rejectedBy["entry_too_large"], 1);
  EXPECT_EQ(stats_.acceptedBy["logs:app"], 1);
}

TEST_F(ReceiverTest, TheRejectedPayloadIsTruncated) {
  cfg_.maxEntryBytes = 10;
  const std::string big = "{\"m\":\"" + std::string(5000, 'x') + "\"}";
  receiver().events(Receiver::Kind::kLogs, post(big));
  ASSERT_EQ(appender_.written.size(), 1u);
  EXPECT_EQ(appender_.written[0].fields[1].second.size(), kRejectedPayloadBytes);
}

TEST_F(ReceiverTest, AFailedWriteIs503NeverA2xx) {
  appender_.failWith = makeError(Errc::kIo, "connection refused");
  auto r = receiver().events(Receiver::Kind::kLogs, post("{\"a\":1}"));
  EXPECT_EQ(r.status, 503);
  EXPECT_EQ(r.headers["Retry-After"], "7");
  EXPECT_EQ(stats_.reachable, false);
  auto b = receiver().bulk(post("{\"index\":{}}\n{\"a\":1}\n"));
  EXPECT_EQ(b.status, 503);
  EXPECT_TRUE(stats_.acceptedBy.empty());
}

TEST_F(ReceiverTest, AThrottledStreamIs429WithRetryAfterAndNothingWritten) {
  receiver();
  gate_->set(0, true);  // logs:app
  auto r = receiver().events(Receiver::Kind::kLogs, post("{\"a\":1}\n{\"b\":2}\n"));
  EXPECT_EQ(r.status, 429);
  EXPECT_EQ(r.headers["Retry-After"], "7");
  EXPECT_EQ(appender_.calls, 0);
  EXPECT_EQ(stats_.throttledEntries, 2);
  // Another route's stream is not held back.
  EXPECT_EQ(receiver().events(Receiver::Kind::kMetrics, post("{\"a\":1}")).status, 200);
  gate_->set(0, false);
  EXPECT_EQ(receiver().events(Receiver::Kind::kLogs, post("{\"a\":1}")).status, 200);
}

TEST_F(ReceiverTest, ShardKeyPicksAStableShardAndNoKeyGoesRoundRobin) {
  cfg_.logs = {true, "logs:app", 4, "host"};
  receiver().events(Receiver::Kind::kLogs, post("{\"host\":\"a\"}\n{\"host\":\"a\"}\n{\"x\":1}\n{\"x\":2}\n"));
  ASSERT_EQ(appender_.written.size(), 4u);
  EXPECT_EQ(appender_.written[0].stream, appender_.written[1].stream);
  EXPECT_EQ(appender_.written[0].stream, "logs:app:{" + std::to_string(shardForKey("a", 4)) + "}");
  EXPECT_NE(appender_.written[2].stream, appender_.written[3].stream);
}

TEST_F(ReceiverTest, StreamFromFieldPicksTheListedStreamAndTheRestGoToTheRouteStream) {
  cfg_.logs.fromField = {"service", {{"api", "logs:api"}, {"web", "logs:web"}}};
  auto r = receiver().events(Receiver::Kind::kLogs,
                             post("{\"service\":\"api\",\"n\":1}\n{\"service\":\"web\"}\n{\"n\":3}\n"
                                  "{\"service\":\"db\"}\n{\"nested\":{\"service\":\"api\"}}\n{\"service\":7}\n"));
  ASSERT_EQ(r.status, 200) << r.body;
  std::vector<std::string> streams;
  for (const auto& w : appender_.written) streams.push_back(w.stream);
  // Missing, unknown, nested (not top-level) and a number not listed: the default.
  EXPECT_EQ(streams, (std::vector<std::string>{"logs:api", "logs:web", "logs:app", "logs:app", "logs:app",
                                               "logs:app"}));
  EXPECT_EQ(stats_.acceptedBy["logs:api"], 1);
  EXPECT_EQ(stats_.acceptedBy["logs:app"], 4);
  // A mapped stream is a throttle target of its own: refused while it is over the limit.
  const auto targets = targetStreams(cfg_);
  const size_t web = static_cast<size_t>(std::find(targets.begin(), targets.end(), "logs:web") - targets.begin());
  ASSERT_LT(web, targets.size());
  gate_->set(web, true);
  EXPECT_EQ(receiver().events(Receiver::Kind::kLogs, post("{\"service\":\"web\"}")).status, 429);
  EXPECT_EQ(receiver().events(Receiver::Kind::kLogs, post("{\"service\":\"api\"}")).status, 200);
}

TEST_F(ReceiverTest, StreamFromFieldOnMetricEvents) {
  cfg_.metrics.fromField = {"name", {{"up", "metrics:up"}}};
  auto r = receiver().events(Receiver::Kind::kMetrics, post(R"([{"name":"up","value":1},{"name":"load","value":2}])"));
  ASSERT_EQ(r.status, 200);
  ASSERT_EQ(appender_.written.size(), 2u);
  EXPECT_EQ(appender_.written[0].stream, "metrics:up");
  EXPECT_EQ(appender_.written[1].stream, "metrics:app");
}

TEST_F(ReceiverTest, BulkStreamFromIndexUsesTheActionsIndexElseThePaths) {
  cfg_.bulk.fromField = {"_index", {{"nginx", "logs:nginx"}, {"app", "logs:appidx"}}};
  auto r = receiver().bulk(post("{\"index\":{\"_index\":\"nginx\"}}\n{\"a\":1}\n"
                                "{\"create\":{}}\n{\"a\":2}\n"
                                "{\"index\":{\"_index\":\"other\"}}\n{\"a\":3}\n",
                                {"app"}));
  ASSERT_EQ(r.status, 200) << r.body;
  ASSERT_EQ(appender_.written.size(), 3u);
  EXPECT_EQ(appender_.written[0].stream, "logs:nginx");
  EXPECT_EQ(appender_.written[1].stream, "logs:appidx");  // no _index: the path's
  EXPECT_EQ(appender_.written[2].stream, "logs:bulk");    // not listed: the route's stream
  EXPECT_EQ(Json::parse(r.body)["items"][2]["index"]["_index"], "other");
}

TEST_F(ReceiverTest, BulkStreamFromADocumentField) {
  cfg_.bulk.fromField = {"kind", {{"audit", "logs:audit"}}};
  auto r = receiver().bulk(post("{\"index\":{}}\n{\"kind\":\"audit\"}\n{\"index\":{}}\n{\"kind\":\"x\"}\n"));
  ASSERT_EQ(r.status, 200);
  ASSERT_EQ(appender_.written.size(), 2u);
  EXPECT_EQ(appender_.written[0].stream, "logs:audit");
  EXPECT_EQ(appender_.written[1].stream, "logs:bulk");
}

TEST_F(ReceiverTest, RemoteWriteStreamFromALabel) {
  cfg_.maxEntryBytes = 1000;
  cfg_.remoteWrite.fromField = {"__name__", {{"up", "metrics:up"}}};
  const metrics::LabelSet up = {{"__name__", "up"}, {"job", "node"}};
  const metrics::LabelSet load = {{"__name__", "load1"}, {"job", "node"}};
  const std::vector<std::pair<int64_t, double>> samples = {{1733300000000, 1}};
  const metrics::SeriesSlice slices[] = {{&up, samples}, {&load, samples}};
  std::string raw;
  metrics::encodeWriteRequest(std::span(slices, 2), raw);
  EXPECT_EQ(receiver().remoteWrite(post(metrics::snappyCompress(raw))).status, 204);
  ASSERT_EQ(appender_.written.size(), 2u);
  EXPECT_EQ(appender_.written[0].stream, "metrics:up");
  EXPECT_EQ(appender_.written[1].stream, "metrics:rw");
}

TEST_F(ReceiverTest, BulkAnswersPerItemInTheElasticsearchShape) {
  const std::string big = "{\"m\":\"" + std::string(100, 'x') + "\"}";
  auto r = receiver().bulk(post("{\"create\":{\"_index\":\"idx\"}}\n{\"a\":1}\n"
                                "{\"index\":{\"_id\":\"mine\"}}\n{\"b\":2}\n"
                                "{\"index\":{}}\n{broken\n"
                                "{\"index\":{}}\n" + big + "\n"
                                "{\"delete\":{\"_id\":\"x\"}}\n",
                                {"from-path"}));
  EXPECT_EQ(r.status, 200);
  auto j = Json::parse(r.body);
  EXPECT_EQ(j["errors"], true);
  ASSERT_EQ(j["items"].size(), 5u);
  EXPECT_EQ(j["items"][0]["create"]["status"], 201);
  EXPECT_EQ(j["items"][0]["create"]["_index"], "idx");
  EXPECT_EQ(j["items"][0]["create"]["_id"], "1-1");
  EXPECT_EQ(j["items"][1]["index"]["_index"], "from-path");
  EXPECT_EQ(j["items"][1]["index"]["_id"], "mine");
  EXPECT_EQ(j["items"][2]["index"]["status"], 400);
  EXPECT_EQ(j["items"][2]["index"]["error"]["type"], "mapper_parsing_exception");
  EXPECT_EQ(j["items"][3]["index"]["error"]["type"], "entry_too_large");
  EXPECT_EQ(j["items"][4]["delete"]["status"], 400);
  ASSERT_EQ(appender_.written.size(), 4u);
  EXPECT_EQ(appender_.written[0].fields[0], (std::pair<std::string, std::string>{"message", "{\"a\":1}"}));
  EXPECT_EQ(appender_.written[2].stream, "logs:bulk:rejected");
  EXPECT_EQ(appender_.written[2].fields[0].second, "malformed_json");
  EXPECT_EQ(appender_.written[3].fields[0].second, "entry_too_large");
  EXPECT_EQ(stats_.acceptedBy["logs:bulk"], 2);
}

TEST_F(ReceiverTest, BulkWithoutErrorsSaysSo) {
  auto r = receiver().bulk(post("{\"index\":{}}\n{\"a\":1}\n"));
  auto j = Json::parse(r.body);
  EXPECT_EQ(j["errors"], false);
  EXPECT_TRUE(j.contains("took"));
  EXPECT_EQ(receiver().bulk(post("{\"index\":{}}\n")).status, 400);
}

TEST_F(ReceiverTest, RemoteWriteStoresOneEventPerSampleAndAnswers204) {
  cfg_.maxEntryBytes = 1000;
  const metrics::LabelSet up = {{"__name__", "up"}, {"job", "node"}};
  const std::vector<std::pair<int64_t, double>> samples = {{1733300000000, 1}, {1733300015000, 1}};
  const metrics::SeriesSlice slice{&up, samples};
  std::string raw;
  metrics::encodeWriteRequest(std::span(&slice, 1), raw);
  auto r = receiver().remoteWrite(post(metrics::snappyCompress(raw)));
  EXPECT_EQ(r.status, 204);
  ASSERT_EQ(appender_.written.size(), 2u);
  EXPECT_EQ(appender_.written[0].stream, "metrics:rw");
  EXPECT_EQ(appender_.written[0].fields[0].first, "event");
  EXPECT_EQ(Json::parse(appender_.written[1].fields[0].second)["timestamp"], 1733300015000);
  EXPECT_EQ(receiver().remoteWrite(post("not snappy")).status, 400);
  appender_.failWith = makeError(Errc::kIo, "down");
  EXPECT_EQ(receiver().remoteWrite(post(metrics::snappyCompress(raw))).status, 503);
}

TEST_F(ReceiverTest, CredentialsAreRequiredWhenConfigured) {
  cfg_.bearerToken = "s3cret";
  auto none = receiver().events(Receiver::Kind::kLogs, post("{}"));
  EXPECT_EQ(none.status, 401);
  auto wrong = post("{}");
  wrong.headers["authorization"] = "Bearer nope";
  EXPECT_EQ(receiver().events(Receiver::Kind::kLogs, wrong).status, 401);
  auto right = post("{}");
  right.headers["Authorization"] = "Bearer s3cret";
  EXPECT_EQ(receiver().events(Receiver::Kind::kLogs, right).status, 200);
  EXPECT_EQ(appender_.written.size(), 1u);
}

}  // namespace
}  // namespace shoal::receiver
