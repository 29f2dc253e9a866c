// RedisGroupPort: the consumer loop's port on a Redis stream, command by
// command over redis::Client. See redis_group_port.h.
#include "shoal/worker/redis_group_port.h"

#include <utility>

namespace shoal {

redis::ConnectionOptions redisOptions(const RedisSourceConfig& c) {
  redis::ConnectionOptions o;
  o.host = c.host;
  o.port = c.port;
  o.db = c.db;
  o.username = c.username;
  o.password = c.password;
  o.tls.enabled = c.tls.enabled;
  o.tls.caFile = c.tls.caFile;
  o.tls.certFile = c.tls.certFile;
  o.tls.keyFile = c.tls.keyFile;
  o.tls.serverName = c.tls.serverName;
  o.tls.insecureSkipVerify = c.tls.insecureSkipVerify;
  o.connectTimeout = millis(c.connectTimeoutMs);
  o.readTimeout = millis(c.readTimeoutMs);
  return o;
}

namespace {

// An error reply as a refusal: the code orServerError gives it (kNotFound for
// NOGROUP), the server's own text as the message.
Error refusal(const redis::Reply& r) {
  return Error{redis::Reply::orServerError(r).error().code, r.str};
}

}  // namespace

RedisGroupPort::RedisGroupPort(const RedisSourceConfig& c, std::string consumerName, Clock& clock)
    : stream_(c.stream),
      group_(c.consumerGroup),
      startId_(c.startId),
      deadLetterStream_(c.deadLetterStream),
      consumer_(std::move(consumerName)),
      client_(redisOptions(c), clock) {}

Result<bool> RedisGroupPort::createGroup() {
  return client_.createGroup(stream_, group_, startId_, true);
}

Result<std::vector<StreamEntry>> RedisGroupPort::readPending(const std::string& afterId,
                                                             int64_t count) {
  return client_.readGroup(stream_, group_, consumer_, afterId, count, -1);
}

Result<std::vector<StreamEntry>> RedisGroupPort::readNew(int64_t count, int64_t blockMs) {
  return client_.readGroup(stream_, group_, consumer_, ">", count, blockMs);
}

Result<std::vector<PendingDeliveries>> RedisGroupPort::pendingDeliveries(const std::string& firstId,
                                                                         const std::string& lastId,
                                                                         int64_t count) {
  auto rows = client_.pendingRange(stream_, group_, firstId, lastId, count, consumer_);
  if (!rows) return rows.error();
  std::vector<PendingDeliveries> out;
  out.reserve(rows->size());
  for (auto& r : *rows) out.push_back({std::move(r.id), r.deliveries});
  return out;
}

Result<ClaimPage> RedisGroupPort::claimIdle(int64_t minIdleMs, const std::string& cursor,
                                            int64_t count) {
  auto r = client_.autoClaim(stream_, group_, consumer_, minIdleMs, cursor, count);
  if (!r) return r.error();
  return ClaimPage{std::move(r->nextCursor), std::move(r->entries), std::move(r->deletedIds)};
}

Result<bool> RedisGroupPort::touch(const std::vector<std::string>& ids) {
  redis::Command c{"XCLAIM", stream_, group_, consumer_, "0"};
  for (const auto& id : ids) c.push_back(id);
  c.push_back("JUSTID");
  auto r = client_.command(c);
  if (!r) return r.error();
  return !r->isError();
}

Result<AckReceipt> RedisGroupPort::deadLetterAndAck(const std::vector<DeadLetter>& deadLetters,
                                                    const std::vector<std::string>& ackIds) {
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
  auto replies = client_.pipeline(cmds);
  if (!replies) return replies.error();
  for (size_t k = 0; k < deadLetters.size(); ++k) {
    const auto& rep = (*replies)[k];
    receipt.deadLetters.push_back(rep.isError() ? Result<void>(refusal(rep)) : Result<void>());
  }
  if (!ackIds.empty()) {
    const auto& rep = (*replies)[deadLetters.size()];
    if (rep.isError())
      receipt.acked = refusal(rep);
    else
      receipt.acked = rep.integer;
  }
  return receipt;
}

Result<std::optional<GroupGauges>> RedisGroupPort::gauges() {
  auto gs = client_.groups(stream_);
  if (!gs) return gs.error();
  for (const auto& g : *gs)
    if (g.name == group_) return std::optional<GroupGauges>(GroupGauges{g.pending, g.lag});
  return std::optional<GroupGauges>();
}

}  // namespace shoal
