// Entries -> metric events; config parsing of spec.transform.metrics.
#include "shoal/metrics/metrics_transform.h"

#include <charconv>

#include "shoal/metrics/metrics_config.h"
#include "shoal/stream/config_fields.h"

namespace shoal::metrics {

TransformConfig parseTransformConfig(const YAML::Node& transform) {
  TransformConfig c;
  if (!transform || transform.IsNull()) return c;
  const YAML::Node m = transform["metrics"];
  if (!m || m.IsNull()) return c;
  const std::string p = "spec.transform.metrics";
  if (!m.IsMap()) throw ConfigError(p, "must be a mapping");
  config::checkKeys(m, p, {"payloadField", "maxLabels", "maxLabelValueBytes", "maxBuckets"});
  c.payloadField = config::stringField(m, "payloadField", p, c.payloadField);
  if (c.payloadField.empty()) throw ConfigError(p + ".payloadField", "must not be empty");
  c.limits.maxLabels = static_cast<size_t>(config::intField(m, "maxLabels", p, 30, 1, 1000));
  c.limits.maxLabelValueBytes = static_cast<size_t>(config::intField(m, "maxLabelValueBytes", p, 2048, 1, 1 << 20));
  c.limits.maxBuckets = static_cast<size_t>(config::intField(m, "maxBuckets", p, 200, 1, 10000));
  return c;
}

int64_t entryIdMillis(std::string_view id) {
  const auto dash = id.find('-');
  const std::string_view ms = id.substr(0, dash);
  int64_t v = -1;
  auto r = std::from_chars(ms.data(), ms.data() + ms.size(), v);
  if (r.ec != std::errc() || r.ptr != ms.data() + ms.size() || v <= 0) return -1;
  return v;
}

ParsedBatch MetricsTransform::parse(std::span<const StreamEntry> entries) {
  ParsedBatch b;
  b.results.resize(entries.size());
  b.events.reserve(entries.size());
  b.eventEntry.reserve(entries.size());
  for (size_t i = 0; i < entries.size(); ++i) {
    const StreamEntry& e = entries[i];
    const std::string* payload = e.field(cfg_.payloadField);
    if (!payload) {
      b.results[i] = {EntryOutcome::kDeadLetter, "invalid metric event: entry has no field \"" + cfg_.payloadField + "\""};
      continue;
    }
    const int64_t idMs = entryIdMillis(e.id);
    const WallTime now = idMs > 0 ? WallTime(std::chrono::milliseconds(idMs)) : clock_.wallNow();
    auto ev = parser_.parse(*payload, now);
    if (!ev) {
      b.results[i] = {EntryOutcome::kDeadLetter, "invalid metric event: " + ev.error().message};
      continue;
    }
    b.results[i] = {EntryOutcome::kDelivered, {}};
    b.events.push_back(std::move(ev.value()));
    b.eventEntry.push_back(static_cast<uint32_t>(i));
  }
  return b;
}

}  // namespace shoal::metrics
