// Local mode's control loop: the same Pipeline and WorkerPool reconcilers the
// operator runs, driven by a small scheduler (each key is reconciled again
// after the delay its reconcile asked for) over the file store and the process
// backend. It also records the run's history and renders the status snapshot
// (status file) and the live terminal view.
// Not thread-safe: one thread calls step().
#pragma once

#include <nlohmann/json.hpp>

#include <map>
#include <memory>
#include <string>
#include <vector>

#include "shoal/common/clock.h"
#include "shoal/controllers/pipeline_controller.h"
#include "shoal/controllers/worker_pool_controller.h"
#include "shoal/local/event_log.h"
#include "shoal/local/file_store.h"
#include "shoal/local/history.h"
#include "shoal/local/process_backend.h"
#include "shoal/probe/backlog_probe.h"

namespace shoal::local {

class LocalRunner {
 public:
  LocalRunner(FileResourceStore& store, ProcessBackend& backend, EventLog& events,
              probe::BacklogProbe& probe, Clock& clock);

  /// Ticks the backend, then reconciles every key that is due and records a
  /// history sample for each WorkerPool reconciled.
  void step();
  /// The status file's content: the objects with their status, each pool's
  /// worker processes, recent events, and when.
  nlohmann::json statusJson() const;
  /// Samples recorded since the last call (for appending to a CSV).
  std::vector<HistorySample> takeNewSamples();
  /// Every sample of the run, per pool key.
  const std::map<std::string, std::vector<HistorySample>>& history() const { return history_; }

 private:
  void recordSample(const std::string& ns, const std::string& name);

  FileResourceStore& store_;
  ProcessBackend& backend_;
  EventLog& events_;
  Clock& clock_;
  controllers::PipelineReconciler pipelines_;
  controllers::WorkerPoolReconciler pools_;
  MonoTime started_;
  std::map<std::string, MonoTime> due_;  // "Kind/ns/name" -> next reconcile
  std::map<std::string, std::vector<HistorySample>> history_;
  std::vector<HistorySample> fresh_;
};

/// The live terminal view of a status snapshot (statusJson()), as text with
/// ANSI colours, each line cut to `width` columns. Pure.
std::string renderLiveView(const nlohmann::json& status, int width, bool color);

/// One line per pool for the `--view log` mode. Pure.
std::vector<std::string> renderLogLines(const nlohmann::json& status);

}  // namespace shoal::local
