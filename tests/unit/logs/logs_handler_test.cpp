// The logs BatchHandler: one result per entry, parse failures dead-lettered
// with reasons, documents created with deterministic ids and rendered index
// names, sink outcomes mapped back to entries.
#include "shoal/logs/logs_handler.h"

#include <gtest/gtest.h>

#include <map>

#include <nlohmann/json.hpp>

#include "bulk_responses.h"

using namespace shoal;
using namespace shoal::logs;
using namespace shoal::logs::testing;

namespace {

struct HandlerFixture {
  ManualClock clock;
  prometheus::Registry registry;
  ScriptedHttp script;
  const std::vector<RecordedRequest>& requests = script.requests();
  std::unique_ptr<BatchHandler> handler;
  CancelToken cancel;

  explicit HandlerFixture(ScriptedHttp::Responder r,
                          const std::string& sink =
                              "elasticsearch: {url: 'http://fake:9200', "
                              "index: 'logs-{service.name}-{yyyy.MM.dd}'}")
      : script(std::move(r), &clock) {
    PipelineConfig p;
    p.type = "logs";
    p.redis.stream = "logs:app";
    p.sink = YAML::Load(sink);
    p.transform = YAML::Load("logs: {fields: {environment: test}}");
    auto lc = parseLogsConfig(p, {});
    handler = logs::makeLogsHandler(p, lc, script.transport(), registry, clock);
  }
};

StreamEntry entry(const std::string& id, const std::string& payload) {
  StreamEntry e;
  e.id = id;
  e.fields = {{"message", payload}};
  return e;
}

}  // namespace

TEST(LogsHandler, MapsDeliversAndDeadLettersInOrder) {
  HandlerFixture f([](const RecordedRequest& r, size_t) { return HttpResponse{200, allCreated(r.body), {}}; });
  std::vector<StreamEntry> batch = {
      entry("1-0", R"({"@timestamp":"2024-03-04T05:06:07Z","service":"Checkout","msg":"ok"})"),
      entry("2-0", R"({"broken":)"),
      entry("3-0", "<13>1 2024-03-05T00:00:00Z h sshd 1 - - login"),
      entry("4-0", R"({"timestamp":"not a time"})"),
  };
  auto results = f.handler->handle(batch, f.cancel);
  ASSERT_EQ(results.size(), 4u);
  EXPECT_EQ(results[0].outcome, EntryOutcome::kDelivered);
  EXPECT_EQ(results[1].outcome, EntryOutcome::kDeadLetter);
  EXPECT_EQ(results[1].reason.rfind("parse: json:", 0), 0u) << results[1].reason;
  EXPECT_EQ(results[2].outcome, EntryOutcome::kDelivered);
  EXPECT_EQ(results[3].outcome, EntryOutcome::kDeadLetter);
  EXPECT_NE(results[3].reason.find("timestamp"), std::string::npos);

  ASSERT_EQ(f.requests.size(), 1u);
  const std::string& body = f.requests[0].body;
  EXPECT_NE(body.find(R"({"create":{"_index":"logs-checkout-2024.03.04","_id":"logs:app/1-0"}})"),
            std::string::npos)
      << body;
  EXPECT_NE(body.find(R"({"create":{"_index":"logs-sshd-2024.03.05","_id":"logs:app/3-0"}})"),
            std::string::npos)
      << body;
  // The source line is the ECS document, enrichment included.
  size_t line = body.find('\n') + 1;
  auto doc = nlohmann::json::parse(body.substr(line, body.find('\n', line) - line));
  EXPECT_EQ(doc["service"]["environment"], "test");
  EXPECT_EQ(doc["message"], "ok");
  EXPECT_EQ(counterValue(f.registry, "shoal_logs_entries_total", "result", "invalid"), 2);
  EXPECT_EQ(counterValue(f.registry, "shoal_logs_entries_total", "result", "mapped"), 2);
  EXPECT_EQ(f.handler->sinkName(), "elasticsearch");
}

TEST(LogsHandler, SameEntryGivesTheSameIdAcrossBatches) {
  HandlerFixture f([](const RecordedRequest& r, size_t) { return HttpResponse{200, allCreated(r.body), {}}; });
  std::vector<StreamEntry> batch = {entry("9-1", R"({"msg":"x","service":"s"})")};
  f.handler->handle(batch, f.cancel);
  f.clock.advance(seconds(90000));  // a day later: redelivery must not change index or id
  f.handler->handle(batch, f.cancel);
  ASSERT_EQ(f.requests.size(), 2u);
  EXPECT_EQ(idsInBody(f.requests[0].body), idsInBody(f.requests[1].body));
  EXPECT_EQ(f.requests[0].body.substr(0, f.requests[0].body.find('\n')),
            f.requests[1].body.substr(0, f.requests[1].body.find('\n')));
}

TEST(LogsHandler, MissingIndexFieldUsesFallback) {
  HandlerFixture f([](const RecordedRequest& r, size_t) { return HttpResponse{200, allCreated(r.body), {}}; });
  std::vector<StreamEntry> batch = {entry("1-0", R"({"msg":"no service","time":0})")};
  f.handler->handle(batch, f.cancel);
  ASSERT_EQ(f.requests.size(), 1u);
  EXPECT_NE(f.requests[0].body.find("\"_index\":\"logs-unknown-1970.01.01\""), std::string::npos)
      << f.requests[0].body;
}

TEST(LogsHandler, AllInvalidBatchSendsNothing) {
  HandlerFixture f([](const RecordedRequest& r, size_t) { return HttpResponse{200, allCreated(r.body), {}}; });
  std::vector<StreamEntry> batch = {entry("1-0", "{"), entry("2-0", "{\"a\":")};
  auto results = f.handler->handle(batch, f.cancel);
  EXPECT_TRUE(f.requests.empty());
  for (auto& r : results) EXPECT_EQ(r.outcome, EntryOutcome::kDeadLetter);
}

TEST(LogsHandler, BadConfigThrowsConfigError) {
  PipelineConfig p;
  p.type = "logs";
  p.redis.stream = "s";
  p.sink = YAML::Load("elasticsearch: {url: 'nope'}");
  prometheus::Registry registry;
  ManualClock clock;
  try {
    makeLogsHandler(p, registry, clock, {});
    FAIL() << "expected ConfigError";
  } catch (const ConfigError& e) {
    EXPECT_EQ(e.field(), "spec.sink.elasticsearch.url");
  }
}

// Batches of 400 entries or more are transformed and sent in chunks (the
// next chunk is transformed while the previous one is on the wire): each
// entry must still get its own outcome, every document must be sent exactly
// once, and a retried item is retried within its chunk.
TEST(LogsHandler, ChunkedBatchKeepsEveryEntrysOwnResult) {
  std::map<std::string, int> attempts;  // _id -> posts seen (the responder runs on the sender thread, one at a time)
  HandlerFixture f([&](const RecordedRequest& r, size_t) {
    return HttpResponse{200, bulkResponse(r.body, [&](const std::string& id) {
                          const int n = ++attempts[id];
                          if (id.ends_with("13-0")) return std::make_pair(400, std::string("mapper_parsing_exception"));
                          if (id.ends_with("7-0") && n == 1) return std::make_pair(429, std::string("es_rejected_execution_exception"));
                          return std::make_pair(201, std::string());
                        }),
                        {}};
  });
  std::vector<StreamEntry> batch;
  for (int i = 0; i < 1000; ++i) {
    const std::string id = std::to_string(i) + "-0";
    batch.push_back(i % 50 == 49 ? entry(id, "{\"broken\":")
                                 : entry(id, R"({"message":"m)" + std::to_string(i) + R"(","service":"s"})"));
  }
  auto results = f.handler->handle(batch, f.cancel);
  ASSERT_EQ(results.size(), batch.size());
  for (int i = 0; i < 1000; ++i) {
    const std::string id = "logs:app/" + std::to_string(i) + "-0";
    if (i % 50 == 49) {
      EXPECT_EQ(results[static_cast<size_t>(i)].outcome, EntryOutcome::kDeadLetter) << i;
      EXPECT_EQ(results[static_cast<size_t>(i)].reason.rfind("parse: json:", 0), 0u) << i;
      EXPECT_EQ(attempts.count(id), 0u) << i;
    } else if (id.ends_with("13-0")) {
      EXPECT_EQ(results[static_cast<size_t>(i)].outcome, EntryOutcome::kDeadLetter) << i;
      EXPECT_NE(results[static_cast<size_t>(i)].reason.find("mapper_parsing_exception"), std::string::npos) << i;
      EXPECT_EQ(attempts[id], 1) << i;
    } else if (id.ends_with("7-0")) {
      EXPECT_EQ(results[static_cast<size_t>(i)].outcome, EntryOutcome::kDelivered) << i;
      EXPECT_EQ(attempts[id], 2) << i;  // the 429, then once more
    } else {
      EXPECT_EQ(results[static_cast<size_t>(i)].outcome, EntryOutcome::kDelivered) << i;
      EXPECT_EQ(attempts[id], 1) << i;
    }
  }
  // Split into several requests, none of them the whole batch.
  size_t firstPass = 0;
  for (auto& r : f.requests) {
    const size_t docs = idsInBody(r.body).size();
    EXPECT_LT(docs, 980u);
    if (firstPass < 980) firstPass += docs;
  }
  EXPECT_GE(f.requests.size(), 4u);
  EXPECT_EQ(counterValue(f.registry, "shoal_logs_entries_total", "result", "mapped"), 980);
  EXPECT_EQ(counterValue(f.registry, "shoal_logs_entries_total", "result", "invalid"), 20);
}
