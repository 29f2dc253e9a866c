// Triage of a batch before it reaches the handler: a pure function of the
// entries and the limits. An entry bigger than maxEntryBytes, or delivered
// more than maxDeliveries times, is dead-lettered with a reason; an entry
// whose payload was deleted from the stream while pending (no fields) is
// acknowledged without delivery; every other entry goes to the handler.
// The checks run in that order, so a deleted entry past maxDeliveries is
// dead-lettered (with no fields), not acknowledged.
#pragma once

#include <cstddef>
#include <cstdint>
#include <span>
#include <vector>

#include "shoal/stream/stream_entry.h"

namespace shoal {

struct TriageLimits {
  int64_t maxEntryBytes = 0;  // StreamEntry::bytes() above this: dead letter
  int64_t maxDeliveries = 0;  // StreamEntry::deliveries above this: dead letter
};

/// What the loop does with each entry of a batch before the handler runs.
struct BatchTriage {
  /// One per entry, in order. Entries listed in toHandle hold the default
  /// (kRetry) until the handler's result replaces it.
  std::vector<EntryResult> results;
  /// Indexes (ascending) of the entries the handler gets.
  std::vector<size_t> toHandle;
};

BatchTriage triageBatch(std::span<const StreamEntry> batch, const TriageLimits& limits);

}  // namespace shoal
