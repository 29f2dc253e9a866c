// spec.retention of a Pipeline and status.retention: how the operator trims
// the source stream(s). The spec is parsed strictly (a typo in a retention
// field must not silently keep or drop entries): every error names its field,
// as "spec.retention.onFull: must be throttle or dropOldest". Defaults are the
// CRD's (tests/unit/crds checks both).
#pragma once

#include <nlohmann/json.hpp>

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

#include "shoal/common/result.h"

namespace shoal::api {

inline constexpr const char* kOnFullThrottle = "throttle";
inline constexpr const char* kOnFullDropOldest = "dropOldest";
inline constexpr int64_t kDefaultRetentionIntervalSeconds = 10;
inline constexpr int64_t kMaxRetentionIntervalSeconds = 86400;
/// keepAcknowledged.age at most a year: an id is a millisecond timestamp,
/// and a longer window is a typo rather than a plan.
inline constexpr int64_t kMaxRetentionAgeMs = 366LL * 24 * 3600 * 1000;

/// spec.retention. Present means: trim what every consumer group of the
/// stream has read and acknowledged, keeping `keepAcknowledged` of it.
struct RetentionSpec {
  std::optional<int64_t> keepAcknowledgedCount;  ///< keepAcknowledged.count
  std::optional<int64_t> keepAcknowledgedAgeMs;  ///< keepAcknowledged.age, in ms
  std::string keepAcknowledgedAge;               ///< as written ("1h"), for messages
  std::optional<int64_t> maxLength;              ///< hard cap per stream (each shard)
  std::string onFull = kOnFullThrottle;          ///< throttle | dropOldest
  int64_t intervalSeconds = kDefaultRetentionIntervalSeconds;
  bool dropOldest() const { return onFull == kOnFullDropOldest; }
  bool operator==(const RetentionSpec&) const = default;
};

/// Parses spec.retention (j is its value). Unknown members are errors.
Result<RetentionSpec> retentionFromJson(const nlohmann::json& j);

/// A duration as keepAcknowledged.age takes it: one or more <integer><unit>
/// with unit ms, s, m, h or d ("90s", "1h30m"), in milliseconds. nullopt if
/// malformed, zero or longer than kMaxRetentionAgeMs.
std::optional<int64_t> parseRetentionAge(std::string_view s);

/// status.retention: what the last trims did. Totals add up over the
/// Pipeline's life (they survive operator restarts in the status).
struct RetentionStatus {
  /// The id below which every group had read and acknowledged everything at
  /// the last trim (one stream; unset for a sharded source or with no group).
  std::optional<std::string> safeId;
  std::optional<int64_t> length;  ///< entries left (summed over shards)
  int64_t trimmedTotal = 0;       ///< acknowledged entries trimmed
  int64_t droppedUnconsumedTotal = 0;  ///< unconsumed entries dropped (onFull: dropOldest)
  std::optional<std::string> lastTrimTime;  ///< RFC 3339
  bool atCap = false;  ///< a stream was at maxLength after the last trim
  bool operator==(const RetentionStatus&) const = default;
};

RetentionStatus retentionStatusFromJson(const nlohmann::json& j);
nlohmann::json toJson(const RetentionStatus& s);

}  // namespace shoal::api
