// Metric events: the JSON a producer writes into a stream entry, parsed and
// validated by Prometheus rules, and expanded into the flat samples every
// sink works with.
//
// Input (one JSON object in the entry field `payloadField`, default "event"):
//   {"name": "http_requests_total", "type": "counter", "value": 12,
//    "labels": {"code": "200"},            // or a JSON string holding an object
//    "timestamp": "2026-11-21T05:00:00Z"}  // ISO 8601, epoch s or ms; absent: `now`
//                                          // (MetricsTransform passes the entry id's time)
//   histogram: "buckets": {"0.1": 3, "1": 7, "+Inf": 9}, "sum": 4.2, "count": 9
//   summary:   "quantiles": {"0.5": 0.2, "0.99": 1.5}, "sum": 4.2, "count": 9
//
// Rules (anything else is a validation error, i.e. a dead letter):
//  - name matches [a-zA-Z_:][a-zA-Z0-9_:]*; label names [a-zA-Z_][a-zA-Z0-9_]*,
//    not starting with "__" (reserved), not `le` on histograms nor `quantile`
//    on summaries; label values are strings (numbers and booleans are turned
//    into their JSON text); an empty value means "no such label" (Prometheus
//    semantics) and is dropped; at most maxLabels labels, values at most
//    maxLabelValueBytes bytes.
//  - Numbers may be given as JSON numbers or as the strings "NaN", "+Inf",
//    "-Inf" (JSON has no literal for them). counter: finite and >= 0.
//    gauge: anything, NaN and +-Inf included. histogram: bucket counts and
//    count finite and >= 0, buckets cumulative (non-decreasing in `le`), a
//    "+Inf" bucket (optional) must equal count; sum finite. summary: quantile
//    keys in [0, 1], quantile values finite or NaN (what client libraries
//    report for an empty window), count finite >= 0, sum finite.
//  - timestamp: ISO 8601 with a zone (Z or +hh:mm), or a number / numeric
//    string of epoch seconds (< 1e11, fractions allowed) or epoch
//    milliseconds (>= 1e11); must fall within years 1970..9999.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "shoal/common/clock.h"
#include "shoal/common/result.h"

namespace shoal::metrics {

enum class MetricType : uint8_t { kCounter, kGauge, kHistogram, kSummary };
std::string_view metricTypeName(MetricType t);

struct Label {
  std::string name;
  std::string value;
  friend bool operator==(const Label&, const Label&) = default;
  friend auto operator<=>(const Label&, const Label&) = default;
};
/// Sorted by name, names unique.
using LabelSet = std::vector<Label>;

struct MetricEvent {
  std::string name;
  MetricType type = MetricType::kGauge;
  double value = 0;                                // counter, gauge
  std::vector<std::pair<double, double>> buckets;  // histogram: (le, cumulative count), le ascending, ends with +Inf
  std::vector<std::pair<double, double>> quantiles;  // summary: (quantile, value), ascending
  double sum = 0;
  double count = 0;
  LabelSet labels;  // user labels only (no __name__)
  int64_t timestampMs = 0;
};

struct EventLimits {
  size_t maxLabels = 30;
  size_t maxLabelValueBytes = 2048;
  size_t maxBuckets = 200;  // also bounds quantiles
};

/// \brief Parses a JSON event. Reusable and not thread-safe (holds simdjson's
/// buffers); use one per thread.
class MetricEventParser {
 public:
  explicit MetricEventParser(EventLimits limits = {});
  ~MetricEventParser();
  MetricEventParser(const MetricEventParser&) = delete;
  MetricEventParser& operator=(const MetricEventParser&) = delete;

  /// Errors are kInvalidInput with a message fit for a dead-letter reason
  /// ("labels: name \"__x\" is reserved").
  Result<MetricEvent> parse(std::string_view json, WallTime now);

 private:
  struct Impl;
  Impl* impl_;
  EventLimits limits_;
};

/// One sample of one series: what remote write sends and what PostgreSQL
/// aggregates. `labels` include __name__ and are sorted.
struct Sample {
  LabelSet labels;
  double value = 0;
  int64_t timestampMs = 0;
};

/// counter/gauge -> one sample; histogram -> name_bucket{le} per bucket
/// (cumulative, +Inf last), name_sum, name_count; summary -> name{quantile}
/// per quantile, name_sum, name_count. Appends to out.
void expandSamples(const MetricEvent& e, std::vector<Sample>& out);

/// Shortest round-trip text of a float the way Prometheus prints `le` and
/// `quantile` values: "0.1", "1", "+Inf", "-Inf", "NaN".
std::string formatFloat(double v);

bool validMetricName(std::string_view s);
bool validLabelName(std::string_view s);

/// Parses a timestamp (ISO 8601 or epoch text) into epoch milliseconds.
Result<int64_t> parseTimestamp(std::string_view s);

/// Inserts or replaces a label keeping the set sorted.
void setLabel(LabelSet& labels, std::string_view name, std::string_view value);

/// A stable hash of a label set (for sharding by series).
uint64_t hashLabels(const LabelSet& labels);

}  // namespace shoal::metrics
