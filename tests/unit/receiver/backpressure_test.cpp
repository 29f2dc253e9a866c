// The throttle decision, the gate and the monitor's round over a scripted
// load source on a ManualClock.
#include <gtest/gtest.h>

#include <map>

#include "shoal/receiver/backpressure.h"

namespace shoal::receiver {
namespace {

TEST(OverLimit, BacklogOverTheLimitOrLengthAtTheCap) {
  EXPECT_FALSE(overLimit({100, 100}, {100, 0}));
  EXPECT_TRUE(overLimit({101, 101}, {100, 0}));
  EXPECT_FALSE(overLimit({5, 999}, {100, 1000}));
  EXPECT_TRUE(overLimit({5, 1000}, {100, 1000}));
  EXPECT_FALSE(overLimit({1 << 30, 1 << 30}, {0, 0}));
}

struct ScriptedSource final : LoadSource {
  Result<StreamLoad> load(const std::string& stream) override {
    ++reads;
    if (down) return makeError(Errc::kIo, "connection refused");
    return loads[stream];
  }
  std::map<std::string, StreamLoad> loads;
  bool down = false;
  int reads = 0;
};

struct Seen final : BacklogMonitor::Observer {
  void measured(const std::string& s, const StreamLoad& l, bool t) override { last[s] = {l.backlog, t}; }
  void reachable(bool ok) override { up = ok; }
  std::map<std::string, std::pair<int64_t, bool>> last;
  std::optional<bool> up;
};

TEST(BacklogMonitor, ARoundFlipsEachStreamsThrottleAndAnUnreadableOneKeepsItsState) {
  ThrottleGate gate({"a", "b"});
  ScriptedSource src;
  Seen seen;
  BacklogMonitor m(gate, src, {10, 0}, seen);
  src.loads = {{"a", {11, 11}}, {"b", {3, 3}}};
  EXPECT_TRUE(m.checkOnce());
  EXPECT_TRUE(gate.throttled("a"));
  EXPECT_FALSE(gate.throttled("b"));
  EXPECT_EQ(seen.last["a"], (std::pair<int64_t, bool>{11, true}));
  EXPECT_EQ(seen.up, true);
  src.down = true;
  EXPECT_FALSE(m.checkOnce());
  EXPECT_TRUE(gate.throttled("a")) << "an unreadable stream keeps its last state";
  EXPECT_EQ(seen.up, false);
  src.down = false;
  src.loads["a"] = {10, 10};
  m.checkOnce();
  EXPECT_FALSE(gate.throttled("a"));
  EXPECT_FALSE(gate.throttled("unknown"));
}

TEST(BacklogMonitor, RunChecksOncePerIntervalOnTheClock) {
  ThrottleGate gate({"a"});
  Seen seen;
  ManualClock clock;
  const MonoTime t0 = clock.now();
  // Stop after the fifth reading; the clock has moved four intervals by then.
  struct Stopping final : LoadSource {
    Result<StreamLoad> load(const std::string&) override {
      if (++n == 5) m->stop();
      return StreamLoad{};
    }
    BacklogMonitor* m = nullptr;
    int n = 0;
  } stopping;
  BacklogMonitor m2(gate, stopping, {10, 0}, seen);
  stopping.m = &m2;
  m2.run(clock, std::chrono::seconds(2));
  EXPECT_EQ(stopping.n, 5);
  EXPECT_EQ(clock.now() - t0, std::chrono::seconds(8));
}

}  // namespace
}  // namespace shoal::receiver
