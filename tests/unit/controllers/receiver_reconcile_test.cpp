// The Receiver's rendering (config without replicas, env from Secrets,
// ports per listener, probes) and its reconciler against in-memory seams:
// conditions, scaling through spec.replicas, invalid specs, Redis down,
// Throttling from the operator's own probe of the target streams.
#include <gtest/gtest.h>
#include <yaml-cpp/yaml.h>

#include "fakes.h"
#include "shoal/controllers/conditions.h"
#include "shoal/controllers/receiver_controller.h"
#include "shoal/controllers/receiver_render.h"

namespace shoal::controllers {
namespace {

using nlohmann::json;

json sampleReceiverJson() {
  return json::parse(R"({
    "apiVersion": "shoal.dev/v1alpha1", "kind": "Receiver",
    "metadata": {"name": "front", "namespace": "ns", "uid": "r-uid", "generation": 1},
    "spec": {
      "replicas": 2, "image": "shoal-receiver:dev",
      "redis": {"address": "redis:6379", "passwordSecretRef": {"name": "r", "key": "password"}},
      "http": {"port": 8080, "routes": {"logs": {"stream": "logs:app"}},
               "auth": {"bearerTokenSecretRef": {"name": "front-auth", "key": "token"}},
               "tlsSecretName": "front-tls"},
      "syslog": {"tcp": {"port": 5140}, "udp": {"port": 5141}, "tls": {"port": 6514, "secretName": "front-tls"},
                 "route": {"stream": "syslog:app"}},
      "metricsPort": 9090
    }})");
}

api::Receiver sampleReceiver() { return api::receiverFromJson(sampleReceiverJson()).value(); }

const json* envNamed(const json& container, const std::string& name) {
  for (const auto& e : container["env"])
    if (e["name"] == name) return &e;
  return nullptr;
}

TEST(ReceiverRender, ConfigIsTheResourceWithoutReplicasSoScalingRestartsNothing) {
  api::Receiver r = sampleReceiver();
  const std::string config = renderReceiverConfig(r);
  YAML::Node doc = YAML::Load(config);
  EXPECT_EQ(doc["kind"].as<std::string>(), "Receiver");
  EXPECT_EQ(doc["metadata"]["name"].as<std::string>(), "front");
  EXPECT_EQ(doc["spec"]["http"]["routes"]["logs"]["stream"].as<std::string>(), "logs:app");
  EXPECT_FALSE(doc["spec"]["replicas"].IsDefined());
  r.spec.raw["replicas"] = 5;
  r.spec.replicas = 5;
  EXPECT_EQ(renderReceiverConfig(r), config);
  EXPECT_EQ(config.find("token\n"), std::string::npos) << "no secret values in the config";
}

TEST(ReceiverRender, DeploymentRunsTheReceiverWithSecretsPortsAndProbes) {
  api::Receiver r = sampleReceiver();
  json d = renderReceiverDeployment(r, "abc");
  EXPECT_EQ(d["metadata"]["name"], "front-receiver");
  EXPECT_EQ(d["metadata"]["ownerReferences"][0]["kind"], "Receiver");
  EXPECT_EQ(d["metadata"]["ownerReferences"][0]["uid"], "r-uid");
  EXPECT_EQ(d["spec"]["replicas"], 2);
  EXPECT_EQ(d["spec"]["template"]["metadata"]["annotations"][kConfigHashAnnotation], "abc");
  const json& c = d["spec"]["template"]["spec"]["containers"][0];
  EXPECT_EQ(c["image"], "shoal-receiver:dev");
  EXPECT_EQ(c["args"], json({"--config", "/etc/shoal/receiver.yaml"}));
  ASSERT_NE(envNamed(c, "SHOAL_REDIS_PASSWORD"), nullptr);
  EXPECT_EQ((*envNamed(c, "SHOAL_REDIS_PASSWORD"))["valueFrom"]["secretKeyRef"]["name"], "r");
  ASSERT_NE(envNamed(c, "SHOAL_RECEIVER_BEARER_TOKEN"), nullptr);
  EXPECT_EQ((*envNamed(c, "SHOAL_RECEIVER_BEARER_TOKEN"))["valueFrom"]["secretKeyRef"]["key"], "token");
  ASSERT_NE(envNamed(c, "SHOAL_RECEIVER_TLS_CERT_FILE"), nullptr);
  EXPECT_EQ((*envNamed(c, "SHOAL_RECEIVER_TLS_CERT_FILE"))["value"], "/etc/shoal/secrets/receiver-tls/tls.crt");
  EXPECT_EQ(envNamed(c, "SHOAL_RECEIVER_USERNAME"), nullptr);
  json ports = json::array();
  for (const auto& p : c["ports"]) ports.push_back({p["name"], p["containerPort"], p["protocol"]});
  EXPECT_EQ(ports, json::parse(R"([["http",8080,"TCP"],["syslog-tcp",5140,"TCP"],["syslog-udp",5141,"UDP"],
                                   ["syslog-tls",6514,"TCP"],["metrics",9090,"TCP"]])"));
  EXPECT_EQ(c["readinessProbe"]["httpGet"]["path"], "/readyz");
  EXPECT_EQ(c["livenessProbe"]["httpGet"]["path"], "/healthz");
  EXPECT_EQ(c["readinessProbe"]["httpGet"]["port"], "metrics");
  // The TLS Secret is mounted; the pod can read it as the non-root user.
  bool tlsVolume = false;
  for (const auto& v : d["spec"]["template"]["spec"]["volumes"])
    tlsVolume |= v.contains("secret") && v["secret"]["secretName"] == "front-tls";
  EXPECT_TRUE(tlsVolume);
  EXPECT_EQ(d["spec"]["template"]["spec"]["securityContext"]["fsGroup"], 65532);

  r.spec.metricsPort = 0;  // no /readyz to probe
  json noMetrics = renderReceiverDeployment(r, "abc");
  EXPECT_FALSE(noMetrics["spec"]["template"]["spec"]["containers"][0].contains("readinessProbe"));
}

TEST(ReceiverRender, ServiceHasOnePortPerListenerUdpForSyslogUdp) {
  json s = renderReceiverService(sampleReceiver());
  EXPECT_EQ(s["metadata"]["name"], "front-receiver");
  EXPECT_EQ(s["spec"]["selector"]["app.kubernetes.io/name"], "shoal-receiver");
  ASSERT_EQ(s["spec"]["ports"].size(), 5u);
  EXPECT_EQ(s["spec"]["ports"][2], json({{"name", "syslog-udp"}, {"port", 5141}, {"targetPort", "syslog-udp"},
                                         {"protocol", "UDP"}}));
  EXPECT_EQ(s["spec"]["ports"][0]["name"], "http");
}

// ---------------------------------------------------------------- reconciler

class FakeReceiverStore : public ReceiverStore {
 public:
  std::map<std::string, json> objects;
  std::map<std::string, std::string> secrets;  // "ns/name/key"
  int statusWrites = 0;
  Result<std::optional<json>> getReceiver(const std::string& ns, const std::string& name) override {
    auto it = objects.find(ns + "/" + name);
    if (it == objects.end()) return std::optional<json>();
    return std::optional<json>(it->second);
  }
  Result<std::optional<std::string>> getSecretValue(const std::string& ns, const api::SecretKeyRef& ref) override {
    auto it = secrets.find(ns + "/" + ref.name + "/" + ref.key);
    if (it == secrets.end()) return std::optional<std::string>();
    return std::optional<std::string>(it->second);
  }
  Result<void> writeReceiverStatus(const api::Receiver& r, const json& status) override {
    ++statusWrites;
    objects[r.metadata.namespace_ + "/" + r.metadata.name]["status"] = status;
    return {};
  }
};

class FakeReceiverBackend : public ReceiverBackend {
 public:
  std::vector<ReceiverIntent> intents;
  std::vector<std::string> configs;
  int32_t ready = 0;  // ready pods the "cluster" has
  std::optional<Error> fail;
  Result<WorkloadObservation> ensure(const ReceiverIntent& intent, bool* changed) override {
    if (fail) return *fail;
    intents.push_back(intent);
    configs.push_back(intent.config);
    *changed = true;
    WorkloadObservation o;
    o.exists = true;
    o.specReplicas = intent.receiver->spec.replicas;
    o.replicas = o.specReplicas;
    o.updatedReplicas = o.specReplicas;
    o.readyReplicas = std::min(ready, o.specReplicas);
    lastReplicas = o.specReplicas;
    return o;
  }
  int32_t lastReplicas = -1;
};

class FakePinger : public probe::RedisPinger {
 public:
  std::optional<Error> fail;
  std::vector<probe::RedisTarget> pinged;
  Result<void> ping(const probe::RedisTarget& t) override {
    pinged.push_back(t);
    if (fail) return *fail;
    return {};
  }
};

struct Env {
  FakeReceiverStore store;
  FakeReceiverBackend backend;
  testfakes::FakeEvents events;
  FakePinger pinger;
  ManualClock clock;
  ReceiverReconciler reconciler{store, backend, events, pinger, clock};
  Env() {
    store.objects["ns/front"] = sampleReceiverJson();
    store.secrets["ns/r/password"] = "pw";
  }
  json status() { return store.objects["ns/front"]["status"]; }
  std::string condition(const std::string& type, const char* field = "status") {
    const json st = status();
    for (const auto& c : st["conditions"])
      if (c["type"] == type) return c[field].get<std::string>();
    return "(none)";
  }
};

TEST(ReceiverReconcile, RendersTheReceiverAndReportsReadyRedisReachableAndThrottlingUnknown) {
  Env e;
  e.backend.ready = 2;
  auto r = e.reconciler.reconcile("ns", "front");
  ASSERT_TRUE(r.ok()) << r.error().message;
  ASSERT_TRUE(r->requeueAfter.has_value());
  EXPECT_EQ(*r->requeueAfter, kRedisRecheck);
  ASSERT_EQ(e.backend.intents.size(), 1u);
  EXPECT_EQ(e.backend.lastReplicas, 2);
  EXPECT_EQ(e.status()["replicas"], 2);
  EXPECT_EQ(e.status()["readyReplicas"], 2);
  EXPECT_EQ(e.status()["observedGeneration"], 1);
  EXPECT_EQ(e.status()["selector"], "app.kubernetes.io/instance=front-receiver,app.kubernetes.io/name=shoal-receiver");
  EXPECT_EQ(e.condition("Ready"), "True");
  EXPECT_EQ(e.condition("RedisReachable"), "True");
  EXPECT_EQ(e.condition("Throttling"), "Unknown");
  EXPECT_EQ(e.condition("Throttling", "reason"), "NotObserved");
  // The probe used the receiver's connection with the Secret's password.
  ASSERT_EQ(e.pinger.pinged.size(), 1u);
  EXPECT_EQ(e.pinger.pinged[0].address, "redis:6379");
  EXPECT_EQ(e.pinger.pinged[0].password, "pw");

  // Nothing changed: the status is not written again.
  const int writes = e.store.statusWrites;
  ASSERT_TRUE(e.reconciler.reconcile("ns", "front").ok());
  EXPECT_EQ(e.store.statusWrites, writes);
}

TEST(ReceiverReconcile, ScalingThroughSpecReplicasChangesTheDeploymentNotTheConfig) {
  Env e;
  e.backend.ready = 2;
  ASSERT_TRUE(e.reconciler.reconcile("ns", "front").ok());
  e.store.objects["ns/front"]["spec"]["replicas"] = 3;  // kubectl scale receiver/front --replicas=3
  ASSERT_TRUE(e.reconciler.reconcile("ns", "front").ok());
  EXPECT_EQ(e.backend.lastReplicas, 3);
  ASSERT_EQ(e.backend.configs.size(), 2u);
  EXPECT_EQ(e.backend.configs[0], e.backend.configs[1]);
  EXPECT_EQ(e.backend.intents[0].configHash, e.backend.intents[1].configHash);
  EXPECT_EQ(e.condition("Ready"), "False");
  EXPECT_EQ(e.condition("Ready", "reason"), "WaitingForReceivers");
  EXPECT_EQ(e.condition("Ready", "message"), "2 of 3 receiver pods ready.");
}

TEST(ReceiverReconcile, RedisDownIsRedisReachableFalseWithTheError) {
  Env e;
  e.backend.ready = 2;
  e.pinger.fail = makeError(Errc::kIo, "connect redis:6379: connection refused");
  auto r = e.reconciler.reconcile("ns", "front");
  ASSERT_TRUE(r.ok());
  EXPECT_EQ(r->requeueAfter, kRedisRetry) << "asked again soon while Redis is down";
  EXPECT_EQ(e.condition("RedisReachable"), "False");
  EXPECT_EQ(e.condition("RedisReachable", "reason"), "Unreachable");
  EXPECT_EQ(e.condition("RedisReachable", "message"), "connect redis:6379: connection refused");
  const std::string since = e.condition("RedisReachable", "lastTransitionTime");
  // Redis comes back: the condition flips on the next (periodic) reconcile.
  e.pinger.fail.reset();
  e.clock.advance(kRedisRecheck);
  ASSERT_TRUE(e.reconciler.reconcile("ns", "front").ok());
  EXPECT_EQ(e.condition("RedisReachable"), "True");
  EXPECT_NE(e.condition("RedisReachable", "lastTransitionTime"), since);
}

TEST(ReceiverReconcile, AMissingSecretIsNamedAndNotPinged) {
  Env e;
  e.store.secrets.clear();
  ASSERT_TRUE(e.reconciler.reconcile("ns", "front").ok());
  EXPECT_EQ(e.condition("RedisReachable"), "False");
  EXPECT_EQ(e.condition("RedisReachable", "reason"), "SecretNotFound");
  EXPECT_NE(e.condition("RedisReachable", "message").find("Secret r"), std::string::npos);
  EXPECT_TRUE(e.pinger.pinged.empty());
  EXPECT_EQ(e.events.count("SecretNotFound"), 1);
}

TEST(ReceiverReconcile, AnInvalidSpecRendersNothingAndSaysWhichField) {
  Env e;
  e.store.objects["ns/front"]["spec"]["http"]["routes"]["logs"].erase("stream");
  auto r = e.reconciler.reconcile("ns", "front");
  ASSERT_TRUE(r.ok());
  EXPECT_FALSE(r->requeueAfter.has_value());
  EXPECT_TRUE(e.backend.intents.empty());
  EXPECT_EQ(e.condition("Ready"), "False");
  EXPECT_EQ(e.condition("Ready", "reason"), "InvalidSpec");
  EXPECT_EQ(e.condition("Ready", "message").rfind("spec.http.routes.logs.stream", 0), 0u);
  EXPECT_EQ(e.condition("RedisReachable"), "Unknown");
  EXPECT_EQ(e.events.count("InvalidSpec"), 1);
}

TEST(ReceiverReconcile, ABackendFailureIsReportedAndRetried) {
  Env e;
  e.backend.fail = makeError(Errc::kConflict, "Deployment front-receiver exists and is not controlled by this Receiver");
  auto r = e.reconciler.reconcile("ns", "front");
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(e.condition("Ready"), "False");
  EXPECT_EQ(e.condition("Ready", "reason"), "WorkloadApplyFailed");
  EXPECT_EQ(e.events.count("WorkloadApplyFailed"), 1);
}

TEST(ReceiverReconcile, ScaledToZeroIsReady) {
  Env e;
  e.store.objects["ns/front"]["spec"]["replicas"] = 0;
  ASSERT_TRUE(e.reconciler.reconcile("ns", "front").ok());
  EXPECT_EQ(e.backend.lastReplicas, 0);
  EXPECT_EQ(e.condition("Ready"), "True");
  EXPECT_EQ(e.condition("Ready", "reason"), "ScaledToZero");
}

// ---- Throttling, from the operator's own probe of the target streams

struct ProbedEnv : Env {
  std::shared_ptr<testfakes::FakeInspector> inspector = std::make_shared<testfakes::FakeInspector>();
  probe::BacklogProbe probe{inspector, clock};
  ReceiverReconciler probed{store, backend, events, pinger, clock, &probe};
  ProbedEnv() {
    backend.ready = 2;
    store.objects["ns/front"]["spec"]["backpressure"] = {{"maxBacklog", 100}, {"maxLength", 1000}};
  }
  ReconcileResult reconcile() { return probed.reconcile("ns", "front"); }
};

TEST(ReceiverReconcile, ThrottlingIsTrueNamingTheStreamOverMaxBacklogAndClearsWhenItDrains) {
  ProbedEnv e;
  e.inspector->loads["logs:app"] = {10, 10};
  auto r = e.reconcile();
  ASSERT_TRUE(r.ok());
  EXPECT_EQ(e.condition("Throttling"), "False");
  EXPECT_EQ(e.condition("Throttling", "reason"), "BacklogUnderLimit");
  EXPECT_EQ(e.condition("Throttling", "message"),
            "No target stream is over its limit; the largest backlog is logs:app at 10 of maxBacklog 100.");
  EXPECT_EQ(r->requeueAfter, kRedisRecheck);
  EXPECT_EQ(e.inspector->loadReads, 2) << "logs:app and syslog:app";

  // The slowest group falls behind on syslog:app: the receivers refuse it.
  e.inspector->loads["syslog:app"] = {150, 400};
  e.clock.advance(std::chrono::seconds(30));
  r = e.reconcile();
  ASSERT_TRUE(r.ok());
  EXPECT_EQ(e.condition("Throttling"), "True");
  EXPECT_EQ(e.condition("Throttling", "reason"), "BacklogOverLimit");
  EXPECT_NE(e.condition("Throttling", "message").find("syslog:app (backlog 150 > maxBacklog 100)"), std::string::npos)
      << e.condition("Throttling", "message");
  EXPECT_EQ(e.condition("Throttling", "message").find("logs:app ("), std::string::npos);
  EXPECT_EQ(r->requeueAfter, kThrottleRecheck) << "checked again soon while throttled";
  EXPECT_EQ(e.events.count("BacklogOverLimit"), 1);
  const std::string since = e.condition("Throttling", "lastTransitionTime");
  e.clock.advance(kThrottleRecheck);
  ASSERT_TRUE(e.reconcile().ok());
  EXPECT_EQ(e.events.count("BacklogOverLimit"), 1) << "one event per transition";
  EXPECT_EQ(e.condition("Throttling", "lastTransitionTime"), since);

  // The group catches up: not throttled any more.
  e.inspector->loads["syslog:app"] = {20, 400};
  e.clock.advance(kThrottleRecheck);
  r = e.reconcile();
  ASSERT_TRUE(r.ok());
  EXPECT_EQ(e.condition("Throttling"), "False");
  EXPECT_EQ(e.condition("Throttling", "reason"), "BacklogUnderLimit");
  EXPECT_EQ(r->requeueAfter, kRedisRecheck);
}

TEST(ReceiverReconcile, ThrottlingAtTheLengthCapAndWithoutLimits) {
  ProbedEnv e;
  e.inspector->loads["logs:app"] = {5, 1000};
  ASSERT_TRUE(e.reconcile().ok());
  EXPECT_EQ(e.condition("Throttling"), "True");
  EXPECT_EQ(e.condition("Throttling", "reason"), "LengthAtCap");
  EXPECT_NE(e.condition("Throttling", "message").find("logs:app (length 1000 >= maxLength 1000)"), std::string::npos);

  e.store.objects["ns/front"]["spec"]["backpressure"] = {{"maxBacklog", 0}};
  e.store.objects["ns/front"]["metadata"]["generation"] = 2;
  ASSERT_TRUE(e.reconcile().ok());
  EXPECT_EQ(e.condition("Throttling"), "False");
  EXPECT_EQ(e.condition("Throttling", "reason"), "NoLimit");
}

TEST(ReceiverReconcile, ThrottlingIsUnknownWhileTheBacklogCannotBeRead) {
  ProbedEnv e;
  e.pinger.fail = makeError(Errc::kIo, "connection refused");
  ASSERT_TRUE(e.reconcile().ok());
  EXPECT_EQ(e.condition("Throttling"), "Unknown");
  EXPECT_EQ(e.condition("Throttling", "reason"), "BacklogNotMeasured");
  EXPECT_NE(e.condition("Throttling", "message").find("connection refused"), std::string::npos);
  EXPECT_EQ(e.inspector->loadReads, 0) << "no load read when PING failed";

  e.pinger.fail.reset();
  e.inspector->reachable = false;  // PING answered, the XINFO round trips fail
  ASSERT_TRUE(e.reconcile().ok());
  EXPECT_EQ(e.condition("Throttling"), "Unknown");
  EXPECT_NE(e.condition("Throttling", "message").find("logs:app: connection refused"), std::string::npos)
      << e.condition("Throttling", "message");
}

TEST(ReceiverThrottling, TheMessageNamesAtMostFiveStreams) {
  api::Receiver r = sampleReceiver();
  r.spec.routes["logs"].fromField = "service";
  for (int i = 0; i < 7; ++i) r.spec.routes["logs"].streamsByValue["v" + std::to_string(i)] = "logs:s" + std::to_string(i);
  r.spec.maxBacklog = 1;
  ReceiverStatusInputs in;
  in.receiver = &r;
  in.loads = std::vector<StreamLoad>(r.spec.targetStreams().size(), StreamLoad{5, 5});
  const ThrottlingJudgement t = judgeThrottling(r.spec, in);
  EXPECT_EQ(t.status, api::kTrue);
  EXPECT_NE(t.message.find(" and 4 more"), std::string::npos) << t.message;  // 9 streams over, 5 named
  EXPECT_TRUE(t.near);
}

TEST(ReceiverReconcile, AGoneReceiverIsNotAnError) {
  Env e;
  e.store.objects.clear();
  auto r = e.reconciler.reconcile("ns", "front");
  ASSERT_TRUE(r.ok());
  EXPECT_FALSE(r->requeueAfter.has_value());
  EXPECT_TRUE(e.backend.intents.empty());
}

}  // namespace
}  // namespace shoal::controllers
