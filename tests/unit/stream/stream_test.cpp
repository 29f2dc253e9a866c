// Unit tests of the stream vocabulary: the shared YAML field readers, shard
// stream names and the bounded dead-letter reason kinds.
#include <gtest/gtest.h>

#include "shoal/stream/config_fields.h"
#include "shoal/stream/dead_letter.h"
#include "shoal/stream/shards.h"

namespace shoal {
namespace {

std::string problem(const std::function<void()>& f) {
  try {
    f();
  } catch (const ConfigError& e) {
    return e.what();
  }
  return "";
}

TEST(ConfigFields, ReadersNameTheFieldAndItsBounds) {
  const YAML::Node n = YAML::Load("{a: 5, b: x, c: true, d: yes, e: [1], m: {k: v}}");
  EXPECT_EQ(config::intField(n, "a", "spec.x", 0, 1, 10), 5);
  EXPECT_EQ(config::intField(n, "missing", "spec.x", 7, 1), 7);
  EXPECT_EQ(problem([&] { config::intField(n, "a", "spec.x", 0, 6); }), "spec.x.a: must be at least 6");
  EXPECT_EQ(problem([&] { config::intField(n, "a", "spec.x", 0, 1, 4); }), "spec.x.a: must be at most 4");
  EXPECT_EQ(problem([&] { config::intField(n, "b", "spec.x", 0, 0); }), "spec.x.b: must be an integer, got 'x'");
  EXPECT_TRUE(config::boolField(n, "c", "spec.x", false));
  EXPECT_TRUE(config::boolField(n, "d", "spec.x", false));
  EXPECT_EQ(problem([&] { config::boolField(n, "b", "spec.x", false); }), "spec.x.b: must be true or false, got 'x'");
  EXPECT_EQ(problem([&] { config::stringField(n, "e", "spec.x"); }), "spec.x.e: must be a string");
  EXPECT_EQ(problem([&] { config::requiredString(n, "missing", "spec.x"); }), "spec.x.missing: required");
  EXPECT_EQ(config::stringMapField(n, "m", "spec.x").at("k"), "v");
  EXPECT_EQ(problem([&] { config::checkKeys(n, "spec.x", {"a", "b", "c", "d", "e"}); }), "spec.x.m: unknown field");
  const YAML::Node refs = YAML::Load("{url: u, passwordSecretRef: {name: s}}");
  EXPECT_EQ(problem([&] { config::checkKeys(refs, "spec.s", {"url"}, {"*SecretRef"}); }), "");
  EXPECT_EQ(problem([&] { config::checkKeys(refs, "spec.s", {"url"}); }), "spec.s.passwordSecretRef: unknown field");
}

TEST(Shards, OneStreamOrTheHashTaggedShards) {
  EXPECT_EQ(shardStreams("logs", 1), std::vector<std::string>{"logs"});
  EXPECT_EQ(shardStreams("logs", 3), (std::vector<std::string>{"logs:{0}", "logs:{1}", "logs:{2}"}));
  EXPECT_EQ(shardStream("a:b", 12), "a:b:{12}");
}

TEST(Shards, TheDefaultDeadLetterStreamFollowsItsShardAnExplicitOneIsShared) {
  EXPECT_EQ(shardDeadLetterStream("logs", "logs:dead", 1, 0), "logs:dead");
  EXPECT_EQ(shardDeadLetterStream("logs", "logs:dead", 8, 3), "logs:{3}:dead");
  EXPECT_EQ(shardDeadLetterStream("logs", "dlq", 8, 3), "dlq");
}

TEST(Shards, AKeyAlwaysPicksTheSameShardAndKeysSpreadOverAll) {
  EXPECT_EQ(shardForKey("anything", 1), 0);
  EXPECT_EQ(shardForKey("anything", 0), 0);
  // Pinned values: writers in other processes and versions must agree.
  EXPECT_EQ(shardForKey("", 8), static_cast<int32_t>(14695981039346656037ull % 8));
  EXPECT_EQ(shardForKey("a", 16), 12);  // FNV-1a("a") = 0xaf63dc4c8601ec8c
  EXPECT_EQ(shardForKey("web-1", 16), 15);
  std::vector<int> perShard(8, 0);
  for (int i = 0; i < 8000; ++i) {
    const int32_t s = shardForKey("host-" + std::to_string(i), 8);
    ASSERT_GE(s, 0);
    ASSERT_LT(s, 8);
    ++perShard[static_cast<size_t>(s)];
  }
  for (int n : perShard) {
    EXPECT_GT(n, 800);  // 1000 expected per shard
    EXPECT_LT(n, 1200);
  }
}

TEST(DeadLetterKind, EveryReasonTheRuntimeWritesHasABoundedKind) {
  EXPECT_EQ(deadLetterKind("parse: json: payload is not a JSON object"), "parse");
  EXPECT_EQ(deadLetterKind("invalid metric event: entry has no field \"payload\""), "invalid");
  EXPECT_EQ(deadLetterKind("entry too large: 2000000 bytes > maxEntryBytes 1048576"), "oversize");
  EXPECT_EQ(deadLetterKind("delivered 6 times, more than maxDeliveries 5"), "max_deliveries");
  EXPECT_EQ(deadLetterKind("too many fields: 1200, more than maxFields 1000"), "oversize");
  EXPECT_EQ(deadLetterKind("elasticsearch: 400 mapper_parsing_exception: failed to parse"), "sink_rejected");
  EXPECT_EQ(deadLetterKind("remote write: HTTP 400: out of order sample"), "sink_rejected");
  EXPECT_EQ(deadLetterKind("pushgateway: HTTP 400: bad"), "sink_rejected");
  EXPECT_EQ(deadLetterKind("postgres: duplicate key"), "sink_rejected");
  EXPECT_EQ(deadLetterKind("something new"), "other");
  for (std::string_view k : kDeadLetterKinds) EXPECT_FALSE(k.empty());
}

}  // namespace
}  // namespace shoal
