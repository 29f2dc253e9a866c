// The retention round's status, condition and events. See retention.h.
#include "shoal/controllers/retention.h"

#include "shoal/api/meta.h"

namespace shoal::controllers {

namespace {

// "stream orders", or "shard streams orders:{0}, orders:{3} (+2 more)".
std::string streamsText(const std::vector<std::string>& names, size_t total) {
  std::string s = total > 1 ? "shard stream" + std::string(names.size() > 1 ? "s " : " ") : "stream ";
  for (size_t i = 0; i < names.size() && i < 3; ++i) s += (i ? ", " : "") + names[i];
  if (names.size() > 3) s += " (+" + std::to_string(names.size() - 3) + " more)";
  return s;
}

std::string failuresText(const RetentionRound& r) {
  std::string s;
  for (size_t i = 0; i < r.failures.size() && i < 3; ++i) s += (i ? "; " : "") + r.failures[i];
  if (r.failures.size() > 3) s += " (+" + std::to_string(r.failures.size() - 3) + " more)";
  return s;
}

std::string maxLengthText(const api::RetentionSpec& spec) {
  return spec.maxLength ? std::to_string(*spec.maxLength) : std::string("(none)");
}

}  // namespace

probe::RetentionRule retentionRuleOf(const api::RetentionSpec& spec, const std::string& group) {
  probe::RetentionRule r;
  r.requiredGroup = group;
  r.keepCount = spec.keepAcknowledgedCount.value_or(0);
  r.keepAgeMs = spec.keepAcknowledgedAgeMs;
  r.maxLength = spec.maxLength;
  r.dropOldest = spec.dropOldest();
  return r;
}

RetentionRound summarizeRetention(const std::vector<std::string>& streams,
                                  const std::vector<Result<probe::TrimOutcome>>& results) {
  RetentionRound r;
  r.streams = streams.size();
  for (size_t i = 0; i < streams.size() && i < results.size(); ++i) {
    const auto& res = results[i];
    if (!res.ok()) {
      r.failures.push_back(streams[i] + ": " + res.error().message);
      continue;
    }
    const probe::TrimOutcome& o = res.value();
    if (o.requiredGroupMissing) {
      r.failures.push_back(streams[i] + ": the Pipeline's consumer group is missing, nothing trimmed");
      continue;
    }
    r.trimmed += o.trimmed;
    r.droppedUnconsumed += o.droppedUnconsumed;
    r.length += o.length;
    if (o.atCap) r.atCap.push_back(streams[i]);
    if (o.droppedUnconsumed > 0) r.dropped.push_back(streams[i]);
    if (streams.size() == 1 && o.safeId) r.safeId = o.safeId->str();
  }
  for (size_t i = results.size(); i < streams.size(); ++i) r.failures.push_back(streams[i] + ": not trimmed");
  return r;
}

api::RetentionStatus retentionStatusAfter(const api::RetentionStatus& previous, const RetentionRound& round,
                                          WallTime now) {
  api::RetentionStatus s = previous;
  s.trimmedTotal += round.trimmed;
  s.droppedUnconsumedTotal += round.droppedUnconsumed;
  if (round.allFailed()) return s;  // nothing new was measured
  s.safeId = round.safeId;
  s.length = round.failures.empty() ? std::optional<int64_t>(round.length) : std::nullopt;
  s.atCap = !round.atCap.empty();
  s.lastTrimTime = api::formatTime(now);
  return s;
}

RetentionCondition retentionCondition(const api::RetentionSpec& spec, const RetentionRound& round) {
  const std::string cap = maxLengthText(spec);
  if (round.allFailed()) return {api::kUnknown, "RetentionTrimFailed", "Could not trim: " + failuresText(round) + "."};
  if (!round.dropped.empty()) {
    return {api::kTrue, "DroppedUnconsumed",
            "Dropped " + std::to_string(round.droppedUnconsumed) +
                " entries no consumer group had acknowledged, to hold " +
                streamsText(round.dropped, round.streams) + " at maxLength " + cap +
                " (onFull: dropOldest)."};
  }
  if (!round.atCap.empty()) {
    if (spec.dropOldest())
      return {api::kTrue, "AtMaxLength",
              streamsText(round.atCap, round.streams) + " at maxLength " + cap +
                  "; entries past it are dropped oldest first, read or not (onFull: dropOldest)."};
    return {api::kTrue, "AtMaxLength",
            streamsText(round.atCap, round.streams) + " at maxLength " + cap +
                " with nothing acknowledged left to trim; unconsumed entries are never trimmed (onFull: throttle), "
                "so the receiver throttles."};
  }
  if (!round.failures.empty())
    return {api::kUnknown, "RetentionTrimFailed", "Could not trim: " + failuresText(round) + "."};
  return {api::kFalse, "WithinLimits",
          "Length " + std::to_string(round.length) + ", maxLength " + cap + "; trimmed " +
              std::to_string(round.trimmed) + " entries every consumer group had read and acknowledged."};
}

std::vector<RetentionEvent> retentionEvents(const api::RetentionSpec& spec, const RetentionRound& round) {
  std::vector<RetentionEvent> out;
  if (round.droppedUnconsumed > 0) {
    out.push_back({"Warning", kEventRetentionDroppedUnconsumed,
                   "Dropped " + std::to_string(round.droppedUnconsumed) +
                       " unconsumed entries of " + streamsText(round.dropped, round.streams) +
                       " to hold maxLength " + maxLengthText(spec) + " (onFull: dropOldest)."});
  }
  if (!round.failures.empty()) out.push_back({"Warning", kEventRetentionTrimFailed, failuresText(round)});
  return out;
}

}  // namespace shoal::controllers
