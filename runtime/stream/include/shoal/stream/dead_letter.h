// The bounded kinds of dead-letter reasons, for metrics labels: the reason
// text itself (which names the field, the offset, the sink's answer) goes
// into the dead-letter entry's `shoal.reason`; the kind is one of a fixed
// few, so that a counter by reason cannot grow without bound.
#pragma once

#include <array>
#include <string_view>

namespace shoal {

/// Every kind deadLetterKind() can return.
inline constexpr std::array<std::string_view, 6> kDeadLetterKinds = {"parse",          "invalid",       "oversize",
                                                                     "max_deliveries", "sink_rejected", "other"};

/// The kind of a dead-letter reason as the worker, logs and metrics write it:
/// "parse: ..." -> parse, "invalid metric event: ..." -> invalid, "entry too
/// large: ..." and "too many fields: ..." -> oversize, "delivered N times
/// ..." -> max_deliveries, "elasticsearch: ..." / "remote write: ..." /
/// "pushgateway: ..." / "postgres: ..." -> sink_rejected, else other.
inline std::string_view deadLetterKind(std::string_view reason) {
  auto starts = [&](std::string_view p) { return reason.substr(0, p.size()) == p; };
  if (starts("parse:")) return "parse";
  if (starts("invalid metric event")) return "invalid";
  if (starts("entry too large") || starts("too many fields")) return "oversize";
  if (starts("delivered ")) return "max_deliveries";
  if (starts("elasticsearch:") || starts("remote write:") || starts("pushgateway:") || starts("postgres:"))
    return "sink_rejected";
  return "other";
}

}  // namespace shoal
