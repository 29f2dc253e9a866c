// The pure pre-handler triage of a batch. See batch_triage.h.
#include "shoal/worker/batch_triage.h"

#include <string>

namespace shoal {

BatchTriage triageBatch(std::span<const StreamEntry> batch, const TriageLimits& limits) {
  BatchTriage t;
  t.results.resize(batch.size());
  t.toHandle.reserve(batch.size());
  for (size_t i = 0; i < batch.size(); ++i) {
    const auto& e = batch[i];
    const size_t bytes = e.bytes();
    if (static_cast<int64_t>(bytes) > limits.maxEntryBytes) {
      t.results[i] = {EntryOutcome::kDeadLetter, "entry too large: " + std::to_string(bytes) +
                                                     " bytes, more than maxEntryBytes " +
                                                     std::to_string(limits.maxEntryBytes)};
    } else if (e.deliveries > limits.maxDeliveries) {
      t.results[i] = {EntryOutcome::kDeadLetter, "delivered " + std::to_string(e.deliveries) +
                                                     " times, more than maxDeliveries " +
                                                     std::to_string(limits.maxDeliveries)};
    } else if (e.fields.empty()) {
      // The entry was deleted from the stream while pending: nothing to deliver.
      t.results[i] = {EntryOutcome::kDelivered, {}};
    } else {
      t.toHandle.push_back(i);
    }
  }
  return t;
}

}  // namespace shoal
