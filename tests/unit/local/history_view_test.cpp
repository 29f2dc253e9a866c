// Run history (CSV, summary, SVG chart), the event log's folding of repeats,
// and the live view's rendering of a status snapshot.
#include <gtest/gtest.h>

#include "shoal/local/event_log.h"
#include "shoal/local/history.h"
#include "shoal/local/local_runner.h"

namespace shoal::local {
namespace {

HistorySample sample(double t, std::optional<int64_t> backlog, int32_t replicas, int32_t desired) {
  HistorySample s;
  s.t = t;
  s.pool = "default/p";
  s.backlog = backlog;
  s.lag = backlog;
  s.pending = backlog ? std::optional<int64_t>(0) : std::nullopt;
  s.replicas = replicas;
  s.desired = desired;
  s.ready = replicas;
  return s;
}

TEST(History, CsvLinesLeaveUnknownValuesEmpty) {
  EXPECT_EQ(historyCsvHeader(),
            "t_seconds,pool,lag,pending,backlog,arrival_per_s,consumption_per_s,desired,replicas,ready");
  auto s = sample(1.5, std::nullopt, 2, 3);
  s.consumptionRate = 1234.56;
  EXPECT_EQ(historyCsvLine(s), "1.50,default/p,,,,,1234.6,3,2,2");
}

TEST(History, SummaryMeasuresPeakReplicaSecondsAndDrainTime) {
  std::vector<HistorySample> h{sample(0, 0, 1, 1),      sample(2, 1000, 1, 4),
                               sample(4, 800, 4, 4),    sample(6, 300, 4, 4),
                               sample(8, 0, 4, 4),      sample(10, 0, 2, 1),
                               sample(12, 0, 1, 1)};
  auto r = summarize(h);
  EXPECT_EQ(r.peakReplicas, 4);
  EXPECT_EQ(r.peakDesired, 4);
  EXPECT_EQ(r.peakBacklog, 1000);
  ASSERT_TRUE(r.burstSeenAt);
  EXPECT_DOUBLE_EQ(*r.burstSeenAt, 2);
  ASSERT_TRUE(r.drainSeconds);
  EXPECT_DOUBLE_EQ(*r.drainSeconds, 6);
  // 1*2 + 1*2 + 4*2 + 4*2 + 4*2 + 2*2 = 32
  EXPECT_DOUBLE_EQ(r.replicaSeconds, 32);
  EXPECT_DOUBLE_EQ(r.durationSeconds, 12);

  auto undrained = summarize({sample(0, 10, 1, 1), sample(1, 5, 1, 1)});
  EXPECT_FALSE(undrained.drainSeconds);
  EXPECT_FALSE(summarize({}).drainSeconds);
}

TEST(History, ChartDrawsBacklogAndReplicas) {
  std::vector<HistorySample> h{sample(0, 0, 1, 1), sample(5, 250000, 1, 6), sample(10, 100000, 6, 6),
                               sample(15, 0, 2, 1)};
  const std::string svg = renderChartSvg(h, "pool <p>");
  EXPECT_EQ(svg.rfind("<svg", 0), 0u);
  EXPECT_NE(svg.find("</svg>"), std::string::npos);
  EXPECT_NE(svg.find("pool &lt;p&gt;"), std::string::npos) << "title escaped";
  EXPECT_NE(svg.find("<polygon"), std::string::npos);
  EXPECT_EQ(std::count(svg.begin(), svg.end(), '\n') > 10, true);
  EXPECT_NE(svg.find("250k"), std::string::npos) << "backlog axis reaches the peak";
  EXPECT_NE(svg.find("replicas running"), std::string::npos);
  // An empty history still gives a valid (empty) chart.
  EXPECT_NE(renderChartSvg({}, "empty").find("</svg>"), std::string::npos);
}

TEST(EventLog, FoldsRepeatsAndKeepsTheNewestWithinCapacity) {
  ManualClock clock;
  EventLog log(clock, 3);
  controllers::EventTarget t{"WorkerPool", "default", "p", "uid"};
  log.record(t, "Normal", "ScaledUp", "Scaled from 1 to 4 workers.");
  clock.advance(std::chrono::seconds(5));
  log.record(t, "Warning", "WorkerCrashed", "boom");
  log.record(t, "Normal", "ScaledUp", "Scaled from 1 to 4 workers.");
  auto ev = log.recent();
  ASSERT_EQ(ev.size(), 2u);
  EXPECT_EQ(ev[1].reason, "ScaledUp") << "a repeat moves to the end";
  EXPECT_EQ(ev[1].count, 2);
  EXPECT_EQ(ev[1].lastTime - ev[1].firstTime, std::chrono::seconds(5));
  log.record(t, "Normal", "A", "1");
  log.record(t, "Normal", "B", "2");
  ev = log.recent();
  ASSERT_EQ(ev.size(), 3u);
  EXPECT_EQ(ev[0].reason, "ScaledUp");
  EXPECT_EQ(ev[2].reason, "B");
  EXPECT_EQ(log.toJson()[0]["count"], 2);
}

TEST(LiveView, ShowsBacklogReplicasConditionsWorkersAndEvents) {
  nlohmann::json status = nlohmann::json::parse(R"({
    "generatedAt": "2026-01-01T00:00:00Z", "uptimeSeconds": 42,
    "workerPools": [{
      "metadata": {"name": "app-logs", "namespace": "default"},
      "spec": {"maxReplicas": 8},
      "status": {"backlog": {"lag": 120000, "pending": 3000, "total": 123000},
                 "arrivalRate": 0, "consumptionRate": 8000, "replicas": 4, "readyReplicas": 3,
                 "desiredReplicas": 4, "estimatedDrainSeconds": 15,
                 "conditions": [{"type": "Ready", "status": "False", "reason": "WaitingForWorkers"},
                                {"type": "ScalingActive", "status": "True", "reason": "ScaledUpForBacklog"}]},
      "local": {"workers": [{"consumer": "app-logs-0", "pid": 11, "ready": true, "stopping": false},
                            {"consumer": "app-logs-1", "pid": 12, "ready": false, "stopping": true}],
                "restarts": 1, "restartInSeconds": 2.0}}],
    "pipelines": [{"metadata": {"name": "app-logs"}, "spec": {"type": "logs"},
                   "status": {"sink": "elasticsearch", "conditions": []}}],
    "events": [{"object": "WorkerPool/app-logs", "type": "Normal", "reason": "ScaledUp",
                "message": "Scaled from 1 to 4 workers.", "count": 1,
                "lastTimestamp": "2026-01-01T00:00:00Z"}]})");
  const std::string text = renderLiveView(status, 200, false);
  for (const char* part : {"app-logs", "123000", "120000", "3000", "8000", "3/4 ready, want 4", "15 s",
                           "Ready=False (WaitingForWorkers)", "ScalingActive=True (ScaledUpForBacklog)",
                           "app-logs-0 pid 11 ready", "app-logs-1 pid 12 draining",
                           "restarts after crashes: 1", "Scaled from 1 to 4 workers.",
                           "logs -> elasticsearch", "4 of max 8"}) {
    EXPECT_NE(text.find(part), std::string::npos) << "missing '" << part << "' in\n" << text;
  }
  EXPECT_EQ(text.find('\x1b'), std::string::npos) << "no colour when asked for none";
  for (size_t start = 0, end; (end = text.find('\n', start)) != std::string::npos; start = end + 1) {
    EXPECT_LE(end - start, 40u + 200u);
  }
  const std::string narrow = renderLiveView(status, 30, true);
  EXPECT_NE(narrow.find('\x1b'), std::string::npos);

  auto lines = renderLogLines(status);
  ASSERT_EQ(lines.size(), 1u);
  EXPECT_NE(lines[0].find("backlog=123000"), std::string::npos);
  EXPECT_NE(lines[0].find("replicas=4 ready=3 desired=4"), std::string::npos);
  // Garbage in, text out: never a crash.
  EXPECT_FALSE(renderLiveView(nlohmann::json::parse(R"({"workerPools": [1, {"status": 3}]})"), 80, false).empty());
}

}  // namespace
}  // namespace shoal::local
