// The Pipeline reconciler's retention round as pure functions: spec.retention
// as the probe's rule, one round's trims (one per shard stream) summed into
// status.retention, and the RetentionLimited condition and events it implies.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "shoal/api/pipeline.h"
#include "shoal/common/clock.h"
#include "shoal/common/result.h"
#include "shoal/probe/retention.h"

namespace shoal::controllers {

inline constexpr const char* kConditionRetentionLimited = "RetentionLimited";
inline constexpr const char* kEventRetentionDroppedUnconsumed = "RetentionDroppedUnconsumed";
inline constexpr const char* kEventRetentionTrimFailed = "RetentionTrimFailed";

/// The rule for a Pipeline whose own consumer group is `group` (required).
probe::RetentionRule retentionRuleOf(const api::RetentionSpec& spec, const std::string& group);

/// One round of trims of a Pipeline's streams, summed.
struct RetentionRound {
  size_t streams = 0;
  int64_t trimmed = 0;
  int64_t droppedUnconsumed = 0;
  int64_t length = 0;
  std::optional<std::string> safeId;      ///< one stream only
  std::vector<std::string> atCap;         ///< streams at maxLength afterwards
  std::vector<std::string> dropped;       ///< streams that lost unconsumed entries
  std::vector<std::string> failures;      ///< "<stream>: <error>"
  bool allFailed() const { return !failures.empty() && failures.size() == streams; }
};

/// Sums the per-stream results (streams[i] gave results[i]).
RetentionRound summarizeRetention(const std::vector<std::string>& streams,
                                  const std::vector<Result<probe::TrimOutcome>>& results);

/// status.retention after the round: totals carried over from `previous`.
api::RetentionStatus retentionStatusAfter(const api::RetentionStatus& previous, const RetentionRound& round,
                                          WallTime now);

/// The RetentionLimited condition the round implies.
struct RetentionCondition {
  std::string status, reason, message;
};
RetentionCondition retentionCondition(const api::RetentionSpec& spec, const RetentionRound& round);

/// The events the round implies: {type, reason, message}.
struct RetentionEvent {
  std::string type, reason, message;
};
std::vector<RetentionEvent> retentionEvents(const api::RetentionSpec& spec, const RetentionRound& round);

/// \brief Retention metrics hooks (prometheus in the operator; nothing in
/// local mode and unit tests). Must be thread-safe.
class RetentionMetrics {
 public:
  virtual ~RetentionMetrics() = default;
  /// One round trimmed `acknowledged` entries and dropped `droppedUnconsumed`.
  virtual void retentionTrimmed(const std::string& ns, const std::string& pipeline, int64_t acknowledged,
                                int64_t droppedUnconsumed) = 0;
  /// The Pipeline is gone: its series go too.
  virtual void forgetPipeline(const std::string& ns, const std::string& name) = 0;
};

}  // namespace shoal::controllers
