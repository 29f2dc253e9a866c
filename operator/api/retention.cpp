// spec.retention parsing (strict, errors name the field) and status.retention.
#include "shoal/api/retention.h"

#include <set>

#include "shoal/api/meta.h"

namespace shoal::api {

using nlohmann::json;

namespace {

constexpr const char* kPath = "spec.retention";
/// XREVRANGE pages through this many entries at most inside the trim script,
/// which blocks Redis while it runs (about 2.3 ms per 1,000 ~300-byte entries
/// in bench/retention); longer replay windows are an `age`, which costs
/// nothing.
constexpr int64_t kMaxKeepCount = 10000;

Error fieldError(const std::string& field, const std::string& what) {
  return Error{Errc::kInvalidInput, std::string(kPath) + "." + field + ": " + what};
}

Result<void> onlyKnownKeys(const json& j, const std::string& field, const std::set<std::string>& known) {
  for (auto it = j.begin(); it != j.end(); ++it) {
    if (!known.count(it.key())) return fieldError(field.empty() ? it.key() : field + "." + it.key(), "unknown field");
  }
  return {};
}

/// An integer in [min, max] at j[key] (absent: nullopt).
Result<std::optional<int64_t>> boundedInt(const json& j, const char* key, const std::string& field, int64_t min,
                                          int64_t max) {
  auto it = j.find(key);
  if (it == j.end() || it->is_null()) return std::optional<int64_t>();
  if (!it->is_number_integer())
    return fieldError(field, "must be an integer between " + std::to_string(min) + " and " + std::to_string(max));
  if (it->is_number_unsigned() && it->get<uint64_t>() > static_cast<uint64_t>(max))
    return fieldError(field, "must be at most " + std::to_string(max));
  const int64_t v = it->get<int64_t>();
  if (v < min) return fieldError(field, "must be at least " + std::to_string(min));
  if (v > max) return fieldError(field, "must be at most " + std::to_string(max));
  return std::optional<int64_t>(v);
}

}  // namespace

std::optional<int64_t> parseRetentionAge(std::string_view s) {
  if (s.empty() || s.size() > 32) return std::nullopt;
  int64_t total = 0;
  size_t i = 0;
  while (i < s.size()) {
    int64_t n = 0;
    const size_t digits = i;
    while (i < s.size() && s[i] >= '0' && s[i] <= '9') {
      n = n * 10 + (s[i] - '0');
      if (n > kMaxRetentionAgeMs) return std::nullopt;
      ++i;
    }
    if (i == digits) return std::nullopt;
    int64_t unit = 0;
    if (s.substr(i, 2) == "ms") {
      unit = 1;
      i += 2;
    } else if (i < s.size()) {
      switch (s[i]) {
        case 's': unit = 1000; break;
        case 'm': unit = 60 * 1000; break;
        case 'h': unit = 3600 * 1000; break;
        case 'd': unit = 24 * 3600 * 1000; break;
        default: return std::nullopt;
      }
      ++i;
    } else {
      return std::nullopt;  // a number without a unit
    }
    if (n > (kMaxRetentionAgeMs - total) / unit) return std::nullopt;
    total += n * unit;
  }
  if (total <= 0) return std::nullopt;
  return total;
}

Result<RetentionSpec> retentionFromJson(const json& j) {
  if (!j.is_object()) return Error{Errc::kInvalidInput, std::string(kPath) + ": must be an object"};
  RetentionSpec r;
  if (auto k = onlyKnownKeys(j, "", {"keepAcknowledged", "maxLength", "onFull", "intervalSeconds"}); !k.ok())
    return k.error();
  if (auto it = j.find("keepAcknowledged"); it != j.end() && !it->is_null()) {
    if (!it->is_object()) return fieldError("keepAcknowledged", "must be an object with count and/or age");
    if (auto k = onlyKnownKeys(*it, "keepAcknowledged", {"count", "age"}); !k.ok()) return k.error();
    auto count = boundedInt(*it, "count", "keepAcknowledged.count", 0, kMaxKeepCount);
    if (!count.ok()) return count.error();
    r.keepAcknowledgedCount = count.value();
    if (auto age = it->find("age"); age != it->end() && !age->is_null()) {
      std::optional<int64_t> ms;
      if (age->is_string()) ms = parseRetentionAge(age->get<std::string>());
      if (!ms)
        return fieldError("keepAcknowledged.age", "must be a duration such as 90s, 30m, 1h30m or 7d (at most 366d)");
      r.keepAcknowledgedAge = age->get<std::string>();
      r.keepAcknowledgedAgeMs = ms;
    }
  }
  auto maxLength = boundedInt(j, "maxLength", "maxLength", 1, int64_t{1} << 50);
  if (!maxLength.ok()) return maxLength.error();
  r.maxLength = maxLength.value();
  if (auto it = j.find("onFull"); it != j.end() && !it->is_null()) {
    if (!it->is_string() || (*it != kOnFullThrottle && *it != kOnFullDropOldest))
      return fieldError("onFull", "must be throttle or dropOldest");
    r.onFull = it->get<std::string>();
  }
  auto interval = boundedInt(j, "intervalSeconds", "intervalSeconds", 1, kMaxRetentionIntervalSeconds);
  if (!interval.ok()) return interval.error();
  r.intervalSeconds = interval.value().value_or(kDefaultRetentionIntervalSeconds);
  if (r.maxLength && r.keepAcknowledgedCount && *r.keepAcknowledgedCount > *r.maxLength)
    return fieldError("keepAcknowledged.count", "must not exceed spec.retention.maxLength");
  return r;
}

RetentionStatus retentionStatusFromJson(const json& j) {
  RetentionStatus s;
  if (!j.is_object()) return s;
  if (auto it = j.find("safeId"); it != j.end() && it->is_string()) s.safeId = it->get<std::string>();
  s.length = optIntAt(j, "length");
  s.trimmedTotal = std::max<int64_t>(0, intAt(j, "trimmedTotal", 0));
  s.droppedUnconsumedTotal = std::max<int64_t>(0, intAt(j, "droppedUnconsumedTotal", 0));
  if (auto it = j.find("lastTrimTime"); it != j.end() && it->is_string()) s.lastTrimTime = it->get<std::string>();
  s.atCap = boolAt(j, "atCap", false);
  return s;
}

json toJson(const RetentionStatus& s) {
  auto orNull = [](const auto& v) { return v ? json(*v) : json(nullptr); };
  return json{{"safeId", orNull(s.safeId)},
              {"length", orNull(s.length)},
              {"trimmedTotal", s.trimmedTotal},
              {"droppedUnconsumedTotal", s.droppedUnconsumedTotal},
              {"lastTrimTime", orNull(s.lastTrimTime)},
              {"atCap", s.atCap}};
}

}  // namespace shoal::api
