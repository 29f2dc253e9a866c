// The Elasticsearch sink's request splitting, item-by-item handling and
// retries, on a scripted transport and a ManualClock (no sleeping).
#include "shoal/logs/es_sink.h"

#include <gtest/gtest.h>

#include "bulk_responses.h"

using namespace shoal;
using namespace shoal::logs;
using namespace shoal::logs::testing;

namespace {

struct SinkFixture {
  ManualClock clock;
  prometheus::Registry registry;
  ScriptedHttp script;
  const std::vector<RecordedRequest>& requests = script.requests();
  std::unique_ptr<ElasticsearchSink> sink;
  CancelToken cancel;

  SinkFixture(ScriptedHttp::Responder r, ElasticsearchSinkConfig cfg = {})
      : script(std::move(r), &clock) {
    cfg.url = "http://fake:9200";
    sink =
        std::make_unique<ElasticsearchSink>(cfg, script.transport(), nullptr, clock, registry, 7);
  }
  std::vector<EntryResult> deliver(size_t n, size_t sourceBytes = 10) {
    docs.clear();
    for (size_t i = 0; i < n; ++i)
      docs.push_back(BulkDocument{"logs", "d" + std::to_string(i),
                                  "{\"m\":\"" + std::string(sourceBytes, 'x') + "\"}"});
    return sink->deliver(docs, cancel);
  }
  std::vector<BulkDocument> docs;
};

HttpResponse ok(const RecordedRequest& r) { return {200, allCreated(r.body), {}}; }

}  // namespace

TEST(ElasticsearchSink, DeliversABatchInOneRequest) {
  SinkFixture f([](const RecordedRequest& r, size_t) { return ok(r); });
  auto results = f.deliver(3);
  ASSERT_EQ(results.size(), 3u);
  for (auto& r : results) EXPECT_EQ(r.outcome, EntryOutcome::kDelivered);
  ASSERT_EQ(f.requests.size(), 1u);
  EXPECT_EQ(f.requests[0].path, "/_bulk?filter_path=errors,items.*._id,items.*.status,items.*.error");
  EXPECT_EQ(idsInBody(f.requests[0].body), (std::vector<std::string>{"d0", "d1", "d2"}));
  EXPECT_EQ(counterValue(f.registry, "shoal_sink_bulk_items_total", "status", "201"), 3);
  EXPECT_EQ(counterValue(f.registry, "shoal_sink_bulk_requests_total", "status", "200"), 1);
}

TEST(ElasticsearchSink, SplitsRequestsByDocumentCountAndBytes) {
  ElasticsearchSinkConfig cfg;
  cfg.maxDocsPerRequest = 2;
  SinkFixture byCount([](const RecordedRequest& r, size_t) { return ok(r); }, cfg);
  byCount.deliver(5);
  ASSERT_EQ(byCount.requests.size(), 3u);
  EXPECT_EQ(idsInBody(byCount.requests[2].body), (std::vector<std::string>{"d4"}));

  cfg.maxDocsPerRequest = 1000;
  cfg.maxBytesPerRequest = 250;  // each document's action+source is ~100 bytes
  SinkFixture byBytes([](const RecordedRequest& r, size_t) { return ok(r); }, cfg);
  auto results = byBytes.deliver(7, 50);
  for (auto& r : results) EXPECT_EQ(r.outcome, EntryOutcome::kDelivered);
  size_t total = 0;
  for (auto& req : byBytes.requests) {
    EXPECT_LE(req.body.size(), 250u);
    total += idsInBody(req.body).size();
  }
  EXPECT_EQ(total, 7u);
  EXPECT_GE(byBytes.requests.size(), 3u);

  // A document larger than the byte limit still goes, alone.
  SinkFixture huge([](const RecordedRequest& r, size_t) { return ok(r); }, cfg);
  results = huge.deliver(2, 1000);
  EXPECT_EQ(huge.requests.size(), 2u);
  for (auto& r : results) EXPECT_EQ(r.outcome, EntryOutcome::kDelivered);
}

TEST(ElasticsearchSink, ConflictMeansAlreadyDelivered) {
  SinkFixture f([](const RecordedRequest& r, size_t) {
    return HttpResponse{200, bulkResponse(r.body, [](const std::string&) {
                          return std::make_pair(409, std::string("version_conflict_engine_exception"));
                        }), {}};
  });
  auto results = f.deliver(2);
  for (auto& r : results) EXPECT_EQ(r.outcome, EntryOutcome::kDelivered);
  EXPECT_EQ(f.requests.size(), 1u);
  EXPECT_EQ(counterValue(f.registry, "shoal_sink_bulk_items_total", "status", "409"), 2);
}

TEST(ElasticsearchSink, RetriesOnlyRetryableItemsAndDeadLettersPermanentOnes) {
  ElasticsearchSinkConfig cfg;
  cfg.retryInitialMs = 100;
  cfg.retryMaxMs = 5000;
  SinkFixture f(
      [](const RecordedRequest& r, size_t call) {
        return HttpResponse{200, bulkResponse(r.body, [&](const std::string& id) {
                              if (call == 0 && id == "d0") return std::make_pair(429, std::string("es_rejected_execution_exception"));
                              if (call == 0 && id == "d2") return std::make_pair(503, std::string("unavailable_shards_exception"));
                              if (call == 0 && id == "d3") return std::make_pair(403, std::string("cluster_block_exception"));
                              if (id == "d1") return std::make_pair(400, std::string("mapper_parsing_exception"));
                              return std::make_pair(201, std::string());
                            }), {}};
      },
      cfg);
  auto results = f.deliver(5);
  EXPECT_EQ(results[0].outcome, EntryOutcome::kDelivered);
  EXPECT_EQ(results[1].outcome, EntryOutcome::kDeadLetter);
  EXPECT_NE(results[1].reason.find("400 mapper_parsing_exception"), std::string::npos)
      << results[1].reason;
  EXPECT_EQ(results[2].outcome, EntryOutcome::kDelivered);
  EXPECT_EQ(results[3].outcome, EntryOutcome::kDelivered);
  EXPECT_EQ(results[4].outcome, EntryOutcome::kDelivered);
  ASSERT_EQ(f.requests.size(), 2u);
  // Only the retryable items went again, in batch order, after a jittered delay.
  EXPECT_EQ(idsInBody(f.requests[1].body), (std::vector<std::string>{"d0", "d2", "d3"}));
  auto waited = f.requests[1].at - f.requests[0].at;
  EXPECT_GE(waited, millis(50));
  EXPECT_LE(waited, millis(100));
  EXPECT_EQ(counterValue(f.registry, "shoal_sink_retries_total", "kind", "item"), 3);
  EXPECT_EQ(counterValue(f.registry, "shoal_sink_bulk_items_total", "status", "429"), 1);
}

TEST(ElasticsearchSink, WholeRequestFailuresRetryWithGrowingCappedBackoff) {
  ElasticsearchSinkConfig cfg;
  cfg.retryInitialMs = 100;
  cfg.retryMaxMs = 1000;
  SinkFixture f(
      [](const RecordedRequest& r, size_t call) {
        if (call < 4) return HttpResponse{0, {}, "Connection refused"};
        if (call < 8) return HttpResponse{503, R"({"error":{"type":"x","reason":"y"},"status":503})", {}};
        return ok(r);
      },
      cfg);
  auto results = f.deliver(3);
  for (auto& r : results) EXPECT_EQ(r.outcome, EntryOutcome::kDelivered);
  ASSERT_EQ(f.requests.size(), 9u);
  int64_t bound = 100;
  for (size_t i = 1; i < f.requests.size(); ++i) {
    auto ms = std::chrono::duration_cast<std::chrono::milliseconds>(f.requests[i].at -
                                                                    f.requests[i - 1].at)
                  .count();
    EXPECT_GE(ms, bound / 2) << "retry " << i;
    EXPECT_LE(ms, bound) << "retry " << i;
    bound = std::min<int64_t>(bound * 2, 1000);
  }
  EXPECT_EQ(counterValue(f.registry, "shoal_sink_retries_total", "kind", "request"), 24);
  EXPECT_EQ(counterValue(f.registry, "shoal_sink_bulk_requests_total", "status", "0"), 4);
  EXPECT_EQ(counterValue(f.registry, "shoal_sink_bulk_requests_total", "status", "503"), 4);
}

TEST(ElasticsearchSink, NeverGivesUpUntilCancelledThenReportsRetry) {
  SinkFixture* self = nullptr;
  SinkFixture f([&](const RecordedRequest& r, size_t call) {
    if (call == 50) self->cancel.cancel();
    return HttpResponse{200, bulkResponse(r.body, [&](const std::string& id) {
                          if (id == "d1") return std::make_pair(201, std::string());
                          return std::make_pair(429, std::string("es_rejected_execution_exception"));
                        }), {}};
  });
  self = &f;
  auto results = f.deliver(3);
  EXPECT_EQ(f.requests.size(), 51u);
  EXPECT_EQ(results[0].outcome, EntryOutcome::kRetry);
  EXPECT_EQ(results[1].outcome, EntryOutcome::kDelivered);
  EXPECT_EQ(results[2].outcome, EntryOutcome::kRetry);
}

TEST(ElasticsearchSink, WholeRequest400IsBisectedToThePoisonDocument) {
  SinkFixture f([](const RecordedRequest& r, size_t) {
    if (r.body.find("\"d2\"") != std::string::npos)
      return HttpResponse{400, R"({"error":{"type":"parse_exception","reason":"bad"},"status":400})", {}};
    return ok(r);
  });
  auto results = f.deliver(5);
  for (size_t i = 0; i < 5; ++i)
    EXPECT_EQ(results[i].outcome, i == 2 ? EntryOutcome::kDeadLetter : EntryOutcome::kDelivered) << i;
  EXPECT_NE(results[2].reason.find("parse_exception: bad"), std::string::npos) << results[2].reason;
}

TEST(ElasticsearchSink, PayloadTooLargeIsSplitUntilItFits) {
  SinkFixture f([](const RecordedRequest& r, size_t) {
    if (idsInBody(r.body).size() > 1) return HttpResponse{413, "", {}};
    return ok(r);
  });
  auto results = f.deliver(4);
  for (auto& r : results) EXPECT_EQ(r.outcome, EntryOutcome::kDelivered);
  EXPECT_EQ(f.requests.size(), 7u);  // 4 -> 2+2 -> 1+1+1+1
}

TEST(ElasticsearchSink, UnreadableOrMismatchedResponsesAreRetried) {
  SinkFixture f([](const RecordedRequest& r, size_t call) {
    if (call == 0) return HttpResponse{200, "<html>proxy</html>", {}};
    if (call == 1) return HttpResponse{200, R"({"took":1,"errors":false,"items":[]})", {}};
    return ok(r);
  });
  auto results = f.deliver(2);
  for (auto& r : results) EXPECT_EQ(r.outcome, EntryOutcome::kDelivered);
  EXPECT_EQ(f.requests.size(), 3u);
}

TEST(ElasticsearchSink, ReadyProbesAndCaches) {
  int gets = 0;
  SinkFixture f([&](const RecordedRequest& r, size_t) {
    if (r.body.empty() && r.path == "/") {
      ++gets;
      return HttpResponse{gets == 1 ? 200 : 0, "{}", {}};
    }
    return ok(r);
  });
  EXPECT_TRUE(f.sink->ready());
  EXPECT_TRUE(f.sink->ready());  // cached
  EXPECT_EQ(gets, 1);
  f.clock.advance(seconds(2));
  EXPECT_FALSE(f.sink->ready());
  EXPECT_EQ(gets, 2);
}

TEST(ElasticsearchSink, ItemsForOtherIdsAreNotTrusted) {
  SinkFixture f([](const RecordedRequest& r, size_t call) {
    if (call == 0) {
      // Same count, wrong ids (a reordering proxy): nothing is taken as delivered.
      std::string body = r.body;
      for (size_t p = body.find("\"d0\""); p != std::string::npos; p = body.find("\"d0\""))
        body.replace(p, 4, "\"zz\"");
      return HttpResponse{200, allCreated(body), {}};
    }
    return ok(r);
  });
  auto results = f.deliver(2);
  for (auto& r : results) EXPECT_EQ(r.outcome, EntryOutcome::kDelivered);
  EXPECT_EQ(f.requests.size(), 2u);
}

namespace {

// The body as the sink meant it: gunzipped when it says Content-Encoding gzip.
std::string plainBody(const RecordedRequest& r) {
  auto it = r.headers.find("Content-Encoding");
  if (it == r.headers.end()) return r.body;
  EXPECT_EQ(it->second, "gzip");
  auto plain = http::gunzip(r.body, 64u << 20);
  EXPECT_TRUE(plain.ok()) << plain.error().message;
  return plain.ok() ? *plain : std::string();
}

}  // namespace

TEST(ElasticsearchSink, GzipSendsTheSameRequestsCompressed) {
  ElasticsearchSinkConfig cfg;
  cfg.maxDocsPerRequest = 3;
  SinkFixture plain([](const RecordedRequest& r, size_t) { return ok(r); }, cfg);
  cfg.compression = BodyCompression::kGzip;
  SinkFixture gz([](const RecordedRequest& r, size_t) { return HttpResponse{200, allCreated(plainBody(r)), {}}; },
                 cfg);
  plain.deliver(8, 300);
  auto results = gz.deliver(8, 300);
  for (auto& r : results) EXPECT_EQ(r.outcome, EntryOutcome::kDelivered);
  ASSERT_EQ(gz.requests.size(), plain.requests.size());
  double sent = 0, uncompressed = 0;
  for (size_t i = 0; i < gz.requests.size(); ++i) {
    EXPECT_EQ(gz.requests[i].headers.at("Content-Encoding"), "gzip");
    EXPECT_EQ(gz.requests[i].contentType, "application/x-ndjson");
    EXPECT_EQ(plainBody(gz.requests[i]), plain.requests[i].body) << i;  // byte for byte
    EXPECT_LT(gz.requests[i].body.size(), plain.requests[i].body.size() / 4) << i;
    EXPECT_EQ(plain.requests[i].headers.count("Content-Encoding"), 0u);
    sent += static_cast<double>(gz.requests[i].body.size());
    uncompressed += static_cast<double>(plain.requests[i].body.size());
  }
  EXPECT_EQ(counterValue(gz.registry, "shoal_sink_bulk_body_bytes_total", "form", "sent"), sent);
  EXPECT_EQ(counterValue(gz.registry, "shoal_sink_bulk_body_bytes_total", "form", "uncompressed"), uncompressed);
  EXPECT_EQ(counterValue(plain.registry, "shoal_sink_bulk_body_bytes_total", "form", "sent"), uncompressed);
}

TEST(ElasticsearchSink, GzipKeepsItemRetriesAndBisection) {
  ElasticsearchSinkConfig cfg;
  cfg.compression = BodyCompression::kGzip;
  SinkFixture f(
      [](const RecordedRequest& r, size_t call) {
        const std::string body = plainBody(r);
        if (body.find("\"d2\"") != std::string::npos && idsInBody(body).size() > 1)
          return HttpResponse{400, R"({"error":{"type":"parse_exception","reason":"bad"},"status":400})", {}};
        return HttpResponse{200, bulkResponse(body, [&](const std::string& id) {
                              if (id == "d2") return std::make_pair(400, std::string("mapper_parsing_exception"));
                              if (id == "d1" && call < 3) return std::make_pair(429, std::string("es_rejected"));
                              return std::make_pair(201, std::string());
                            }),
                            {}};
      },
      cfg);
  auto results = f.deliver(4);
  for (size_t i = 0; i < 4; ++i)
    EXPECT_EQ(results[i].outcome, i == 2 ? EntryOutcome::kDeadLetter : EntryOutcome::kDelivered) << i;
  for (auto& r : f.requests) EXPECT_EQ(r.headers.at("Content-Encoding"), "gzip");
}
