// Loading a Receiver: the documented fields with their defaults, the
// environment on top, and one ConfigError naming the field for each mistake.
#include <gtest/gtest.h>

#include <algorithm>

#include "shoal/api/receiver.h"
#include "shoal/receiver/config.h"
#include "shoal/receiver/receiver.h"

namespace shoal::receiver {
namespace {

using Env = std::map<std::string, std::string>;

ReceiverConfig load(const std::string& yaml, const Env& env = {}) { return loadReceiverConfig(YAML::Load(yaml), env); }

std::string errorOf(const std::string& yaml, const Env& env = {}) {
  try {
    load(yaml, env);
  } catch (const ConfigError& e) {
    return e.field();
  }
  return "(no error)";
}

const char* kMinimal = R"(
apiVersion: shoal.dev/v1alpha1
kind: Receiver
metadata: {name: front}
spec:
  redis: {address: "redis:6379"}
  http:
    port: 8080
    routes:
      logs: {stream: "logs:app"}
)";

TEST(ReceiverConfig, TheDocumentedResourceLoadsWithItsValues) {
  auto c = load(R"(
spec:
  replicas: 2
  image: shoal-receiver:dev
  redis: {url: "redis://r:6380/2", passwordSecretRef: {name: r, key: password}}
  http:
    port: 8080
    maxBodyBytes: 2048
    routes:
      logs: {stream: "logs:app", shards: 4, shardKey: host}
      metrics: {stream: "metrics:app"}
      bulk: {stream: "logs:bulk"}
      remoteWrite: {stream: "metrics:rw", shards: 2, shardKey: job}
    tlsSecretName: front-tls
  limits: {maxEntryBytes: 512, maxConnections: 10, readTimeoutSeconds: 5, idleTimeoutSeconds: 6}
  backpressure: {maxBacklog: 100, maxLength: 1000, retryAfterSeconds: 3, checkIntervalMilliseconds: 200}
  durability: {waitReplicas: 1, waitTimeoutMilliseconds: 50}
  metricsPort: 9191
)");
  EXPECT_EQ(c.redis.host, "r");
  EXPECT_EQ(c.redis.port, 6380);
  EXPECT_EQ(c.redis.db, 2);
  EXPECT_EQ(c.httpPort, 8080);
  EXPECT_EQ(c.maxBodyBytes, 2048);
  EXPECT_TRUE(c.logs.enabled);
  EXPECT_EQ(c.logs.shards, 4);
  EXPECT_EQ(c.logs.shardKey, "host");
  EXPECT_EQ(c.metrics.stream, "metrics:app");
  EXPECT_EQ(c.bulk.stream, "logs:bulk");
  EXPECT_EQ(c.remoteWrite.stream, "metrics:rw");
  EXPECT_EQ(c.remoteWrite.shardKey, "job");
  EXPECT_EQ(c.maxEntryBytes, 512);
  EXPECT_EQ(c.maxConnections, 10);
  EXPECT_EQ(c.readTimeoutSeconds, 5);
  EXPECT_EQ(c.idleTimeoutSeconds, 6);
  EXPECT_EQ(c.maxBacklog, 100);
  EXPECT_EQ(c.maxLength, 1000);
  EXPECT_EQ(c.retryAfterSeconds, 3);
  EXPECT_EQ(c.checkIntervalMilliseconds, 200);
  EXPECT_EQ(c.waitReplicas, 1);
  EXPECT_EQ(c.waitTimeoutMilliseconds, 50);
  EXPECT_EQ(c.metricsPort, 9191);
}

TEST(ReceiverConfig, DefaultsAreTheDocumentedOnes) {
  auto c = load(kMinimal);
  EXPECT_EQ(c.maxBodyBytes, 10 << 20);
  EXPECT_EQ(c.maxEntryBytes, 1 << 20);
  EXPECT_EQ(c.maxBacklog, 1000000);
  EXPECT_EQ(c.maxLength, 0);
  EXPECT_EQ(c.retryAfterSeconds, 1);
  EXPECT_EQ(c.waitReplicas, 0);
  EXPECT_EQ(c.metricsPort, 9090);
  EXPECT_FALSE(c.metrics.enabled);
  EXPECT_FALSE(c.bulk.enabled);
  EXPECT_EQ(c.logs.shards, 1);
}

TEST(ReceiverConfig, TheEnvironmentGivesServerSecretsAndTls) {
  auto c = load(kMinimal, {{"SHOAL_REDIS_URL", "redis://u:p@other:7000"},
                           {"SHOAL_RECEIVER_BEARER_TOKEN", "t0k"},
                           {"SHOAL_RECEIVER_TLS_CERT_FILE", "/c.pem"},
                           {"SHOAL_RECEIVER_TLS_KEY_FILE", "/k.pem"}});
  EXPECT_EQ(c.redis.host, "other");
  EXPECT_EQ(c.redis.password, "p");
  EXPECT_EQ(c.bearerToken, "t0k");
  EXPECT_EQ(c.tlsCertFile, "/c.pem");
  EXPECT_EQ(c.tlsKeyFile, "/k.pem");
}

TEST(ReceiverConfig, EachMistakeNamesItsField) {
  const std::string redis = "spec:\n  redis: {address: \"r:1\"}\n";
  const std::string logs = "  http: {port: 8080, routes: {logs: {stream: s}}}\n";
  EXPECT_EQ(errorOf("spec: {http: {port: 1, routes: {logs: {stream: s}}}}"), "spec.redis");
  EXPECT_EQ(errorOf("spec:\n  redis: {}\n" + logs), "spec.redis.url");
  EXPECT_EQ(errorOf("spec:\n  redis: {address: \"r:1\", password: x}\n" + logs), "spec.redis.password");
  EXPECT_EQ(errorOf(redis + logs + "  surprise: 1\n"), "spec.surprise");
  EXPECT_EQ(errorOf(redis), "spec.http.port");
  EXPECT_EQ(errorOf(redis + "  http: {port: 70000, routes: {logs: {stream: s}}}\n"), "spec.http.port");
  EXPECT_EQ(errorOf(redis + "  http: {port: 8080}\n"), "spec.http.routes");
  EXPECT_EQ(errorOf(redis + "  http: {port: 8080, routes: {logs: {}}}\n"), "spec.http.routes.logs.stream");
  EXPECT_EQ(errorOf(redis + "  http: {port: 8080, routes: {logs: {stream: s, shards: 0}}}\n"),
            "spec.http.routes.logs.shards");
  EXPECT_EQ(errorOf(redis + "  http: {port: 8080, routes: {logz: {stream: s}}}\n"), "spec.http.routes.logz");
  EXPECT_EQ(errorOf(redis + "  http: {port: 8080, maxBodyBytes: 0, routes: {logs: {stream: s}}}\n"),
            "spec.http.maxBodyBytes");
  EXPECT_EQ(errorOf(redis + logs + "  limits: {maxEntryBytes: many}\n"), "spec.limits.maxEntryBytes");
  EXPECT_EQ(errorOf(redis + logs + "  backpressure: {maxBacklog: -1}\n"), "spec.backpressure.maxBacklog");
  EXPECT_EQ(errorOf(redis + logs + "  durability: {waitReplicas: x}\n"), "spec.durability.waitReplicas");
  EXPECT_EQ(errorOf(redis + logs + "  metricsPort: 8080\n"), "spec.metricsPort");
  EXPECT_EQ(errorOf(redis + "  http: {port: 8080, auth: {bearerTokenSecretRef: {name: a, key: t}}, routes: "
                            "{logs: {stream: s}}}\n"),
            "spec.http.auth");
  EXPECT_EQ(errorOf(kMinimal, {{"SHOAL_RECEIVER_TLS_CERT_FILE", "/c.pem"}}), "env SHOAL_RECEIVER_TLS_CERT_FILE");
  EXPECT_EQ(errorOf(kMinimal, {{"SHOAL_RECEIVER_USERNAME", "u"}}), "env SHOAL_RECEIVER_USERNAME");
}

TEST(ReceiverConfig, StreamFromFieldMapsValuesToStreamsAndTheyAreTargets) {
  auto c = load(R"(
spec:
  redis: {address: "r:1"}
  http:
    port: 8080
    routes:
      logs: {stream: "logs:other", streamFromField: {field: service, streams: {api: "logs:api", web: "logs:web"}}}
      bulk: {stream: "logs:bulk", streamFromField: {streams: {nginx-2026: "logs:nginx"}}}
      remoteWrite: {stream: "metrics:rw", streamFromField: {field: __name__, streams: {up: "metrics:up"}}}
)");
  EXPECT_EQ(c.logs.fromField.field, "service");
  EXPECT_EQ(c.logs.fromField.streams.at("web"), "logs:web");
  EXPECT_EQ(c.logs.keyMember(), "service");
  EXPECT_EQ(c.bulk.fromField.field, "_index");  // the bulk route's default: the item's index
  EXPECT_EQ(c.remoteWrite.keyMember(), "__name__");
  EXPECT_TRUE(c.metrics.fromField.field.empty());
  EXPECT_EQ(targetStreams(c), (std::vector<std::string>{"logs:other", "logs:api", "logs:web", "logs:bulk",
                                                        "logs:nginx", "metrics:rw", "metrics:up"}));
}

TEST(ReceiverConfig, StreamFromFieldMistakesNameTheirField) {
  const std::string head = "spec:\n  redis: {address: \"r:1\"}\n  http:\n    port: 8080\n    routes:\n      logs: ";
  const std::string p = "spec.http.routes.logs.streamFromField";
  EXPECT_EQ(errorOf(head + "{stream: s, streamFromField: service}\n"), p);
  EXPECT_EQ(errorOf(head + "{stream: s, streamFromField: {streams: {a: b}}}\n"), p + ".field");
  EXPECT_EQ(errorOf(head + "{stream: s, streamFromField: {field: \"\", streams: {a: b}}}\n"), p + ".field");
  EXPECT_EQ(errorOf(head + "{stream: s, streamFromField: {field: f}}\n"), p + ".streams");
  EXPECT_EQ(errorOf(head + "{stream: s, streamFromField: {field: f, streams: {}}}\n"), p + ".streams");
  EXPECT_EQ(errorOf(head + "{stream: s, streamFromField: {field: f, streams: [a]}}\n"), p + ".streams");
  EXPECT_EQ(errorOf(head + "{stream: s, streamFromField: {field: f, streams: {api: \"\"}}}\n"), p + ".streams.api");
  EXPECT_EQ(errorOf(head + "{stream: s, streamFromField: {field: f, streams: {api: {x: 1}}}}\n"), p + ".streams.api");
  EXPECT_EQ(errorOf(head + "{stream: s, streamFromField: {field: f, streams: {a: b}, typo: 1}}\n"), p + ".typo");
  EXPECT_EQ(errorOf(head + "{stream: s, shards: 2, streamFromField: {field: f, streams: {a: b}}}\n"), p);
  std::string many = "{";
  for (size_t i = 0; i <= kMaxStreamsFromField; ++i) many += (i ? ", v" : "v") + std::to_string(i) + ": s";
  EXPECT_EQ(errorOf(head + "{stream: s, streamFromField: {field: f, streams: " + many + "}}}\n"), p + ".streams");
}

// The operator judges a Receiver's Throttling itself (api::ReceiverSpec,
// operator/controllers): it must read the same limits, defaults included,
// and probe exactly the streams this receiver throttles.
TEST(ReceiverConfig, TheOperatorSeesTheSameLimitsAndTargetStreams) {
  const std::string yaml = R"({"metadata": {"name": "front"}, "spec": {
    "redis": {"address": "r:1"},
    "http": {"port": 8080, "routes": {
      "logs": {"stream": "logs:app", "shards": 3},
      "metrics": {"stream": "metrics:app", "streamFromField": {"field": "name", "streams": {"up": "metrics:up"}}},
      "bulk": {"stream": "logs:bulk", "streamFromField": {"streams": {"nginx": "logs:nginx"}}}}},
    "syslog": {"udp": {"port": 5140}, "route": {"stream": "syslog:app", "byFacility": {"local0": "syslog:l0"}}}}})";
  auto op = api::receiverFromJson(nlohmann::json::parse(yaml));
  ASSERT_TRUE(op.ok()) << op.error().message;
  const ReceiverConfig c = load(yaml);  // JSON is YAML
  EXPECT_EQ(c.maxBacklog, op->spec.maxBacklog);
  EXPECT_EQ(c.maxLength, op->spec.maxLength);
  auto mine = targetStreams(c), theirs = op->spec.targetStreams();
  std::sort(mine.begin(), mine.end());
  std::sort(theirs.begin(), theirs.end());
  EXPECT_EQ(mine, theirs);
  EXPECT_EQ(mine.size(), 9u);  // three shards, two per streamFromField route, two syslog
}

TEST(ReceiverConfig, SyslogListenersAndTheirRoutes) {
  const std::string redis = "spec:\n  redis: {address: \"r:1\"}\n";
  ReceiverConfig c = load(redis + "  syslog:\n    tcp: {port: 5140}\n    udp: {port: 5141}\n"
                                  "    route: {stream: syslog:app, byFacility: {local0: syslog:l0}}\n");
  EXPECT_EQ(c.syslogListeners.tcpPort, 5140);
  EXPECT_EQ(c.syslogListeners.udpPort, 5141);
  EXPECT_EQ(c.syslogListeners.tlsPort, 0);
  EXPECT_EQ(c.syslogListeners.stream, "syslog:app");
  EXPECT_EQ(c.syslogListeners.byFacility.at("local0"), "syslog:l0");
  const auto streams = targetStreams(c);
  EXPECT_EQ(streams, (std::vector<std::string>{"syslog:app", "syslog:l0"}));

  EXPECT_EQ(errorOf(redis + "  syslog: {tcp: {port: 5140}}\n"), "spec.syslog.route");
  EXPECT_EQ(errorOf(redis + "  syslog: {tcp: {port: 99999}, route: {stream: s}}\n"), "spec.syslog.tcp.port");
  EXPECT_EQ(errorOf(redis + "  syslog: {tcp: {port: 1, tos: 3}, route: {stream: s}}\n"), "spec.syslog.tcp.tos");
  EXPECT_EQ(errorOf(redis + "  syslog: {udp: {port: 1}, route: {stream: s, byFacility: {local9: x}}}\n"),
            "spec.syslog.route.byFacility");
  EXPECT_EQ(errorOf(redis + "  syslog: {tls: {port: 6514, secretName: t}, route: {stream: s}}\n"),
            "spec.syslog.tls");
  EXPECT_EQ(load(redis + "  syslog: {tls: {port: 6514, secretName: t}, route: {stream: s}}\n",
                 {{"SHOAL_RECEIVER_TLS_CERT_FILE", "/c.pem"}, {"SHOAL_RECEIVER_TLS_KEY_FILE", "/k.pem"}})
                .syslogListeners.tlsPort,
            6514);
}

}  // namespace
}  // namespace shoal::receiver
