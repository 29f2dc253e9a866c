// The synthetic metric events both metrics benchmarks use: counters over
// `series` series (50 instances x paths), explicit, per-series increasing
// millisecond timestamps, ~170 bytes of JSON each.
#pragma once

#include <cstdint>
#include <cstdio>
#include <string>

namespace shoal::bench {

inline std::string metricEvent(size_t i, int64_t baseMs, size_t series) {
  const size_t s = i % series;
  const int64_t ts = baseMs + static_cast<int64_t>(i / series);
  char buf[256];
  const int n = std::snprintf(
      buf, sizeof buf,
      R"({"name":"bench_requests_total","type":"counter","value":%zu,"labels":{"instance":"host-%zu","path":"/api/%zu"},"timestamp":%lld})",
      i, s % 50, s, static_cast<long long>(ts));
  return std::string(buf, static_cast<size_t>(n));
}

}  // namespace shoal::bench
