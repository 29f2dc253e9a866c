// `kubectl shoal status` and `why` as text and documents (see pool_report.h).
#include "shoal/plugin/pool_report.h"

#include <algorithm>
#include <cctype>
#include <cmath>
#include <cstdio>
#include <map>

#include "shoal/controllers/conditions.h"
#include "shoal/controllers/worker_pool_controller.h"

namespace shoal::plugin {

namespace {

using controllers::kConditionFallback;
using controllers::kConditionReady;
using controllers::kConditionScalingActive;
using controllers::kConditionScalingLimited;

std::string num(const std::optional<int64_t>& v) {
  return v ? std::to_string(*v) : "-";
}

std::string fixed(double v, const char* f = "%.1f") {
  char buf[64];
  std::snprintf(buf, sizeof buf, f, v);
  return buf;
}

const api::Condition* cond(const api::WorkerPool& p, const char* type) {
  return controllers::findCondition(p.status.conditions, type);
}

std::string condStatus(const api::WorkerPool& p, const char* type) {
  const api::Condition* c = cond(p, type);
  return c ? c->status : "-";
}

std::string condReason(const api::WorkerPool& p, const char* type) {
  const api::Condition* c = cond(p, type);
  return c && !c->reason.empty() ? c->reason : "-";
}

std::string backlogText(const api::BacklogStatus& b) {
  if (b.total) return std::to_string(*b.total);
  if (b.pending && !b.lag) return "? (" + std::to_string(*b.pending) + " pending, lag unknown)";
  return "-";
}

// A condition that a user should look at.
bool needsAttention(const api::Condition& c) {
  if (c.type == kConditionReady || c.type == kConditionScalingActive) return c.status != api::kTrue;
  if (c.type == kConditionScalingLimited || c.type == kConditionFallback) {
    return c.status == api::kTrue;
  }
  return c.status == api::kUnknown;
}

bool stale(const api::WorkerPool& p) {
  return p.status.observedGeneration < p.metadata.generation;
}

std::string staleText(const api::WorkerPool& p) {
  return "status is for generation " + std::to_string(p.status.observedGeneration) +
         "; the spec is at generation " + std::to_string(p.metadata.generation) +
         " (the operator has not caught up, or is not running)";
}

Json conditionJson(const api::Condition& c) {
  Json j = api::toJson(c);
  j["meaning"] = std::string(plainReason(c.reason));
  return j;
}

Json poolFigures(const api::WorkerPool& p) {
  const auto& s = p.status;
  return {{"namespace", p.metadata.namespace_},
          {"name", p.metadata.name},
          {"pipeline", p.spec.pipelineRef},
          {"replicas", s.replicas},
          {"readyReplicas", s.readyReplicas},
          {"desiredReplicas", s.desiredReplicas},
          {"minReplicas", p.spec.minReplicas},
          {"maxReplicas", p.spec.maxReplicas},
          {"paused", p.spec.scaling.paused},
          {"backlog", api::toJson(s.backlog)},
          {"arrivalRate", api::numberOrNull(s.arrivalRate)},
          {"consumptionRate", api::numberOrNull(s.consumptionRate)},
          {"estimatedDrainSeconds", api::numberOrNull(s.estimatedDrainSeconds)},
          {"drain", drainText(s)},
          {"lastScaleTime", s.lastScaleTime ? Json(*s.lastScaleTime) : Json()},
          {"generation", p.metadata.generation},
          {"observedGeneration", s.observedGeneration}};
}

std::string policyText(const api::WorkerPool& p) {
  const auto spec = controllers::scalingSpecOf(p);
  const auto& sp = spec.scaling;
  if (sp.policy == policy::ScalingPolicyKind::kTargetBacklogPerReplica) {
    return "policy targetBacklogPerReplica: one worker per " +
           std::to_string(sp.targetBacklogPerReplica) + " entries of backlog";
  }
  return "policy drainTime: keep up with arrivals and clear any backlog within " +
         humanDuration(sp.drainSeconds);
}

std::string whenText(const std::optional<std::string>& t, WallTime now) {
  if (!t) return "never";
  std::string age = ageOf(*t, now);
  return age.empty() ? *t : age + " ago";
}

}  // namespace

std::string_view plainReason(std::string_view r) {
  static const std::map<std::string_view, std::string_view> kWords = {
      // The scaler's decisions (policy::reasonName).
      {"ScaledUpForBacklog",
       "The backlog would not be cleared in time by the workers running, so the scaler added "
       "workers."},
      {"ScaledUpFromZero",
       "Entries arrived while the pool was at zero, so the scaler started workers."},
      {"ScaledDown",
       "Fewer workers can keep up with arrivals and clear the backlog in time, so the scaler "
       "removed some."},
      {"AtDesiredReplicas",
       "The workers running are what the backlog and the arrival rate need: nothing to change."},
      {"WithinDeadBand",
       "The ideal count is only slightly different from the current one; the scaler does not "
       "resize the pool for small differences (the dead band)."},
      {"StabilizingScaleDown",
       "Fewer workers would do, but the scaler waits (a stabilization window, a fresh "
       "measurement, or a recent takeover) before removing any."},
      {"ScaleDownRateLimited",
       "Fewer workers would do, but scale-down is rate limited: workers are removed a few at a "
       "time."},
      {"HoldingBacklogUnknown",
       "The backlog could not be measured, so the scaler keeps the workers it has; it never "
       "scales down on an unknown backlog."},
      {"FallbackReplicas",
       "The backlog could not be measured several times in a row, so the pool runs "
       "spec.scaling.fallbackReplicas (never fewer than it has)."},
      {"ScaledToZeroIdle",
       "No backlog and no arrivals for the idle period, so the pool was scaled to zero "
       "(minReplicas is 0)."},
      {"IdleAtZero",
       "The pool is at zero workers and the backlog is below the activation threshold."},
      {"WaitingForIdle",
       "No backlog and no arrivals; the pool goes to zero once the idle period has passed."},
      {"LimitedByMaxReplicas",
       "The backlog needs more workers than spec.maxReplicas allows: the pool is held at its "
       "maximum and drains more slowly than the policy wants."},
      {"LimitedByMinReplicas",
       "Fewer workers would do, but spec.minReplicas keeps the pool at its minimum."},
      {"ScalingPaused",
       "spec.scaling.paused is true: the scaler leaves the pool alone and spec.replicas decides."},
      // Why the backlog could not be read (probe::failureReason).
      {"RedisUnreachable", "The operator cannot connect to Redis, so the backlog is unknown."},
      {"StreamNotFound", "The Pipeline's stream does not exist in Redis (yet)."},
      {"ConsumerGroupNotFound", "The Pipeline's consumer group does not exist on the stream."},
      {"RedisAuthFailed",
       "Redis refused the credentials, or the Secret holding them could not be read."},
      {"RedisProtocolError", "Redis answered something the operator could not read."},
      {"BacklogUnknown",
       "Redis reports no lag for the consumer group (entries deleted or trimmed, or the group "
       "set to an arbitrary id): the scaler holds the workers it has."},
      // Other condition reasons of the WorkerPool controller.
      {"ScaleNotApplied",
       "The scaler decided on a count but could not write the worker Deployment."},
      {"InvalidScalingSpec",
       "spec.scaling has values out of range; the scaler uses the nearest valid ones."},
      {"PipelineNotFound", "spec.pipelineRef names a Pipeline that does not exist."},
      {"WorkloadApplyFailed", "The worker Deployment or its ConfigMap could not be written."},
      {"WorkersReady", "Every worker asked for is running and ready."},
      {"WaitingForWorkers",
       "Some of the workers asked for are not ready yet (starting or failing)."},
      {"RolloutInProgress", "A new worker template is being rolled out."},
      {"ScaledToZero", "No workers are needed: the backlog is empty."},
      {"WithinLimits", "The count the policy wants is within minReplicas and maxReplicas."},
      {"BacklogMeasured", "The backlog is measured; no fallback in use."},
      {"NotScaling", "The pool is not being scaled."},
      {"Reconciling", "The operator has not finished its first look at the pool."},
      // Events.
      {"ScaledUp", "The operator added workers."},
      {"WorkersCreated", "The operator created the pool's worker Deployment."},
      {"SecretNotFound",
       "A Secret the Pipeline references (Redis credentials or TLS material) is missing."},
  };
  auto it = kWords.find(r);
  return it == kWords.end() ? std::string_view() : it->second;
}

std::optional<std::pair<int64_t, int64_t>> scaleChangeOf(const PoolEvent& e) {
  // The operator's own wording (controllers/worker_pool_controller.cpp).
  auto numberAfter = [&](const std::string& prefix,
                         size_t from) -> std::optional<std::pair<int64_t, size_t>> {
    size_t at = e.message.find(prefix, from);
    if (at == std::string::npos) return std::nullopt;
    at += prefix.size();
    size_t end = at;
    while (end < e.message.size() && std::isdigit(static_cast<unsigned char>(e.message[end]))) {
      ++end;
    }
    if (end == at || end - at > 9) return std::nullopt;
    return std::make_pair(std::stoll(e.message.substr(at, end - at)), end);
  };
  if (e.reason == "WorkersCreated") {
    auto n = numberAfter("Created the worker Deployment with ", 0);
    if (!n) return std::nullopt;
    return std::make_pair(int64_t{0}, n->first);
  }
  if (e.reason != "ScaledUp" && e.reason != "ScaledDown") return std::nullopt;
  auto a = numberAfter("Scaled from ", 0);
  if (!a || e.message.compare(a->second, 4, " to ") != 0) return std::nullopt;
  auto b = numberAfter(" to ", a->second);
  if (!b) return std::nullopt;
  return std::make_pair(a->first, b->first);
}

std::vector<PoolEvent> poolEventsOf(const std::vector<Json>& events, const api::WorkerPool& pool) {
  std::vector<PoolEvent> out;
  for (const Json& e : events) {
    if (!e.is_object()) continue;
    const Json& io = api::objectAt(e, "involvedObject");
    if (api::stringAt(io, "kind") != api::kWorkerPoolKind) continue;
    if (api::stringAt(io, "name") != pool.metadata.name) continue;
    const std::string ns = api::stringAt(io, "namespace", pool.metadata.namespace_);
    if (ns != pool.metadata.namespace_) continue;
    const std::string uid = api::stringAt(io, "uid");
    if (!uid.empty() && !pool.metadata.uid.empty() && uid != pool.metadata.uid) continue;
    PoolEvent ev;
    ev.type = api::stringAt(e, "type");
    ev.reason = api::stringAt(e, "reason");
    ev.message = api::stringAt(e, "message");
    ev.firstTime = api::stringAt(e, "firstTimestamp", api::stringAt(e, "eventTime"));
    ev.lastTime = api::stringAt(e, "lastTimestamp", ev.firstTime);
    if (ev.lastTime.empty())
      ev.lastTime = api::stringAt(api::objectAt(e, "metadata"), "creationTimestamp");
    ev.count = std::max<int64_t>(1, api::intAt(e, "count", 1));
    out.push_back(std::move(ev));
  }
  auto at = [](const PoolEvent& e) { return api::parseTime(e.lastTime).value_or(WallTime{}); };
  std::stable_sort(out.begin(), out.end(),
                   [&](const PoolEvent& a, const PoolEvent& b) { return at(a) > at(b); });
  return out;
}

std::string drainText(const api::WorkerPoolStatus& s) {
  if (s.backlog.total && *s.backlog.total == 0) return "drained";
  if (s.estimatedDrainSeconds) {
    if (*s.estimatedDrainSeconds < 1) return "under 1s";
    return humanDuration(std::ceil(*s.estimatedDrainSeconds));
  }
  if (s.backlog.total && *s.backlog.total > 0 && s.arrivalRate) return "not draining";
  return "-";
}

std::string formatStatus(const std::vector<api::WorkerPool>& pools, bool withNamespace,
                         WallTime now) {
  if (pools.empty()) return "";
  std::vector<std::vector<std::string>> rows;
  std::vector<std::string> head = {"NAME",    "PIPELINE", "READY",     "WORKERS", "RUNNING",
                                   "BACKLOG", "LAG",      "PENDING",   "ARRIVAL", "CONSUMED",
                                   "DRAIN",   "SCALING",  "LAST SCALE"};
  if (withNamespace) head.insert(head.begin(), "NAMESPACE");
  rows.push_back(head);
  for (const auto& p : pools) {
    const auto& s = p.status;
    std::string lastScale = s.lastScaleTime ? ageOf(*s.lastScaleTime, now) : "";
    std::vector<std::string> r = {
        p.metadata.name,
        p.spec.pipelineRef,
        condStatus(p, kConditionReady),
        std::to_string(s.readyReplicas) + "/" + std::to_string(s.desiredReplicas),
        std::to_string(s.replicas),
        backlogText(s.backlog),
        num(s.backlog.lag),
        num(s.backlog.pending),
        rateText(s.arrivalRate),
        rateText(s.consumptionRate),
        drainText(s),
        condReason(p, kConditionScalingActive),
        lastScale.empty() ? "-" : lastScale + " ago"};
    if (withNamespace) r.insert(r.begin(), p.metadata.namespace_);
    rows.push_back(std::move(r));
  }
  std::string out = formatTable(rows);

  const bool one = pools.size() == 1;
  std::vector<std::vector<std::string>> crow;
  std::vector<std::string> notes;
  for (const auto& p : pools) {
    const std::string who =
        withNamespace ? p.metadata.namespace_ + "/" + p.metadata.name : p.metadata.name;
    if (stale(p)) notes.push_back(who + ": " + staleText(p));
    if (p.status.conditions.empty()) notes.push_back(who + ": no conditions yet (not reconciled)");
    for (const auto& c : p.status.conditions) {
      if (!one && !needsAttention(c)) continue;
      std::vector<std::string> r = {
          c.type, c.status, c.reason.empty() ? "-" : c.reason,
          c.lastTransitionTime.empty() ? "-" : ageOf(c.lastTransitionTime, now), c.message};
      if (!one) r.insert(r.begin(), who);
      crow.push_back(std::move(r));
    }
  }
  if (one) {
    out += "\nConditions:\n";
  } else if (!crow.empty() || !notes.empty()) {
    out += "\nNeeds attention:\n";
  } else {
    out += "\nAll pools are ready and scaling normally.\n";
  }
  if (!crow.empty()) {
    std::vector<std::string> h = {"TYPE", "STATUS", "REASON", "AGE", "MESSAGE"};
    if (!one) h.insert(h.begin(), "POOL");
    crow.insert(crow.begin(), h);
    for (auto& r : crow) r.front() = "  " + r.front();
    out += formatTable(crow);
  }
  for (const auto& n : notes) out += "  " + n + "\n";
  return out;
}

Json statusDocument(const std::vector<api::WorkerPool>& pools) {
  Json items = Json::array();
  for (const auto& p : pools) {
    Json j = poolFigures(p);
    Json cs = Json::array();
    for (const auto& c : p.status.conditions) cs.push_back(conditionJson(c));
    j["conditions"] = cs;
    items.push_back(std::move(j));
  }
  return {{"pools", items}};
}

std::string formatWhy(const api::WorkerPool& p, const std::vector<PoolEvent>& events,
                      WallTime now) {
  const auto& s = p.status;
  std::string out;
  out += "WorkerPool " + p.metadata.namespace_ + "/" + p.metadata.name + " (pipeline " +
         p.spec.pipelineRef + "; " + policyText(p) + ")\n";
  if (stale(p)) out += "Note: " + staleText(p) + ".\n";
  out += "\nNow:\n";
  out += "  workers   " + std::to_string(s.desiredReplicas) + " wanted, " +
         std::to_string(s.readyReplicas) + " ready, " + std::to_string(s.replicas) +
         " running (min " + std::to_string(p.spec.minReplicas) + ", max " +
         std::to_string(p.spec.maxReplicas) + (p.spec.scaling.paused ? ", scaling paused" : "") +
         ")\n";
  if (s.backlog.total) {
    out += "  backlog   " + std::to_string(*s.backlog.total) + " entries (" + num(s.backlog.lag) +
           " not yet delivered + " + num(s.backlog.pending) + " delivered but not acknowledged)\n";
  } else {
    out += "  backlog   unknown at the last poll\n";
  }
  out += "  rates     " + rateText(s.arrivalRate) + " arriving, " + rateText(s.consumptionRate) +
         " consumed\n";
  const std::string drain = drainText(s);
  out += "  drain     " +
         (drain == "drained"        ? std::string("nothing to drain")
          : drain == "not draining" ? std::string("not draining: arrivals outpace the workers")
          : drain == "-"            ? std::string("no estimate")
                                    : drain + " at the wanted size") +
         "\n";

  auto section = [&](const char* title, const char* type) {
    const api::Condition* c = cond(p, type);
    if (!c) return;
    out += "\n" + std::string(title) + " (" + c->type + "=" + c->status;
    std::string age = ageOf(c->lastTransitionTime, now);
    if (!age.empty()) out += " for " + age;
    out += "): " + (c->reason.empty() ? std::string("-") : c->reason) + "\n";
    std::string_view words = plainReason(c->reason);
    if (!words.empty()) out += "  " + std::string(words) + "\n";
    if (!c->message.empty()) out += "  Operator: " + c->message + "\n";
  };
  section("Decision", kConditionScalingActive);
  section("Limits", kConditionScalingLimited);
  section("Fallback", kConditionFallback);
  section("Workers", kConditionReady);
  if (s.conditions.empty())
    out += "\nNo conditions yet: the operator has not reconciled the pool.\n";

  const auto& m = s.scaler;
  out += "\nScaler memory:\n";
  out += "  last scale-up " + whenText(m.lastScaleUpTime, now) + ", last scale-down " +
         whenText(m.lastScaleDownTime, now) + ", last change of the Deployment " +
         whenText(s.lastScaleTime, now) + "\n";
  if (m.learnedThroughput) {
    out += "  measured throughput " + fixed(*m.learnedThroughput) + " entries/s per ready worker\n";
  } else {
    out += "  throughput per worker not measured yet (the policy uses its configured prior)\n";
  }
  if (m.backlogSince)
    out += "  draining a backlog that formed " + whenText(m.backlogSince, now) + "\n";
  if (m.idleSince)
    out += "  idle (no backlog, no arrivals) since " + whenText(m.idleSince, now) + "\n";
  if (!m.recommendations.empty()) {
    std::string line;
    for (const auto& r : m.recommendations) {
      if (!line.empty()) line += ", then ";
      line += std::to_string(r.replicas) + " since " + whenText(r.since, now);
    }
    out += "  recommended in the stabilization window: " + line + "\n";
  }

  out += "\nEvents, newest first:\n";
  if (events.empty()) {
    out += "  none (Events expire after an hour by default)\n";
  } else {
    std::vector<std::vector<std::string>> rows = {
        {"  LAST SEEN", "TYPE", "REASON", "WORKERS", "COUNT", "MESSAGE"}};
    for (const auto& e : events) {
      std::string age = ageOf(e.lastTime, now);
      auto change = scaleChangeOf(e);
      rows.push_back(
          {"  " + (age.empty() ? "-" : age + " ago"), e.type, e.reason,
           change ? std::to_string(change->first) + " -> " + std::to_string(change->second) : "-",
           std::to_string(e.count), e.message});
    }
    out += formatTable(rows);
  }
  // The words of each event reason not explained above.
  std::vector<std::string> seen;
  std::string glossary;
  for (const auto& e : events) {
    if (std::find(seen.begin(), seen.end(), e.reason) != seen.end()) continue;
    seen.push_back(e.reason);
    std::string_view words = plainReason(e.reason);
    if (!words.empty()) glossary += "  " + e.reason + ": " + std::string(words) + "\n";
  }
  if (!glossary.empty()) out += "\nWhat the event reasons mean:\n" + glossary;
  return out;
}

Json whyDocument(const api::WorkerPool& p, const std::vector<PoolEvent>& events) {
  Json j = poolFigures(p);
  j["policy"] = policyText(p);
  auto condDoc = [&](const char* type) -> Json {
    const api::Condition* c = cond(p, type);
    return c ? conditionJson(*c) : Json();
  };
  j["decision"] = condDoc(kConditionScalingActive);
  j["limits"] = condDoc(kConditionScalingLimited);
  j["fallback"] = condDoc(kConditionFallback);
  j["workers"] = condDoc(kConditionReady);
  j["scaler"] = api::toJson(p.status.scaler);
  Json evs = Json::array();
  for (const auto& e : events) {
    auto change = scaleChangeOf(e);
    evs.push_back({{"type", e.type},
                   {"fromReplicas", change ? Json(change->first) : Json()},
                   {"toReplicas", change ? Json(change->second) : Json()},
                   {"reason", e.reason},
                   {"meaning", std::string(plainReason(e.reason))},
                   {"message", e.message},
                   {"count", e.count},
                   {"firstTimestamp", e.firstTime},
                   {"lastTimestamp", e.lastTime}});
  }
  j["events"] = evs;
  return j;
}

}  // namespace shoal::plugin
