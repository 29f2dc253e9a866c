// The Kubernetes seams against the in-memory FakeClient: apply only on drift,
// refuse to adopt foreign objects, status patches, secrets.
#include <gtest/gtest.h>

#include "fakes.h"
#include "shoal/controllers/kube_backends.h"
#include "shoal/common/base64.h"
#include "shoal/controllers/render.h"
#include "shoal/testing/fake_kube_client.h"

namespace shoal::controllers {
namespace {

using nlohmann::json;

struct Env {
  kube::FakeClient api;
  api::Pipeline pipeline = api::pipelineFromJson(testfakes::samplePipeline()).value();
  api::WorkerPool pool = api::workerPoolFromJson(testfakes::samplePool()).value();
  DeploymentBackend backend{api};
  WorkloadIntent intent(int32_t replicas) {
    WorkloadIntent i;
    i.pipeline = &pipeline;
    i.pool = &pool;
    i.config = renderWorkerConfig(pipeline);
    i.configHash = configHash(i.config);
    i.replicas = replicas;
    return i;
  }
};

TEST(DeploymentBackend, AppliesOnceAndAgainOnlyOnDrift) {
  Env e;
  bool changed = false;
  auto o = e.backend.ensure(e.intent(2), &changed);
  ASSERT_TRUE(o.ok()) << o.error().message;
  EXPECT_TRUE(changed);
  EXPECT_TRUE(o->exists);
  EXPECT_EQ(o->specReplicas, 2);
  auto dep = e.api.object(kube::Resource::deployments(), "prod", "orders-workers");
  ASSERT_TRUE(dep.has_value());
  EXPECT_EQ((*dep)["metadata"]["ownerReferences"][0]["uid"], "w-uid");
  ASSERT_TRUE(e.api.object(kube::Resource::configMaps(), "prod", "orders-workers-config"));

  int patches = e.api.calls("patch");
  ASSERT_TRUE(e.backend.ensure(e.intent(2), &changed).ok());
  EXPECT_FALSE(changed);
  EXPECT_EQ(e.api.calls("patch"), patches);

  // Someone scales the Deployment by hand: corrected on the next ensure.
  ASSERT_TRUE(e.api.mergePatch(kube::Resource::deployments(), "prod", "orders-workers",
                               json{{"spec", {{"replicas", 7}}}}).ok());
  ASSERT_TRUE(e.backend.ensure(e.intent(2), &changed).ok());
  EXPECT_TRUE(changed);
  dep = e.api.object(kube::Resource::deployments(), "prod", "orders-workers");
  EXPECT_EQ((*dep)["spec"]["replicas"], 2);
}

TEST(DeploymentBackend, RefusesToAdoptAForeignDeployment) {
  Env e;
  json foreign = {{"apiVersion", "apps/v1"},
                  {"kind", "Deployment"},
                  {"metadata",
                   {{"name", "orders-workers"},
                    {"namespace", "prod"},
                    {"ownerReferences",
                     {{{"apiVersion", "apps/v1"}, {"kind", "Something"}, {"name", "x"},
                       {"uid", "other"}, {"controller", true}}}}}},
                  {"spec", {{"replicas", 1}}}};
  ASSERT_TRUE(e.api.create(kube::Resource::deployments(), "prod", foreign).ok());
  bool changed = false;
  auto o = e.backend.ensure(e.intent(2), &changed);
  ASSERT_FALSE(o.ok());
  EXPECT_EQ(o.error().code, Errc::kConflict);
}

TEST(DeploymentBackend, ObservationOfAStatus) {
  json d = {{"metadata", {{"generation", 4}}},
            {"spec",
             {{"replicas", 3},
              {"template", {{"metadata", {{"annotations", {{"shoal.dev/config-hash", "h"}}}}}}}}},
            {"status",
             {{"observedGeneration", 4}, {"replicas", 3}, {"readyReplicas", 2},
              {"updatedReplicas", 3}}}};
  auto o = DeploymentBackend::observationOf(d);
  EXPECT_TRUE(o.exists);
  EXPECT_EQ(o.specReplicas, 3);
  EXPECT_EQ(o.readyReplicas, 2);
  EXPECT_TRUE(o.rolloutComplete);
  EXPECT_EQ(o.configHash, "h");
  d["status"]["observedGeneration"] = 3;
  EXPECT_FALSE(DeploymentBackend::observationOf(d).rolloutComplete);
}

TEST(KubeResourceStore, ReadsPoolsSecretsAndWritesStatus) {
  kube::FakeClient api;
  ManualClock clock;
  KubeResourceStore store(api, clock);
  ASSERT_TRUE(api.create(workerPoolsResource(), "prod", testfakes::samplePool()).ok());
  json secret = {{"apiVersion", "v1"},
                 {"kind", "Secret"},
                 {"metadata", {{"name", "redis-auth"}, {"namespace", "prod"}}},
                 {"data", {{"password", "czNjcmV0"}}}};  // "s3cret"
  ASSERT_TRUE(api.create(kube::Resource::secrets(), "prod", secret).ok());

  auto pool = store.getWorkerPool("prod", "orders-workers");
  ASSERT_TRUE(pool.ok());
  ASSERT_TRUE(pool.value().has_value());
  EXPECT_FALSE(store.getWorkerPool("prod", "missing").value().has_value());

  auto v = store.getSecretValue("prod", {"redis-auth", "password"});
  ASSERT_TRUE(v.ok());
  EXPECT_EQ(v.value(), std::optional<std::string>("s3cret"));
  EXPECT_FALSE(store.getSecretValue("prod", {"redis-auth", "nokey"}).value().has_value());
  EXPECT_FALSE(store.getSecretValue("prod", {"nosecret", "password"}).value().has_value());

  ASSERT_TRUE(store.writeWorkerPoolStatus(*pool.value(), json{{"desiredReplicas", 4}}).ok());
  auto obj = api.object(workerPoolsResource(), "prod", "orders-workers");
  EXPECT_EQ((*obj)["status"]["desiredReplicas"], 4);
}

// Secret data goes through the Kubernetes client's decoder.
TEST(DecodeBase64, DecodesAndRejects) {
  EXPECT_EQ(shoal::base64Decode("aGVsbG8="), std::optional<std::string>("hello"));
  EXPECT_EQ(shoal::base64Decode("aGVsbG8"), std::optional<std::string>("hello"));
  EXPECT_EQ(shoal::base64Decode(""), std::optional<std::string>(""));
  EXPECT_FALSE(shoal::base64Decode("a$b").has_value());
  EXPECT_FALSE(shoal::base64Decode("aG=x").has_value());
}

}  // namespace
}  // namespace shoal::controllers
