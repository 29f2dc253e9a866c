// Unit tests: Pushgateway text rendering, grouping paths and push semantics.
#include <gtest/gtest.h>

#include "shoal/metrics/pushgateway_handler.h"
#include "shoal/testing/scripted_http.h"

namespace shoal::metrics {
namespace {

TEST(Pushgateway, Base64UrlMatchesRfc4648) {
  EXPECT_EQ(base64Url(""), "=");
  EXPECT_EQ(base64Url("f"), "Zg==");
  EXPECT_EQ(base64Url("fo"), "Zm8=");
  EXPECT_EQ(base64Url("foo"), "Zm9v");
  EXPECT_EQ(base64Url("/a?"), "L2E_");
}

TEST(Pushgateway, RendersFamiliesContiguouslyWithEscapes) {
  MetricEvent c{.name = "jobs_total", .type = MetricType::kCounter, .value = 3, .labels = {{"q", "a\"b\\c\nd"}}};
  MetricEvent h{.name = "dur", .type = MetricType::kHistogram, .buckets = {{0.5, 1}, {INFINITY, 2}}, .sum = 1.5, .count = 2};
  MetricEvent c2{.name = "jobs_total", .type = MetricType::kCounter, .value = 4, .labels = {{"q", "x"}}};
  std::vector<const MetricEvent*> evs = {&c, &h, &c2};
  EXPECT_EQ(renderExposition(evs),
            "# TYPE jobs_total counter\n"
            "jobs_total{q=\"a\\\"b\\\\c\\nd\"} 3\n"
            "jobs_total{q=\"x\"} 4\n"
            "# TYPE dur histogram\n"
            "dur_bucket{le=\"0.5\"} 1\n"
            "dur_bucket{le=\"+Inf\"} 2\n"
            "dur_sum 1.5\n"
            "dur_count 2\n");
}

using HttpResponse = http::Response;

// A scripted Pushgateway: records every push, answers `status`.
struct Captured {
  int status = 200;
  testing::ScriptedHttp script{[this](const testing::RecordedHttpRequest&, size_t) {
    return HttpResponse{status, status >= 300 ? "pushed metrics are invalid" : "", ""};
  }};
  const std::vector<testing::RecordedHttpRequest>& reqs = script.requests();
};

TEST(Pushgateway, GroupsByConfigAndEventLabelsLatestValueWins) {
  ManualClock clock;
  Captured cap;
  PushgatewayConfig cfg;
  cfg.url = "http://127.0.0.1:1/";
  cfg.job = "nightly";
  cfg.put = true;
  cfg.grouping = {{"env", "prod"}};
  cfg.groupingLabels = {"instance"};
  PushgatewayHandler h(cfg, TransformConfig{}, clock, cap.script.transport());
  std::vector<StreamEntry> entries = {
      {"1-0", {{"event", R"({"name":"rows","type":"gauge","value":1,"labels":{"instance":"a"},"timestamp":1700000000})"}}, 1},
      {"1-1", {{"event", R"({"name":"rows","type":"gauge","value":2,"labels":{"instance":"a"},"timestamp":1700000001})"}}, 1},
      {"1-2", {{"event", R"({"name":"rows","type":"gauge","value":9,"labels":{"instance":"b"},"timestamp":1700000001})"}}, 1},
      {"1-3", {{"event", R"({"name":"rows","type":"counter","value":9,"labels":{"instance":"b"}})"}}, 1},
  };
  auto res = h.handle(entries, CancelToken{});
  EXPECT_EQ(res[0].outcome, EntryOutcome::kDelivered);
  EXPECT_EQ(res[1].outcome, EntryOutcome::kDelivered);
  EXPECT_EQ(res[2].outcome, EntryOutcome::kDelivered);
  EXPECT_EQ(res[3].outcome, EntryOutcome::kDeadLetter);
  ASSERT_EQ(cap.reqs.size(), 2u);
  EXPECT_EQ(cap.reqs[0].method, "PUT");
  EXPECT_EQ(cap.reqs[0].path, "/metrics/job@base64/bmlnaHRseQ==/env@base64/cHJvZA==/instance@base64/YQ==");
  EXPECT_EQ(cap.reqs[0].body, "# TYPE rows gauge\nrows 2\n");
  EXPECT_EQ(cap.reqs[1].body, "# TYPE rows gauge\nrows 9\n");
}

TEST(Pushgateway, RejectedPushDeadLettersTheGroup) {
  ManualClock clock;
  Captured cap;
  cap.status = 400;
  PushgatewayConfig cfg;
  cfg.url = "http://127.0.0.1:1";
  cfg.job = "j";
  PushgatewayHandler h(cfg, TransformConfig{}, clock, cap.script.transport());
  std::vector<StreamEntry> entries = {{"1-0", {{"event", R"({"name":"g","type":"gauge","value":1})"}}, 1}};
  auto res = h.handle(entries, CancelToken{});
  EXPECT_EQ(res[0].outcome, EntryOutcome::kDeadLetter);
  EXPECT_EQ(res[0].reason, "pushgateway: HTTP 400: pushed metrics are invalid");
  EXPECT_EQ(cap.reqs[0].method, "POST");
}

}  // namespace
}  // namespace shoal::metrics
