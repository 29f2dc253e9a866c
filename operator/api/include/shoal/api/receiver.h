// The Receiver custom resource (shoal.dev/v1alpha1): a scaled group of
// shoal-receiver pods, the front door that appends logs and metrics taken in
// over HTTP and syslog to Redis streams (docs/receiver.md). Field names match
// crds/shoal.dev_receivers.yaml. The operator reads what it needs to run the
// pods (replicas, image, listeners, Secret references) and validates what it
// reads, naming the field; the whole spec is kept as JSON because the
// receiver's config file *is* the resource.
#pragma once

#include <nlohmann/json.hpp>

#include <map>
#include <string>
#include <vector>

#include "shoal/api/meta.h"
#include "shoal/api/pipeline.h"

namespace shoal::api {

inline constexpr const char* kReceiverKind = "Receiver";
inline constexpr const char* kReceiverPlural = "receivers";
inline constexpr const char* kDefaultReceiverImage = "ghcr.io/shoal-dev/shoal-receiver:0.1.0";
/// The image a Receiver without spec.image runs: $SHOAL_RECEIVER_IMAGE (the
/// chart sets it), else kDefaultReceiverImage.
std::string defaultReceiverImage();

/// The most values one route's streamFromField.streams may list.
inline constexpr size_t kMaxReceiverStreamsFromField = 256;

/// One route of spec.http.routes (logs, metrics, bulk, remoteWrite).
struct ReceiverRoute {
  std::string stream;
  int32_t shards = 1;
  std::string shardKey;
  /// streamFromField: the field (empty: none) and value -> stream; entries
  /// whose field is missing or not listed go to `stream`.
  std::string fromField;
  std::map<std::string, std::string> streamsByValue;
};

/// One network listener of a receiver pod, as its container and Service
/// ports are named: http, syslog-tcp, syslog-udp, syslog-tls, metrics.
struct ReceiverPort {
  std::string name;
  int32_t port = 0;
  std::string protocol = "TCP";  // TCP | UDP
  bool operator==(const ReceiverPort&) const = default;
};

struct ReceiverSpec {
  int32_t replicas = 1;  // the /scale subresource's field
  std::string image = kDefaultReceiverImage;
  RedisSource redis;  // connection fields only (no stream)
  int32_t httpPort = 0;  // 0: no HTTP listener
  std::map<std::string, ReceiverRoute> routes;  // by route name
  SecretKeyRef bearerTokenSecretRef;            // http.auth.bearerTokenSecretRef
  SecretKeyRef basicUsernameSecretRef;          // http.auth.basic.usernameSecretRef
  SecretKeyRef basicPasswordSecretRef;          // http.auth.basic.passwordSecretRef
  /// The kubernetes.io/tls Secret with the server certificate: http.tlsSecretName
  /// and syslog.tls.secretName (one certificate per receiver: they must agree).
  std::string tlsSecretName;
  int32_t syslogTcpPort = 0;
  int32_t syslogUdpPort = 0;
  int32_t syslogTlsPort = 0;
  std::string syslogStream;                      // syslog.route.stream
  std::map<std::string, std::string> byFacility;  // syslog.route.byFacility
  int32_t metricsPort = 9090;  // /metrics, /healthz, /readyz; 0: none
  /// spec.backpressure: a target stream whose backlog (the slowest group's
  /// lag + pending, XLEN with no group) is over maxBacklog, or whose XLEN
  /// reached maxLength, is throttled by the receivers; 0: no such limit.
  /// The defaults are shoal-receiver's (runtime/receiver config.h).
  int64_t maxBacklog = 1000000;
  int64_t maxLength = 0;
  nlohmann::json raw = nlohmann::json::object();  // the spec as written

  /// Every listener with a port, in the order http, syslog-tcp, syslog-udp,
  /// syslog-tls, metrics.
  std::vector<ReceiverPort> ports() const;
  /// Every stream a route names (the targets whose backlog throttles).
  std::vector<std::string> targetStreams() const;
};

struct ReceiverStatus {
  int64_t observedGeneration = 0;
  int32_t replicas = 0;
  int32_t readyReplicas = 0;
  std::string selector;  // for /scale (labelSelectorPath)
  std::vector<Condition> conditions;
};

struct Receiver {
  ObjectMeta metadata;
  ReceiverSpec spec;
  ReceiverStatus status;
};

/// The syslog facility names spec.syslog.route.byFacility may use, in code
/// order (kern = 0 ... local7 = 23).
const std::vector<std::string>& syslogFacilityNames();

/// Parses and validates a Receiver object. Errors name the field
/// ("spec.http.routes.logs.stream: missing").
Result<Receiver> receiverFromJson(const nlohmann::json& j);
/// status as toJson writes it; lenient (what does not parse is left at its
/// default), so that a Receiver whose spec is invalid still has a status.
ReceiverStatus receiverStatusFromJson(const nlohmann::json& status);
nlohmann::json toJson(const ReceiverStatus& s);
/// The full object (metadata, spec as raw, status).
nlohmann::json toJson(const Receiver& r);

}  // namespace shoal::api
