// Unit tests: remote write encoding round trip, and the remote write sink's
// grouping, ordering, sharding, chunking and response classification against
// a scripted transport on a ManualClock.
#include <gtest/gtest.h>

#include <map>

#include "shoal/metrics/metrics_handler.h"
#include "shoal/metrics/remote_write_codec.h"
#include "shoal/metrics/remote_write_handler.h"
#include "shoal/testing/scripted_http.h"

namespace shoal::metrics {
namespace {

TEST(RemoteWriteCodec, RoundTripThroughProtobufAndSnappy) {
  LabelSet a = {{"__name__", "up"}, {"job", "x"}};
  LabelSet b = {{"__name__", "temp"}, {"room", "k\xc3\xbc" "che"}};
  std::vector<std::pair<int64_t, double>> sa = {{1700000000000, 1}, {1700000000001, 0}};
  std::vector<std::pair<int64_t, double>> sb = {{1700000000002, -273.15}};
  std::vector<SeriesSlice> slices = {{&a, sa}, {&b, sb}};
  std::string raw;
  encodeWriteRequest(slices, raw);
  auto unz = snappyUncompress(snappyCompress(raw));
  ASSERT_TRUE(unz.ok());
  auto dec = decodeWriteRequest(*unz);
  ASSERT_TRUE(dec.ok()) << dec.error().message;
  ASSERT_EQ(dec->size(), 2u);
  EXPECT_EQ((*dec)[0].labels, a);
  EXPECT_EQ((*dec)[0].samples, sa);
  EXPECT_EQ((*dec)[1].labels, b);
  EXPECT_EQ((*dec)[1].samples, sb);
  auto counts = countWriteRequest(*unz);
  ASSERT_TRUE(counts.ok());
  EXPECT_EQ(counts->series, 2u);
  EXPECT_EQ(counts->samples, 3u);
}

TEST(RemoteWriteCodec, KnownBytesForOneSample) {
  // WriteRequest{timeseries{labels{name:"a" value:"b"} samples{value:1 timestamp:2}}}
  LabelSet l = {{"a", "b"}};
  std::vector<std::pair<int64_t, double>> s = {{2, 1.0}};
  std::vector<SeriesSlice> slices = {{&l, s}};
  std::string raw;
  encodeWriteRequest(slices, raw);
  const std::string want("\x0a\x15\x0a\x06\x0a\x01" "a" "\x12\x01" "b" "\x12\x0b\x09\x00\x00\x00\x00\x00\x00\xf0\x3f\x10\x02", 23);
  EXPECT_EQ(raw, want);
}

TEST(RemoteWriteCodec, MalformedInputIsAnErrorNotACrash) {
  EXPECT_FALSE(decodeWriteRequest(std::string("\x0a\xff\xff\xff\x0f", 5)).ok());
  EXPECT_FALSE(decodeWriteRequest(std::string("\x0a\x05\x0a\x09", 4)).ok());
  EXPECT_FALSE(snappyUncompress("garbage").ok());
  for (int cut = 0; cut < 22; ++cut) {
    LabelSet l = {{"a", "b"}};
    std::vector<std::pair<int64_t, double>> s = {{2, 1.0}};
    std::vector<SeriesSlice> slices = {{&l, s}};
    std::string raw;
    encodeWriteRequest(slices, raw);
    (void)decodeWriteRequest(std::string_view(raw).substr(0, static_cast<size_t>(cut)));
  }
}

using HttpResponse = http::Response;

// A scripted remote-write receiver: decodes what every shard's transport
// sent and answers from `respond` (the script runs it under its lock).
struct Recorder {
  std::vector<std::vector<DecodedSeries>> requests;
  std::vector<std::map<std::string, std::string>> headers;
  std::function<HttpResponse(const std::vector<DecodedSeries>&, size_t callNo)> respond =
      [](const std::vector<DecodedSeries>&, size_t) { return HttpResponse{204, "", ""}; };
  testing::ScriptedHttp script{[this](const testing::RecordedHttpRequest& req, size_t callNo) {
    auto raw = snappyUncompress(req.body);
    EXPECT_TRUE(raw.ok());
    auto dec = decodeWriteRequest(raw.ok() ? *raw : std::string());
    EXPECT_TRUE(dec.ok());
    requests.push_back(dec.ok() ? *dec : std::vector<DecodedSeries>{});
    auto h = req.headers;
    h["Content-Type"] = req.contentType;
    headers.push_back(h);
    return respond(requests.back(), callNo);
  }};
};

StreamEntry gauge(std::string id, std::string name, double v, int64_t ts, std::string labels = "{}",
                  int64_t deliveries = 1) {
  return StreamEntry{std::move(id),
                     {{"event", R"({"name":")" + name + R"(","type":"gauge","value":)" + std::to_string(v) +
                                    R"(,"timestamp":)" + std::to_string(ts) + R"(,"labels":)" + labels + "}"}},
                     deliveries};
}

struct Fixture {
  ManualClock clock;
  Recorder rec;
  prometheus::Registry registry;
  std::unique_ptr<RemoteWriteHandler> handler;
  explicit Fixture(int shards = 1, size_t maxSamples = 2000) {
    RemoteWriteConfig c;
    c.url = "http://127.0.0.1:1/api/v1/write";
    c.shards = shards;
    c.maxSamplesPerRequest = maxSamples;
    handler = std::make_unique<RemoteWriteHandler>(
        c, TransformConfig{}, clock, [this] { return rec.script.transport(); }, &registry);
  }
};

TEST(RemoteWriteHandler, SendsHeadersAndGroupsSamplesBySeriesInTimestampOrder) {
  Fixture f;
  std::vector<StreamEntry> entries = {
      gauge("1-0", "g", 3, 1700000000003), gauge("1-1", "g", 1, 1700000000001),
      gauge("1-2", "h", 7, 1700000000002), gauge("1-3", "g", 2, 1700000000002)};
  auto res = f.handler->handle(entries, CancelToken{});
  for (auto& r : res) EXPECT_EQ(r.outcome, EntryOutcome::kDelivered);
  ASSERT_EQ(f.rec.requests.size(), 1u);
  auto& req = f.rec.requests[0];
  ASSERT_EQ(req.size(), 2u);
  EXPECT_EQ(req[0].labels, (LabelSet{{"__name__", "g"}}));
  ASSERT_EQ(req[0].samples.size(), 3u);
  EXPECT_EQ(req[0].samples[0], (std::pair<int64_t, double>{1700000000001, 1}));
  EXPECT_EQ(req[0].samples[1].second, 2);
  EXPECT_EQ(req[0].samples[2].second, 3);
  EXPECT_EQ(f.rec.headers[0]["Content-Encoding"], "snappy");
  EXPECT_EQ(f.rec.headers[0]["Content-Type"], "application/x-protobuf");
  EXPECT_EQ(f.rec.headers[0]["X-Prometheus-Remote-Write-Version"], "0.1.0");
}

TEST(RemoteWriteHandler, SameSeriesSameTimestampInOneBatchSendsTheLaterValue) {
  Fixture f;
  std::vector<StreamEntry> entries = {gauge("1-0", "g", 1, 1700000000000), gauge("1-1", "g", 2, 1700000000000),
                                      gauge("1-2", "g", 3, 1700000000001)};
  auto res = f.handler->handle(entries, CancelToken{});
  for (auto& r : res) EXPECT_EQ(r.outcome, EntryOutcome::kDelivered);
  ASSERT_EQ(f.rec.requests.size(), 1u);
  ASSERT_EQ(f.rec.requests[0].size(), 1u);
  EXPECT_EQ(f.rec.requests[0][0].samples,
            (std::vector<std::pair<int64_t, double>>{{1700000000000, 2}, {1700000000001, 3}}));
}

TEST(RemoteWriteHandler, AtMostMaxSamplesPerRequestAndOrderAcrossRequests) {
  Fixture f(1, 3);
  std::vector<StreamEntry> entries;
  for (int i = 0; i < 10; ++i) entries.push_back(gauge("1-" + std::to_string(i), "g", i, 1700000000000 + 9 - i));
  auto res = f.handler->handle(entries, CancelToken{});
  for (auto& r : res) EXPECT_EQ(r.outcome, EntryOutcome::kDelivered);
  ASSERT_EQ(f.rec.requests.size(), 4u);
  int64_t last = 0;
  size_t total = 0;
  for (auto& req : f.rec.requests) {
    size_t n = 0;
    for (auto& s : req)
      for (auto& [ts, v] : s.samples) {
        EXPECT_GT(ts, last);
        last = ts;
        ++n;
      }
    EXPECT_LE(n, 3u);
    total += n;
  }
  EXPECT_EQ(total, 10u);
}

TEST(RemoteWriteHandler, ShardsKeepEachSeriesOnOneShardInOrder) {
  Fixture f(4, 5);
  std::vector<StreamEntry> entries;
  for (int i = 0; i < 200; ++i)
    entries.push_back(gauge("1-" + std::to_string(i), "s" + std::to_string(i % 17), i, 1700000000000 + i));
  auto res = f.handler->handle(entries, CancelToken{});
  for (auto& r : res) EXPECT_EQ(r.outcome, EntryOutcome::kDelivered);
  std::map<std::string, int64_t> lastTs;
  size_t total = 0;
  // Requests of different shards interleave, but per series timestamps rise.
  for (auto& req : f.rec.requests)
    for (auto& s : req)
      for (auto& [ts, v] : s.samples) {
        EXPECT_GT(ts, lastTs[s.labels[0].value]);
        lastTs[s.labels[0].value] = ts;
        ++total;
      }
  EXPECT_EQ(total, 200u);
  EXPECT_EQ(lastTs.size(), 17u);
}

TEST(RemoteWriteHandler, RetriesServerErrorsAnd429WithBackoffThenDelivers) {
  Fixture f;
  f.rec.respond = [](const std::vector<DecodedSeries>&, size_t n) {
    if (n == 0) return HttpResponse{0, "", "connection refused"};
    if (n == 1) return HttpResponse{503, "unavailable", ""};
    if (n == 2) return HttpResponse{429, "slow down", ""};
    return HttpResponse{204, "", ""};
  };
  const auto t0 = f.clock.now();
  std::vector<StreamEntry> entries = {gauge("1-0", "g", 1, 1700000000000)};
  auto res = f.handler->handle(entries, CancelToken{});
  EXPECT_EQ(res[0].outcome, EntryOutcome::kDelivered);
  EXPECT_EQ(f.rec.requests.size(), 4u);
  // Three waits: >= 15 + 30 + 60 ms (jitter keeps each in [bound/2, bound]).
  EXPECT_GE(f.clock.now() - t0, std::chrono::milliseconds(105));
  EXPECT_LE(f.clock.now() - t0, std::chrono::milliseconds(30 + 60 + 120));
}

TEST(RemoteWriteHandler, BackoffIsCappedAtRetryMax) {
  Fixture f;
  f.rec.respond = [](const std::vector<DecodedSeries>&, size_t n) {
    return n < 30 ? HttpResponse{500, "boom", ""} : HttpResponse{204, "", ""};
  };
  const auto t0 = f.clock.now();
  std::vector<StreamEntry> entries = {gauge("1-0", "g", 1, 1700000000000)};
  EXPECT_EQ(f.handler->handle(entries, CancelToken{})[0].outcome, EntryOutcome::kDelivered);
  EXPECT_LE(f.clock.now() - t0, std::chrono::seconds(30 * 5));
  EXPECT_GE(f.clock.now() - t0, std::chrono::seconds(20 * 5 / 2));
}

TEST(RemoteWriteHandler, CancelledDuringOutageReturnsRetryNotDeadLetter) {
  Fixture f;
  CancelToken cancel;
  f.rec.respond = [&](const std::vector<DecodedSeries>&, size_t n) {
    if (n == 5) cancel.cancel();
    return HttpResponse{503, "down", ""};
  };
  std::vector<StreamEntry> entries = {gauge("1-0", "g", 1, 1700000000000), {"1-1", {{"event", "bad"}}, 1}};
  auto res = f.handler->handle(entries, cancel);
  EXPECT_EQ(res[0].outcome, EntryOutcome::kRetry);
  EXPECT_EQ(res[1].outcome, EntryOutcome::kDeadLetter);
}

TEST(RemoteWriteHandler, BadRequestIsBisectedAndOnlyTheBadEntryDeadLettered) {
  Fixture f;
  // Prometheus rejects any request that contains the sample with value 13.
  f.rec.respond = [](const std::vector<DecodedSeries>& req, size_t) {
    for (auto& s : req)
      for (auto& [ts, v] : s.samples)
        if (v == 13) return HttpResponse{400, "out of bounds\n", ""};
    return HttpResponse{204, "", ""};
  };
  std::vector<StreamEntry> entries;
  for (int i = 0; i < 32; ++i)
    entries.push_back(gauge("1-" + std::to_string(i), "g" + std::to_string(i % 3), i, 1700000000000 + i));
  auto res = f.handler->handle(entries, CancelToken{});
  for (int i = 0; i < 32; ++i) {
    if (i == 13) {
      EXPECT_EQ(res[i].outcome, EntryOutcome::kDeadLetter);
      EXPECT_EQ(res[i].reason, "remote write: HTTP 400: out of bounds");
    } else {
      EXPECT_EQ(res[i].outcome, EntryOutcome::kDelivered) << i;
    }
  }
  EXPECT_LT(f.rec.requests.size(), 16u);  // bisection, not one request per sample
  size_t accepted = 0;
  for (auto& req : f.rec.requests) {
    bool bad = false;
    size_t n = 0;
    for (auto& s : req)
      for (auto& [ts, v] : s.samples) {
        bad = bad || v == 13;
        ++n;
      }
    if (!bad) accepted += n;
  }
  EXPECT_EQ(accepted, 31u);
}

TEST(RemoteWriteHandler, RedeliveredOutOfOrderSampleCountsAsDelivered) {
  Fixture f;
  f.rec.respond = [](const std::vector<DecodedSeries>& req, size_t) {
    for (auto& s : req)
      for (auto& [ts, v] : s.samples)
        if (ts <= 1700000000001) return HttpResponse{400, "out of order sample", ""};
    return HttpResponse{204, "", ""};
  };
  std::vector<StreamEntry> entries = {gauge("1-0", "g", 1, 1700000000001, "{}", 2),
                                      gauge("1-1", "g", 2, 1700000000001, "{\"a\":\"b\"}", 1),
                                      gauge("1-2", "g", 3, 1700000000005, "{}", 2)};
  auto res = f.handler->handle(entries, CancelToken{});
  EXPECT_EQ(res[0].outcome, EntryOutcome::kDelivered);   // redelivered: already stored
  EXPECT_EQ(res[1].outcome, EntryOutcome::kDeadLetter);  // first delivery: genuinely out of order
  EXPECT_NE(res[1].reason.find("out of order"), std::string::npos);
  EXPECT_EQ(res[2].outcome, EntryOutcome::kDelivered);
}

TEST(RemoteWriteHandler, OtherClientErrorsDeadLetterTheRequestsEntriesWithoutBisect) {
  Fixture f;
  f.rec.respond = [](const std::vector<DecodedSeries>&, size_t) { return HttpResponse{404, "not found", ""}; };
  std::vector<StreamEntry> entries = {gauge("1-0", "a", 1, 1700000000000), gauge("1-1", "b", 1, 1700000000000)};
  auto res = f.handler->handle(entries, CancelToken{});
  EXPECT_EQ(res[0].outcome, EntryOutcome::kDeadLetter);
  EXPECT_EQ(res[1].outcome, EntryOutcome::kDeadLetter);
  EXPECT_EQ(res[0].reason, "remote write: HTTP 404: not found");
  EXPECT_EQ(f.rec.requests.size(), 1u);
}

TEST(RemoteWriteHandler, HistogramEntryIsOneUnitOfDelivery) {
  Fixture f;
  f.rec.respond = [](const std::vector<DecodedSeries>& req, size_t) {
    for (auto& s : req)
      if (s.labels[0].value == "lat_sum" && s.samples.size() == 1 && req.size() == 1)
        return HttpResponse{400, "bad sum", ""};
    for (auto& s : req)
      if (s.labels[0].value == "lat_sum") return HttpResponse{400, "bad sum", ""};
    return HttpResponse{204, "", ""};
  };
  std::vector<StreamEntry> entries = {
      {"1-0", {{"event", R"({"name":"lat","type":"histogram","sum":1,"count":2,"buckets":{"1":2}})"}}, 1},
      gauge("1-1", "g", 1, 1700000000000)};
  auto res = f.handler->handle(entries, CancelToken{});
  EXPECT_EQ(res[0].outcome, EntryOutcome::kDeadLetter);
  EXPECT_EQ(res[1].outcome, EntryOutcome::kDelivered);
}

TEST(MetricsHandlerFactory, ConfigErrorsNameTheField) {
  ManualClock clock;
  prometheus::Registry reg;
  PipelineConfig c;
  c.type = "metrics";
  c.redis.stream = "m";
  auto expectField = [&](const std::string& yaml, const std::string& field) {
    c.sink = YAML::Load(yaml);
    try {
      makeMetricsHandler(c, reg, clock, {});
      ADD_FAILURE() << "no error for " << yaml;
    } catch (const ConfigError& e) {
      EXPECT_EQ(e.field(), field) << e.what();
    }
  };
  expectField("{}", "spec.sink");
  expectField("prometheusRemoteWrite: {}", "spec.sink.prometheusRemoteWrite.url");
  expectField("prometheusRemoteWrite: {url: 'ftp://x'}", "spec.sink.prometheusRemoteWrite.url");
  expectField("prometheusRemoteWrite: {url: 'http://x/api/v1/write', maxSamplesPerRequest: 0}",
              "spec.sink.prometheusRemoteWrite.maxSamplesPerRequest");
  expectField("{prometheusRemoteWrite: {url: 'http://x'}, pushgateway: {url: 'http://y', job: j}}",
              "spec.sink.pushgateway");
  expectField("elasticsearch: {url: 'http://x'}", "spec.sink.elasticsearch");
  expectField("pushgateway: {url: 'http://y'}", "spec.sink.pushgateway.job");
  expectField("pushgateway: {url: 'http://y', job: j, method: PATCH}", "spec.sink.pushgateway.method");
  expectField("postgres: {windowSeconds: 60}", "spec.sink.postgres.conninfo");
  expectField("prometheusRemoteWrite: {url: 'http://x/api/v1/write', shard: 2}", "spec.sink.prometheusRemoteWrite.shard");
  c.transform = YAML::Load("metrics: {payloadFeld: x}");
  expectField("prometheusRemoteWrite: {url: 'http://x/api/v1/write'}", "spec.transform.metrics.payloadFeld");
  c.transform = YAML::Node();
  c.sink = YAML::Load("prometheusRemoteWrite: {url: 'http://127.0.0.1:9/api/v1/write'}");
  auto h = makeMetricsHandler(c, reg, clock, {});
  EXPECT_EQ(h->sinkName(), "prometheusRemoteWrite");
}

}  // namespace
}  // namespace shoal::metrics
