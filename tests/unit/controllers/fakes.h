// In-memory fakes of the controllers' seams (ResourceStore, WorkloadBackend,
// EventSink) and of the probe's StreamInspector, for reconcile tests.
#pragma once

#include <map>
#include <string>
#include <vector>

#include "shoal/controllers/interfaces.h"
#include "shoal/probe/backlog_probe.h"

namespace shoal::testfakes {

using controllers::WorkloadIntent;
using controllers::WorkloadObservation;

class FakeStore : public controllers::ResourceStore {
 public:
  std::map<std::string, nlohmann::json> pools, pipelines;  // "ns/name" -> object
  std::map<std::string, std::string> secrets;              // "ns/name/key" -> value
  int statusWrites = 0;

  Result<std::optional<api::WorkerPool>> getWorkerPool(const std::string& ns,
                                                       const std::string& name) override {
    auto it = pools.find(ns + "/" + name);
    if (it == pools.end()) return std::optional<api::WorkerPool>();
    auto p = api::workerPoolFromJson(it->second);
    if (!p.ok()) return p.error();
    return std::optional<api::WorkerPool>(p.value());
  }
  Result<std::optional<api::Pipeline>> getPipeline(const std::string& ns,
                                                   const std::string& name) override {
    auto it = pipelines.find(ns + "/" + name);
    if (it == pipelines.end()) return std::optional<api::Pipeline>();
    auto p = api::pipelineFromJson(it->second);
    if (!p.ok()) return p.error();
    return std::optional<api::Pipeline>(p.value());
  }
  Result<std::vector<api::WorkerPool>> listWorkerPools(const std::string& ns) override {
    std::vector<api::WorkerPool> out;
    for (const auto& [k, v] : pools) {
      if (k.rfind(ns + "/", 0) != 0) continue;
      auto p = api::workerPoolFromJson(v);
      if (p.ok()) out.push_back(p.value());
    }
    return out;
  }
  Result<std::optional<std::string>> getSecretValue(const std::string& ns,
                                                    const api::SecretKeyRef& ref) override {
    auto it = secrets.find(ns + "/" + ref.name + "/" + ref.key);
    if (it == secrets.end()) return std::optional<std::string>();
    return std::optional<std::string>(it->second);
  }
  Result<void> writeWorkerPoolStatus(const api::WorkerPool& pool,
                                     const nlohmann::json& status) override {
    ++statusWrites;
    pools[pool.metadata.namespace_ + "/" + pool.metadata.name]["status"] = status;
    return {};
  }
  Result<void> writePipelineStatus(const api::Pipeline& p, const nlohmann::json& status) override {
    ++statusWrites;
    pipelines[p.metadata.namespace_ + "/" + p.metadata.name]["status"] = status;
    return {};
  }
  Result<void> setPipelineFinalizer(const api::Pipeline& p, const std::string& f,
                                    bool present) override {
    auto& obj = pipelines[p.metadata.namespace_ + "/" + p.metadata.name];
    auto& fs = obj["metadata"]["finalizers"];
    if (!fs.is_array()) fs = nlohmann::json::array();
    nlohmann::json out = nlohmann::json::array();
    for (const auto& x : fs) {
      if (x != f) out.push_back(x);
    }
    if (present) out.push_back(f);
    fs = out;
    return {};
  }
  nlohmann::json& pool(const std::string& key) { return pools[key]; }
  nlohmann::json poolStatus(const std::string& key) { return pools[key]["status"]; }
};

class FakeBackend : public controllers::WorkloadBackend {
 public:
  std::map<std::string, WorkloadObservation> workloads;  // "ns/name"
  std::vector<WorkloadIntent> applied;
  std::vector<std::string> appliedHashes;
  bool readyImmediately = true;
  int ensures = 0;
  std::string failEnsure;  ///< when set, ensure() fails with this message

  static std::string key(const api::WorkerPool& p) {
    return p.metadata.namespace_ + "/" + p.metadata.name;
  }
  Result<WorkloadObservation> observe(const api::WorkerPool& pool) override {
    auto it = workloads.find(key(pool));
    if (it == workloads.end()) return WorkloadObservation{};
    return it->second;
  }
  Result<WorkloadObservation> ensure(const WorkloadIntent& intent, bool* changed) override {
    ++ensures;
    if (!failEnsure.empty()) return makeError(Errc::kInvalidInput, failEnsure);
    auto& w = workloads[key(*intent.pool)];
    *changed = !w.exists || w.specReplicas != intent.replicas || w.configHash != intent.configHash;
    w.exists = true;
    w.specReplicas = intent.replicas;
    w.replicas = intent.replicas;
    w.readyReplicas = readyImmediately ? intent.replicas : 0;
    w.updatedReplicas = intent.replicas;
    w.configHash = intent.configHash;
    appliedHashes.push_back(intent.configHash);
    return w;
  }
};

class FakeEvents : public controllers::EventSink {
 public:
  struct Event {
    std::string kind, name, type, reason, message;
  };
  std::vector<Event> events;
  void record(const controllers::EventTarget& t, const std::string& type, const std::string& reason,
              const std::string& message) override {
    events.push_back({t.kind, t.name, type, reason, message});
  }
  int count(const std::string& reason) const {
    int n = 0;
    for (const auto& e : events) n += e.reason == reason;
    return n;
  }
};

class FakeInspector : public probe::StreamInspector {
 public:
  bool reachable = true;
  bool groupExists = true;
  probe::StreamSnapshot snapshot;
  int inspects = 0, creates = 0, destroys = 0;
  std::string lastPassword;

  Result<probe::StreamSnapshot> inspect(const probe::RedisTarget& t, const std::string&,
                                        const std::string&, probe::ReadFailure* f) override {
    ++inspects;
    lastPassword = t.password;
    if (!reachable) {
      *f = probe::ReadFailure::kUnreachable;
      return makeError(Errc::kIo, "connection refused");
    }
    if (!groupExists) {
      *f = probe::ReadFailure::kGroupNotFound;
      return makeError(Errc::kNotFound, "consumer group not found");
    }
    return snapshot;
  }
  Result<void> ensureGroup(const probe::RedisTarget&, const std::string&, const std::string&,
                           const std::string&) override {
    ++creates;
    if (!reachable) return makeError(Errc::kIo, "connection refused");
    groupExists = true;
    return {};
  }
  Result<void> destroyGroup(const probe::RedisTarget&, const std::string&,
                            const std::string&) override {
    ++destroys;
    groupExists = false;
    return {};
  }
  /// Streams trim() works on, by name (the model of the trim script); a
  /// stream not here does not exist.
  std::map<std::string, probe::StreamModel> streams;
  int trims = 0;
  std::string failTrimOf;  ///< trim() of this stream fails
  Result<probe::TrimOutcome> trim(const probe::RedisTarget&, const std::string& stream,
                                  const probe::RetentionRule& rule, int64_t nowMs) override {
    ++trims;
    if (!reachable) return makeError(Errc::kIo, "connection refused");
    if (stream == failTrimOf) return makeError(Errc::kServer, "ERR trim failed");
    auto it = streams.find(stream);
    if (it == streams.end()) {
      probe::TrimOutcome o;
      o.streamExists = false;
      return o;
    }
    return probe::applyTrim(it->second, rule, nowMs);
  }
  /// What load() answers, by stream; a stream not here has load {0, 0}.
  std::map<std::string, StreamLoad> loads;
  int loadReads = 0;
  Result<StreamLoad> load(const probe::RedisTarget&, const std::string& stream) override {
    ++loadReads;
    if (!reachable) return makeError(Errc::kIo, "connection refused");
    auto it = loads.find(stream);
    return it == loads.end() ? StreamLoad{} : it->second;
  }
  void setBacklog(int64_t lag, int64_t pending) {
    snapshot.lag = lag;
    snapshot.pending = pending;
    snapshot.entriesAdded = snapshot.entriesAdded.value_or(0) + lag;
    snapshot.entriesRead = snapshot.entriesRead.value_or(0);
  }
};

inline nlohmann::json samplePipeline() {
  return nlohmann::json::parse(R"({
    "apiVersion": "shoal.dev/v1alpha1", "kind": "Pipeline",
    "metadata": {"name": "orders", "namespace": "prod", "uid": "p-uid", "generation": 1},
    "spec": {
      "type": "logs",
      "source": {"redis": {"address": "redis:6379", "stream": "orders", "consumerGroup": "shoal",
                           "passwordSecretRef": {"name": "redis-auth", "key": "password"}}},
      "sink": {"elasticsearch": {"url": "http://es:9200", "index": "logs-%Y",
                                 "basicAuth": {"username": "elastic",
                                               "passwordSecretRef": {"name": "es", "key": "pw"}}}},
      "delivery": {"batchSize": 500}
    }})");
}

inline nlohmann::json samplePool() {
  return nlohmann::json::parse(R"({
    "apiVersion": "shoal.dev/v1alpha1", "kind": "WorkerPool",
    "metadata": {"name": "orders-workers", "namespace": "prod", "uid": "w-uid", "generation": 3},
    "spec": {
      "pipelineRef": {"name": "orders"},
      "image": "shoal-worker:test",
      "minReplicas": 1, "maxReplicas": 8,
      "scaling": {"policy": "targetBacklogPerReplica", "targetBacklogPerReplica": 100,
                  "pollIntervalSeconds": 2,
                  "scaleDown": {"stabilizationSeconds": 10, "periodSeconds": 1, "percent": 100}},
      "template": {"resources": {"limits": {"cpu": "1"}},
                   "env": [{"name": "EXTRA", "value": "1"},
                           {"name": "SHOAL_REDIS_PASSWORD", "value": "oops"}],
                   "nodeSelector": {"pool": "workers"}}
    }})");
}

}  // namespace shoal::testfakes
