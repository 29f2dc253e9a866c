// The Redis StreamAppender. See appender.h.
#include <algorithm>
#include <mutex>

#include "shoal/receiver/appender.h"
#include "shoal/redis_cluster/keyed_client.h"

namespace shoal::receiver {
namespace {

constexpr size_t kIdleClients = 64;

class RedisAppender final : public StreamAppender {
 public:
  RedisAppender(RedisAppenderOptions o, Clock& clock) : opts_(std::move(o)), clock_(clock) {}

  Result<std::vector<std::string>> append(const std::vector<Append>& entries) override {
    std::vector<std::string> ids(entries.size());
    if (entries.empty()) return ids;
    auto client = acquire();
    auto r = appendWith(*client, entries, ids);
    release(std::move(client));
    if (!r) return r.error();
    return ids;
  }

 private:
  Result<void> appendWith(redis::KeyedClient& client, const std::vector<Append>& entries,
                          std::vector<std::string>& ids) {
    // Entries grouped by stream, in order; few distinct streams per request.
    std::vector<std::pair<std::string_view, std::vector<size_t>>> byStream;
    for (size_t i = 0; i < entries.size(); ++i) {
      auto it = std::find_if(byStream.begin(), byStream.end(),
                             [&](const auto& s) { return s.first == entries[i].stream; });
      if (it == byStream.end()) {
        byStream.push_back({entries[i].stream, {}});
        it = byStream.end() - 1;
      }
      it->second.push_back(i);
    }
    for (const auto& [streamView, indices] : byStream) {
      const std::string stream(streamView);
      for (size_t from = 0; from < indices.size(); from += opts_.batch) {
        const size_t to = std::min(indices.size(), from + opts_.batch);
        const bool last = to == indices.size();
        std::vector<redis::Command> cmds;
        cmds.reserve(to - from + 1);
        for (size_t k = from; k < to; ++k) {
          const Append& a = entries[indices[k]];
          redis::Command c;
          c.reserve(3 + 2 * a.fieldCount);
          c.emplace_back("XADD");
          c.emplace_back(stream);
          c.emplace_back("*");
          for (uint8_t f = 0; f < a.fieldCount; ++f) {
            c.emplace_back(a.fields[f].first);
            c.emplace_back(a.fields[f].second);
          }
          cmds.push_back(std::move(c));
        }
        const bool wait = last && opts_.waitReplicas > 0;
        if (wait)
          cmds.push_back({"WAIT", std::to_string(opts_.waitReplicas), std::to_string(opts_.waitTimeoutMs)});
        const MonoTime t0 = clock_.now();
        auto replies = client.pipeline(stream, cmds);
        if (opts_.observeLatency) opts_.observeLatency(toSeconds(clock_.now() - t0));
        if (!replies) return replies.error();
        if (replies->size() != cmds.size())
          return makeError(Errc::kProtocol, "Redis answered " + std::to_string(replies->size()) + " of " +
                                                std::to_string(cmds.size()) + " commands");
        for (size_t k = from; k < to; ++k) {
          redis::Reply& rep = (*replies)[k - from];
          if (!rep.isString()) {
            return makeError(Errc::kServer, "XADD to " + stream + " refused: " +
                                                (rep.isError() ? rep.str : std::string("unexpected reply")));
          }
          ids[indices[k]] = std::move(rep.str);
        }
        if (wait) {
          const auto acked = replies->back().asInt();
          if (!acked || *acked < opts_.waitReplicas)
            return makeError(Errc::kRetryable, "WAIT: " + std::to_string(acked.value_or(0)) + " of " +
                                                   std::to_string(opts_.waitReplicas) +
                                                   " replicas acknowledged the writes to " + stream + " in time");
        }
      }
    }
    return {};
  }

  std::unique_ptr<redis::KeyedClient> acquire() {
    {
      std::lock_guard l(mu_);
      if (!idle_.empty()) {
        auto c = std::move(idle_.back());
        idle_.pop_back();
        return c;
      }
    }
    return redis::keyedClientFor(opts_.redis, clock_);
  }

  void release(std::unique_ptr<redis::KeyedClient> c) {
    std::lock_guard l(mu_);
    if (idle_.size() < kIdleClients) idle_.push_back(std::move(c));
  }

  RedisAppenderOptions opts_;
  Clock& clock_;
  std::mutex mu_;
  std::vector<std::unique_ptr<redis::KeyedClient>> idle_;
};

}  // namespace

std::unique_ptr<StreamAppender> makeRedisAppender(RedisAppenderOptions options, Clock& clock) {
  return std::make_unique<RedisAppender>(std::move(options), clock);
}

}  // namespace shoal::receiver
