// The receiver's self-metrics. See metrics.h.
#include "shoal/receiver/metrics.h"

namespace shoal::receiver {

namespace pm = prometheus;

ReceiverMetrics::ReceiverMetrics(pm::Registry& r)
    : requests_(pm::BuildCounter()
                    .Name("shoal_receiver_requests_total")
                    .Help("HTTP requests answered, by route path and status code")
                    .Register(r)),
      accepted_(pm::BuildCounter()
                    .Name("shoal_receiver_entries_accepted_total")
                    .Help("Entries Redis acknowledged, by stream")
                    .Register(r)),
      rejected_(pm::BuildCounter()
                    .Name("shoal_receiver_entries_rejected_total")
                    .Help("Entries (or whole bodies) refused, by reason; too-large and malformed bulk entries "
                          "are kept in <stream>:rejected")
                    .Register(r)),
      throttled_(pm::BuildCounter()
                     .Name("shoal_receiver_entries_throttled_total")
                     .Help("Entries refused with 429 because a target stream's backlog was over its limit")
                     .Register(r)
                     .Add({})),
      xadd_(pm::BuildHistogram()
                .Name("shoal_receiver_xadd_seconds")
                .Help("Round trip of one pipelined XADD batch")
                .Register(r)
                .Add({}, pm::Histogram::BucketBoundaries{0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25,
                                                         0.5, 1, 2.5})),
      backlog_(pm::BuildGauge()
                   .Name("shoal_receiver_stream_backlog")
                   .Help("The last measured backlog of a target stream (slowest group's lag + pending, or length)")
                   .Register(r)),
      throttling_(pm::BuildGauge()
                      .Name("shoal_receiver_throttling")
                      .Help("1 while writes to the stream are refused with 429")
                      .Register(r)) {}

void ReceiverMetrics::request(std::string_view path, int status) {
  requests_.Add({{"path", std::string(path)}, {"code", std::to_string(status)}}).Increment();
}

void ReceiverMetrics::accepted(std::string_view stream, int64_t n) {
  accepted_.Add({{"stream", std::string(stream)}}).Increment(static_cast<double>(n));
}

void ReceiverMetrics::rejected(std::string_view reason, int64_t n) {
  rejected_.Add({{"reason", std::string(reason)}}).Increment(static_cast<double>(n));
}

void ReceiverMetrics::throttled(int64_t n) { throttled_.Increment(static_cast<double>(n)); }

void ReceiverMetrics::measured(const std::string& stream, const StreamLoad& load, bool throttled) {
  backlog_.Add({{"stream", stream}}).Set(static_cast<double>(load.backlog));
  throttling_.Add({{"stream", stream}}).Set(throttled ? 1 : 0);
}

}  // namespace shoal::receiver
