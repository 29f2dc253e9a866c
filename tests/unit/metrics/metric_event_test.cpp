// Unit tests: metric event parsing, validation and sample expansion.
#include <gtest/gtest.h>

#include <cmath>

#include "shoal/metrics/metric_event.h"
#include "shoal/metrics/metrics_transform.h"

namespace shoal::metrics {
namespace {

const WallTime kNow = WallTime(std::chrono::milliseconds(1700000000123));

MetricEvent parseOk(std::string_view json, EventLimits limits = {}) {
  MetricEventParser p(limits);
  auto r = p.parse(json, kNow);
  EXPECT_TRUE(r.ok()) << json << " -> " << (r.ok() ? "" : r.error().message);
  return r.ok() ? r.value() : MetricEvent{};
}

std::string parseErr(std::string_view json, EventLimits limits = {}) {
  MetricEventParser p(limits);
  auto r = p.parse(json, kNow);
  EXPECT_FALSE(r.ok()) << json;
  return r.ok() ? "" : r.error().message;
}

TEST(MetricEvent, CounterWithObjectLabelsAndIsoTimestamp) {
  auto e = parseOk(R"({"name":"http_requests_total","type":"counter","value":12,
                      "labels":{"code":"200","method":"GET"},"timestamp":"2023-11-14T22:13:20.5Z"})");
  EXPECT_EQ(e.name, "http_requests_total");
  EXPECT_EQ(e.type, MetricType::kCounter);
  EXPECT_EQ(e.value, 12);
  ASSERT_EQ(e.labels.size(), 2u);
  EXPECT_EQ(e.labels[0].name, "code");
  EXPECT_EQ(e.labels[1].name, "method");
  EXPECT_EQ(e.timestampMs, 1700000000500);
}

TEST(MetricEvent, LabelsAsJsonStringAreSortedAndNumbersBecomeText) {
  auto e = parseOk(R"({"name":"g","type":"gauge","value":-1.5,"labels":"{\"zone\":\"b\",\"az\":3,\"ok\":true,\"empty\":\"\"}"})");
  ASSERT_EQ(e.labels.size(), 3u);  // the empty value is dropped
  EXPECT_EQ(e.labels[0], (Label{"az", "3"}));
  EXPECT_EQ(e.labels[1], (Label{"ok", "true"}));
  EXPECT_EQ(e.labels[2], (Label{"zone", "b"}));
}

TEST(MetricEvent, AbsentTimestampTakesNow) {
  auto e = parseOk(R"({"name":"g","type":"gauge","value":1})");
  EXPECT_EQ(e.timestampMs, 1700000000123);
}

TEST(MetricEvent, EpochSecondsAndMillis) {
  EXPECT_EQ(parseOk(R"({"name":"g","type":"gauge","value":1,"timestamp":1700000000})").timestampMs, 1700000000000);
  EXPECT_EQ(parseOk(R"({"name":"g","type":"gauge","value":1,"timestamp":1700000000.25})").timestampMs, 1700000000250);
  EXPECT_EQ(parseOk(R"({"name":"g","type":"gauge","value":1,"timestamp":1700000000999})").timestampMs, 1700000000999);
  EXPECT_EQ(parseOk(R"({"name":"g","type":"gauge","value":1,"timestamp":"1700000000"})").timestampMs, 1700000000000);
  EXPECT_EQ(parseOk(R"({"name":"g","type":"gauge","value":1,"timestamp":"2023-11-15T00:13:20+02:00"})").timestampMs,
            1700000000000);
}

TEST(MetricEvent, BadTimestampsAreRejected) {
  EXPECT_NE(parseErr(R"({"name":"g","type":"gauge","value":1,"timestamp":"yesterday"})").find("timestamp"), std::string::npos);
  EXPECT_NE(parseErr(R"({"name":"g","type":"gauge","value":1,"timestamp":"2023-02-30T00:00:00Z"})").find("timestamp"), std::string::npos);
  EXPECT_NE(parseErr(R"({"name":"g","type":"gauge","value":1,"timestamp":"2023-01-01T00:00:00"})").find("zone"), std::string::npos);
  EXPECT_NE(parseErr(R"({"name":"g","type":"gauge","value":1,"timestamp":-5})").find("timestamp"), std::string::npos);
  EXPECT_NE(parseErr(R"({"name":"g","type":"gauge","value":1,"timestamp":true})").find("timestamp"), std::string::npos);
}

TEST(MetricEvent, NamesAndLabelsFollowPrometheusRules) {
  EXPECT_NE(parseErr(R"({"name":"1bad","type":"gauge","value":1})").find("name"), std::string::npos);
  EXPECT_NE(parseErr(R"({"name":"bad-name","type":"gauge","value":1})").find("not a valid metric name"), std::string::npos);
  parseOk(R"({"name":"ns:sub_total","type":"gauge","value":1})");
  EXPECT_NE(parseErr(R"({"name":"g","type":"gauge","value":1,"labels":{"__x":"1"}})").find("reserved"), std::string::npos);
  EXPECT_NE(parseErr(R"({"name":"g","type":"gauge","value":1,"labels":{"a:b":"1"}})").find("label name"), std::string::npos);
  EXPECT_NE(parseErr(R"({"name":"g","type":"gauge","value":1,"labels":{"a":{"x":1}}})").find("must be a string"), std::string::npos);
  EXPECT_NE(parseErr(R"({"name":"g","type":"gauge","value":1,"labels":"{not json"})").find("labels"), std::string::npos);
  EXPECT_NE(parseErr(R"({"name":"g","type":"gauge","value":1,"labels":{"a":"1","a":"2"}})").find("duplicate"), std::string::npos);
  EXPECT_NE(parseErr(R"({"name":"h","type":"histogram","sum":1,"count":1,"buckets":{"1":1},"labels":{"le":"x"}})").find("le"), std::string::npos);
  EXPECT_NE(parseErr(R"({"name":"s","type":"summary","sum":1,"count":1,"quantiles":{"0.5":1},"labels":{"quantile":"x"}})").find("quantile"), std::string::npos);
}

TEST(MetricEvent, MaxLabelsIsEnforced) {
  EventLimits l;
  l.maxLabels = 2;
  parseOk(R"({"name":"g","type":"gauge","value":1,"labels":{"a":"1","b":"2"}})", l);
  EXPECT_NE(parseErr(R"({"name":"g","type":"gauge","value":1,"labels":{"a":"1","b":"2","c":"3"}})", l).find("more than 2"), std::string::npos);
}

TEST(MetricEvent, NanAndInfRulesPerType) {
  EXPECT_TRUE(std::isnan(parseOk(R"({"name":"g","type":"gauge","value":"NaN"})").value));
  EXPECT_TRUE(std::isinf(parseOk(R"({"name":"g","type":"gauge","value":"-Inf"})").value));
  parseErr(R"({"name":"c","type":"counter","value":"NaN"})");
  parseErr(R"({"name":"c","type":"counter","value":"+Inf"})");
  parseErr(R"({"name":"c","type":"counter","value":-1})");
  parseErr(R"({"name":"h","type":"histogram","sum":"NaN","count":1,"buckets":{"1":1}})");
  parseErr(R"({"name":"h","type":"histogram","sum":1,"count":"+Inf","buckets":{"1":1}})");
  auto s = parseOk(R"({"name":"s","type":"summary","sum":0,"count":0,"quantiles":{"0.5":"NaN"}})");
  EXPECT_TRUE(std::isnan(s.quantiles[0].second));
  parseErr(R"({"name":"s","type":"summary","sum":0,"count":0,"quantiles":{"0.5":"+Inf"}})");
  parseErr(R"({"name":"s","type":"summary","sum":0,"count":0,"quantiles":{"1.5":1}})");
}

// simdjson reports a number beyond the double range as a structural error of
// the document; the reason names the field and the number instead.
TEST(MetricEvent, NumbersOutOfRangeNameTheField) {
  EXPECT_EQ(parseErr(R"({"name":"g","type":"gauge","value":1e400})"),
            "value: number 1e400 is out of range");
  EXPECT_EQ(parseErr(R"({"name":"g","type":"gauge","value":-1e400})"),
            "value: number -1e400 is out of range");
  EXPECT_EQ(parseErr(R"({"name":"g","type":"gauge","value":1,"timestamp":1e400})"),
            "timestamp: number 1e400 is out of range");
  EXPECT_EQ(parseErr(R"({"name":"h","type":"histogram","sum":1e999,"count":1,"buckets":{"1":1}})"),
            "sum: number 1e999 is out of range");
  EXPECT_EQ(parseErr(R"({"name":"h","type":"histogram","sum":1,"count":1,"buckets":{"1":1e400}})"),
            "buckets.1: number 1e400 is out of range");
  EXPECT_EQ(parseErr(R"({"name":"g","type":"gauge","value":1,"labels":{"k":1e400}})"),
            "labels.k: number 1e400 is out of range");
  // The same numbers as strings (which the parser accepts for NaN/Inf).
  EXPECT_EQ(parseErr(R"({"name":"g","type":"gauge","value":"1e400"})"),
            "value: number 1e400 is out of range");
  EXPECT_EQ(parseErr(R"({"name":"g","type":"gauge","value":1,"timestamp":"1e400"})"),
            "timestamp: number 1e400 is out of range");
  EXPECT_EQ(parseErr(R"({"name":"g","type":"gauge","value":1,"labels":"{\"k\":1e400}"})"),
            "labels: k: number 1e400 is out of range");
  // Large but in range: a valid gauge; a tiny value underflows to zero quietly.
  EXPECT_EQ(parseOk(R"({"name":"g","type":"gauge","value":1e300})").value, 1e300);
  EXPECT_EQ(parseOk(R"({"name":"g","type":"gauge","value":0e-400})").value, 0);
  // A numeric timestamp in range as a double but no time stays a timestamp error.
  EXPECT_EQ(parseErr(R"({"name":"g","type":"gauge","value":1,"timestamp":1e300})"),
            "timestamp: outside 1970..9999");
}

TEST(MetricEvent, StructuralErrors) {
  EXPECT_NE(parseErr("not json").find("parse"), std::string::npos);
  EXPECT_NE(parseErr("[1,2]").find("object"), std::string::npos);
  EXPECT_NE(parseErr(R"({"type":"gauge","value":1})").find("name: required"), std::string::npos);
  EXPECT_NE(parseErr(R"({"name":"g","value":1})").find("type: required"), std::string::npos);
  EXPECT_NE(parseErr(R"({"name":"g","type":"meter","value":1})").find("type"), std::string::npos);
  EXPECT_NE(parseErr(R"({"name":"g","type":"gauge"})").find("value: required"), std::string::npos);
  EXPECT_NE(parseErr(R"({"name":"g","type":"gauge","value":"abc"})").find("value"), std::string::npos);
  parseErr(R"({"name":"h","type":"histogram","sum":1,"count":5,"buckets":{"1":3,"2":2}})");  // not cumulative
  parseErr(R"({"name":"h","type":"histogram","sum":1,"count":5,"buckets":{"1":3,"+Inf":4}})");  // +Inf != count
  parseErr(R"({"name":"h","type":"histogram","sum":1,"count":5})");                            // no buckets
}

TEST(MetricEvent, HistogramExpandsToCumulativeBucketsWithInf) {
  auto e = parseOk(R"({"name":"lat","type":"histogram","sum":4.5,"count":9,
                      "buckets":{"1":7,"0.1":3},"labels":{"svc":"a"},"timestamp":1700000000000})");
  std::vector<Sample> out;
  expandSamples(e, out);
  ASSERT_EQ(out.size(), 5u);
  auto labelOf = [](const Sample& s, std::string_view n) {
    for (auto& l : s.labels)
      if (l.name == n) return l.value;
    return std::string("<none>");
  };
  EXPECT_EQ(labelOf(out[0], "__name__"), "lat_bucket");
  EXPECT_EQ(labelOf(out[0], "le"), "0.1");
  EXPECT_EQ(out[0].value, 3);
  EXPECT_EQ(labelOf(out[1], "le"), "1");
  EXPECT_EQ(out[1].value, 7);
  EXPECT_EQ(labelOf(out[2], "le"), "+Inf");
  EXPECT_EQ(out[2].value, 9);
  EXPECT_EQ(labelOf(out[3], "__name__"), "lat_sum");
  EXPECT_EQ(out[3].value, 4.5);
  EXPECT_EQ(labelOf(out[4], "__name__"), "lat_count");
  EXPECT_EQ(out[4].value, 9);
  for (auto& s : out) {
    EXPECT_TRUE(std::is_sorted(s.labels.begin(), s.labels.end(), [](auto& a, auto& b) { return a.name < b.name; }));
    EXPECT_EQ(s.timestampMs, 1700000000000);
    EXPECT_EQ(labelOf(s, "svc"), "a");
  }
}

TEST(MetricEvent, SummaryExpandsToQuantilesSumCount) {
  auto e = parseOk(R"({"name":"rt","type":"summary","sum":10,"count":4,"quantiles":{"0.99":3,"0.5":1}})");
  std::vector<Sample> out;
  expandSamples(e, out);
  ASSERT_EQ(out.size(), 4u);
  EXPECT_EQ(out[0].labels[0], (Label{"__name__", "rt"}));
  EXPECT_EQ(out[0].labels[1], (Label{"quantile", "0.5"}));
  EXPECT_EQ(out[1].labels[1], (Label{"quantile", "0.99"}));
  EXPECT_EQ(out[2].labels[0], (Label{"__name__", "rt_sum"}));
  EXPECT_EQ(out[3].labels[0], (Label{"__name__", "rt_count"}));
}

TEST(MetricEvent, NameLabelSortsAmongUserLabels) {
  auto e = parseOk(R"({"name":"g","type":"gauge","value":1,"labels":{"Zed":"1","a":"2"}})");
  std::vector<Sample> out;
  expandSamples(e, out);
  ASSERT_EQ(out[0].labels.size(), 3u);
  EXPECT_EQ(out[0].labels[0].name, "Zed");  // upper case sorts before '_'
  EXPECT_EQ(out[0].labels[1].name, "__name__");
  EXPECT_EQ(out[0].labels[2].name, "a");
}

TEST(MetricEvent, FormatFloatLikePrometheus) {
  EXPECT_EQ(formatFloat(0.1), "0.1");
  EXPECT_EQ(formatFloat(1), "1");
  EXPECT_EQ(formatFloat(2.5e-7), "2.5e-07");
  EXPECT_EQ(formatFloat(INFINITY), "+Inf");
  EXPECT_EQ(formatFloat(-INFINITY), "-Inf");
  EXPECT_EQ(formatFloat(NAN), "NaN");
}

TEST(MetricsTransform, EntriesWithoutPayloadOrBadJsonAreDeadLettered) {
  ManualClock clock;
  MetricsTransform t(TransformConfig{}, clock);
  std::vector<StreamEntry> entries = {
      {"1700000000000-0", {{"event", R"({"name":"g","type":"gauge","value":1})"}}, 1},
      {"1700000000001-0", {{"message", R"({"name":"g","type":"gauge","value":1})"}}, 1},
      {"1700000000002-0", {{"event", "{oops"}}, 1},
  };
  ParsedBatch b = t.parse(entries);
  ASSERT_EQ(b.results.size(), 3u);
  EXPECT_EQ(b.results[0].outcome, EntryOutcome::kDelivered);
  EXPECT_EQ(b.results[1].outcome, EntryOutcome::kDeadLetter);
  EXPECT_NE(b.results[1].reason.find("no field \"event\""), std::string::npos);
  EXPECT_EQ(b.results[2].outcome, EntryOutcome::kDeadLetter);
  EXPECT_NE(b.results[2].reason.find("invalid JSON"), std::string::npos);
  ASSERT_EQ(b.events.size(), 1u);
  EXPECT_EQ(b.events[0].timestampMs, 1700000000000);  // from the entry id
}

TEST(MetricsTransform, TimestampFallsBackToClockWithoutUsableId) {
  ManualClock clock;
  MetricsTransform t(TransformConfig{}, clock);
  std::vector<StreamEntry> entries = {{"x", {{"event", R"({"name":"g","type":"gauge","value":1})"}}, 1}};
  ParsedBatch b = t.parse(entries);
  ASSERT_EQ(b.events.size(), 1u);
  EXPECT_EQ(b.events[0].timestampMs,
            std::chrono::duration_cast<std::chrono::milliseconds>(clock.wallNow().time_since_epoch()).count());
}

TEST(MetricsTransform, ConfigPayloadField) {
  auto c = parseTransformConfig(YAML::Load("metrics: {payloadField: message, maxLabels: 5}"));
  EXPECT_EQ(c.payloadField, "message");
  EXPECT_EQ(c.limits.maxLabels, 5u);
  EXPECT_EQ(parseTransformConfig(YAML::Node()).payloadField, "event");
}

}  // namespace
}  // namespace shoal::metrics
