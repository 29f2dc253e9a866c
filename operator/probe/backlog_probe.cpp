// BacklogProbe: the shared cache of backlog readings and the rate arithmetic.
#include "shoal/probe/backlog_probe.h"

#include <algorithm>

namespace shoal::probe {

std::string RedisTarget::endpoint() const {
  if (!url.empty()) return url;
  return (tls ? "rediss://" : "redis://") + address + "/" + std::to_string(db);
}

const char* failureReason(ReadFailure f) {
  switch (f) {
    case ReadFailure::kNone: return "BacklogMeasured";
    case ReadFailure::kUnreachable: return "RedisUnreachable";
    case ReadFailure::kStreamNotFound: return "StreamNotFound";
    case ReadFailure::kGroupNotFound: return "ConsumerGroupNotFound";
    case ReadFailure::kAuth: return "RedisAuthFailed";
    case ReadFailure::kProtocol: return "RedisProtocolError";
  }
  return "Unknown";
}

std::optional<int64_t> BacklogReading::backlog() const {
  if (!ok || !snapshot.lag || !snapshot.pending) return std::nullopt;
  return *snapshot.lag + *snapshot.pending;
}

Result<TrimOutcome> StreamInspector::trim(const RedisTarget&, const std::string&, const RetentionRule&, int64_t) {
  return makeError(Errc::kInvalidInput, "this stream inspector cannot trim");
}

ReadFailure classifyFailure(const Error& e) {
  if (e.code == Errc::kNotFound) return ReadFailure::kStreamNotFound;
  if (e.code == Errc::kServer) {
    if (e.message.find("NOAUTH") != std::string::npos || e.message.find("WRONGPASS") != std::string::npos ||
        e.message.find("NOPERM") != std::string::npos) {
      return ReadFailure::kAuth;
    }
    return ReadFailure::kProtocol;
  }
  if (e.code == Errc::kProtocol) return ReadFailure::kProtocol;
  return ReadFailure::kUnreachable;
}

Result<StreamLoad> StreamInspector::load(const RedisTarget&, const std::string&) {
  return makeError(Errc::kInvalidInput, "this stream inspector cannot measure a stream's load");
}

Result<std::vector<StreamLoad>> BacklogProbe::loads(const RedisTarget& target,
                                                    const std::vector<std::string>& streams) {
  std::vector<StreamLoad> out;
  std::lock_guard l(inspectMu_);
  for (const std::string& stream : streams) {
    auto r = inspector_->load(target, stream);
    {
      std::lock_guard c(mu_);
      ++roundTrips_;
    }
    if (!r.ok()) {
      if (observer_ != nullptr) observer_->readFailed(classifyFailure(r.error()));
      return makeError(r.error().code, stream + ": " + r.error().message);
    }
    out.push_back(r.value());
  }
  return out;
}

std::vector<Result<TrimOutcome>> BacklogProbe::trim(const RedisTarget& target, const std::vector<std::string>& streams,
                                                    const RetentionRule& rule, int64_t nowMs) {
  std::vector<Result<TrimOutcome>> out;
  std::lock_guard l(inspectMu_);
  for (const std::string& stream : streams) out.push_back(inspector_->trim(target, stream, rule, nowMs));
  return out;
}

Result<void> BacklogProbe::ensureGroup(const RedisTarget& target, const std::string& stream,
                                       const std::string& group, const std::string& startId) {
  std::lock_guard l(inspectMu_);
  return inspector_->ensureGroup(target, stream, group, startId);
}

Result<void> BacklogProbe::destroyGroup(const RedisTarget& target, const std::string& stream,
                                        const std::string& group) {
  std::lock_guard l(inspectMu_);
  return inspector_->destroyGroup(target, stream, group);
}

BacklogProbe::BacklogProbe(std::shared_ptr<StreamInspector> inspector, Clock& clock,
                           ProbeObserver* observer)
    : inspector_(std::move(inspector)), clock_(clock), observer_(observer) {}

std::shared_ptr<BacklogProbe::Entry> BacklogProbe::entryFor(const Key& key) {
  std::lock_guard lock(mu_);
  auto& e = entries_[key];
  if (!e) e = std::make_shared<Entry>();
  return e;
}

int64_t BacklogProbe::roundTrips() const {
  std::lock_guard lock(mu_);
  return roundTrips_;
}

void BacklogProbe::prune(Duration maxIdle) {
  std::lock_guard lock(mu_);
  MonoTime now = clock_.now();
  for (auto it = entries_.begin(); it != entries_.end();) {
    if (now - it->second->lastUsed > maxIdle) {
      it = entries_.erase(it);
    } else {
      ++it;
    }
  }
}

namespace {
std::optional<double> rate(std::optional<int64_t> before, std::optional<int64_t> after,
                           double seconds) {
  if (!before || !after || seconds <= 0 || *after < *before) return std::nullopt;
  return static_cast<double>(*after - *before) / seconds;
}
}  // namespace

StreamSnapshot sumShards(const std::vector<std::pair<std::string, StreamSnapshot>>& shards) {
  StreamSnapshot sum;
  sum.shards = static_cast<int32_t>(shards.size());
  auto add = [](std::optional<int64_t>& total, const std::optional<int64_t>& v, bool first) {
    if (first) {
      total = v;
    } else if (!total || !v) {
      total.reset();
    } else {
      total = *total + *v;
    }
  };
  bool first = true;
  for (const auto& [name, s] : shards) {
    add(sum.lag, s.lag, first);
    add(sum.pending, s.pending, first);
    add(sum.entriesRead, s.entriesRead, first);
    add(sum.entriesAdded, s.entriesAdded, first);
    sum.length += s.length;
    sum.consumers = std::max(sum.consumers, s.consumers);
    if (s.lag && s.pending) {
      const int64_t b = *s.lag + *s.pending;
      if (!sum.hottestShardBacklog || b > *sum.hottestShardBacklog) {
        sum.hottestShardBacklog = b;
        sum.hottestShard = name;
      }
    }
    first = false;
  }
  return sum;
}

BacklogReading BacklogProbe::read(const RedisTarget& target, const std::string& stream,
                                  const std::string& group, Duration maxAge) {
  return read(target, std::vector<std::string>{stream}, group, maxAge);
}

BacklogReading BacklogProbe::read(const RedisTarget& target, const std::vector<std::string>& streams,
                                  const std::string& group, Duration maxAge) {
  const std::string streamKey =
      streams.size() == 1 ? streams.front() : streams.front() + " (+" + std::to_string(streams.size() - 1) + ")";
  auto entry = entryFor(Key{target.endpoint(), streamKey, group});
  std::lock_guard readLock(entry->readMu);
  MonoTime now = clock_.now();
  entry->lastUsed = now;
  if (entry->last.at != MonoTime{} && now - entry->last.at < maxAge) return entry->last;

  BacklogReading r;
  r.at = now;
  ReadFailure failure = ReadFailure::kNone;
  Result<StreamSnapshot> snap = [&]() -> Result<StreamSnapshot> {
    std::lock_guard l(inspectMu_);
    std::vector<std::pair<std::string, StreamSnapshot>> shards;
    for (const std::string& stream : streams) {
      auto s = inspector_->inspect(target, stream, group, &failure);
      {
        std::lock_guard lock(mu_);
        ++roundTrips_;
      }
      if (!s.ok()) {
        if (streams.size() == 1) return s.error();
        return makeError(s.error().code, "shard " + stream + " of " + std::to_string(streams.size()) + ": " +
                                             s.error().message);
      }
      shards.emplace_back(stream, std::move(s.value()));
    }
    if (shards.size() == 1) return std::move(shards.front().second);
    return sumShards(shards);
  }();
  if (snap.ok()) {
    r.ok = true;
    r.snapshot = snap.value();
    if (entry->previousOk) {
      double dt = toSeconds(now - entry->previousOk->at);
      r.arrivalRate = rate(entry->previousOk->snapshot.entriesAdded, r.snapshot.entriesAdded, dt);
      r.consumptionRate = rate(entry->previousOk->snapshot.entriesRead, r.snapshot.entriesRead, dt);
    }
    entry->previousOk = r;
  } else {
    r.ok = false;
    r.failure = failure == ReadFailure::kNone ? ReadFailure::kUnreachable : failure;
    r.error = snap.error().message;
    if (observer_ != nullptr) observer_->readFailed(r.failure);
  }
  entry->last = r;
  return r;
}

}  // namespace shoal::probe
