// Parsing Receivers: defaults, the listeners and their ports, and one
// defined error naming the field for each kind of bad spec.
#include <gtest/gtest.h>

#include <algorithm>

#include "shoal/api/receiver.h"

namespace shoal::api {
namespace {

using nlohmann::json;

json sampleReceiver() {
  return json::parse(R"({
    "apiVersion": "shoal.dev/v1alpha1", "kind": "Receiver",
    "metadata": {"name": "front", "namespace": "ns", "uid": "u-1", "generation": 3},
    "spec": {
      "replicas": 2,
      "redis": {"address": "redis:6379", "passwordSecretRef": {"name": "r", "key": "password"}},
      "http": {"port": 8080, "routes": {"logs": {"stream": "logs:app", "shards": 2, "shardKey": "host"},
                                         "metrics": {"stream": "metrics:app"}},
               "auth": {"bearerTokenSecretRef": {"name": "front-auth", "key": "token"}},
               "tlsSecretName": "front-tls"},
      "syslog": {"tcp": {"port": 5140}, "udp": {"port": 5140}, "tls": {"port": 6514, "secretName": "front-tls"},
                 "route": {"stream": "syslog:app", "byFacility": {"local0": "syslog:local0"}}},
      "metricsPort": 9090
    }})");
}

std::string errorOf(const json& j) {
  auto r = receiverFromJson(j);
  return r.ok() ? std::string("(parsed)") : r.error().message;
}

TEST(ReceiverFromJson, ReadsListenersRoutesAndSecretReferences) {
  auto r = receiverFromJson(sampleReceiver());
  ASSERT_TRUE(r.ok()) << r.error().message;
  const ReceiverSpec& s = r->spec;
  EXPECT_EQ(s.replicas, 2);
  EXPECT_EQ(s.redis.address, "redis:6379");
  EXPECT_EQ(s.redis.passwordSecretRef.name, "r");
  EXPECT_EQ(s.routes.at("logs").stream, "logs:app");
  EXPECT_EQ(s.routes.at("logs").shards, 2);
  EXPECT_EQ(s.routes.at("logs").shardKey, "host");
  EXPECT_EQ(s.bearerTokenSecretRef.name, "front-auth");
  EXPECT_EQ(s.tlsSecretName, "front-tls");
  EXPECT_EQ(s.byFacility.at("local0"), "syslog:local0");
  std::vector<ReceiverPort> want = {{"http", 8080, "TCP"},
                                    {"syslog-tcp", 5140, "TCP"},
                                    {"syslog-udp", 5140, "UDP"},
                                    {"syslog-tls", 6514, "TCP"},
                                    {"metrics", 9090, "TCP"}};
  EXPECT_EQ(s.ports(), want);
  std::vector<std::string> streams = {"logs:app:{0}", "logs:app:{1}", "metrics:app", "syslog:app",
                                      "syslog:local0"};
  EXPECT_EQ(s.targetStreams(), streams);
}

TEST(ReceiverFromJson, AppliesDefaults) {
  json j = {{"metadata", {{"name", "r"}}},
            {"spec", {{"redis", {{"address", "h:1"}}}, {"http", {{"port", 8080}, {"routes", {{"bulk", {{"stream", "s"}}}}}}}}}};
  auto r = receiverFromJson(j);
  ASSERT_TRUE(r.ok()) << r.error().message;
  EXPECT_EQ(r->spec.replicas, 1);
  EXPECT_EQ(r->spec.metricsPort, 9090);
  EXPECT_EQ(r->spec.image, defaultReceiverImage());
  EXPECT_EQ(r->spec.routes.at("bulk").shards, 1);
  EXPECT_EQ(r->spec.ports().size(), 2u);
}

TEST(ReceiverFromJson, EachBadSpecNamesItsField) {
  auto with = [](auto edit) {
    json j = sampleReceiver();
    edit(j["spec"]);
    return errorOf(j);
  };
  auto startsWith = [](const std::string& msg, const std::string& field) { return msg.rfind(field + ":", 0) == 0; };
  EXPECT_PRED2(startsWith, errorOf(json{{"metadata", {{"name", "x"}}}}), "spec");
  EXPECT_PRED2(startsWith, with([](json& s) { s.erase("redis"); }), "spec.redis");
  EXPECT_PRED2(startsWith, with([](json& s) { s["redis"].erase("address"); }), "spec.redis.address");
  EXPECT_PRED2(startsWith, with([](json& s) { s["replicas"] = -1; }), "spec.replicas");
  EXPECT_PRED2(startsWith, with([](json& s) { s["replicas"] = "two"; }), "spec.replicas");
  EXPECT_PRED2(startsWith, with([](json& s) { s["http"]["port"] = 70000; }), "spec.http.port");
  EXPECT_PRED2(startsWith, with([](json& s) { s["http"]["port"] = "8080"; }), "spec.http.port");
  EXPECT_PRED2(startsWith, with([](json& s) { s["http"] = 5; }), "spec.http");
  EXPECT_PRED2(startsWith, with([](json& s) { s["http"]["routes"]["logs"].erase("stream"); }),
               "spec.http.routes.logs.stream");
  EXPECT_PRED2(startsWith, with([](json& s) { s["http"]["routes"]["logs"]["shards"] = 0; }),
               "spec.http.routes.logs.shards");
  EXPECT_PRED2(startsWith, with([](json& s) { s["http"]["routes"]["traces"] = {{"stream", "t"}}; }),
               "spec.http.routes.traces");
  EXPECT_PRED2(startsWith, with([](json& s) { s["http"]["routes"] = json::object(); }), "spec.http.routes");
  EXPECT_PRED2(startsWith,
               with([](json& s) {
                 s["http"]["auth"]["basic"] = {{"usernameSecretRef", {{"name", "a"}, {"key", "u"}}},
                                               {"passwordSecretRef", {{"name", "a"}, {"key", "p"}}}};
               }),
               "spec.http.auth");
  EXPECT_PRED2(startsWith, with([](json& s) { s["http"]["auth"]["bearerTokenSecretRef"].erase("key"); }),
               "spec.http.auth.bearerTokenSecretRef.key");
  EXPECT_PRED2(startsWith, with([](json& s) { s["syslog"]["tls"].erase("secretName"); }),
               "spec.syslog.tls.secretName");
  EXPECT_PRED2(startsWith, with([](json& s) { s["syslog"]["tls"]["secretName"] = "other"; }),
               "spec.syslog.tls.secretName");
  EXPECT_PRED2(startsWith, with([](json& s) { s["syslog"]["route"].erase("stream"); }), "spec.syslog.route.stream");
  EXPECT_PRED2(startsWith, with([](json& s) { s["syslog"]["route"]["byFacility"]["local9"] = "x"; }),
               "spec.syslog.route.byFacility.local9");
  EXPECT_PRED2(startsWith, with([](json& s) { s["syslog"]["route"]["byFacility"]["kern"] = 3; }),
               "spec.syslog.route.byFacility.kern");
  EXPECT_PRED2(startsWith, with([](json& s) { s["metricsPort"] = 8080; }), "spec.metricsPort");
  EXPECT_PRED2(startsWith, with([](json& s) { s["syslog"]["tls"]["port"] = 5140; }), "spec.syslog.tls.port");
  EXPECT_PRED2(startsWith, with([](json& s) {
                 s["http"]["port"] = 0;
                 s.erase("syslog");
               }),
               "spec.http.port");
}

TEST(ReceiverFromJson, StreamFromFieldStreamsAreTargetsAndMistakesNameTheField) {
  json j = sampleReceiver();
  j["spec"]["http"]["routes"]["metrics"]["streamFromField"] = {{"field", "name"}, {"streams", {{"up", "metrics:up"}}}};
  j["spec"]["http"]["routes"]["bulk"] = {{"stream", "logs:bulk"}, {"streamFromField", {{"streams", {{"nginx", "logs:nginx"}}}}}};
  auto r = receiverFromJson(j);
  ASSERT_TRUE(r.ok()) << r.error().message;
  EXPECT_EQ(r->spec.routes.at("metrics").fromField, "name");
  EXPECT_EQ(r->spec.routes.at("bulk").fromField, "_index");  // bulk's default: the item's index
  const auto streams = r->spec.targetStreams();
  for (const char* s : {"metrics:up", "logs:nginx", "logs:bulk", "metrics:app"})
    EXPECT_NE(std::find(streams.begin(), streams.end(), s), streams.end()) << s;

  auto with = [](auto edit) {
    json j = sampleReceiver();
    edit(j["spec"]["http"]["routes"]["metrics"]);
    return errorOf(j);
  };
  auto startsWith = [](const std::string& msg, const std::string& field) { return msg.rfind(field + ":", 0) == 0; };
  const std::string p = "spec.http.routes.metrics.streamFromField";
  EXPECT_PRED2(startsWith, with([](json& m) { m["streamFromField"] = "name"; }), p);
  EXPECT_PRED2(startsWith, with([](json& m) { m["streamFromField"] = {{"streams", {{"a", "b"}}}}; }), p + ".field");
  EXPECT_PRED2(startsWith, with([](json& m) { m["streamFromField"] = {{"field", "f"}}; }), p + ".streams");
  EXPECT_PRED2(startsWith, with([](json& m) { m["streamFromField"] = {{"field", "f"}, {"streams", {{"a", 1}}}}; }),
               p + ".streams.a");
  EXPECT_PRED2(startsWith,
               with([](json& m) {
                 m["shards"] = 2;
                 m["streamFromField"] = {{"field", "f"}, {"streams", {{"a", "b"}}}};
               }),
               p);
}

TEST(ReceiverFromJson, BackpressureLimitsDefaultToTheReceiversAndAreChecked) {
  json j = sampleReceiver();
  auto r = receiverFromJson(j);
  ASSERT_TRUE(r.ok());
  EXPECT_EQ(r->spec.maxBacklog, 1000000);
  EXPECT_EQ(r->spec.maxLength, 0);
  j["spec"]["backpressure"] = {{"maxBacklog", 10}, {"maxLength", 500}};
  r = receiverFromJson(j);
  ASSERT_TRUE(r.ok());
  EXPECT_EQ(r->spec.maxBacklog, 10);
  EXPECT_EQ(r->spec.maxLength, 500);
  j["spec"]["backpressure"] = {{"maxBacklog", -1}};
  EXPECT_EQ(errorOf(j).rfind("spec.backpressure.maxBacklog:", 0), 0u) << errorOf(j);
  j["spec"]["backpressure"] = {{"maxLength", "lots"}};
  EXPECT_EQ(errorOf(j).rfind("spec.backpressure.maxLength:", 0), 0u) << errorOf(j);
}

TEST(ReceiverFromJson, UdpMayShareATcpPortNumber) {
  json j = sampleReceiver();
  j["spec"]["syslog"]["udp"]["port"] = 8080;  // the same number as http, other protocol
  EXPECT_TRUE(receiverFromJson(j).ok());
}

TEST(ReceiverStatusJson, RoundTripsReplicasSelectorAndConditions) {
  json j = sampleReceiver();
  ReceiverStatus st;
  st.observedGeneration = 3;
  st.replicas = 2;
  st.readyReplicas = 1;
  st.selector = "a=b";
  st.conditions.push_back(Condition{"Ready", kFalse, 3, "2026-01-01T00:00:00Z", "NotAllReady", "1 of 2"});
  j["status"] = toJson(st);
  auto r = receiverFromJson(j);
  ASSERT_TRUE(r.ok());
  EXPECT_EQ(r->status.observedGeneration, 3);
  EXPECT_EQ(r->status.replicas, 2);
  EXPECT_EQ(r->status.readyReplicas, 1);
  EXPECT_EQ(r->status.selector, "a=b");
  ASSERT_EQ(r->status.conditions.size(), 1u);
  EXPECT_EQ(r->status.conditions[0], st.conditions[0]);
  EXPECT_EQ(toJson(*r)["kind"], "Receiver");
  EXPECT_EQ(toJson(*r)["spec"], sampleReceiver()["spec"]);
}

}  // namespace
}  // namespace shoal::api
