// A Redis stream entry as the worker sees it, and what a pipeline decided for
// each entry of a batch.
#pragma once

#include <atomic>
#include <cstdint>
#include <string>
#include <utility>
#include <vector>

namespace shoal {

/// One stream entry: its id ("1700000000000-0"), its field/value pairs in
/// order, and how many times the group has delivered it (from XPENDING /
/// XAUTOCLAIM; 1 for a first delivery).
struct StreamEntry {
  std::string id;
  std::vector<std::pair<std::string, std::string>> fields;
  int64_t deliveries = 1;

  /// The value of the first field named `name`, or nullptr.
  const std::string* field(std::string_view name) const {
    for (auto& [k, v] : fields)
      if (k == name) return &v;
    return nullptr;
  }
  size_t bytes() const {
    size_t n = id.size();
    for (auto& [k, v] : fields) n += k.size() + v.size();
    return n;
  }
};

/// What happened to one entry of a batch.
enum class EntryOutcome : uint8_t {
  kDelivered,   // the sink confirmed it (or already had it): acknowledge
  kDeadLetter,  // can never succeed: XADD to the dead-letter stream with reason, then acknowledge
  kRetry,       // not delivered yet (only when cancelled): leave pending, do not acknowledge
};

struct EntryResult {
  EntryOutcome outcome = EntryOutcome::kRetry;
  std::string reason;  // for kDeadLetter: why, e.g. "parse: invalid JSON at offset 3"
};

/// \brief Cancellation seen by long retries. cancelled() turns true at the
/// hard shutdown deadline (not at SIGTERM: in-flight batches still finish).
/// Thread-safe.
class CancelToken {
 public:
  bool cancelled() const { return cancelled_.load(std::memory_order_relaxed); }
  void cancel() { cancelled_.store(true); }

 private:
  std::atomic<bool> cancelled_{false};
};

}  // namespace shoal
