// Acknowledger: settles a handled batch with the group. In one round trip it
// copies the dead-lettered entries (with reason, original id, stream, group
// and delivery count) to the dead-letter stream and acknowledges the
// delivered ones; then, in a second, it acknowledges the dead-lettered
// entries whose copy landed (XADD strictly before XACK). kRetry entries are
// left pending. A failed round trip is retried with backoff until it lands
// or the loop is cancelled. Runs on the thread that handled the batch, on a
// port of its own.
#pragma once

#include <optional>
#include <string>
#include <vector>

#include "loop_context.h"

namespace shoal::worker_detail {

class Acknowledger {
 public:
  Acknowledger(LoopContext& ctx, ConsumerGroupPort& port);

  /// Dead-letters and acknowledges `batch` per `results` (one per entry) and
  /// counts what it did. False if anything was refused or it was cancelled.
  bool settle(const std::vector<StreamEntry>& batch, const std::vector<EntryResult>& results);

 private:
  std::optional<AckReceipt> untilItLands(const std::vector<DeadLetter>& deadLetters,
                                         const std::vector<std::string>& ackIds, const char* what);

  LoopContext& ctx_;
  ConsumerGroupPort& port_;
  Backoff backoff_;
};

}  // namespace shoal::worker_detail
