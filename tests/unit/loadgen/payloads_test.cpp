// Generated payloads are well-formed for their kind, near the requested size,
// deterministic for a seed, and malformed ones really are malformed.
#include "shoal/loadgen/payloads.h"

#include <gtest/gtest.h>

#include <nlohmann/json.hpp>

using namespace shoal::loadgen;

TEST(Payloads, JsonLogsAreValidJsonNearTargetSize) {
  PayloadGenerator g(PayloadKind::kJsonLog, 300, 7);
  for (uint64_t i = 0; i < 100; ++i) {
    auto p = g.next(i, 1'700'000'000'000);
    auto j = nlohmann::json::parse(p);
    EXPECT_EQ(j["seq"].get<uint64_t>(), i);
    EXPECT_NEAR(static_cast<double>(p.size()), 300.0, 40.0);
  }
}

TEST(Payloads, SameSeedSamePayloads) {
  PayloadGenerator a(PayloadKind::kMixedLog, 200, 3), b(PayloadKind::kMixedLog, 200, 3);
  for (uint64_t i = 0; i < 10; ++i) EXPECT_EQ(a.next(i, 0), b.next(i, 0));
}

TEST(Payloads, SyslogLinesStartWithPriority) {
  PayloadGenerator a(PayloadKind::kRfc5424, 100, 1), b(PayloadKind::kRfc3164, 100, 1);
  auto s5424 = a.next(1, 1'700'000'000'000);
  auto s3164 = b.next(1, 1'700'000'000'000);
  EXPECT_EQ(s5424[0], '<');
  EXPECT_NE(s5424.find(">1 2023-11-14T"), std::string::npos) << s5424;
  EXPECT_NE(s3164.find(">Nov 14 22:13:20 "), std::string::npos) << s3164;
}

TEST(Payloads, MetricEventsCoverAllTypes) {
  PayloadGenerator g(PayloadKind::kMetric, 0, 1);
  std::set<std::string> types;
  for (uint64_t i = 0; i < 8; ++i) types.insert(nlohmann::json::parse(g.next(i, 5))["type"]);
  EXPECT_EQ(types, (std::set<std::string>{"counter", "gauge", "histogram", "summary"}));
}

TEST(Payloads, MalformedIsNotValidJson) {
  PayloadGenerator g(PayloadKind::kJsonLog, 100, 1);
  EXPECT_FALSE(nlohmann::json::accept(g.malformed(3)));
}
