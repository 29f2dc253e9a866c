// Prometheus remote write 1.0 wire format, encoded by hand (no generated
// code): a protobuf WriteRequest compressed with snappy's block format.
//
//   WriteRequest { repeated TimeSeries timeseries = 1; reserved 2;
//                  repeated MetricMetadata metadata = 3; }
//   TimeSeries   { repeated Label labels = 1; repeated Sample samples = 2; }
//   Label        { string name = 1; string value = 2; }
//   Sample       { double value = 1; int64 timestamp = 2; }  // ms since epoch
//
// The decoder exists for tests and the counting receiver
// (tests/tools/rw_receiver); it skips unknown fields and never reads out of
// bounds on malformed input.
#pragma once

#include <cstdint>
#include <span>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "shoal/common/result.h"
#include "shoal/metrics/metric_event.h"

namespace shoal::metrics {

/// A series and a run of its samples, as referenced by an encoder: pointers
/// into data owned by the caller.
struct SeriesSlice {
  const LabelSet* labels = nullptr;
  std::span<const std::pair<int64_t, double>> samples;  // (timestamp ms, value)
};

/// Appends the protobuf encoding of a WriteRequest holding `series` to out.
void encodeWriteRequest(std::span<const SeriesSlice> series, std::string& out);

/// snappy block compression of a protobuf body.
std::string snappyCompress(std::string_view raw);
Result<std::string> snappyUncompress(std::string_view compressed);

struct DecodedSeries {
  LabelSet labels;
  std::vector<std::pair<int64_t, double>> samples;
};
/// Decodes a (decompressed) WriteRequest.
Result<std::vector<DecodedSeries>> decodeWriteRequest(std::string_view body);

/// Counts series and samples of a (decompressed) WriteRequest without
/// building anything: what the counting receiver needs.
struct WriteRequestCounts {
  uint64_t series = 0;
  uint64_t samples = 0;
};
Result<WriteRequestCounts> countWriteRequest(std::string_view body);

}  // namespace shoal::metrics
