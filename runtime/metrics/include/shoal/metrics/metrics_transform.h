// The transform step shared by every metrics sink: stream entries -> metric
// events, invalid ones marked for the dead-letter stream with the reason.
//
// Configuration (spec.transform.metrics, all optional):
//   payloadField: event        # the entry field holding the JSON event
//   maxLabels: 30              # user labels per event
//   maxLabelValueBytes: 2048
//   maxBuckets: 200            # histogram buckets / summary quantiles
//
// An event without a timestamp takes the time of its stream entry id
// ("<ms>-<seq>", set by XADD), not the clock: a redelivered entry then yields
// the very same sample, which keeps redelivery idempotent in every sink. Only
// if the id has no usable time does the injected clock's wall time apply.
#pragma once

#include <cstdint>
#include <span>
#include <string>
#include <vector>

#include <yaml-cpp/yaml.h>

#include "shoal/common/clock.h"
#include "shoal/metrics/metric_event.h"
#include "shoal/stream/stream_entry.h"

namespace shoal::metrics {

struct TransformConfig {
  std::string payloadField = "event";
  EventLimits limits;
};

/// Parses spec.transform (the whole transform node; reads its `metrics`
/// section). Throws ConfigError naming the field.
TransformConfig parseTransformConfig(const YAML::Node& transform);

struct ParsedBatch {
  /// One per entry: kDeadLetter with reason for invalid entries, kDelivered
  /// (provisionally) for the rest; sinks downgrade as they learn more.
  std::vector<EntryResult> results;
  std::vector<MetricEvent> events;
  std::vector<uint32_t> eventEntry;  // index into results for each event
};

/// Time (ms) encoded in a stream entry id, or -1.
int64_t entryIdMillis(std::string_view id);

/// \brief Turns entries into events. Not thread-safe (owns a parser).
class MetricsTransform {
 public:
  MetricsTransform(TransformConfig cfg, Clock& clock) : cfg_(std::move(cfg)), clock_(clock), parser_(cfg_.limits) {}
  ParsedBatch parse(std::span<const StreamEntry> entries);
  const TransformConfig& config() const { return cfg_; }

 private:
  TransformConfig cfg_;
  Clock& clock_;
  MetricEventParser parser_;
};

}  // namespace shoal::metrics
