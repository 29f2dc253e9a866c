// The throttle gate, the backlog monitor and its Redis load source. See
// backpressure.h.
#include "shoal/receiver/backpressure.h"

#include <algorithm>

#include "shoal/redis_cluster/keyed_client.h"
#include "shoal/redis_cluster/stream_load.h"

namespace shoal::receiver {

ThrottleGate::ThrottleGate(std::vector<std::string> streams)
    : streams_(std::move(streams)), flags_(new std::atomic<bool>[streams_.size()]) {
  for (size_t i = 0; i < streams_.size(); ++i) flags_[i].store(false);
}

bool ThrottleGate::throttled(std::string_view stream) const {
  for (size_t i = 0; i < streams_.size(); ++i)
    if (streams_[i] == stream) return flags_[i].load(std::memory_order_relaxed);
  return false;
}

BacklogMonitor::BacklogMonitor(ThrottleGate& gate, LoadSource& source, ThrottleLimits limits, Observer& observer)
    : gate_(gate), source_(source), limits_(limits), observer_(observer) {}

bool BacklogMonitor::checkOnce() {
  bool ok = true;
  const auto& streams = gate_.streams();
  for (size_t i = 0; i < streams.size(); ++i) {
    auto l = source_.load(streams[i]);
    if (!l) {
      ok = false;
      continue;
    }
    const bool over = overLimit(*l, limits_);
    gate_.set(i, over);
    observer_.measured(streams[i], *l, over);
  }
  observer_.reachable(ok);
  return ok;
}

void BacklogMonitor::run(Clock& clock, Duration interval) {
  const Duration slice = std::min<Duration>(interval, std::chrono::milliseconds(50));
  while (!stop_.load()) {
    checkOnce();
    const MonoTime due = clock.now() + interval;
    while (!stop_.load() && clock.now() < due) clock.sleepFor(std::min<Duration>(slice, due - clock.now()));
  }
}

namespace {

class RedisLoadSource final : public LoadSource {
 public:
  RedisLoadSource(const RedisSourceConfig& c, Clock& clock) : client_(redis::keyedClientFor(c, clock)) {}
  Result<StreamLoad> load(const std::string& stream) override { return redis::readStreamLoad(*client_, stream); }

 private:
  std::unique_ptr<redis::KeyedClient> client_;
};

}  // namespace

std::unique_ptr<LoadSource> makeRedisLoadSource(const RedisSourceConfig& redis, Clock& clock) {
  return std::make_unique<RedisLoadSource>(redis, clock);
}

}  // namespace shoal::receiver
