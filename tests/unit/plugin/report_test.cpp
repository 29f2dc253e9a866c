// `kubectl shoal status` and `why` as pure functions of WorkerPool objects and
// Events: what a user reads for a pool that is scaling up, one that cannot
// read its backlog, and the output helpers (durations, tables, YAML).
#include <gtest/gtest.h>
#include <yaml-cpp/yaml.h>

#include "shoal/api/worker_pool.h"
#include "shoal/plugin/output.h"
#include "shoal/plugin/pool_report.h"

namespace shoal::plugin {
namespace {

using nlohmann::json;

WallTime at(const std::string& t) {
  return *api::parseTime(t);
}

const WallTime kNow = at("2026-12-04T10:00:00Z");

json scalingPool() {
  return json::parse(R"({
    "apiVersion": "shoal.dev/v1alpha1", "kind": "WorkerPool",
    "metadata": {"name": "app-logs", "namespace": "shop", "uid": "u-1", "generation": 3},
    "spec": {"pipelineRef": {"name": "app-logs"}, "minReplicas": 1, "maxReplicas": 10,
             "scaling": {"policy": "drainTime", "drainSeconds": 120}},
    "status": {
      "observedGeneration": 3, "replicas": 5, "readyReplicas": 3, "desiredReplicas": 5,
      "backlog": {"lag": 11500, "pending": 500, "total": 12000},
      "arrivalRate": 250.0, "consumptionRate": 400.0, "estimatedDrainSeconds": 79.2,
      "lastScaleTime": "2026-12-04T09:58:00Z",
      "scaler": {"lastScaleUpTime": "2026-12-04T09:58:00.000Z", "learnedThroughput": 80.0,
                 "backlogSince": "2026-12-04T09:57:00.000Z",
                 "recommendations": [{"since": "2026-12-04T09:55:00.000Z", "replicas": 3},
                                     {"since": "2026-12-04T09:58:00.000Z", "replicas": 5}]},
      "conditions": [
        {"type": "Ready", "status": "False", "reason": "WaitingForWorkers",
         "message": "3 of 5 workers ready.", "lastTransitionTime": "2026-12-04T09:58:00Z"},
        {"type": "ScalingActive", "status": "True", "reason": "ScaledUpForBacklog",
         "message": "scaling up from 3 to 5 replicas: backlog 12000, arrivals 250.0/s",
         "lastTransitionTime": "2026-12-04T09:58:00Z"},
        {"type": "ScalingLimited", "status": "False", "reason": "WithinLimits",
         "message": "The desired count is within minReplicas and maxReplicas.",
         "lastTransitionTime": "2026-12-04T09:00:00Z"},
        {"type": "Fallback", "status": "False", "reason": "BacklogMeasured",
         "message": "The backlog is measured; no fallback in use.",
         "lastTransitionTime": "2026-12-04T09:00:00Z"}]}})");
}

json redisDownPool() {
  return json::parse(R"({
    "metadata": {"name": "metrics", "namespace": "shop", "uid": "u-2", "generation": 1},
    "spec": {"pipelineRef": {"name": "metrics"}},
    "status": {"observedGeneration": 1, "replicas": 2, "readyReplicas": 2, "desiredReplicas": 2,
      "conditions": [
        {"type": "Ready", "status": "True", "reason": "WorkersReady", "message": "2 of 2 workers ready."},
        {"type": "ScalingActive", "status": "False", "reason": "RedisUnreachable",
         "message": "Cannot read the backlog: connection refused. Holding replicas."}]}})");
}

api::WorkerPool parse(const json& j) {
  auto p = api::workerPoolFromJson(j);
  EXPECT_TRUE(p.ok()) << p.error().message;
  return p.value();
}

TEST(HumanDuration, ReadsLikeKubectlAges) {
  EXPECT_EQ(humanDuration(0), "0s");
  EXPECT_EQ(humanDuration(45.9), "45s");
  EXPECT_EQ(humanDuration(200), "3m20s");
  EXPECT_EQ(humanDuration(180), "3m");
  EXPECT_EQ(humanDuration(7500), "2h5m");
  EXPECT_EQ(humanDuration(3 * 86400 + 4 * 3600 + 5), "3d4h");
  EXPECT_EQ(humanDuration(-5), "0s");
}

TEST(FormatTable, AlignsColumnsWithoutTrailingSpaces) {
  EXPECT_EQ(formatTable({{"NAME", "X"}, {"a-long-name", "1"}, {"b", ""}}),
            "NAME          X\na-long-name   1\nb\n");
}

TEST(ToYaml, QuotesStringsThatWouldReadAsOtherTypes) {
  json j = {
      {"id", "1700000000000-0"}, {"n", 12},     {"flag", "true"}, {"count", "12"}, {"empty", ""},
      {"list", json::array()},   {"rate", 2.5}, {"none", nullptr}};
  YAML::Node y = YAML::Load(toYaml(j));
  EXPECT_EQ(y["id"].as<std::string>(), "1700000000000-0");
  EXPECT_EQ(y["n"].as<int>(), 12);
  EXPECT_EQ(y["flag"].Tag(), "!");  // quoted: a string, not a boolean
  EXPECT_EQ(y["count"].Tag(), "!");
  EXPECT_EQ(y["empty"].as<std::string>(), "");
  EXPECT_TRUE(y["list"].IsSequence());
  EXPECT_DOUBLE_EQ(y["rate"].as<double>(), 2.5);
  EXPECT_TRUE(y["none"].IsNull());
}

TEST(DrainText, SaysDrainedNotDrainingOrTheEstimate) {
  api::WorkerPoolStatus s;
  EXPECT_EQ(drainText(s), "-");
  s.backlog.total = 0;
  EXPECT_EQ(drainText(s), "drained");
  s.backlog.total = 500;
  s.arrivalRate = 900;
  EXPECT_EQ(drainText(s), "not draining");
  s.estimatedDrainSeconds = 79.2;
  EXPECT_EQ(drainText(s), "1m20s");
  s.estimatedDrainSeconds = 0.0;  // the operator rounds to 0.1 s
  EXPECT_EQ(drainText(s), "under 1s");
}

TEST(FormatStatus, OnePoolShowsFiguresAndEveryCondition) {
  std::string out = formatStatus({parse(scalingPool())}, false, kNow);
  EXPECT_NE(out.find("NAME       PIPELINE   READY   WORKERS"), std::string::npos) << out;
  // name, pipeline, Ready, ready/desired, running, backlog, lag, pending, rates, drain, reason, age
  EXPECT_NE(out.find("app-logs   app-logs   False   3/5       5         12000     11500   500"),
            std::string::npos)
      << out;
  EXPECT_NE(out.find("250.0/s"), std::string::npos);
  EXPECT_NE(out.find("400.0/s"), std::string::npos);
  EXPECT_NE(out.find("1m20s"), std::string::npos);
  EXPECT_NE(out.find("ScaledUpForBacklog"), std::string::npos);
  EXPECT_NE(out.find("2m ago"), std::string::npos);
  EXPECT_NE(out.find("Conditions:"), std::string::npos);
  EXPECT_NE(out.find("WithinLimits"), std::string::npos) << "a single pool shows every condition";
  EXPECT_NE(out.find("3 of 5 workers ready."), std::string::npos);
}

TEST(FormatStatus, ManyPoolsShowOnlyWhatNeedsAttention) {
  std::string out = formatStatus({parse(scalingPool()), parse(redisDownPool())}, true, kNow);
  EXPECT_EQ(out.rfind("NAMESPACE", 0), 0u) << out;
  EXPECT_NE(out.find("Needs attention:"), std::string::npos);
  EXPECT_NE(out.find("  shop/metrics    ScalingActive   False    RedisUnreachable"),
            std::string::npos)
      << out;
  EXPECT_NE(out.find("shop/app-logs   Ready"), std::string::npos) << out;
  EXPECT_EQ(out.find("WithinLimits"), std::string::npos) << "healthy conditions are not listed";
  // The pool whose backlog is unknown shows no figures rather than stale ones.
  EXPECT_NE(
      out.find("shop        metrics    metrics    True    2/2       2         -         -       -"),
      std::string::npos)
      << out;
}

TEST(FormatStatus, SaysWhenStatusLagsTheSpec) {
  json j = scalingPool();
  j["metadata"]["generation"] = 4;
  std::string out = formatStatus({parse(j), parse(redisDownPool())}, false, kNow);
  EXPECT_NE(out.find("app-logs: status is for generation 3; the spec is at generation 4"),
            std::string::npos)
      << out;
}

TEST(StatusDocument, CarriesFiguresConditionsAndMeanings) {
  json d = statusDocument({parse(scalingPool()), parse(redisDownPool())});
  ASSERT_EQ(d["pools"].size(), 2u);
  const json& p = d["pools"][0];
  EXPECT_EQ(p["name"], "app-logs");
  EXPECT_EQ(p["backlog"]["total"], 12000);
  EXPECT_EQ(p["desiredReplicas"], 5);
  EXPECT_EQ(p["drain"], "1m20s");
  EXPECT_EQ(p["conditions"][1]["reason"], "ScaledUpForBacklog");
  EXPECT_FALSE(p["conditions"][1]["meaning"].get<std::string>().empty());
  EXPECT_TRUE(d["pools"][1]["backlog"]["total"].is_null());
  EXPECT_TRUE(d["pools"][1]["arrivalRate"].is_null());
}

TEST(PlainReason, EveryScalerDecisionHasWords) {
  for (const char* r : {"ScalingPaused",        "ScaledUpForBacklog",   "ScaledUpFromZero",
                        "ScaledDown",           "AtDesiredReplicas",    "WithinDeadBand",
                        "StabilizingScaleDown", "ScaleDownRateLimited", "HoldingBacklogUnknown",
                        "FallbackReplicas",     "ScaledToZeroIdle",     "IdleAtZero",
                        "WaitingForIdle",       "LimitedByMaxReplicas", "LimitedByMinReplicas",
                        "RedisUnreachable",     "StreamNotFound",       "ConsumerGroupNotFound",
                        "RedisAuthFailed",      "BacklogUnknown",       "ScaleNotApplied",
                        "InvalidScalingSpec",   "PipelineNotFound"}) {
    EXPECT_FALSE(plainReason(r).empty()) << r;
  }
  EXPECT_TRUE(plainReason("SomethingNew").empty());
}

json event(const std::string& pool, const std::string& uid, const std::string& reason,
           const std::string& msg, const std::string& last, int count = 1) {
  return {{"involvedObject",
           {{"kind", "WorkerPool"}, {"name", pool}, {"namespace", "shop"}, {"uid", uid}}},
          {"type", "Normal"},
          {"reason", reason},
          {"message", msg},
          {"count", count},
          {"firstTimestamp", last},
          {"lastTimestamp", last}};
}

TEST(PoolEvents, KeepsThisPoolsNewestFirst) {
  api::WorkerPool p = parse(scalingPool());
  std::vector<json> evs = {
      event("app-logs", "u-1", "WorkersCreated", "Created the worker Deployment with 1 worker.",
            "2026-12-04T09:00:00Z"),
      event("app-logs", "u-1", "ScaledUp", "Scaled from 3 to 5 workers (ScaledUpForBacklog: x).",
            "2026-12-04T09:58:00Z", 2),
      event("app-logs", "u-old", "ScaledDown", "an older pool of the same name",
            "2026-12-04T09:59:00Z"),
      event("other", "u-9", "ScaledDown", "another pool", "2026-12-04T09:59:00Z"),
      json("not an object")};
  auto got = poolEventsOf(evs, p);
  ASSERT_EQ(got.size(), 2u);
  EXPECT_EQ(got[0].reason, "ScaledUp");
  EXPECT_EQ(got[0].count, 2);
  EXPECT_EQ(got[1].reason, "WorkersCreated");
}

TEST(ScaleChange, ReadsTheOperatorsEventMessages) {
  auto change = [](const std::string& reason, const std::string& msg) {
    PoolEvent e;
    e.reason = reason;
    e.message = msg;
    return scaleChangeOf(e);
  };
  EXPECT_EQ(change("ScaledUp", "Scaled from 3 to 5 workers (ScaledUpForBacklog: x)."),
            std::make_pair(int64_t{3}, int64_t{5}));
  EXPECT_EQ(change("ScaledDown", "Scaled from 4 to 1 worker (ScaledDown: scaling down to 2)."),
            std::make_pair(int64_t{4}, int64_t{1}));
  EXPECT_EQ(change("WorkersCreated", "Created the worker Deployment with 4 workers."),
            std::make_pair(int64_t{0}, int64_t{4}));
  EXPECT_FALSE(change("ScaledUp", "something else"));
  EXPECT_FALSE(change("ScaledUp", "Scaled from 3 workers"));
  EXPECT_FALSE(change("InvalidScalingSpec", "Scaled from 3 to 5"));
}

TEST(FormatWhy, TellsTheDecisionItsInputsAndTheHistory) {
  api::WorkerPool p = parse(scalingPool());
  auto events = poolEventsOf(
      {event("app-logs", "u-1", "ScaledUp", "Scaled from 3 to 5 workers (ScaledUpForBacklog: x).",
             "2026-12-04T09:58:00Z")},
      p);
  std::string out = formatWhy(p, events, kNow);
  EXPECT_NE(out.find("WorkerPool shop/app-logs (pipeline app-logs; policy drainTime: keep up with "
                     "arrivals and clear any backlog within 2m)"),
            std::string::npos)
      << out;
  EXPECT_NE(out.find("5 wanted, 3 ready, 5 running (min 1, max 10)"), std::string::npos) << out;
  EXPECT_NE(
      out.find("12000 entries (11500 not yet delivered + 500 delivered but not acknowledged)"),
      std::string::npos);
  EXPECT_NE(out.find("250.0/s arriving, 400.0/s consumed"), std::string::npos);
  EXPECT_NE(out.find("drain     1m20s at the wanted size"), std::string::npos);
  EXPECT_NE(out.find("Decision (ScalingActive=True for 2m): ScaledUpForBacklog"), std::string::npos)
      << out;
  EXPECT_NE(out.find(std::string(plainReason("ScaledUpForBacklog"))), std::string::npos);
  EXPECT_NE(out.find("Operator: scaling up from 3 to 5 replicas"), std::string::npos);
  EXPECT_NE(out.find("last scale-up 2m ago, last scale-down never"), std::string::npos) << out;
  EXPECT_NE(out.find("measured throughput 80.0 entries/s per ready worker"), std::string::npos);
  EXPECT_NE(out.find("draining a backlog that formed 3m ago"), std::string::npos);
  EXPECT_NE(
      out.find("recommended in the stabilization window: 3 since 5m ago, then 5 since 2m ago"),
      std::string::npos)
      << out;
  EXPECT_NE(
      out.find("2m ago      Normal   ScaledUp   3 -> 5    1       Scaled from 3 to 5 workers"),
      std::string::npos)
      << out;
  EXPECT_NE(out.find("ScaledUp: The operator added workers."), std::string::npos);
}

TEST(FormatWhy, UnknownBacklogIsSaidAsSuch) {
  std::string out = formatWhy(parse(redisDownPool()), {}, kNow);
  EXPECT_NE(out.find("backlog   unknown at the last poll"), std::string::npos) << out;
  EXPECT_NE(out.find("Decision (ScalingActive=False): RedisUnreachable"), std::string::npos) << out;
  EXPECT_NE(out.find("cannot connect to Redis"), std::string::npos);
  EXPECT_NE(out.find("throughput per worker not measured yet"), std::string::npos);
  EXPECT_NE(out.find("Events, newest first:\n  none"), std::string::npos);
}

TEST(WhyDocument, HasDecisionScalerAndEvents) {
  api::WorkerPool p = parse(scalingPool());
  json d = whyDocument(
      p, poolEventsOf({event("app-logs", "u-1", "ScaledUp", "m", "2026-12-04T09:58:00Z")}, p));
  EXPECT_EQ(d["decision"]["reason"], "ScaledUpForBacklog");
  EXPECT_FALSE(d["decision"]["meaning"].get<std::string>().empty());
  EXPECT_EQ(d["scaler"]["learnedThroughput"], 80.0);
  ASSERT_EQ(d["events"].size(), 1u);
  EXPECT_EQ(d["events"][0]["meaning"], "The operator added workers.");
  EXPECT_TRUE(d["events"][0]["fromReplicas"].is_null()) << "message m says no numbers";
}

}  // namespace
}  // namespace shoal::plugin
