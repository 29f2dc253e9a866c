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

TEST(FormatTimeMillis, RoundTripsThroughParseTime) {
  const auto t =
      std::chrono::system_clock::from_time_t(1'700'000'000) + std::chrono::milliseconds(123);
  EXPECT_EQ(formatTimeMillis(t), "2023-11-14T22:13:20.123Z");
  EXPECT_EQ(parseTime(formatTimeMillis(t)), t);
  EXPECT_EQ(parseTime("2023-11-14T22:13:20Z"), t - std::chrono::milliseconds(123));
}

}  // namespace
}  // namespace shoal::api
