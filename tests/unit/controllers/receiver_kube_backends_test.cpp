// The Receiver's Kubernetes seams against the in-memory FakeClient: the
// ConfigMap, Deployment and Service applied once and again only on drift,
// foreign objects never adopted, status through /status.
#include <gtest/gtest.h>

#include "shoal/controllers/kube_receiver_backends.h"
#include "shoal/controllers/receiver_render.h"
#include "shoal/testing/fake_kube_client.h"

namespace shoal::controllers {
namespace {

using nlohmann::json;

json receiverJson() {
  return json::parse(R"({
    "apiVersion": "shoal.dev/v1alpha1", "kind": "Receiver",
    "metadata": {"name": "front", "namespace": "ns", "uid": "r-uid", "generation": 1},
    "spec": {"replicas": 2, "redis": {"address": "redis:6379"},
             "http": {"port": 8080, "routes": {"logs": {"stream": "logs:app"}}},
             "syslog": {"udp": {"port": 5140}, "route": {"stream": "syslog:app"}}}})");
}

struct Env {
  kube::FakeClient api;
  api::Receiver receiver = api::receiverFromJson(receiverJson()).value();
  ReceiverDeploymentBackend backend{api};
  ReceiverIntent intent() {
    ReceiverIntent i;
    i.receiver = &receiver;
    i.config = renderReceiverConfig(receiver);
    i.configHash = configHash(i.config);
    return i;
  }
};

TEST(ReceiverDeploymentBackend, AppliesConfigMapDeploymentAndServiceOnceAndAgainOnlyOnDrift) {
  Env e;
  bool changed = false;
  auto o = e.backend.ensure(e.intent(), &changed);
  ASSERT_TRUE(o.ok()) << o.error().message;
  EXPECT_TRUE(changed);
  EXPECT_EQ(o->specReplicas, 2);
  auto cm = e.api.object(kube::Resource::configMaps(), "ns", "front-receiver-config");
  ASSERT_TRUE(cm.has_value());
  EXPECT_NE((*cm)["data"]["receiver.yaml"].get<std::string>().find("logs:app"), std::string::npos);
  auto svc = e.api.object(servicesResource(), "ns", "front-receiver");
  ASSERT_TRUE(svc.has_value());
  EXPECT_EQ((*svc)["metadata"]["ownerReferences"][0]["uid"], "r-uid");
  EXPECT_EQ((*svc)["spec"]["ports"][1]["protocol"], "UDP");
  ASSERT_TRUE(e.api.object(kube::Resource::deployments(), "ns", "front-receiver").has_value());

  const int patches = e.api.calls("patch");
  ASSERT_TRUE(e.backend.ensure(e.intent(), &changed).ok());
  EXPECT_FALSE(changed);
  EXPECT_EQ(e.api.calls("patch"), patches);

  // Scaled to 3 through the Receiver: only the Deployment changes.
  e.receiver.spec.replicas = 3;
  o = e.backend.ensure(e.intent(), &changed);
  ASSERT_TRUE(o.ok());
  EXPECT_TRUE(changed);
  EXPECT_EQ((*e.api.object(kube::Resource::deployments(), "ns", "front-receiver"))["spec"]["replicas"], 3);
  EXPECT_EQ(e.api.calls("patch"), patches + 1);
}

TEST(ReceiverDeploymentBackend, RefusesToAdoptAForeignService) {
  Env e;
  json foreign = {{"apiVersion", "v1"},
                  {"kind", "Service"},
                  {"metadata",
                   {{"name", "front-receiver"},
                    {"namespace", "ns"},
                    {"ownerReferences",
                     {{{"apiVersion", "v1"}, {"kind", "Other"}, {"name", "x"}, {"uid", "other"}, {"controller", true}}}}}},
                  {"spec", {{"ports", {{{"port", 80}}}}}}};
  ASSERT_TRUE(e.api.create(servicesResource(), "ns", foreign).ok());
  bool changed = false;
  auto o = e.backend.ensure(e.intent(), &changed);
  ASSERT_FALSE(o.ok());
  EXPECT_EQ(o.error().code, Errc::kConflict);
  EXPECT_NE(o.error().message.find("Service front-receiver"), std::string::npos);
}

TEST(KubeReceiverStore, ReadsTheObjectAndPatchesStatus) {
  Env e;
  ASSERT_TRUE(e.api.create(receiversResource(), "ns", receiverJson()).ok());
  ManualClock clock;
  KubeResourceStore secrets(e.api, clock);
  KubeReceiverStore store(e.api, secrets);
  auto got = store.getReceiver("ns", "front");
  ASSERT_TRUE(got.ok());
  ASSERT_TRUE(got.value().has_value());
  auto missing = store.getReceiver("ns", "nope");
  ASSERT_TRUE(missing.ok());
  EXPECT_FALSE(missing.value().has_value());
  api::ReceiverStatus st;
  st.replicas = 2;
  st.selector = receiverSelectorString(e.receiver);
  ASSERT_TRUE(store.writeReceiverStatus(e.receiver, api::toJson(st)).ok());
  auto obj = e.api.object(receiversResource(), "ns", "front");
  EXPECT_EQ((*obj)["status"]["replicas"], 2);
  EXPECT_EQ((*obj)["status"]["selector"], st.selector);
}

}  // namespace
}  // namespace shoal::controllers
