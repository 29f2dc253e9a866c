// Lease-based leader election (see leader_election.h for the invariants).
#include "shoal/kube/leader_election.h"

#include <ctime>

#include "shoal/common/log.h"

namespace shoal::kube {

namespace {
std::string formatWith(WallTime t, bool micro) {
  auto secs = std::chrono::time_point_cast<std::chrono::seconds>(t);
  if (secs > t) secs -= std::chrono::seconds(1);
  auto us = std::chrono::duration_cast<std::chrono::microseconds>(t - secs).count();
  std::time_t tt = std::chrono::system_clock::to_time_t(secs);
  std::tm tm{};
  gmtime_r(&tt, &tm);
  char buf[64];
  std::strftime(buf, sizeof buf, "%Y-%m-%dT%H:%M:%S", &tm);
  std::string s = buf;
  if (micro) {
    char frac[32];
    std::snprintf(frac, sizeof frac, ".%06lld", static_cast<long long>(us));
    s += frac;
  }
  return s + "Z";
}
int64_t wholeSeconds(Duration d) {
  auto s = std::chrono::duration_cast<std::chrono::seconds>(d).count();
  return s < 1 ? 1 : s;
}
}  // namespace

std::string formatMicroTime(WallTime t) { return formatWith(t, true); }
std::string formatTime(WallTime t) { return formatWith(t, false); }

LeaderElector::LeaderElector(Client& client, Clock& clock, LeaderElectionConfig cfg,
                             LeaderCallbacks cb)
    : client_(client), clock_(clock), cfg_(std::move(cfg)), cb_(std::move(cb)) {}

std::string LeaderElector::observedHolder() const {
  std::lock_guard<std::mutex> l(mu_);
  return observedHolder_;
}

void LeaderElector::observe(const Json& lease) {
  Json spec = lease.is_object() && lease.contains("spec") ? lease["spec"] : Json::object();
  std::string record = spec.dump();
  std::string holder =
      spec.is_object() && spec.contains("holderIdentity") && spec["holderIdentity"].is_string()
          ? spec["holderIdentity"].get<std::string>()
          : "";
  bool newLeader = false;
  {
    std::lock_guard<std::mutex> l(mu_);
    if (!observedAny_ || record != observedRecord_) {
      observedRecord_ = record;
      observedAt_ = clock_.now();
      observedAny_ = true;
    }
    if (holder != observedHolder_) {
      observedHolder_ = holder;
      newLeader = !holder.empty();
    }
  }
  if (newLeader && cb_.onNewLeader) cb_.onNewLeader(holder);
}

Json LeaderElector::buildSpec(const Json* old, bool acquiring) const {
  std::string now = formatMicroTime(clock_.wallNow());
  Json spec = Json::object();
  int64_t transitions = 0;
  std::string acquireTime = now;
  if (old && old->is_object()) {
    if (old->contains("leaseTransitions") && (*old)["leaseTransitions"].is_number_integer())
      transitions = (*old)["leaseTransitions"].get<int64_t>();
    if (!acquiring && old->contains("acquireTime") && (*old)["acquireTime"].is_string())
      acquireTime = (*old)["acquireTime"].get<std::string>();
  }
  if (acquiring && old) ++transitions;
  spec["holderIdentity"] = cfg_.identity;
  spec["leaseDurationSeconds"] = wholeSeconds(cfg_.leaseDuration);
  spec["acquireTime"] = acquireTime;
  spec["renewTime"] = now;
  spec["leaseTransitions"] = transitions;
  return spec;
}

bool LeaderElector::tryAcquireOrRenew() {
  const Resource lr = Resource::leases();
  auto got = client_.get(lr, cfg_.ns, cfg_.name);
  if (!got) {
    if (!got.error().isNotFound()) {
      log::warn("leader election: cannot read lease",
                {{"lease", cfg_.name}, {"error", got.error().describe()}});
      return false;
    }
    Json lease = {{"apiVersion", "coordination.k8s.io/v1"},
                  {"kind", "Lease"},
                  {"metadata", {{"name", cfg_.name}, {"namespace", cfg_.ns}}},
                  {"spec", buildSpec(nullptr, true)}};
    auto created = client_.create(lr, cfg_.ns, lease);
    if (!created) return false;
    observe(*created);
    leader_ = true;
    return true;
  }
  Json& lease = *got;
  observe(lease);
  Json spec = lease.contains("spec") && lease["spec"].is_object() ? lease["spec"] : Json::object();
  std::string holder = spec.value("holderIdentity", "");
  bool ours = holder == cfg_.identity;
  if (!ours && !holder.empty()) {
    MonoTime seenAt;
    {
      std::lock_guard<std::mutex> l(mu_);
      seenAt = observedAt_;
    }
    if (clock_.now() < seenAt + cfg_.leaseDuration) {
      leader_ = false;
      return false;  // held by someone else and not expired on our clock
    }
  }
  lease["spec"] = buildSpec(&spec, !ours);
  auto updated = client_.update(lr, cfg_.ns, cfg_.name, lease);
  if (!updated) {
    if (!updated.error().isConflict())
      log::warn("leader election: cannot write lease",
                {{"lease", cfg_.name}, {"error", updated.error().describe()}});
    return false;
  }
  observe(*updated);
  leader_ = true;
  return true;
}

bool LeaderElector::run(std::stop_token stop) {
  while (!tryAcquireOrRenew()) {
    if (!sleepInterruptibleOn(stop, cfg_.retryPeriod)) return true;
  }
  {
    std::lock_guard<std::mutex> l(mu_);
    lastRenew_ = clock_.now();
  }
  log::info("leader election: became leader", {{"lease", cfg_.name}, {"identity", cfg_.identity}});
  if (cb_.onStartedLeading) cb_.onStartedLeading();
  for (;;) {
    if (!sleepInterruptibleOn(stop, cfg_.retryPeriod)) {
      release();
      leader_ = false;
      if (cb_.onStoppedLeading) cb_.onStoppedLeading();
      return true;
    }
    if (tryAcquireOrRenew()) {
      std::lock_guard<std::mutex> l(mu_);
      lastRenew_ = clock_.now();
      continue;
    }
    std::string holder = observedHolder();
    bool takenOver = !holder.empty() && holder != cfg_.identity;
    MonoTime renewedAt;
    {
      std::lock_guard<std::mutex> l(mu_);
      renewedAt = *lastRenew_;
    }
    if (takenOver || clock_.now() - renewedAt > cfg_.renewDeadline) {
      leader_ = false;
      log::warn("leader election: lost leadership",
                {{"lease", cfg_.name}, {"identity", cfg_.identity}, {"holder", holder}});
      if (cb_.onStoppedLeading) cb_.onStoppedLeading();
      return false;
    }
  }
}

bool LeaderElector::leadingNow() const {
  if (!leader_.load()) return false;
  std::lock_guard<std::mutex> l(mu_);
  return lastRenew_ && clock_.now() - *lastRenew_ <= cfg_.renewDeadline;
}

bool LeaderElector::sleepInterruptibleOn(const std::stop_token& stop, Duration d) {
  const Duration slice = millis(100);
  MonoTime end = clock_.now() + d;
  while (!stop.stop_requested()) {
    MonoTime now = clock_.now();
    if (now >= end) return true;
    clock_.sleepFor(std::min(slice, end - now));
  }
  return false;
}

ApiResult<void> LeaderElector::release() {
  const Resource lr = Resource::leases();
  auto got = client_.get(lr, cfg_.ns, cfg_.name);
  if (!got) return got.error();
  Json& lease = *got;
  if (!lease.contains("spec") || lease["spec"].value("holderIdentity", "") != cfg_.identity) {
    leader_ = false;
    return {};
  }
  std::string now = formatMicroTime(clock_.wallNow());
  lease["spec"]["holderIdentity"] = "";
  lease["spec"]["leaseDurationSeconds"] = 1;
  lease["spec"]["renewTime"] = now;
  auto updated = client_.update(lr, cfg_.ns, cfg_.name, lease);
  leader_ = false;
  if (!updated) return updated.error();
  return {};
}

}  // namespace shoal::kube
