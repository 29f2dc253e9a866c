// The Pipeline reconciler: makes sure the consumer group exists, reports
// whether the source is usable (SourceReady), the pools bound to the Pipeline
// and their aggregate readiness (Ready), the backlog and rates; and, only when
// spec.consumerGroupDeletionPolicy is DeleteConsumerGroup, holds a finalizer
// that destroys the consumer group when the Pipeline is deleted.
// Thread-safe: reconciles of different Pipelines may run concurrently.
#pragma once

#include <string>

#include "shoal/controllers/interfaces.h"
#include "shoal/controllers/reconcile.h"
#include "shoal/probe/backlog_probe.h"

namespace shoal::controllers {

/// Inputs of the pure Pipeline status computation.
struct PipelineStatusInputs {
  const api::Pipeline* pipeline = nullptr;
  std::optional<probe::BacklogReading> reading;
  std::string sourceProblemReason;  // e.g. SecretNotFound; empty if none
  std::string sourceProblem;
  std::vector<api::WorkerPool> pools;  // the pools bound to this Pipeline
  WallTime now{};
};

api::PipelineStatus computePipelineStatus(const PipelineStatusInputs& in);

class PipelineReconciler {
 public:
  PipelineReconciler(ResourceStore& store, EventSink& events, probe::BacklogProbe& probe,
                     Clock& clock, Duration pollInterval = std::chrono::seconds(5));
  ReconcileResult reconcile(const std::string& ns, const std::string& name);

 private:
  ResourceStore& store_;
  EventSink& events_;
  probe::BacklogProbe& probe_;
  Clock& clock_;
  Duration poll_;
};

}  // namespace shoal::controllers
