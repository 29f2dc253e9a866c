// Receiver: parsing with validation (errors name the field) and status
// serialization.
#include "shoal/api/receiver.h"

#include <algorithm>
#include <cstdlib>

#include "shoal/stream/shards.h"

namespace shoal::api {

using nlohmann::json;

std::string defaultReceiverImage() {
  const char* v = std::getenv("SHOAL_RECEIVER_IMAGE");
  return v && *v ? std::string(v) : std::string(kDefaultReceiverImage);
}

const std::vector<std::string>& syslogFacilityNames() {
  static const std::vector<std::string> names = {
      "kern",     "user", "mail",   "daemon", "auth",   "syslog", "lpr",    "news",
      "uucp",     "cron", "authpriv", "ftp",  "ntp",    "audit",  "alert",  "clock",
      "local0",   "local1", "local2", "local3", "local4", "local5", "local6", "local7"};
  return names;
}

namespace {

Error invalid(const std::string& field, const std::string& what) {
  return makeError(Errc::kInvalidInput, field + ": " + what);
}

bool present(const json& parent, const char* key) {
  return parent.is_object() && parent.contains(key) && !parent[key].is_null();
}

/// A port field: absent or null is 0 (no listener); else an integer 0..65535.
Result<int32_t> portAt(const json& parent, const char* key, const std::string& path) {
  if (!present(parent, key)) return 0;
  const json& v = parent[key];
  if (!v.is_number_integer() || v.get<int64_t>() < 0 || v.get<int64_t>() > 65535)
    return invalid(path, "must be a port number between 0 and 65535");
  return static_cast<int32_t>(v.get<int64_t>());
}

/// An object-valued section: absent or null reads as {}; anything else that
/// is not an object is an error naming it.
Result<const json*> sectionAt(const json& parent, const char* key, const std::string& path) {
  static const json empty = json::object();
  if (!present(parent, key)) return &empty;
  if (!parent[key].is_object()) return invalid(path, "must be an object");
  return &parent[key];
}

SecretKeyRef secretRefOf(const json& parent, const char* key) {
  const json& r = objectAt(parent, key);
  return SecretKeyRef{stringAt(r, "name"), stringAt(r, "key")};
}

Result<SecretKeyRef> requiredSecretRef(const json& parent, const char* key, const std::string& path) {
  SecretKeyRef ref = secretRefOf(parent, key);
  if (ref.name.empty()) return invalid(path + ".name", "missing");
  if (ref.key.empty()) return invalid(path + ".key", "missing");
  return ref;
}

// streamFromField.field defaults to `_index` (the item's index) on the bulk route.
Result<ReceiverRoute> routeOf(const json& n, const std::string& path, bool bulk) {
  if (!n.is_object()) return invalid(path, "must be an object");
  ReceiverRoute r;
  r.stream = stringAt(n, "stream");
  if (r.stream.empty()) return invalid(path + ".stream", "missing");
  if (present(n, "shards")) {
    const json& s = n["shards"];
    if (!s.is_number_integer() || s.get<int64_t>() < 1 || s.get<int64_t>() > kMaxShards)
      return invalid(path + ".shards", "must be between 1 and " + std::to_string(kMaxShards));
    r.shards = static_cast<int32_t>(s.get<int64_t>());
  }
  r.shardKey = stringAt(n, "shardKey");
  if (present(n, "streamFromField")) {
    const std::string fp = path + ".streamFromField";
    const json& f = n["streamFromField"];
    if (!f.is_object()) return invalid(fp, "must be an object with field and streams");
    if (r.shards > 1) return invalid(fp, "cannot be combined with shards > 1 (the field picks the stream)");
    r.fromField = stringAt(f, "field", bulk ? "_index" : "");
    if (r.fromField.empty()) return invalid(fp + ".field", "missing");
    if (!present(f, "streams") || !f["streams"].is_object() || f["streams"].empty())
      return invalid(fp + ".streams", "must map at least one field value to a stream");
    if (f["streams"].size() > kMaxReceiverStreamsFromField)
      return invalid(fp + ".streams", "at most " + std::to_string(kMaxReceiverStreamsFromField) + " values");
    for (auto it = f["streams"].begin(); it != f["streams"].end(); ++it) {
      if (!it.value().is_string() || it.value().get<std::string>().empty())
        return invalid(fp + ".streams." + it.key(), "must name a stream");
      r.streamsByValue[it.key()] = it.value().get<std::string>();
    }
  }
  return r;
}

Result<void> parseHttp(const json& http, ReceiverSpec& s) {
  const std::string path = "spec.http";
  auto port = portAt(http, "port", path + ".port");
  if (!port.ok()) return port.error();
  s.httpPort = port.value();
  auto routes = sectionAt(http, "routes", path + ".routes");
  if (!routes.ok()) return routes.error();
  for (auto it = routes.value()->begin(); it != routes.value()->end(); ++it) {
    const std::string rp = path + ".routes." + it.key();
    static const std::vector<std::string> known = {"logs", "metrics", "bulk", "remoteWrite"};
    if (std::find(known.begin(), known.end(), it.key()) == known.end())
      return invalid(rp, "unknown route (logs, metrics, bulk or remoteWrite)");
    if (it.value().is_null()) continue;
    auto r = routeOf(it.value(), rp, it.key() == "bulk");
    if (!r.ok()) return r.error();
    s.routes[it.key()] = std::move(r.value());
  }
  if (s.httpPort != 0 && s.routes.empty())
    return invalid(path + ".routes", "at least one route is required when http.port is set");
  auto auth = sectionAt(http, "auth", path + ".auth");
  if (!auth.ok()) return auth.error();
  const json& a = *auth.value();
  if (present(a, "bearerTokenSecretRef") && present(a, "basic"))
    return invalid(path + ".auth", "set one of bearerTokenSecretRef or basic");
  if (present(a, "bearerTokenSecretRef")) {
    auto ref = requiredSecretRef(a, "bearerTokenSecretRef", path + ".auth.bearerTokenSecretRef");
    if (!ref.ok()) return ref.error();
    s.bearerTokenSecretRef = ref.value();
  }
  if (present(a, "basic")) {
    const json& b = a["basic"];
    const std::string bp = path + ".auth.basic";
    auto user = requiredSecretRef(b, "usernameSecretRef", bp + ".usernameSecretRef");
    if (!user.ok()) return user.error();
    auto pass = requiredSecretRef(b, "passwordSecretRef", bp + ".passwordSecretRef");
    if (!pass.ok()) return pass.error();
    s.basicUsernameSecretRef = user.value();
    s.basicPasswordSecretRef = pass.value();
  }
  s.tlsSecretName = stringAt(http, "tlsSecretName");
  return {};
}

Result<void> parseSyslog(const json& syslog, ReceiverSpec& s) {
  const std::string path = "spec.syslog";
  for (auto [key, port] : {std::pair<const char*, int32_t*>{"tcp", &s.syslogTcpPort},
                           {"udp", &s.syslogUdpPort},
                           {"tls", &s.syslogTlsPort}}) {
    auto listener = sectionAt(syslog, key, path + "." + key);
    if (!listener.ok()) return listener.error();
    auto p = portAt(*listener.value(), "port", path + "." + key + ".port");
    if (!p.ok()) return p.error();
    *port = p.value();
  }
  if (s.syslogTlsPort != 0) {
    std::string secret = stringAt(objectAt(syslog, "tls"), "secretName");
    if (secret.empty()) return invalid(path + ".tls.secretName", "missing (the server certificate)");
    if (!s.tlsSecretName.empty() && secret != s.tlsSecretName)
      return invalid(path + ".tls.secretName",
                     "must equal spec.http.tlsSecretName (one server certificate per receiver)");
    s.tlsSecretName = secret;
  }
  auto route = sectionAt(syslog, "route", path + ".route");
  if (!route.ok()) return route.error();
  s.syslogStream = stringAt(*route.value(), "stream");
  if ((s.syslogTcpPort != 0 || s.syslogUdpPort != 0 || s.syslogTlsPort != 0) && s.syslogStream.empty())
    return invalid(path + ".route.stream", "missing (the default target of syslog listeners)");
  auto byFacility = sectionAt(*route.value(), "byFacility", path + ".route.byFacility");
  if (!byFacility.ok()) return byFacility.error();
  const auto& names = syslogFacilityNames();
  for (auto it = byFacility.value()->begin(); it != byFacility.value()->end(); ++it) {
    const std::string fp = path + ".route.byFacility." + it.key();
    if (std::find(names.begin(), names.end(), it.key()) == names.end())
      return invalid(fp, "unknown syslog facility");
    if (!it.value().is_string() || it.value().get<std::string>().empty())
      return invalid(fp, "must be a stream name");
    s.byFacility[it.key()] = it.value().get<std::string>();
  }
  return {};
}

/// Two TCP listeners on one port cannot both bind; UDP has its own ports.
Result<void> checkPortsDistinct(const ReceiverSpec& s) {
  const std::map<std::string, std::string> field = {{"http", "spec.http.port"},
                                                    {"syslog-tcp", "spec.syslog.tcp.port"},
                                                    {"syslog-udp", "spec.syslog.udp.port"},
                                                    {"syslog-tls", "spec.syslog.tls.port"},
                                                    {"metrics", "spec.metricsPort"}};
  auto ports = s.ports();
  for (size_t i = 0; i < ports.size(); ++i) {
    for (size_t k = 0; k < i; ++k) {
      if (ports[i].port == ports[k].port && ports[i].protocol == ports[k].protocol)
        return invalid(field.at(ports[i].name),
                       "port " + std::to_string(ports[i].port) + " is also " + field.at(ports[k].name));
    }
  }
  return {};
}

}  // namespace

std::vector<ReceiverPort> ReceiverSpec::ports() const {
  std::vector<ReceiverPort> out;
  if (httpPort != 0) out.push_back({"http", httpPort, "TCP"});
  if (syslogTcpPort != 0) out.push_back({"syslog-tcp", syslogTcpPort, "TCP"});
  if (syslogUdpPort != 0) out.push_back({"syslog-udp", syslogUdpPort, "UDP"});
  if (syslogTlsPort != 0) out.push_back({"syslog-tls", syslogTlsPort, "TCP"});
  if (metricsPort != 0) out.push_back({"metrics", metricsPort, "TCP"});
  return out;
}

std::vector<std::string> ReceiverSpec::targetStreams() const {
  std::vector<std::string> out;
  auto add = [&](const std::string& stream, int32_t shards) {
    for (auto& s : shardStreams(stream, shards)) {
      if (std::find(out.begin(), out.end(), s) == out.end()) out.push_back(std::move(s));
    }
  };
  for (const auto& [name, r] : routes) {
    add(r.stream, r.shards);
    for (const auto& [value, stream] : r.streamsByValue) add(stream, 1);
  }
  if (!syslogStream.empty()) add(syslogStream, 1);
  for (const auto& [facility, stream] : byFacility) add(stream, 1);
  return out;
}

Result<Receiver> receiverFromJson(const json& j) {
  if (!j.is_object()) return makeError(Errc::kInvalidInput, "Receiver: not an object");
  Receiver r;
  r.metadata = metaFromJson(j);
  const json& spec = objectAt(j, "spec");
  if (!spec.is_object()) return invalid("spec", "missing");
  ReceiverSpec& s = r.spec;
  s.raw = spec;
  if (present(spec, "replicas")) {
    const json& n = spec["replicas"];
    if (!n.is_number_integer() || n.get<int64_t>() < 0 || n.get<int64_t>() > INT32_MAX)
      return invalid("spec.replicas", "must be an integer >= 0");
    s.replicas = static_cast<int32_t>(n.get<int64_t>());
  }
  s.image = stringAt(spec, "image", defaultReceiverImage());
  if (s.image.empty()) s.image = defaultReceiverImage();

  auto redis = redisConnectionFromJson(objectAt(spec, "redis"), "spec.redis");
  if (!redis.ok()) return redis.error();
  s.redis = std::move(redis.value());

  auto http = sectionAt(spec, "http", "spec.http");
  if (!http.ok()) return http.error();
  if (auto h = parseHttp(*http.value(), s); !h.ok()) return h.error();
  auto syslog = sectionAt(spec, "syslog", "spec.syslog");
  if (!syslog.ok()) return syslog.error();
  if (auto sl = parseSyslog(*syslog.value(), s); !sl.ok()) return sl.error();
  if (s.httpPort == 0 && s.syslogTcpPort == 0 && s.syslogUdpPort == 0 && s.syslogTlsPort == 0)
    return invalid("spec.http.port", "required: nothing to listen on (or a syslog listener)");
  if (present(spec, "metricsPort")) {
    auto m = portAt(spec, "metricsPort", "spec.metricsPort");
    if (!m.ok()) return m.error();
    s.metricsPort = m.value();
  }
  if (auto d = checkPortsDistinct(s); !d.ok()) return d.error();
  auto backpressure = sectionAt(spec, "backpressure", "spec.backpressure");
  if (!backpressure.ok()) return backpressure.error();
  for (auto [key, field] : {std::pair<const char*, int64_t*>{"maxBacklog", &s.maxBacklog}, {"maxLength", &s.maxLength}}) {
    if (!present(*backpressure.value(), key)) continue;
    const json& v = (*backpressure.value())[key];
    if (!v.is_number_integer() || v.get<int64_t>() < 0)
      return invalid(std::string("spec.backpressure.") + key, "must be an integer >= 0");
    *field = v.get<int64_t>();
  }

  r.status = receiverStatusFromJson(objectAt(j, "status"));
  return r;
}

ReceiverStatus receiverStatusFromJson(const json& st) {
  ReceiverStatus s;
  s.observedGeneration = intAt(st, "observedGeneration", 0);
  s.replicas = static_cast<int32_t>(std::clamp<int64_t>(intAt(st, "replicas", 0), 0, INT32_MAX));
  s.readyReplicas = static_cast<int32_t>(std::clamp<int64_t>(intAt(st, "readyReplicas", 0), 0, INT32_MAX));
  s.selector = stringAt(st, "selector");
  if (st.is_object() && st.contains("conditions")) s.conditions = conditionsFromJson(st["conditions"]);
  return s;
}

json toJson(const ReceiverStatus& s) {
  json j = json::object();
  j["observedGeneration"] = s.observedGeneration;
  j["replicas"] = s.replicas;
  j["readyReplicas"] = s.readyReplicas;
  j["selector"] = s.selector;
  j["conditions"] = toJson(s.conditions);
  return j;
}

json toJson(const Receiver& r) {
  json j{{"apiVersion", kApiVersion}, {"kind", kReceiverKind}};
  j["metadata"] = toJson(r.metadata);
  j["spec"] = r.spec.raw;
  j["status"] = toJson(r.status);
  return j;
}

}  // namespace shoal::api
