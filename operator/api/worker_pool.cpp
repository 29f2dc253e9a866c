// WorkerPool: parsing with the CRD's defaults, and status serialization.
#include "shoal/api/worker_pool.h"

#include <algorithm>
#include <cstdlib>

namespace shoal::api {

std::string defaultWorkerImage() {
  const char* v = std::getenv("SHOAL_WORKER_IMAGE");
  return v && *v ? std::string(v) : std::string(kDefaultWorkerImage);
}

using nlohmann::json;

namespace {

int32_t clampInt32(int64_t v) {
  return static_cast<int32_t>(std::clamp<int64_t>(v, 0, INT32_MAX));
}

json copyIf(const json& j, const char* key) {
  if (!j.is_object()) return json();
  auto it = j.find(key);
  return it == j.end() ? json() : *it;
}

}  // namespace

Result<WorkerPool> workerPoolFromJson(const json& j) {
  if (!j.is_object()) return makeError(Errc::kInvalidInput, "WorkerPool: not an object");
  WorkerPool w;
  w.metadata = metaFromJson(j);
  const json& spec = objectAt(j, "spec");
  if (!spec.is_object()) return makeError(Errc::kInvalidInput, "spec: missing");
  WorkerPoolSpec& s = w.spec;
  s.raw = spec;
  s.pipelineRef = stringAt(objectAt(spec, "pipelineRef"), "name");
  if (s.pipelineRef.empty())
    return makeError(Errc::kInvalidInput, "spec.pipelineRef.name: missing");
  s.image = stringAt(spec, "image", defaultWorkerImage());
  if (s.image.empty()) s.image = defaultWorkerImage();
  s.imagePullPolicy = stringAt(spec, "imagePullPolicy", "IfNotPresent");
  if (auto r = optIntAt(spec, "replicas")) s.replicas = clampInt32(*r);
  s.minReplicas = clampInt32(intAt(spec, "minReplicas", 1));
  s.maxReplicas = clampInt32(intAt(spec, "maxReplicas", 10));
  if (s.maxReplicas < s.minReplicas) {
    return makeError(Errc::kInvalidInput, "spec.maxReplicas: must be >= spec.minReplicas");
  }
  s.terminationGracePeriodSeconds =
      std::max<int64_t>(1, intAt(spec, "terminationGracePeriodSeconds", 30));

  const json& sc = objectAt(spec, "scaling");
  s.scaling.drainSeconds = optNumberAt(sc, "drainSeconds");
  s.scaling.targetBacklogPerReplica = optIntAt(sc, "targetBacklogPerReplica");
  s.scaling.perReplicaThroughput = optNumberAt(sc, "perReplicaThroughput");
  s.scaling.headroom = optNumberAt(sc, "headroom");
  s.scaling.podStartupSeconds = optNumberAt(sc, "podStartupSeconds");
  s.scaling.activationBacklog = optIntAt(sc, "activationBacklog");
  s.scaling.idleSeconds = optNumberAt(sc, "idleSeconds");
  s.scaling.deadBand = optNumberAt(sc, "deadBand");
  s.scaling.failuresBeforeFallback = optIntAt(sc, "failuresBeforeFallback");
  const json& up = objectAt(sc, "scaleUp");
  s.scaling.scaleUp.stabilizationSeconds = optNumberAt(up, "stabilizationSeconds");
  const json& down = objectAt(sc, "scaleDown");
  s.scaling.scaleDown.stabilizationSeconds = optNumberAt(down, "stabilizationSeconds");
  s.scaling.scaleDown.maxPodsPerStep = optIntAt(down, "maxPodsPerStep");
  s.scaling.scaleDown.percent = optIntAt(down, "percent");
  s.scaling.scaleDown.periodSeconds = optNumberAt(down, "periodSeconds");
  if (down.is_object()) {
    if (auto it = down.find("whenIdle"); it != down.end())
      s.scaling.scaleDown.whenIdle = it->is_string() ? it->get<std::string>() : it->dump();
  }
  s.scaling.policy = stringAt(sc, "policy", "drainTime");
  double poll = numberAt(sc, "pollIntervalSeconds", 2.0);
  s.scaling.pollIntervalSeconds = (poll > 0.05 && poll < 3600) ? poll : 2.0;
  s.scaling.paused = boolAt(sc, "paused", false);
  if (auto f = optIntAt(sc, "fallbackReplicas")) s.scaling.fallbackReplicas = clampInt32(*f);

  const json& t = objectAt(spec, "template");
  s.template_.labels = stringMapAt(t, "labels");
  s.template_.annotations = stringMapAt(t, "annotations");
  s.template_.resources = copyIf(t, "resources");
  s.template_.env = copyIf(t, "env");
  s.template_.nodeSelector = copyIf(t, "nodeSelector");
  s.template_.tolerations = copyIf(t, "tolerations");
  s.template_.affinity = copyIf(t, "affinity");
  s.template_.imagePullSecrets = copyIf(t, "imagePullSecrets");
  s.template_.serviceAccountName = stringAt(t, "serviceAccountName");
  s.template_.priorityClassName = stringAt(t, "priorityClassName");

  const json& st = objectAt(j, "status");
  WorkerPoolStatus& o = w.status;
  o.observedGeneration = intAt(st, "observedGeneration", 0);
  o.replicas = clampInt32(intAt(st, "replicas", 0));
  o.readyReplicas = clampInt32(intAt(st, "readyReplicas", 0));
  o.desiredReplicas = clampInt32(intAt(st, "desiredReplicas", 0));
  if (st.is_object() && st.contains("lastScaleTime") && st["lastScaleTime"].is_string()) {
    o.lastScaleTime = st["lastScaleTime"].get<std::string>();
  }
  o.selector = stringAt(st, "selector");
  o.backlog = backlogFromJson(objectAt(st, "backlog"));
  o.arrivalRate = optNumberAt(st, "arrivalRate");
  o.consumptionRate = optNumberAt(st, "consumptionRate");
  o.estimatedDrainSeconds = optNumberAt(st, "estimatedDrainSeconds");
  if (st.is_object() && st.contains("conditions"))
    o.conditions = conditionsFromJson(st["conditions"]);
  o.scaler = scalerMemoryFromJson(objectAt(st, "scaler"));
  return w;
}

ScalerMemory scalerMemoryFromJson(const json& j) {
  ScalerMemory m;
  if (!j.is_object()) return m;
  auto time = [&](const char* key) -> std::optional<std::string> {
    auto it = j.find(key);
    if (it == j.end() || !it->is_string()) return std::nullopt;
    return it->get<std::string>();
  };
  m.backlogSince = time("backlogSince");
  m.idleSince = time("idleSince");
  m.lastScaleUpTime = time("lastScaleUpTime");
  m.lastScaleDownTime = time("lastScaleDownTime");
  m.learnedThroughput = optNumberAt(j, "learnedThroughput");
  if (auto it = j.find("recommendations"); it != j.end() && it->is_array()) {
    for (const auto& r : *it) {
      if (!r.is_object() || !r.contains("since") || !r["since"].is_string()) continue;
      m.recommendations.push_back(
          {r["since"].get<std::string>(), clampInt32(intAt(r, "replicas", 0))});
    }
  }
  return m;
}

json toJson(const ScalerMemory& m) {
  auto orNull = [](const std::optional<std::string>& v) { return v ? json(*v) : json(nullptr); };
  json recs = json::array();
  for (const auto& r : m.recommendations)
    recs.push_back({{"since", r.since}, {"replicas", r.replicas}});
  return json{{"backlogSince", orNull(m.backlogSince)},
              {"idleSince", orNull(m.idleSince)},
              {"lastScaleUpTime", orNull(m.lastScaleUpTime)},
              {"lastScaleDownTime", orNull(m.lastScaleDownTime)},
              {"learnedThroughput", numberOrNull(m.learnedThroughput)},
              {"recommendations", recs}};
}

json toJson(const WorkerPoolStatus& s) {
  json j = json::object();
  j["observedGeneration"] = s.observedGeneration;
  j["replicas"] = s.replicas;
  j["readyReplicas"] = s.readyReplicas;
  j["desiredReplicas"] = s.desiredReplicas;
  j["backlog"] = toJson(s.backlog);
  j["arrivalRate"] = numberOrNull(s.arrivalRate);
  j["consumptionRate"] = numberOrNull(s.consumptionRate);
  j["estimatedDrainSeconds"] = numberOrNull(s.estimatedDrainSeconds);
  j["lastScaleTime"] = s.lastScaleTime ? json(*s.lastScaleTime) : json(nullptr);
  j["selector"] = s.selector;
  j["conditions"] = toJson(s.conditions);
  j["scaler"] = toJson(s.scaler);
  return j;
}

json toJson(const WorkerPool& p) {
  json j{{"apiVersion", kApiVersion}, {"kind", kWorkerPoolKind}};
  j["metadata"] = toJson(p.metadata);
  j["spec"] = p.spec.raw;
  j["status"] = toJson(p.status);
  return j;
}

}  // namespace shoal::api
