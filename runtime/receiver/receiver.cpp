// The receiver's HTTP request path. See receiver.h.
#include "shoal/receiver/receiver.h"

#include <nlohmann/json.hpp>

#include <algorithm>
#include <deque>

#include "shoal/http/transport.h"
#include "shoal/receiver/json_scan.h"
#include "shoal/receiver/remote_write.h"
#include "shoal/stream/shards.h"

namespace shoal::receiver {

struct Receiver::Target {
  const RouteConfig* route = nullptr;
  std::vector<std::string> streams;  // shard streams
  std::string rejected;              // <stream>:rejected
  std::atomic<uint64_t> next{0};     // round robin
};

namespace {

using http::ServerRequest;
using http::ServerResponse;

constexpr std::string_view kTooLarge = "entry_too_large";
constexpr std::string_view kMalformed = "malformed_json";

ServerResponse json(int status, const nlohmann::json& body) {
  return ServerResponse{status, body.dump() + "\n", "application/json", {}};
}

// The leading part of a payload kept in a rejected record, cut at a UTF-8
// character boundary.
std::string_view truncated(std::string_view s) {
  if (s.size() <= kRejectedPayloadBytes) return s;
  size_t n = kRejectedPayloadBytes;
  while (n > 0 && (static_cast<unsigned char>(s[n]) & 0xC0) == 0x80) --n;
  return s.substr(0, n);
}

Append entryAppend(std::string_view stream, std::string_view field, std::string_view value) {
  Append a;
  a.stream = stream;
  a.fields[0] = {field, value};
  a.fieldCount = 1;
  return a;
}

Append rejectedAppend(std::string_view stream, std::string_view reason, std::string_view payload,
                      std::deque<std::string>& storage) {
  Append a;
  a.stream = stream;
  storage.push_back(std::to_string(payload.size()));
  a.fields[0] = {"reason", reason};
  a.fields[1] = {"payload", truncated(payload)};
  a.fields[2] = {"bytes", storage.back()};
  a.fieldCount = 3;
  return a;
}

bool equalConstantTime(std::string_view a, std::string_view b) {
  if (a.size() != b.size()) return false;
  unsigned char d = 0;
  for (size_t i = 0; i < a.size(); ++i) d |= static_cast<unsigned char>(a[i] ^ b[i]);
  return d == 0;
}

}  // namespace

std::vector<std::string> targetStreams(const ReceiverConfig& cfg) {
  std::vector<std::string> out;
  auto add = [&](const std::string& s) {
    if (std::find(out.begin(), out.end(), s) == out.end()) out.push_back(s);
  };
  for (const RouteConfig* r : {&cfg.logs, &cfg.metrics, &cfg.bulk, &cfg.remoteWrite}) {
    if (!r->enabled) continue;
    for (auto& s : shardStreams(r->stream, r->shards)) add(s);
    for (const auto& [value, stream] : r->fromField.streams) add(stream);
  }
  if (cfg.syslogListeners.any()) {
    add(cfg.syslogListeners.stream);
    for (const auto& [facility, stream] : cfg.syslogListeners.byFacility) add(stream);
  }
  return out;
}

Receiver::Receiver(const ReceiverConfig& cfg, StreamAppender& appender, const ThrottleGate& gate,
                   ReceiverStats& stats, Clock& clock)
    : cfg_(cfg), appender_(appender), gate_(gate), stats_(stats), clock_(clock) {
  auto make = [](const RouteConfig& r) {
    auto t = std::make_unique<Target>();
    t->route = &r;
    t->streams = shardStreams(r.stream, r.shards);
    t->rejected = r.stream + ":rejected";
    return t;
  };
  if (cfg.logs.enabled) logs_ = make(cfg.logs);
  if (cfg.metrics.enabled) metrics_ = make(cfg.metrics);
  if (cfg.bulk.enabled) bulk_ = make(cfg.bulk);
  if (cfg.remoteWrite.enabled) remoteWrite_ = make(cfg.remoteWrite);
  if (!cfg.bearerToken.empty()) expectedAuthorization_ = "Bearer " + cfg.bearerToken;
  if (!cfg.username.empty()) expectedAuthorization_ = http::basicAuthorization(cfg.username, cfg.password);
}

Receiver::~Receiver() = default;

void Receiver::addRoutes(http::Server& server) {
  auto counted = [this](std::string path, auto fn) {
    return [this, path, fn](const ServerRequest& r) {
      ServerResponse res = fn(r);
      stats_.request(path, res.status);
      return res;
    };
  };
  if (logs_)
    server.route("POST", "/v1/logs", counted("/v1/logs", [this](const ServerRequest& r) { return events(Kind::kLogs, r); }));
  if (metrics_)
    server.route("POST", "/v1/metrics",
                 counted("/v1/metrics", [this](const ServerRequest& r) { return events(Kind::kMetrics, r); }));
  if (bulk_) {
    server.route("POST", "/_bulk", counted("/_bulk", [this](const ServerRequest& r) { return bulk(r); }));
    server.route("POST", "/([^/_][^/]*)/_bulk", counted("/_bulk", [this](const ServerRequest& r) { return bulk(r); }));
  }
  if (remoteWrite_)
    server.route("POST", "/api/v1/write",
                 counted("/api/v1/write", [this](const ServerRequest& r) { return remoteWrite(r); }));
}

bool Receiver::authorized(const ServerRequest& req) const {
  if (expectedAuthorization_.empty()) return true;
  return equalConstantTime(req.header("Authorization"), expectedAuthorization_);
}

std::string_view Receiver::pick(Target& t, bool hasKey, std::string_view key) {
  if (const StreamFromField& by = t.route->fromField; !by.field.empty()) {
    auto it = hasKey ? by.streams.find(key) : by.streams.end();
    if (it != by.streams.end()) return it->second;
    return t.streams[0];  // the field missing or its value not listed: the route's stream
  }
  const int32_t n = static_cast<int32_t>(t.streams.size());
  if (n == 1) return t.streams[0];
  if (!t.route->shardKey.empty() && hasKey) return t.streams[static_cast<size_t>(shardForKey(key, n))];
  return t.streams[t.next.fetch_add(1, std::memory_order_relaxed) % static_cast<uint64_t>(n)];
}

ServerResponse Receiver::throttledResponse(int64_t entries) {
  stats_.throttled(entries);
  ServerResponse r = json(429, {{"error", "a target stream's backlog is over its limit; retry later"}});
  r.headers["Retry-After"] = std::to_string(cfg_.retryAfterSeconds);
  return r;
}

ServerResponse Receiver::unavailable(const Error& e) {
  ServerResponse r = json(503, {{"error", "not every entry was stored: " + e.message}});
  r.headers["Retry-After"] = std::to_string(cfg_.retryAfterSeconds);
  return r;
}

namespace {

ServerResponse unauthorized() {
  ServerResponse r = json(401, {{"error", "missing or wrong credentials"}});
  r.headers["WWW-Authenticate"] = "Bearer, Basic realm=\"shoal-receiver\"";
  return r;
}

// Whether an append's outcome came from Redis (a refusal or too few
// replicas are answers; I/O errors and timeouts are not).
bool reachedRedis(const Result<std::vector<std::string>>& r) {
  return r.ok() || r.error().code == Errc::kServer || r.error().code == Errc::kRetryable;
}

// Counts per stream of the entries written (rejected records excluded).
void countAccepted(ReceiverStats& stats, const std::vector<Append>& appends, std::string_view rejectedStream) {
  std::vector<std::pair<std::string_view, int64_t>> counts;
  for (const Append& a : appends) {
    if (a.stream == rejectedStream) continue;
    auto it = std::find_if(counts.begin(), counts.end(), [&](auto& c) { return c.first == a.stream; });
    if (it == counts.end()) {
      counts.push_back({a.stream, 1});
    } else {
      ++it->second;
    }
  }
  for (auto& [s, n] : counts) stats.accepted(s, n);
}

}  // namespace

std::optional<ServerResponse> Receiver::store(const Target& t, const std::vector<Append>& appends,
                                             std::vector<std::string>& ids) {
  // Each distinct target once (a request of many entries has few streams).
  std::vector<std::string_view> checked;
  for (const Append& a : appends) {
    if (a.stream == t.rejected || std::find(checked.begin(), checked.end(), a.stream) != checked.end()) continue;
    if (gate_.throttled(a.stream)) return throttledResponse(static_cast<int64_t>(appends.size()));
    checked.push_back(a.stream);
  }
  auto r = appender_.append(appends);
  stats_.writeOutcome(reachedRedis(r));
  if (!r) return unavailable(r.error());
  ids = std::move(*r);
  countAccepted(stats_, appends, t.rejected);
  return std::nullopt;
}

ServerResponse Receiver::events(Kind kind, const ServerRequest& req) {
  if (!authorized(req)) return unauthorized();
  Target& t = kind == Kind::kLogs ? *logs_ : *metrics_;
  const std::string_view field = kind == Kind::kLogs ? "message" : "event";
  DecodedEvents d = decodeEvents(req.body, t.route->keyMember());
  if (d.error) {
    stats_.rejected(d.error->utf8 ? "invalid_utf8" : "malformed_json", 1);
    return json(400, {{"error", d.error->describe()},
                      {"line", d.error->line},
                      {"column", d.error->column},
                      {"byte", d.error->byte}});
  }
  std::vector<Append> appends;
  appends.reserve(d.entries.size());
  std::deque<std::string> storage;
  nlohmann::json rejected = nlohmann::json::array();
  for (size_t i = 0; i < d.entries.size(); ++i) {
    const EventEntry& e = d.entries[i];
    if (e.json.size() > static_cast<size_t>(cfg_.maxEntryBytes)) {
      appends.push_back(rejectedAppend(t.rejected, kTooLarge, e.json, storage));
      rejected.push_back({{"index", i}, {"line", e.line}, {"reason", kTooLarge}, {"bytes", e.json.size()}});
      continue;
    }
    appends.push_back(entryAppend(pick(t, e.hasKey, e.key), field, e.json));
  }
  std::vector<std::string> ids;
  if (auto refused = store(t, appends, ids)) return *refused;
  if (!rejected.empty()) stats_.rejected(kTooLarge, static_cast<int64_t>(rejected.size()));
  return json(200, {{"accepted", appends.size() - rejected.size()}, {"rejected", rejected}});
}

std::string_view Receiver::bulkTarget(Target& t, const BulkItem& item) {
  const RouteConfig& r = *t.route;
  if (r.fromField.field == "_index") return pick(t, true, item.index);
  ScanCapture cap;
  if (!r.fromField.field.empty() || (!r.shardKey.empty() && t.streams.size() > 1)) {
    cap.member = r.keyMember();
    size_t pos = item.source.find('{');
    scanValue(item.source, pos, &cap);
  }
  return pick(t, cap.found, cap.value);
}

ServerResponse Receiver::bulk(const ServerRequest& req) {
  if (!authorized(req)) return unauthorized();
  const MonoTime t0 = clock_.now();
  Target& t = *bulk_;
  const std::string defaultIndex = req.captures.empty() ? std::string() : req.captures[0];
  DecodedBulk d = decodeBulk(req.body, defaultIndex);
  if (d.error) {
    stats_.rejected(d.error->utf8 ? "invalid_utf8" : "malformed_json", 1);
    return json(400, {{"error", {{"type", "illegal_argument_exception"}, {"reason", d.error->describe()}}},
                      {"status", 400}});
  }
  // Per item: the append that carries it (or none) and its outcome.
  struct Outcome {
    int status = 201;
    std::string errorType, reason;
    size_t append = SIZE_MAX;
  };
  std::vector<Outcome> outcomes(d.items.size());
  std::vector<Append> appends;
  appends.reserve(d.items.size());
  std::deque<std::string> storage;
  int64_t tooLarge = 0, malformed = 0;
  for (size_t i = 0; i < d.items.size(); ++i) {
    const BulkItem& item = d.items[i];
    Outcome& o = outcomes[i];
    if (item.error) {
      o.status = 400;
      o.errorType = item.errorType;
      o.reason = *item.error;
      if (item.errorType == "mapper_parsing_exception") {
        appends.push_back(rejectedAppend(t.rejected, kMalformed, item.source, storage));
        ++malformed;
      }
      continue;
    }
    if (item.source.size() > static_cast<size_t>(cfg_.maxEntryBytes)) {
      o.status = 400;
      o.errorType = std::string(kTooLarge);
      o.reason = "the document is " + std::to_string(item.source.size()) + " bytes, over limits.maxEntryBytes";
      appends.push_back(rejectedAppend(t.rejected, kTooLarge, item.source, storage));
      ++tooLarge;
      continue;
    }
    o.append = appends.size();
    appends.push_back(entryAppend(bulkTarget(t, item), "message", item.source));
  }
  std::vector<std::string> ids;
  if (auto refused = store(t, appends, ids)) return *refused;
  if (tooLarge) stats_.rejected(kTooLarge, tooLarge);
  if (malformed) stats_.rejected(kMalformed, malformed);

  nlohmann::json items = nlohmann::json::array();
  bool errors = false;
  for (size_t i = 0; i < d.items.size(); ++i) {
    const BulkItem& item = d.items[i];
    const Outcome& o = outcomes[i];
    nlohmann::json body = {{"_index", item.index}, {"status", o.status}};
    if (o.append != SIZE_MAX) {
      body["_id"] = item.id.empty() ? ids[o.append] : item.id;
      body["result"] = "created";
    } else {
      errors = true;
      if (!item.id.empty()) body["_id"] = item.id;
      body["error"] = {{"type", o.errorType}, {"reason", o.reason}};
    }
    items.push_back({{item.op, std::move(body)}});
  }
  const auto took = std::chrono::duration_cast<std::chrono::milliseconds>(clock_.now() - t0).count();
  return json(200, {{"took", took}, {"errors", errors}, {"items", std::move(items)}});
}

ServerResponse Receiver::remoteWrite(const ServerRequest& req) {
  if (!authorized(req)) return unauthorized();
  Target& t = *remoteWrite_;
  auto decoded = remoteWriteEvents(req.body, t.route->keyMember());
  if (!decoded) {
    stats_.rejected("malformed_remote_write", 1);
    return json(400, {{"error", decoded.error().message}});
  }
  std::vector<Append> appends;
  appends.reserve(decoded->events.size());
  std::deque<std::string> storage;
  int64_t tooLarge = 0;
  for (size_t i = 0; i < decoded->events.size(); ++i) {
    const std::string& e = decoded->events[i];
    if (e.size() > static_cast<size_t>(cfg_.maxEntryBytes)) {
      appends.push_back(rejectedAppend(t.rejected, kTooLarge, e, storage));
      ++tooLarge;
      continue;
    }
    appends.push_back(entryAppend(pick(t, !decoded->keys[i].empty(), decoded->keys[i]), "event", e));
  }
  std::vector<std::string> ids;
  if (auto refused = store(t, appends, ids)) return *refused;
  if (tooLarge) stats_.rejected(kTooLarge, tooLarge);
  if (decoded->unnamed) stats_.rejected("unnamed_series", static_cast<int64_t>(decoded->unnamed));
  return ServerResponse{204, "", "text/plain", {}};
}

}  // namespace shoal::receiver
