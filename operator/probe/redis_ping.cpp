// RedisPinger over shoal_redis (see redis_ping.h).
#include "shoal/probe/redis_ping.h"

#include "shoal/probe/redis_connection.h"

namespace shoal::probe {
namespace {

class RedisClientPinger final : public RedisPinger {
 public:
  explicit RedisClientPinger(Clock& clock) : clock_(clock) {}
  Result<void> ping(const RedisTarget& t) override {
    auto opts = connectionOptionsFor(t);
    if (!opts.ok()) return opts.error();
    redis::ConnectionOptions o = std::move(opts.value());
    o.connectTimeout = std::chrono::seconds(1);
    o.readTimeout = std::chrono::seconds(2);
    redis::Client client(std::move(o), clock_);
    return client.ping();
  }

 private:
  Clock& clock_;
};

}  // namespace

std::unique_ptr<RedisPinger> makeRedisPinger(Clock& clock) { return std::make_unique<RedisClientPinger>(clock); }

}  // namespace shoal::probe
