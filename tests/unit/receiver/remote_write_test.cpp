// Remote write received: a WriteRequest from the metrics module's encoder
// becomes one metric event per sample that the metrics module's own event
// parser accepts with the same name, labels, value and time; the route
// stores them and answers 204; a body that is not one is 400.
#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include <cmath>

#include "shoal/metrics/metric_event.h"
#include "shoal/metrics/remote_write_codec.h"
#include "shoal/receiver/remote_write.h"

namespace shoal::receiver {
namespace {

std::string writeRequest(const std::vector<std::pair<metrics::LabelSet, std::vector<std::pair<int64_t, double>>>>& s) {
  std::vector<metrics::SeriesSlice> slices;
  for (auto& [labels, samples] : s) slices.push_back({&labels, samples});
  std::string raw;
  metrics::encodeWriteRequest(slices, raw);
  return metrics::snappyCompress(raw);
}

TEST(RemoteWriteEvents, EachSampleIsAnEventTheMetricsWorkerParsesBack) {
  const metrics::LabelSet up = {{"__name__", "up"}, {"instance", "a:9100"}, {"job", "node"}};
  const metrics::LabelSet temp = {{"__name__", "temp_celsius"}, {"job", "sensors"}};
  const metrics::LabelSet nameless = {{"job", "x"}};
  auto r = remoteWriteEvents(writeRequest({{up, {{1733300000000, 1}, {1733300015000, 0}}},
                                           {temp, {{1733300000000, -3.5}, {1733300001000, NAN}}},
                                           {nameless, {{1733300000000, 1}}}}),
                             "job");
  ASSERT_TRUE(r.ok()) << r.error().message;
  EXPECT_EQ(r->series, 3u);
  EXPECT_EQ(r->unnamed, 1u);
  ASSERT_EQ(r->events.size(), 4u);
  EXPECT_EQ(r->keys[0], "node");
  EXPECT_EQ(r->keys[2], "sensors");
  metrics::MetricEventParser parser;
  auto e0 = parser.parse(r->events[0], WallTime{});
  ASSERT_TRUE(e0.ok()) << e0.error().message << " in " << r->events[0];
  EXPECT_EQ(e0->name, "up");
  EXPECT_EQ(e0->value, 1);
  EXPECT_EQ(e0->timestampMs, 1733300000000);
  EXPECT_EQ(e0->labels, (metrics::LabelSet{{"instance", "a:9100"}, {"job", "node"}}));
  auto e2 = parser.parse(r->events[2], WallTime{});
  ASSERT_TRUE(e2.ok()) << e2.error().message;
  EXPECT_EQ(e2->value, -3.5);
  auto e3 = parser.parse(r->events[3], WallTime{});
  ASSERT_TRUE(e3.ok()) << e3.error().message << " in " << r->events[3];
  EXPECT_TRUE(std::isnan(e3->value));
}

TEST(RemoteWriteEvents, ABodyThatIsNotSnappyOrNotAWriteRequestIsRefused) {
  EXPECT_FALSE(remoteWriteEvents("plainly not snappy").ok());
  EXPECT_FALSE(remoteWriteEvents(metrics::snappyCompress("\xff\xff\xff\xff\xff")).ok());
  auto empty = remoteWriteEvents(metrics::snappyCompress(""));
  ASSERT_TRUE(empty.ok());
  EXPECT_TRUE(empty->events.empty());
}

}  // namespace
}  // namespace shoal::receiver
