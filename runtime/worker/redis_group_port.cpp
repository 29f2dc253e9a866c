// The Redis consumer-group port: the consumer loop's commands on a Redis stream,
// one server (command by command over redis::Client) or a Redis Cluster. See redis_group_port.h.
#include "shoal/worker/redis_group_port.h"

#include <utility>

#include "shoal/redis/source_config.h"
#include "shoal/redis_cluster/keyed_client.h"

namespace shoal {

redis::ConnectionOptions redisOptions(const RedisSourceConfig& c) { return redis::connectionOptions(c); }

namespace {

// An error reply as a refusal: the code orServerError gives it (kNotFound for
// NOGROUP), the server's own text as the message.
Error refusal(const redis::Reply& r) {
  return Error{redis::Reply::orServerError(r).error().code, r.str};
}

// The commands of a group port, over either a single node (one connection;
// dead letters and the XACK go in one pipeline) or a Redis Cluster (each
// command routed by its key's slot; dead letters then the XACK in turn, since
// the dead-letter stream may live on another node).
class GroupSession final : public ConsumerGroupPort {
 public:
  GroupSession(const RedisSourceConfig& c, std::string consumer, std::unique_ptr<redis::KeyedClient> router)
      : stream_(c.stream),
        group_(c.consumerGroup),
        startId_(c.startId),
        deadLetterStream_(c.deadLetterStream),
        consumer_(std::move(consumer)),
        router_(std::move(router)) {}

  template <typename F>
  auto onStream(F&& fn) {
    return router_->on(stream_, std::forward<F>(fn));
  }

  Result<bool> createGroup() override {
    return onStream([&](redis::Client& c) { return c.createGroup(stream_, group_, startId_, true); });
  }
  Result<std::vector<StreamEntry>> readPending(const std::string& afterId, int64_t count) override {
    return onStream([&](redis::Client& c) { return c.readGroup(stream_, group_, consumer_, afterId, count, -1); });
  }
  Result<std::vector<StreamEntry>> readNew(int64_t count, int64_t blockMs) override {
    return onStream([&](redis::Client& c) { return c.readGroup(stream_, group_, consumer_, ">", count, blockMs); });
  }
  Result<std::vector<PendingDeliveries>> pendingDeliveries(const std::string& firstId, const std::string& lastId,
                                                           int64_t count) override {
    auto rows = onStream(
        [&](redis::Client& c) { return c.pendingRange(stream_, group_, firstId, lastId, count, consumer_); });
    if (!rows) return rows.error();
    std::vector<PendingDeliveries> out;
    out.reserve(rows->size());
    for (auto& r : *rows) out.push_back({std::move(r.id), r.deliveries});
    return out;
  }
  Result<ClaimPage> claimIdle(int64_t minIdleMs, const std::string& cursor, int64_t count) override {
    auto r = onStream(
        [&](redis::Client& c) { return c.autoClaim(stream_, group_, consumer_, minIdleMs, cursor, count); });
    if (!r) return r.error();
    return ClaimPage{std::move(r->nextCursor), std::move(r->entries), std::move(r->deletedIds)};
  }
  Result<bool> touch(const std::vector<std::string>& ids) override {
    redis::Command cmd{"XCLAIM", stream_, group_, consumer_, "0"};
    for (const auto& id : ids) cmd.push_back(id);
    cmd.push_back("JUSTID");
    auto r = onStream([&](redis::Client& c) { return c.command(cmd); });
    if (!r) return r.error();
    return !r->isError();
  }
  Result<AckReceipt> deadLetterAndAck(const std::vector<DeadLetter>& deadLetters,
                                      const std::vector<std::string>& ackIds) override {
    std::vector<redis::Command> cmds;
    cmds.reserve(deadLetters.size() + 1);
    for (const auto& d : deadLetters) {
      redis::Command c{"XADD", deadLetterStream_, "*"};
      c.reserve(3 + 2 * d.fields.size());
      for (const auto& [k, v] : d.fields) {
        c.push_back(k);
        c.push_back(v);
      }
      cmds.push_back(std::move(c));
    }
    if (!ackIds.empty()) {
      redis::Command c;
      c.reserve(ackIds.size() + 3);
      c.push_back("XACK");
      c.push_back(stream_);
      c.push_back(group_);
      for (const auto& id : ackIds) c.push_back(id);
      cmds.push_back(std::move(c));
    }
    AckReceipt receipt;
    if (cmds.empty()) return receipt;
    std::vector<redis::Reply> replies;
    if (router_->oneNode()) {
      auto r = router_->on(stream_, [&](redis::Client& c) { return c.pipeline(cmds); });
      if (!r) return r.error();
      replies = std::move(*r);
    } else {
      for (size_t k = 0; k < cmds.size(); ++k) {
        const std::string& key = k < deadLetters.size() ? deadLetterStream_ : stream_;
        auto r = router_->on(key, [&](redis::Client& c) { return c.command(cmds[k]); });
        if (!r) return r.error();  // unconfirmed: the caller retries the whole receipt
        replies.push_back(std::move(*r));
      }
    }
    for (size_t k = 0; k < deadLetters.size(); ++k) {
      const auto& rep = replies[k];
      receipt.deadLetters.push_back(rep.isError() ? Result<void>(refusal(rep)) : Result<void>());
    }
    if (!ackIds.empty()) {
      const auto& rep = replies[deadLetters.size()];
      if (rep.isError())
        receipt.acked = refusal(rep);
      else
        receipt.acked = rep.integer;
    }
    return receipt;
  }
  Duration retryDelay() const override { return router_->retryDelay(); }

  Result<std::optional<GroupGauges>> gauges() override {
    auto gs = onStream([&](redis::Client& c) { return c.groups(stream_); });
    if (!gs) return gs.error();
    for (const auto& g : *gs)
      if (g.name == group_) return std::optional<GroupGauges>(GroupGauges{g.pending, g.lag});
    return std::optional<GroupGauges>();
  }

 private:
  std::string stream_, group_, startId_, deadLetterStream_, consumer_;
  std::unique_ptr<redis::KeyedClient> router_;
};

}  // namespace

std::unique_ptr<ConsumerGroupPort> openRedisGroupPort(const RedisSourceConfig& c, std::string consumerName,
                                                      Clock& clock) {
  return std::make_unique<GroupSession>(c, std::move(consumerName), redis::keyedClientFor(c, clock));
}

}  // namespace shoal
