// What `kubectl shoal status` and `kubectl shoal why` show about WorkerPools,
// as pure functions of the objects the API server returned (the pool with its
// status, its Events) and the current time, so every line can be tested
// without a cluster.
//
// - status: one row per pool (pipeline, Ready, replicas ready/desired and
//   running, backlog as lag + pending, arrival and consumption rates, drain
//   ETA, the scaler's current reason) and under the table the conditions of
//   each pool that need attention (or all of them for a single pool).
// - why: the current decision (ScalingActive, ScalingLimited, Fallback) with
//   its inputs, the scaler's memory (status.scaler) and the scaling Events,
//   newest first, each reason also said in plain words.
#pragma once

#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "shoal/api/worker_pool.h"
#include "shoal/common/clock.h"
#include "shoal/common/result.h"
#include "shoal/plugin/output.h"

namespace shoal::plugin {

/// One core/v1 Event about a pool, reduced to what `why` shows.
struct PoolEvent {
  std::string type;    // Normal | Warning
  std::string reason;  // ScaledUp, ScaledDown, WorkersCreated, ...
  std::string message;
  std::string firstTime, lastTime;  // RFC 3339 ("" if unknown)
  int64_t count = 1;
};

/// The replica change an operator Event reports ("Scaled from 3 to 5
/// workers ...", "Created the worker Deployment with 4 workers."): from (0
/// for a creation) and to; nullopt for other messages.
std::optional<std::pair<int64_t, int64_t>> scaleChangeOf(const PoolEvent& e);

/// The pool's Events from an Event list: those whose involvedObject is the
/// pool (kind WorkerPool, its name, and its uid when both carry one: an
/// older pool of the same name is not this one), newest first. Malformed
/// items are skipped.
std::vector<PoolEvent> poolEventsOf(const std::vector<Json>& events, const api::WorkerPool& pool);

/// A condition or decision reason said in plain words ("" for a reason we do
/// not know; the operator's own message is shown next to it anyway).
std::string_view plainReason(std::string_view reason);

/// The drain column: "drained" for an empty backlog, the estimate as a
/// duration, "not draining" when the backlog is known and positive but the
/// pool does not clear it at the measured rates, "-" when unknown.
std::string drainText(const api::WorkerPoolStatus& s);

/// The status table (with a NAMESPACE column when withNamespace) and, under
/// it, conditions: every condition of the pool when pools.size() == 1,
/// otherwise only those that need attention (Ready not True, ScalingActive
/// not True, ScalingLimited or Fallback True, or status older than the spec).
std::string formatStatus(const std::vector<api::WorkerPool>& pools, bool withNamespace,
                         WallTime now);

/// The same pools for -o json|yaml: {"pools": [...]} with the figures and
/// conditions of each.
Json statusDocument(const std::vector<api::WorkerPool>& pools);

/// The `why` report of one pool, for people.
std::string formatWhy(const api::WorkerPool& pool, const std::vector<PoolEvent>& events,
                      WallTime now);

/// The same for -o json|yaml, each reason with its plain words.
Json whyDocument(const api::WorkerPool& pool, const std::vector<PoolEvent>& events);

}  // namespace shoal::plugin
