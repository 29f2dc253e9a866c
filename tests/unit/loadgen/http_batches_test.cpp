// shoal-loadgen --http's batch posting on a scripted receiver and a
// ManualClock: a batch answered 429 or 503 (or not at all) goes again,
// unchanged, after Retry-After or the backoff, until it is taken; the
// answer's counts are read; statuses that retrying cannot fix end it; a stop
// request ends the waiting.
#include <gtest/gtest.h>

#include "shoal/loadgen/http_batches.h"
#include "shoal/testing/scripted_http.h"

namespace shoal::loadgen {
namespace {

using namespace std::chrono_literals;
using shoal::testing::RecordedHttpRequest;
using shoal::testing::ScriptedHttp;

http::Response answer(int status, std::string body = "", http::Headers headers = {}) {
  http::Response r;
  r.status = status;
  r.body = std::move(body);
  r.headers = std::move(headers);
  return r;
}

TEST(HttpBatches, ThrottledAndUnavailableBatchesGoAgainUnchangedAfterRetryAfter) {
  ManualClock clock;
  ScriptedHttp peer(
      [](const RecordedHttpRequest&, size_t n) {
        if (n == 0) return answer(429, R"({"error":"over"})", {{"retry-after", "2"}});
        if (n == 1) return answer(503, R"({"error":"redis"})", {{"retry-after", "1"}});
        return answer(200, R"({"accepted":2,"rejected":[]})");
      },
      &clock);
  auto t = peer.transport();
  BatchPoster poster(*t, {}, clock, [] { return false; });
  auto got = poster.post("{\"a\":1}\n{\"a\":2}\n");
  ASSERT_TRUE(got.ok()) << got.error().message;
  EXPECT_EQ(got->accepted, 2);
  ASSERT_EQ(peer.requests().size(), 3u);
  for (const auto& r : peer.requests()) {
    EXPECT_EQ(r.path, "/v1/logs");
    EXPECT_EQ(r.contentType, "application/x-ndjson");
    EXPECT_EQ(r.body, "{\"a\":1}\n{\"a\":2}\n") << "the same batch each time";
  }
  EXPECT_EQ(peer.requests()[1].at - peer.requests()[0].at, Duration(2s)) << "Retry-After honoured";
  EXPECT_EQ(peer.requests()[2].at - peer.requests()[1].at, Duration(1s));
  EXPECT_EQ(poster.counts().requests, 3);
  EXPECT_EQ(poster.counts().throttled, 1);
  EXPECT_EQ(poster.counts().unavailable, 1);
}

TEST(HttpBatches, NoAnswerOrNoRetryAfterWaitsTheBackoff) {
  ManualClock clock;
  ScriptedHttp peer(
      [](const RecordedHttpRequest&, size_t n) {
        if (n == 0) return answer(0);  // connection refused
        if (n == 1) return answer(429, "", {{"retry-after", "Wed, 21 Oct 2015 07:28:00 GMT"}});
        return answer(200, R"({"accepted":0,"rejected":[{"index":0,"reason":"entry_too_large"}]})");
      },
      &clock);
  auto t = peer.transport();
  BatchPoster::Options o;
  o.retryBase = 100ms;
  o.retryMax = 1s;
  std::vector<int> retried;
  o.onRetry = [&](const http::Response& r) { retried.push_back(r.status); };
  BatchPoster poster(*t, o, clock, [] { return false; });
  auto got = poster.post("{}\n");
  ASSERT_TRUE(got.ok()) << got.error().message;
  EXPECT_EQ(got->accepted, 0);
  EXPECT_EQ(got->rejected, 1);
  EXPECT_EQ(retried, (std::vector<int>{0, 429}));
  ASSERT_EQ(peer.requests().size(), 3u);
  for (size_t i = 1; i < 3; ++i) {
    const Duration gap = peer.requests()[i].at - peer.requests()[i - 1].at;
    EXPECT_GT(gap, Duration(0)) << "a wait, jittered";
    EXPECT_LE(gap, Duration(1s));
  }
  EXPECT_EQ(poster.counts().noResponse, 1);
}

TEST(HttpBatches, AStatusRetryingCannotFixIsAnErrorNamingIt) {
  ManualClock clock;
  for (int status : {400, 401, 404, 413}) {
    ScriptedHttp peer([status](const RecordedHttpRequest&, size_t) { return answer(status, "{\"error\":\"no\"}"); });
    auto t = peer.transport();
    BatchPoster poster(*t, {}, clock, [] { return false; });
    auto got = poster.post("{}\n");
    ASSERT_FALSE(got.ok());
    EXPECT_EQ(got.error().code, Errc::kPermanent);
    EXPECT_NE(got.error().message.find("answered " + std::to_string(status)), std::string::npos)
        << got.error().message;
    EXPECT_EQ(peer.requests().size(), 1u) << status << " is not sent again";
  }
  ScriptedHttp odd([](const RecordedHttpRequest&, size_t) { return answer(200, "not the receiver"); });
  auto t = odd.transport();
  BatchPoster poster(*t, {}, clock, [] { return false; });
  auto got = poster.post("{}\n");
  ASSERT_FALSE(got.ok());
  EXPECT_EQ(got.error().code, Errc::kProtocol);
}

TEST(HttpBatches, AStopRequestEndsTheWaitWithoutTakingTheBatch) {
  ManualClock clock;
  ScriptedHttp peer([](const RecordedHttpRequest&, size_t) { return answer(429, "", {{"retry-after", "30"}}); },
                    &clock);
  auto t = peer.transport();
  const MonoTime start = clock.now();
  BatchPoster poster(*t, {}, clock, [&] { return clock.now() - start >= Duration(5s); });
  auto got = poster.post("{}\n");
  ASSERT_FALSE(got.ok());
  EXPECT_EQ(got.error().code, Errc::kRetryable);
  EXPECT_EQ(peer.requests().size(), 1u);
  EXPECT_LT(clock.now() - start, Duration(6s)) << "the 30 s wait was cut short";
}

TEST(HttpBatches, RetryAfterIsWholeSecondsCappedAndAZeroIsNoBusyLoop) {
  EXPECT_EQ(retryAfter(answer(429, "", {{"retry-after", "3"}}), 60s), Duration(3s));
  EXPECT_EQ(retryAfter(answer(429, "", {{"retry-after", "3600"}}), 60s), Duration(60s));
  EXPECT_EQ(retryAfter(answer(429, "", {{"retry-after", "9223372036854775807"}}), 60s), Duration(60s));
  EXPECT_FALSE(retryAfter(answer(429, "", {{"retry-after", "-1"}}), 60s));
  EXPECT_FALSE(retryAfter(answer(429, "", {{"retry-after", "1.5"}}), 60s));
  EXPECT_FALSE(retryAfter(answer(429), 60s));
  EXPECT_TRUE(sendAgain(answer(0)));
  EXPECT_TRUE(sendAgain(answer(429)));
  EXPECT_TRUE(sendAgain(answer(503)));
  EXPECT_FALSE(sendAgain(answer(500)));

  ManualClock clock;
  ScriptedHttp peer(
      [](const RecordedHttpRequest&, size_t n) {
        return n == 0 ? answer(503, "", {{"retry-after", "0"}}) : answer(200, R"({"accepted":1})");
      },
      &clock);
  auto t = peer.transport();
  BatchPoster::Options o;
  o.retryBase = 100ms;
  BatchPoster poster(*t, o, clock, [] { return false; });
  ASSERT_TRUE(poster.post("{}\n").ok());
  EXPECT_EQ(peer.requests()[1].at - peer.requests()[0].at, Duration(100ms));
}

}  // namespace
}  // namespace shoal::loadgen
