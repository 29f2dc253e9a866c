// The logs handler against a real shoal-bulk-server process (the
// Elasticsearch `_bulk` stand-in): documents indexed, item-level retries and
// dead letters, whole-request retries, redelivery as 409, authentication.
#include <gtest/gtest.h>

#include <future>
#include <nlohmann/json.hpp>

#include "shoal/http/client.h"
#include "shoal/http/gzip.h"
#include "shoal/logs/logs_handler.h"
#include "shoal/testing/bulk_server.h"

using namespace shoal;
using namespace shoal::testing;
using nlohmann::json;

namespace {

PipelineConfig pipelineFor(const BulkServer& server, const std::string& extraSink = "") {
  PipelineConfig p;
  p.type = "logs";
  p.redis.stream = "logs:it";
  p.delivery.retryInitialMs = 5;
  p.delivery.retryMaxMs = 50;
  p.sink = YAML::Load("elasticsearch: {url: '" + server.url() +
                      "', index: 'logs-{service.name}-{yyyy.MM.dd}'" + extraSink + "}");
  p.transform = YAML::Load("logs: {fields: {environment: it}}");
  return p;
}

std::vector<StreamEntry> makeEntries(int n, int firstId = 1) {
  std::vector<StreamEntry> v;
  for (int i = 0; i < n; ++i) {
    StreamEntry e;
    e.id = std::to_string(1700000000000LL + firstId + i) + "-0";
    e.fields = {{"message", R"({"@timestamp":"2024-05-06T07:08:09Z","level":"info","service":"web","msg":"request )" +
                                std::to_string(i) + R"(","status":200})"}};
    v.push_back(std::move(e));
  }
  return v;
}

size_t countOutcome(const std::vector<EntryResult>& r, EntryOutcome o) {
  return static_cast<size_t>(std::count_if(r.begin(), r.end(), [&](auto& x) { return x.outcome == o; }));
}

struct Handler {
  prometheus::Registry registry;
  std::unique_ptr<BatchHandler> handler;
  CancelToken cancel;
  Handler(const PipelineConfig& p, const std::map<std::string, std::string>& env = {}) {
    handler = makeLogsHandler(p, registry, SystemClock::instance(), env);
  }
  std::vector<EntryResult> handle(const std::vector<StreamEntry>& entries) {
    return handler->handle(entries, cancel);
  }
};

}  // namespace

TEST(LogsBulkIntegration, ThousandLogsAreAllIndexed) {
  BulkServer server;
  Handler h(pipelineFor(server, ", maxDocsPerRequest: 250"));
  auto entries = makeEntries(1000);
  for (size_t i = 0; i < entries.size(); i += 100) {
    std::vector<StreamEntry> batch(entries.begin() + i, entries.begin() + i + 100);
    auto r = h.handle(batch);
    ASSERT_EQ(countOutcome(r, EntryOutcome::kDelivered), 100u);
  }
  auto stats = server.stats();
  EXPECT_EQ(stats["totalDocs"], 1000);
  EXPECT_EQ(stats["indices"]["logs-web-2024.05.06"], 1000);
  EXPECT_EQ(stats["bulkRequests"], 10);
  // Stored documents are ECS.
  auto docs = server.docs("logs-web-2024.05.06");
  ASSERT_EQ(docs.size(), 1000u);
  const json& src = docs[0]["_source"];
  EXPECT_EQ(src["@timestamp"], "2024-05-06T07:08:09.000Z");
  EXPECT_EQ(src["log"]["level"], "info");
  EXPECT_EQ(src["service"]["name"], "web");
  EXPECT_EQ(src["service"]["environment"], "it");
  EXPECT_EQ(src["ecs"]["version"], "8.11.0");
  EXPECT_TRUE(docs[0]["_id"].get<std::string>().rfind("logs:it/17000000", 0) == 0);
  EXPECT_TRUE(h.handler->sinkReady());
}

TEST(LogsBulkIntegration, PerItem429IsRetriedWhile400IsDeadLetteredInTheSameBatch) {
  BulkServer server;
  Handler h(pipelineFor(server));
  auto entries = makeEntries(20);
  server.failItems(429, 2, "/1700000000005-0", "es_rejected_execution_exception");
  server.failItems(400, -1, "/1700000000007-0", "mapper_parsing_exception");
  auto r = h.handle(entries);
  EXPECT_EQ(countOutcome(r, EntryOutcome::kDelivered), 19u);
  EXPECT_EQ(r[4].outcome, EntryOutcome::kDelivered);  // id ...005, after two 429s
  EXPECT_EQ(r[6].outcome, EntryOutcome::kDeadLetter);  // id ...007
  EXPECT_NE(r[6].reason.find("400 mapper_parsing_exception"), std::string::npos) << r[6].reason;
  auto stats = server.stats();
  EXPECT_EQ(stats["totalDocs"], 19);
  EXPECT_EQ(stats["statusCounts"]["429"], 2);
  EXPECT_EQ(stats["statusCounts"]["400"], 1);
  EXPECT_EQ(stats["bulkRequests"], 3);  // the batch, then item 5 alone, twice
}

TEST(LogsBulkIntegration, WholeRequest5xxOnceThenSuccess) {
  BulkServer server;
  Handler h(pipelineFor(server));
  server.failRequests(503, 1);
  auto r = h.handle(makeEntries(50));
  EXPECT_EQ(countOutcome(r, EntryOutcome::kDelivered), 50u);
  auto stats = server.stats();
  EXPECT_EQ(stats["totalDocs"], 50);
  EXPECT_EQ(stats["failedRequests"], 1);
  EXPECT_EQ(stats["bulkRequests"], 2);
}

TEST(LogsBulkIntegration, RedeliveryIsA409AndNoDuplicate) {
  BulkServer server;
  Handler h(pipelineFor(server));
  auto entries = makeEntries(30);
  ASSERT_EQ(countOutcome(h.handle(entries), EntryOutcome::kDelivered), 30u);
  // A second worker (fresh handler, as after a crash) gets the same entries.
  Handler again(pipelineFor(server));
  auto r = again.handle(entries);
  EXPECT_EQ(countOutcome(r, EntryOutcome::kDelivered), 30u);
  auto stats = server.stats();
  EXPECT_EQ(stats["totalDocs"], 30);
  EXPECT_EQ(stats["conflicts"], 30);
  EXPECT_EQ(stats["statusCounts"]["409"], 30);
}

TEST(LogsBulkIntegration, GzipBodiesAreIndexedExactlyLikePlainOnes) {
  BulkServer plainServer, gzipServer;
  Handler plain(pipelineFor(plainServer, ", maxDocsPerRequest: 100"));
  Handler gz(pipelineFor(gzipServer, ", maxDocsPerRequest: 100, compression: gzip"));
  auto entries = makeEntries(500);
  ASSERT_EQ(countOutcome(plain.handle(entries), EntryOutcome::kDelivered), 500u);
  gzipServer.failItems(429, 3);  // item retries go gzipped too
  ASSERT_EQ(countOutcome(gz.handle(entries), EntryOutcome::kDelivered), 500u);
  auto p = plainServer.stats(), g = gzipServer.stats();
  EXPECT_EQ(g["totalDocs"], 500);
  EXPECT_EQ(g["gzipRequests"], g["bulkRequests"]);
  EXPECT_EQ(p["gzipRequests"], 0);
  EXPECT_EQ(p["wireBytes"], p["bodyBytes"]);
  EXPECT_LT(g["wireBytes"].get<int64_t>() * 4, g["bodyBytes"].get<int64_t>());
  // The same documents, but for when each handler ran (event.ingested).
  auto a = plainServer.docs("logs-web-2024.05.06"), b = gzipServer.docs("logs-web-2024.05.06");
  ASSERT_EQ(a.size(), 500u);
  std::map<std::string, std::string> byIdA, byIdB;
  for (auto* docs : {&a, &b})
    for (auto& d : *docs) d["_source"]["event"].erase("ingested");
  for (auto& d : a) byIdA[d["_id"]] = d["_source"].dump();
  for (auto& d : b) byIdB[d["_id"]] = d["_source"].dump();
  EXPECT_EQ(byIdA, byIdB);
}

TEST(LogsBulkIntegration, TheBulkServerRejectsABodyThatIsNotTheGzipItClaims) {
  BulkServer server;
  auto client = http::makeClient({.url = server.url()});
  ASSERT_TRUE(client.ok());
  http::Request junk{.method = "POST", .path = "/_bulk", .headers = {{"Content-Encoding", "gzip"}},
                     .body = "{\"create\":{\"_index\":\"x\",\"_id\":\"1\"}}\n{}\n",
                     .contentType = "application/x-ndjson"};
  EXPECT_EQ((*client)->send(junk).status, 400);
  std::string gz;
  http::GzipEncoder enc;
  ASSERT_TRUE(enc.encode(junk.body, gz));
  junk.body = gz;
  auto ok = (*client)->send(junk);
  EXPECT_EQ(ok.status, 200) << ok.body;
  EXPECT_EQ(server.totalDocs(), 1);
}

TEST(LogsBulkIntegration, TheBulkServerFiltersItsResponseLikeElasticsearch) {
  BulkServer server;
  auto client = http::makeClient({.url = server.url()});
  ASSERT_TRUE(client.ok());
  const std::string body =
      "{\"create\":{\"_index\":\"x\",\"_id\":\"a\"}}\n{}\n{\"create\":{\"_index\":\"x\",\"_id\":\"b\"}}\n{}\n";
  server.failItems(429, 1, "b");
  auto r = (*client)->send({.path = "/_bulk?filter_path=errors,items.*._id,items.*.status,items.*.error",
                            .body = body, .contentType = "application/x-ndjson"});
  ASSERT_EQ(r.status, 200) << r.body;
  const json j = json::parse(r.body);
  EXPECT_EQ(j.size(), 2u) << r.body;  // errors and items, no took
  EXPECT_EQ(j["errors"], true);
  ASSERT_EQ(j["items"].size(), 2u);
  EXPECT_EQ(j["items"][0], json::parse(R"({"create":{"_id":"a","status":201}})"));
  EXPECT_EQ(j["items"][1]["create"]["status"], 429);
  EXPECT_EQ(j["items"][1]["create"]["error"]["type"], "es_rejected_execution_exception");
  EXPECT_FALSE(j["items"][1]["create"].contains("_index"));
  // Only the errors, and there are none: nothing but an empty object is left.
  const std::string fresh = "{\"create\":{\"_index\":\"x\",\"_id\":\"c\"}}\n{}\n";
  auto none = (*client)->send({.path = "/_bulk?filter_path=items.*.error", .body = fresh,
                               .contentType = "application/x-ndjson"});
  ASSERT_EQ(none.status, 200);
  EXPECT_EQ(json::parse(none.body), json::object()) << none.body;
}

TEST(LogsBulkIntegration, MalformedEntriesAreDeadLetteredAndTheRestIndexed) {
  BulkServer server;
  Handler h(pipelineFor(server));
  auto entries = makeEntries(10);
  entries[2].fields = {{"message", R"({"truncated":)"}};
  entries[5].fields = {{"message", "<13>1 not-a-time h a p m -"}};
  auto r = h.handle(entries);
  EXPECT_EQ(r[2].outcome, EntryOutcome::kDeadLetter);
  EXPECT_EQ(r[5].outcome, EntryOutcome::kDeadLetter);
  EXPECT_NE(r[5].reason.find("rfc5424"), std::string::npos) << r[5].reason;
  EXPECT_EQ(countOutcome(r, EntryOutcome::kDelivered), 8u);
  EXPECT_EQ(server.totalDocs(), 8);
}

TEST(LogsBulkIntegration, SlowSinkStillDelivers) {
  BulkServer server;
  Handler h(pipelineFor(server));
  server.delayRequests(200, 1);
  auto r = h.handle(makeEntries(5));
  EXPECT_EQ(countOutcome(r, EntryOutcome::kDelivered), 5u);
  EXPECT_EQ(server.totalDocs(), 5);
}

TEST(LogsBulkIntegration, BasicAuthAndApiKey) {
  BulkServer::Options o;
  o.basicAuth = "writer:s3cret";
  o.apiKey = "a2V5OnZhbHVl";
  BulkServer server(o);
  Handler basic(pipelineFor(server),
                {{"SHOAL_SINK_USERNAME", "writer"}, {"SHOAL_SINK_PASSWORD", "s3cret"}});
  EXPECT_EQ(countOutcome(basic.handle(makeEntries(3)), EntryOutcome::kDelivered), 3u);
  Handler key(pipelineFor(server), {{"SHOAL_SINK_API_KEY", "a2V5OnZhbHVl"}});
  EXPECT_EQ(countOutcome(key.handle(makeEntries(3, 100)), EntryOutcome::kDelivered), 3u);
  EXPECT_EQ(server.totalDocs(), 6);
  EXPECT_TRUE(key.handler->sinkReady());
}

TEST(LogsBulkIntegration, WrongCredentialsAreRetriedNotDeadLetteredUntilCancelled) {
  BulkServer::Options o;
  o.basicAuth = "writer:s3cret";
  BulkServer server(o);
  Handler h(pipelineFor(server), {{"SHOAL_SINK_USERNAME", "writer"}, {"SHOAL_SINK_PASSWORD", "wrong"}});
  auto entries = makeEntries(4);
  auto pending = std::async(std::launch::async, [&] { return h.handle(entries); });
  ASSERT_TRUE(waitUntil([&] { return server.stats()["authFailures"].get<int>() >= 3; }));
  h.cancel.cancel();
  auto r = pending.get();
  EXPECT_EQ(countOutcome(r, EntryOutcome::kRetry), 4u);
  EXPECT_EQ(server.totalDocs(), 0);
  EXPECT_FALSE(h.handler->sinkReady());
}

TEST(LogsBulkIntegration, HttpsWithACaFileAndVerificationOnByDefault) {
  BulkServer::Options o;
  o.tls = true;
  BulkServer server(o);
  ASSERT_EQ(server.url().rfind("https://", 0), 0u);
  Handler verified(pipelineFor(server, ", tls: {caFile: '" + server.caFile() + "'}"));
  EXPECT_EQ(countOutcome(verified.handle(makeEntries(3)), EntryOutcome::kDelivered), 3u);
  EXPECT_TRUE(verified.handler->sinkReady());

  // Without the CA the self-signed certificate is refused: nothing is sent,
  // the batch waits (retry) instead of being dead-lettered.
  Handler untrusted(pipelineFor(server));
  EXPECT_FALSE(untrusted.handler->sinkReady());
  auto entries = makeEntries(2, 500);
  auto pending = std::async(std::launch::async, [&] { return untrusted.handle(entries); });
  EXPECT_TRUE(waitUntil([&] {
    for (auto& f : untrusted.registry.Collect())
      if (f.name == "shoal_sink_bulk_requests_total")
        for (auto& m : f.metric)
          if (m.label.size() == 1 && m.label[0].value == "0" && m.counter.value >= 2) return true;
    return false;
  }));
  untrusted.cancel.cancel();
  EXPECT_EQ(countOutcome(pending.get(), EntryOutcome::kRetry), 2u);
  EXPECT_EQ(server.totalDocs(), 3);

  Handler insecure(pipelineFor(server, ", tls: {insecureSkipVerify: true}"));
  EXPECT_EQ(countOutcome(insecure.handle(makeEntries(2, 500)), EntryOutcome::kDelivered), 2u);
  EXPECT_EQ(server.totalDocs(), 5);
}
