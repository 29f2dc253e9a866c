// libFuzzer target: arbitrary bytes through the metric event parser, the
// sample expansion, and the remote write decoder (snappy and raw protobuf).
// None of them may crash, hang or read out of bounds.
#include <cstddef>
#include <cstdint>
#include <string_view>
#include <vector>

#include "shoal/metrics/metric_event.h"
#include "shoal/metrics/remote_write_codec.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  static shoal::metrics::MetricEventParser parser;
  const std::string_view in(reinterpret_cast<const char*>(data), size);
  auto ev = parser.parse(in, shoal::WallTime{});
  if (ev.ok()) {
    std::vector<shoal::metrics::Sample> samples;
    shoal::metrics::expandSamples(*ev, samples);
  }
  (void)shoal::metrics::parseTimestamp(in);
  (void)shoal::metrics::decodeWriteRequest(in);
  if (auto raw = shoal::metrics::snappyUncompress(in); raw.ok()) (void)shoal::metrics::countWriteRequest(*raw);
  return 0;
}
