// Helpers of the general ECS mapping (ecs.cpp) that the JSON fast path
// (ecs_fast.cpp) must share, so that both paths decide the same way: one
// implementation of level normalisation, timestamp parsing, string decoding
// and format detection. Internal to shoal_logs.
#pragma once

#include <iterator>
#include <string>
#include <string_view>

#include "shoal/common/result.h"
#include "shoal/logs/ecs.h"
#include "shoal/logs/key_set.h"

namespace shoal::logs::detail {

/// Top-level keys that ECS needs as objects; a scalar left there moves to
/// "<key>.original".
inline constexpr std::string_view kEcsObjectKeys[] = {"log",   "service", "host",    "trace", "span",
                                                      "event", "ecs",     "process", "labels"};

inline bool isEcsObjectKey(std::string_view key) {
  for (auto k : kEcsObjectKeys)
    if (k == key) return true;
  return false;
}

/// The dead-letter reason of an entry with more fields than maxFields.
std::string tooManyFields(size_t count, size_t maxFields);

/// The text of a raw JSON scalar: a string literal decoded, anything else as is.
std::string rawScalarText(const std::string& raw);
/// log.level from its raw JSON value (numeric pino levels, lowercased text).
std::string normalizedLevel(const std::string& raw);
/// @timestamp from its raw JSON value; the error is the dead-letter reason.
Result<EpochNanos> timestampOfRaw(const std::string& raw);
/// The payload format kAuto resolves to.
LogFormat detectedFormat(const std::string* payload);
bool isValidUtf8(std::string_view s);

}  // namespace shoal::logs::detail
