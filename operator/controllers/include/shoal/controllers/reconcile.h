// The outcome of a reconcile, in the kube-rs shape: requeue after a delay, or
// wait for the next change; errors are values, turned into a retry delay by
// the work queue's per-key backoff.
#pragma once

#include <optional>

#include "shoal/common/clock.h"
#include "shoal/common/result.h"

namespace shoal::controllers {

struct Action {
  std::optional<Duration> requeueAfter;  // nullopt: wait for a change
  static Action requeue(Duration d) { return Action{d}; }
  static Action await() { return Action{}; }
};

using ReconcileResult = Result<Action>;

}  // namespace shoal::controllers
