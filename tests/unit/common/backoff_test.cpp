// Backoff grows exponentially within its jitter band, is capped, and resets.
#include "shoal/common/backoff.h"

#include <gtest/gtest.h>

using namespace shoal;

TEST(Backoff, GrowsWithinJitterBandAndIsCapped) {
  Backoff b(millis(100), millis(1000), 42);
  int64_t bound = 100;
  for (int i = 0; i < 8; ++i) {
    auto d = std::chrono::duration_cast<std::chrono::milliseconds>(b.next()).count();
    EXPECT_GE(d, bound / 2) << "attempt " << i;
    EXPECT_LE(d, bound) << "attempt " << i;
    bound = std::min<int64_t>(bound * 2, 1000);
  }
}

TEST(Backoff, ResetStartsOver) {
  Backoff b(millis(10), millis(10000), 1);
  for (int i = 0; i < 5; ++i) b.next();
  b.reset();
  EXPECT_LE(b.next(), millis(10));
}

TEST(ManualClock, SleepAdvancesTimeWithoutWaiting) {
  ManualClock c;
  auto t0 = c.now();
  auto w0 = c.wallNow();
  c.sleepFor(seconds(30));
  EXPECT_EQ(c.now() - t0, seconds(30));
  EXPECT_EQ(std::chrono::duration_cast<std::chrono::seconds>(c.wallNow() - w0).count(), 30);
}
