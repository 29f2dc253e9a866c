// BacklogProbe: the shared cache of backlog readings and the rate arithmetic.
#include "shoal/probe/backlog_probe.h"

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

BacklogReading BacklogProbe::read(const RedisTarget& target, const std::string& stream,
                                  const std::string& group, Duration maxAge) {
  auto entry = entryFor(Key{target.endpoint(), stream, group});
  std::lock_guard readLock(entry->readMu);
  MonoTime now = clock_.now();
  entry->lastUsed = now;
  if (entry->last.at != MonoTime{} && now - entry->last.at < maxAge) return entry->last;

  BacklogReading r;
  r.at = now;
  ReadFailure failure = ReadFailure::kNone;
  Result<StreamSnapshot> snap = [&] {
    std::lock_guard l(inspectMu_);
    return inspector_->inspect(target, stream, group, &failure);
  }();
  {
    std::lock_guard lock(mu_);
    ++roundTrips_;
  }
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
