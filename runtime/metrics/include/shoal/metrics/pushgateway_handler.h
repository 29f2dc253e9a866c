// The Pushgateway sink of the metrics pipeline: for batch-job style metrics
// (the last value of a job's run), never the default sink. Pushgateway keeps
// one value per series and no history, so it is not a time-series store.
//
// Grouping key: job (spec) + static `grouping` labels (spec) + the values of
// `groupingLabels` taken from each event's labels (removed from the metric's
// own labels, since the gateway adds them back). One HTTP request per group
// and batch, to /metrics/job@base64/<job>/<label>@base64/<value>... (base64url
// so any value, including "/" and empty, is safe).
//
// Methods (spec.sink.pushgateway.method):
//  - POST (default): replaces only the metrics with the same names in the
//    group; other metrics of the group stay.
//  - PUT: replaces every metric of the group with this push.
// Within a batch the latest event (by timestamp, then stream order) per series
// wins; timestamps are not sent (Pushgateway rejects them). A metric name
// pushed with two types in one group: the later entry is dead-lettered.
// 200/202: delivered; no answer, 429, 5xx: retried with backoff forever
// (until cancelled); other statuses: the group's entries are dead-lettered
// with the gateway's message.
#pragma once

#include <prometheus/registry.h>

#include <memory>
#include <span>
#include <string>
#include <vector>

#include "shoal/common/clock.h"
#include "shoal/http/transport.h"
#include "shoal/metrics/metrics_config.h"
#include "shoal/metrics/metrics_transform.h"
#include "shoal/stream/batch_handler.h"

namespace shoal::metrics {

/// Renders events (one family per name, in order) in the text exposition
/// format 0.0.4, without timestamps. Exposed for tests.
std::string renderExposition(std::span<const MetricEvent* const> events);

/// base64url (with padding) as Pushgateway's @base64 path segments expect.
std::string base64Url(std::string_view s);

/// \brief BatchHandler for spec.sink.pushgateway. One handle() at a time.
class PushgatewayHandler final : public BatchHandler {
 public:
  PushgatewayHandler(PushgatewayConfig cfg, TransformConfig transform, Clock& clock,
                     std::unique_ptr<http::Transport> transport);
  std::vector<EntryResult> handle(std::span<const StreamEntry> entries, const CancelToken& cancel) override;
  bool sinkReady() override { return lastAnswered_; }
  std::string sinkName() const override { return "pushgateway"; }

 private:
  PushgatewayConfig cfg_;
  std::string basePath_;
  Clock& clock_;
  MetricsTransform transform_;
  std::unique_ptr<http::Transport> transport_;
  bool lastAnswered_ = true;
};

}  // namespace shoal::metrics
