// BatchReader: the read side of the consumer loop. It makes sure the group
// exists, then collects batches: leftovers first, then entries the sweep
// claimed, then this consumer's own pending list (from "0", then after the
// last id read, with delivery counts from the group) until it is empty, then
// new entries (block for the first, linger for more) up to batchSize and
// batchBytes. Used by one thread at a time (the reader thread in run(), the
// caller's thread in step() and in the drain).
#pragma once

#include <deque>
#include <string>
#include <vector>

#include "loop_context.h"

namespace shoal::worker_detail {

class BatchReader {
 public:
  BatchReader(LoopContext& ctx, ConsumerGroupPort& port);

  /// Creates the group if needed (once); false after a failed attempt.
  bool ensureGroup();
  /// The next batch; empty when nothing arrived (or a read failed: then it
  /// already waited before the retry).
  std::vector<StreamEntry> collect();
  /// Waits before retrying a failed read (see LoopContext::waitBeforeRetry).
  void waitBeforeRetry() { ctx_.waitBeforeRetry(port_, backoff_); }
  /// Re-read the own pending list from the start (the drain does, once).
  void restartOwnPending();
  /// Read but not yet batched (batchBytes cut a read short). Guarded by
  /// ctx.mu while the reader thread runs.
  std::deque<StreamEntry>& leftovers() { return leftover_; }

 private:
  bool takeBytes(std::vector<StreamEntry>& batch, size_t& bytes);
  void fillDeliveries(std::vector<StreamEntry>& entries);

  LoopContext& ctx_;
  ConsumerGroupPort& port_;
  Backoff backoff_;
  std::string pendingCursor_ = "0";
  std::deque<StreamEntry> leftover_;
};

}  // namespace shoal::worker_detail
