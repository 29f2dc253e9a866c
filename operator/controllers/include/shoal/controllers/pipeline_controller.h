// The Pipeline reconciler: makes sure the consumer group exists, reports
// whether the source is usable (SourceReady), the pools bound to the Pipeline
// and their aggregate readiness (Ready), the backlog and rates; with
// spec.retention, trims the stream(s) safely at most once per intervalSeconds
// (status.retention, RetentionLimited, events and metrics); and, only when
// spec.consumerGroupDeletionPolicy is DeleteConsumerGroup, holds a finalizer
// that destroys the consumer group when the Pipeline is deleted.
// Thread-safe: reconciles of different Pipelines may run concurrently.
#pragma once

#include <map>
#include <mutex>
#include <string>

#include "shoal/controllers/interfaces.h"
#include "shoal/controllers/reconcile.h"
#include "shoal/controllers/retention.h"
#include "shoal/probe/backlog_probe.h"

namespace shoal::controllers {

/// Inputs of the pure Pipeline status computation.
struct PipelineStatusInputs {
  const api::Pipeline* pipeline = nullptr;
  std::optional<probe::BacklogReading> reading;
  std::string sourceProblemReason;  // e.g. SecretNotFound; empty if none
  std::string sourceProblem;
  std::vector<api::WorkerPool> pools;  // the pools bound to this Pipeline
  /// The retention round this reconcile ran (nullopt: none was due).
  std::optional<RetentionRound> retention;
  WallTime now{};
};

api::PipelineStatus computePipelineStatus(const PipelineStatusInputs& in);

class PipelineReconciler {
 public:
  PipelineReconciler(ResourceStore& store, EventSink& events, probe::BacklogProbe& probe,
                     Clock& clock, Duration pollInterval = std::chrono::seconds(5),
                     RetentionMetrics* metrics = nullptr);
  ReconcileResult reconcile(const std::string& ns, const std::string& name);

 private:
  /// Whether a retention round is due for the Pipeline now (a Pipeline
  /// recreated under the same name is new); if so it is taken (the next is
  /// due intervalSeconds later). Otherwise `wait` says how long until it is.
  bool takeRetentionRound(const api::Pipeline& p, Duration* wait);

  ResourceStore& store_;
  EventSink& events_;
  probe::BacklogProbe& probe_;
  Clock& clock_;
  Duration poll_;
  RetentionMetrics* metrics_;
  std::mutex mu_;
  struct LastRound {
    std::string uid;
    MonoTime at{};
  };
  std::map<std::string, LastRound> lastRetention_;  // "ns/name" -> the last round
};

}  // namespace shoal::controllers
