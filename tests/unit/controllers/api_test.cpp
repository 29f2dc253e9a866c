// Parsing Pipelines and WorkerPools: defaults, field errors, untrusted input.
#include <gtest/gtest.h>

#include "fakes.h"

namespace shoal::api {
namespace {

using nlohmann::json;

TEST(WorkerPoolFromJson, AppliesDefaults) {
  json j = {{"metadata", {{"name", "w"}}}, {"spec", {{"pipelineRef", {{"name", "p"}}}}}};
  auto w = workerPoolFromJson(j);
  ASSERT_TRUE(w.ok());
  EXPECT_EQ(w->spec.minReplicas, 1);
  EXPECT_EQ(w->spec.maxReplicas, 10);
  EXPECT_EQ(w->spec.scaling.policy, "drainTime");
  EXPECT_DOUBLE_EQ(w->spec.scaling.pollIntervalSeconds, 2.0);
  EXPECT_FALSE(w->spec.replicas.has_value());
  EXPECT_FALSE(w->spec.scaling.paused);
}

TEST(WorkerPoolFromJson, RejectsWhatCannotRun) {
  EXPECT_FALSE(workerPoolFromJson(json::array()).ok());
  EXPECT_FALSE(workerPoolFromJson(json{{"spec", json::object()}}).ok());
  json j = testfakes::samplePool();
  j["spec"]["minReplicas"] = 9;
  auto r = workerPoolFromJson(j);
  ASSERT_FALSE(r.ok());
  EXPECT_NE(r.error().message.find("maxReplicas"), std::string::npos);
}

TEST(WorkerPoolFromJson, WrongTypesBecomeDefaultsNotCrashes) {
  json j = testfakes::samplePool();
  j["spec"]["maxReplicas"] = "many";
  j["spec"]["scaling"] = 7;
  j["spec"]["template"]["env"] = "nope";
  j["metadata"]["labels"] = json::array();
  auto r = workerPoolFromJson(j);
  ASSERT_TRUE(r.ok());
  EXPECT_EQ(r->spec.maxReplicas, 10);
}

TEST(PipelineFromJson, ReadsSourceAndSinkSecrets) {
  auto p = pipelineFromJson(testfakes::samplePipeline());
  ASSERT_TRUE(p.ok()) << p.error().message;
  EXPECT_EQ(p->spec.redis.stream, "orders");
  EXPECT_EQ(p->spec.redis.consumerGroup, "shoal");
  EXPECT_EQ(p->spec.redis.passwordSecretRef.name, "redis-auth");
  EXPECT_EQ(p->spec.sink.kind, "elasticsearch");
  EXPECT_EQ(p->spec.sink.passwordSecretRef.name, "es");
  EXPECT_EQ(p->spec.sink.passwordSecretRef.key, "pw");
}

TEST(PipelineFromJson, NamesTheMissingField) {
  json j = testfakes::samplePipeline();
  j["spec"]["source"]["redis"].erase("stream");
  auto p = pipelineFromJson(j);
  ASSERT_FALSE(p.ok());
  EXPECT_EQ(p.error().message.rfind("spec.source.redis.stream", 0), 0u);
}

TEST(PipelineFromJson, ShardsAndClusterOfTheSource) {
  json j = testfakes::samplePipeline();
  auto one = pipelineFromJson(j);
  ASSERT_TRUE(one.ok());
  EXPECT_EQ(one->spec.redis.shards, 1);
  EXPECT_FALSE(one->spec.redis.cluster);
  EXPECT_EQ(one->spec.redis.streams(), std::vector<std::string>{"orders"});
  j["spec"]["source"]["redis"]["shards"] = 3;
  j["spec"]["source"]["redis"]["cluster"] = true;
  auto three = pipelineFromJson(j);
  ASSERT_TRUE(three.ok());
  EXPECT_TRUE(three->spec.redis.cluster);
  EXPECT_EQ(three->spec.redis.streams(), (std::vector<std::string>{"orders:{0}", "orders:{1}", "orders:{2}"}));
  j["spec"]["source"]["redis"]["shards"] = 0;
  auto zero = pipelineFromJson(j);
  ASSERT_FALSE(zero.ok());
  EXPECT_EQ(zero.error().message.rfind("spec.source.redis.shards", 0), 0u);
}

TEST(StatusJson, ShardedBacklogNamesTheHottestShardAndRoundTrips) {
  WorkerPoolStatus s;
  s.backlog.lag = 10;
  s.backlog.pending = 1;
  s.backlog.total = 11;
  s.backlog.shards = 8;
  s.backlog.hottestShard = "orders:{3}";
  s.backlog.hottestShardTotal = 9;
  json j = toJson(s);
  EXPECT_EQ(j["backlog"]["shards"], 8);
  EXPECT_EQ(j["backlog"]["hottestShard"], (json{{"stream", "orders:{3}"}, {"total", 9}}));
  EXPECT_EQ(backlogFromJson(j["backlog"]), s.backlog);
  WorkerPoolStatus unsharded;
  EXPECT_FALSE(toJson(unsharded)["backlog"].contains("shards"));
}

TEST(StatusJson, UnknownRatesAndBacklogNumbersAreNull) {
  WorkerPoolStatus s;
  s.backlog.pending = 3;
  json j = toJson(s);
  EXPECT_TRUE(j["arrivalRate"].is_null());
  EXPECT_EQ(j["backlog"], (json{{"lag", nullptr}, {"pending", 3}, {"total", nullptr}}));
}

TEST(StatusJson, AnUnmeasuredBacklogClearsTheLastOneWhenMergePatched) {
  // What the API server does with the status the operator sends: a merge
  // patch. The backlog of the last successful poll must not survive a poll
  // that could not measure it.
  WorkerPoolStatus measured;
  measured.backlog = {50000, 0, 50000};
  measured.arrivalRate = 120.0;
  json server = toJson(measured);
  WorkerPoolStatus unreachable;  // nothing measured this poll
  server.merge_patch(mergePatchBetween(toJson(measured), toJson(unreachable)));
  EXPECT_FALSE(server["backlog"].contains("total")) << server.dump();
  EXPECT_FALSE(server["backlog"].contains("lag")) << server.dump();
  EXPECT_FALSE(server.contains("arrivalRate")) << server.dump();
}

TEST(MergePatchBetween, NullsWhatIsGoneRecursesIntoObjectsAndReplacesArrays) {
  json from = {
      {"a", 1}, {"gone", "x"}, {"o", {{"k", 1}, {"drop", 2}}}, {"arr", {1, 2}}, {"same", 5}};
  json to = {{"a", 2}, {"o", {{"k", 1}}}, {"arr", {3}}, {"same", 5}, {"new", true}};
  json patch = mergePatchBetween(from, to);
  EXPECT_EQ(
      patch,
      (json{{"a", 2}, {"gone", nullptr}, {"o", {{"drop", nullptr}}}, {"arr", {3}}, {"new", true}}))
      << patch.dump();
  json applied = from;
  applied.merge_patch(patch);
  EXPECT_EQ(applied, to);
}

TEST(PipelineRetention, AbsentMeansNeverTrimAndDefaultsApplyWhenPresent) {
  json j = testfakes::samplePipeline();
  auto none = pipelineFromJson(j);
  ASSERT_TRUE(none.ok());
  EXPECT_FALSE(none->spec.retention.has_value());
  j["spec"]["retention"] = nullptr;
  EXPECT_FALSE(pipelineFromJson(j)->spec.retention.has_value());
  j["spec"]["retention"] = json::object();
  auto defaults = pipelineFromJson(j);
  ASSERT_TRUE(defaults.ok()) << defaults.error().message;
  ASSERT_TRUE(defaults->spec.retention.has_value());
  EXPECT_EQ(defaults->spec.retention->onFull, "throttle");
  EXPECT_FALSE(defaults->spec.retention->dropOldest());
  EXPECT_EQ(defaults->spec.retention->intervalSeconds, 10);
  EXPECT_FALSE(defaults->spec.retention->maxLength.has_value());
  EXPECT_FALSE(defaults->spec.retention->keepAcknowledgedCount.has_value());
  EXPECT_FALSE(defaults->spec.retention->keepAcknowledgedAgeMs.has_value());
}

TEST(PipelineRetention, ReadsEveryField) {
  json j = testfakes::samplePipeline();
  j["spec"]["retention"] = json::parse(R"({"keepAcknowledged": {"count": 1000, "age": "1h30m"},
      "maxLength": 500000, "onFull": "dropOldest", "intervalSeconds": 30})");
  auto p = pipelineFromJson(j);
  ASSERT_TRUE(p.ok()) << p.error().message;
  const RetentionSpec& r = *p->spec.retention;
  EXPECT_EQ(r.keepAcknowledgedCount, 1000);
  EXPECT_EQ(r.keepAcknowledgedAgeMs, 90 * 60 * 1000);
  EXPECT_EQ(r.keepAcknowledgedAge, "1h30m");
  EXPECT_EQ(r.maxLength, 500000);
  EXPECT_TRUE(r.dropOldest());
  EXPECT_EQ(r.intervalSeconds, 30);
}

TEST(PipelineRetention, EachBadFieldIsRejectedByName) {
  const std::vector<std::pair<json, std::string>> cases = {
      {json("trim"), "spec.retention: must be an object"},
      {{{"onFull", "block"}}, "spec.retention.onFull: must be throttle or dropOldest"},
      {{{"onFull", 1}}, "spec.retention.onFull: must be throttle or dropOldest"},
      {{{"maxLength", 0}}, "spec.retention.maxLength: must be at least 1"},
      {{{"maxLength", -5}}, "spec.retention.maxLength: must be at least 1"},
      {{{"maxLength", "1000"}}, "spec.retention.maxLength: must be an integer"},
      {{{"maxLength", 10.5}}, "spec.retention.maxLength: must be an integer"},
      {{{"maxLength", 18446744073709551615ULL}}, "spec.retention.maxLength: must be at most"},
      {{{"intervalSeconds", 0}}, "spec.retention.intervalSeconds: must be at least 1"},
      {{{"intervalSeconds", 86401}}, "spec.retention.intervalSeconds: must be at most 86400"},
      {{{"keepAcknowledged", 5}}, "spec.retention.keepAcknowledged: must be an object"},
      {{{"keepAcknowledged", {{"count", -1}}}}, "spec.retention.keepAcknowledged.count: must be at least 0"},
      {{{"keepAcknowledged", {{"count", 10001}}}}, "spec.retention.keepAcknowledged.count: must be at most 10000"},
      {{{"keepAcknowledged", {{"age", "1 hour"}}}}, "spec.retention.keepAcknowledged.age: must be a duration"},
      {{{"keepAcknowledged", {{"age", 3600}}}}, "spec.retention.keepAcknowledged.age: must be a duration"},
      {{{"keepAcknowledged", {{"age", "0s"}}}}, "spec.retention.keepAcknowledged.age: must be a duration"},
      {{{"keepAcknowledged", {{"age", "400d"}}}}, "spec.retention.keepAcknowledged.age: must be a duration"},
      {{{"keepAcknowledged", {{"cuont", 5}}}}, "spec.retention.keepAcknowledged.cuont: unknown field"},
      {{{"maxLenght", 5}}, "spec.retention.maxLenght: unknown field"},
      {{{"maxLength", 10}, {"keepAcknowledged", {{"count", 11}}}},
       "spec.retention.keepAcknowledged.count: must not exceed spec.retention.maxLength"},
  };
  for (const auto& [retention, message] : cases) {
    json j = testfakes::samplePipeline();
    j["spec"]["retention"] = retention;
    auto p = pipelineFromJson(j);
    ASSERT_FALSE(p.ok()) << retention.dump();
    EXPECT_EQ(p.error().message.rfind(message, 0), 0u) << retention.dump() << " gave: " << p.error().message;
  }
}

TEST(PipelineRetention, AgeDurations) {
  EXPECT_EQ(parseRetentionAge("1500ms"), 1500);
  EXPECT_EQ(parseRetentionAge("90s"), 90000);
  EXPECT_EQ(parseRetentionAge("30m"), 1800000);
  EXPECT_EQ(parseRetentionAge("1h"), 3600000);
  EXPECT_EQ(parseRetentionAge("1h30m15s"), 5415000);
  EXPECT_EQ(parseRetentionAge("7d"), 7 * 86400000LL);
  EXPECT_EQ(parseRetentionAge("366d"), kMaxRetentionAgeMs);
  for (const char* bad : {"", "h", "1", "1x", "-1h", "1h-", "1.5h", "0ms", "367d", "99999999999999999999s", " 1h"})
    EXPECT_FALSE(parseRetentionAge(bad).has_value()) << bad;
}

TEST(StatusJson, RetentionStatusRoundTripsAndIsNullWithoutRetention) {
  PipelineStatus st;
  EXPECT_TRUE(toJson(st)["retention"].is_null());
  st.retention = RetentionStatus{"1700000000000-5", 42, 1000, 7, "2026-01-02T03:04:05Z", true};
  json j{{"spec", testfakes::samplePipeline()["spec"]}, {"status", toJson(st)}};
  auto p = pipelineFromJson(j);
  ASSERT_TRUE(p.ok());
  ASSERT_TRUE(p->status.retention.has_value());
  EXPECT_EQ(*p->status.retention, *st.retention);
}

TEST(FormatTimeMillis, RoundTripsThroughParseTime) {
  const auto t =
      std::chrono::system_clock::from_time_t(1'700'000'000) + std::chrono::milliseconds(123);
  EXPECT_EQ(formatTimeMillis(t), "2023-11-14T22:13:20.123Z");
  EXPECT_EQ(parseTime(formatTimeMillis(t)), t);
  EXPECT_EQ(parseTime("2023-11-14T22:13:20Z"), t - std::chrono::milliseconds(123));
}

}  // namespace
}  // namespace shoal::api
