// RedisStreamInspector: StreamInspector over Shoal's Redis client. Keeps one
// reconnecting client per endpoint and credentials.
#include <map>

#include "shoal/probe/backlog_probe.h"
#include "shoal/probe/redis_connection.h"
#include "shoal/redis/client.h"

namespace shoal::probe {
namespace {

class RedisStreamInspector final : public StreamInspector {
 public:
  explicit RedisStreamInspector(Clock& clock) : clock_(clock) {}

  Result<StreamSnapshot> inspect(const RedisTarget& target, const std::string& stream,
                                 const std::string& group, ReadFailure* failure) override {
    auto client = clientFor(target);
    if (!client.ok()) {
      *failure = ReadFailure::kProtocol;
      return client.error();
    }
    redis::Client& c = *client.value();
    auto groups = c.groups(stream);
    if (!groups.ok()) {
      *failure = classify(groups.error());
      return groups.error();
    }
    StreamSnapshot s;
    bool found = false;
    for (const auto& g : groups.value()) {
      if (g.name != group) continue;
      found = true;
      s.lag = g.lag;
      s.pending = g.pending;
      s.entriesRead = g.entriesRead;
      s.consumers = g.consumers;
    }
    if (!found) {
      *failure = ReadFailure::kGroupNotFound;
      return makeError(Errc::kNotFound, "consumer group \"" + group + "\" not found on stream \"" +
                                            stream + "\"");
    }
    auto info = c.streamInfo(stream);
    if (!info.ok()) {
      *failure = classify(info.error());
      return info.error();
    }
    s.entriesAdded = info->entriesAdded;
    s.length = info->length;
    return s;
  }

  Result<void> ensureGroup(const RedisTarget& target, const std::string& stream,
                           const std::string& group, const std::string& startId) override {
    auto client = clientFor(target);
    if (!client.ok()) return client.error();
    auto r = client.value()->createGroup(stream, group, startId.empty() ? "$" : startId, true);
    if (!r.ok()) return r.error();
    return {};
  }

  Result<void> destroyGroup(const RedisTarget& target, const std::string& stream,
                            const std::string& group) override {
    auto client = clientFor(target);
    if (!client.ok()) return client.error();
    auto r = client.value()->command({"XGROUP", "DESTROY", stream, group});
    if (!r.ok()) return r.error();
    // An error reply here means the stream does not exist: nothing to destroy.
    return {};
  }

 private:
  static ReadFailure classify(const Error& e) {
    if (e.code == Errc::kNotFound) return ReadFailure::kStreamNotFound;
    if (e.code == Errc::kServer) {
      if (e.message.find("NOAUTH") != std::string::npos ||
          e.message.find("WRONGPASS") != std::string::npos ||
          e.message.find("NOPERM") != std::string::npos) {
        return ReadFailure::kAuth;
      }
      return ReadFailure::kProtocol;
    }
    if (e.code == Errc::kProtocol) return ReadFailure::kProtocol;
    return ReadFailure::kUnreachable;
  }

  Result<redis::Client*> clientFor(const RedisTarget& t) {
    std::string key = t.endpoint() + "\n" + t.username + "\n" + t.password + "\n" +
                      (t.tlsInsecureSkipVerify ? "1" : "0") + t.tlsServerName + "\n" +
                      t.tlsCaPem + "\n" + t.tlsCertPem + "\n" + t.tlsKeyPem;
    auto it = clients_.find(key);
    if (it != clients_.end()) return it->second.get();
    auto opts = connectionOptionsFor(t);
    if (!opts.ok()) return opts.error();
    redis::ConnectionOptions o = std::move(opts.value());
    o.connectTimeout = std::chrono::seconds(1);
    o.readTimeout = std::chrono::seconds(2);
    o.reconnectMax = std::chrono::seconds(2);
    auto client = std::make_unique<redis::Client>(o, clock_);
    redis::Client* raw = client.get();
    if (clients_.size() > 256) clients_.clear();  // credentials rotated many times: start over
    clients_.emplace(key, std::move(client));
    return raw;
  }

  Clock& clock_;
  std::map<std::string, std::unique_ptr<redis::Client>> clients_;
};

}  // namespace

std::shared_ptr<StreamInspector> makeRedisStreamInspector(Clock& clock) {
  return std::make_shared<RedisStreamInspector>(clock);
}

}  // namespace shoal::probe
