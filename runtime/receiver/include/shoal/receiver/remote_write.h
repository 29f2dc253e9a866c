// Prometheus remote write (1.0) received: a snappy-compressed protobuf
// WriteRequest turned into the metric events the metrics worker consumes
// (shoal/metrics/metric_event.h), one event per sample:
//   {"name":"<__name__>","type":"gauge","value":<v>,"labels":{...the rest},
//    "timestamp":<ms>}
// Remote write carries no metric types, so every sample is a gauge (the
// value round-trips; counters stay counters by name). NaN and the infinities
// (stale markers included) are written as the strings "NaN", "+Inf", "-Inf".
// A series without a __name__ is skipped and counted. Pure; the codec is the
// metrics module's.
#pragma once

#include <cstddef>
#include <string>
#include <string_view>
#include <vector>

#include "shoal/common/result.h"

namespace shoal::receiver {

struct RemoteWriteEvents {
  std::vector<std::string> events;  // metric event JSON, one per sample
  std::vector<std::string> keys;    // per event: the value of the key label ("" if absent)
  size_t series = 0;
  size_t unnamed = 0;  // series skipped for having no __name__
};

/// kInvalidInput for a body that is not snappy or not a WriteRequest.
/// `keyLabel`: the label whose value is each event's shard key ("" for none).
Result<RemoteWriteEvents> remoteWriteEvents(std::string_view snappyBody, std::string_view keyLabel = {});

}  // namespace shoal::receiver
