// The seam between the generic consumer loop (runtime/worker) and a pipeline
// type (logs -> Elasticsearch, metrics -> remote write / Pushgateway /
// PostgreSQL). The loop reads, batches, acknowledges and dead-letters; the
// handler transforms and delivers.
//
// Contract:
//  - handle() returns exactly one EntryResult per input entry, in order.
//  - Bad input (unparseable, invalid) -> kDeadLetter with a reason.
//  - Sink errors that can never succeed for that entry (HTTP 400, mapping
//    error) -> kDeadLetter with the sink's error.
//  - Retryable sink errors (connection refused, 429, 5xx) are retried inside
//    handle() with jittered exponential backoff, for as long as it takes:
//    an outage must not turn into dead letters. Only when `cancel` is
//    cancelled may handle() give up and return kRetry for what is left.
//  - handle() never throws and never crashes on input.
#pragma once

#include <memory>
#include <span>
#include <string>
#include <vector>

#include "shoal/stream/stream_entry.h"

namespace shoal {

class BatchHandler {
 public:
  virtual ~BatchHandler() = default;
  /// Transforms and delivers a batch. See the contract above.
  virtual std::vector<EntryResult> handle(std::span<const StreamEntry> entries,
                                          const CancelToken& cancel) = 0;
  /// Whether the sink is reachable right now (for /readyz). Cheap; may cache.
  virtual bool sinkReady() = 0;
  /// A short name for logs and metrics, e.g. "elasticsearch".
  virtual std::string sinkName() const = 0;
};

}  // namespace shoal
