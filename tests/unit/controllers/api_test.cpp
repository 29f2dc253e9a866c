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

TEST(StatusJson, UnknownRatesAreNullAndBacklogOmitsUnknowns) {
  WorkerPoolStatus s;
  s.backlog.pending = 3;
  json j = toJson(s);
  EXPECT_TRUE(j["arrivalRate"].is_null());
  EXPECT_EQ(j["backlog"], (json{{"pending", 3}}));
}

}  // namespace
}  // namespace shoal::api
