// Redis Cluster mode for Shoal's Redis client: key -> hash slot routing, slot
// map discovery (CLUSTER SHARDS, falling back to CLUSTER SLOTS on servers
// before 7.0), MOVED and ASK redirection, and topology refresh after a
// failover, over one redis::Client per primary (same TLS, ACL and timeouts as
// a single-node client; reads go to primaries).
//
// Design note
//  - A command names one key (one slot). Redis Cluster rejects a command
//    whose keys hash to different slots (CROSSSLOT), even on one node, so a
//    reader of several shard streams sends one XREADGROUP per shard; what
//    shares a node can be pipelined (commandsOnNode).
//  - MOVED <slot> <host:port>: the slot lives elsewhere now. The map entry is
//    updated, a full refresh is scheduled, and the command is sent again to
//    the new owner (it was not executed). ASK: the slot is being migrated and
//    this key already moved; the command is sent once to the target preceded
//    by ASKING, and the map is left alone.
//  - An I/O error is returned to the caller as is (the command may or may not
//    have run, and XADD/XREADGROUP are not idempotent), and the next call
//    refreshes the topology first: after a failover the replica that took
//    over answers for the slots. CLUSTERDOWN (a node whose view of a failover
//    has not converged yet) and TRYAGAIN (a multi-key command mid-migration)
//    are returned as well and also schedule a refresh; the caller retries.
//  - Not thread-safe, like redis::Client: one per thread.
#pragma once

#include <algorithm>
#include <array>
#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <type_traits>
#include <utility>
#include <vector>

#include "shoal/common/clock.h"
#include "shoal/common/result.h"
#include "shoal/redis/client.h"

namespace shoal::redis {

inline constexpr int kClusterSlots = 16384;

/// The hash slot of a key: CRC16 (XMODEM) of the key, or of its hash tag (the
/// text between the first '{' and the next '}', when not empty), mod 16384.
uint16_t keySlot(std::string_view key);

/// "host:port" of a node.
struct NodeAddress {
  std::string host;
  int port = 0;
  std::string str() const;
  bool operator==(const NodeAddress&) const = default;
};
/// Parses "host:port" (also "[v6]:port" and Redis's "host:port@busport").
std::optional<NodeAddress> parseNodeAddress(std::string_view s);

/// One contiguous range of slots and the node serving it.
struct SlotRange {
  int first = 0, last = 0;  // inclusive
  NodeAddress primary;
  std::vector<NodeAddress> replicas;
};

/// Decoders of the two discovery replies (RESP2 shapes). CLUSTER SHARDS
/// ranges whose primary is not online are skipped.
Result<std::vector<SlotRange>> decodeClusterShards(const Reply& r);
Result<std::vector<SlotRange>> decodeClusterSlots(const Reply& r);

/// A MOVED or ASK error text ("MOVED 3999 127.0.0.1:6381", with or without the
/// client's "redis: " prefix), decoded.
struct Redirect {
  bool ask = false;  // ASK (one command) rather than MOVED (the slot moved)
  int slot = 0;
  NodeAddress to;
};
std::optional<Redirect> parseRedirect(std::string_view errorText);

struct ClusterOptions {
  std::vector<NodeAddress> seeds;  // any nodes of the cluster; at least one
  ConnectionOptions node;          // db must be 0; host/port are per node
  int maxRedirects = 5;            // per command
  Duration refreshMinInterval = std::chrono::seconds(1);  // between scheduled refreshes
};

/// \brief A Redis Cluster client. Not thread-safe.
class ClusterClient {
 public:
  ClusterClient(ClusterOptions opts, Clock& clock);
  ~ClusterClient();
  ClusterClient(const ClusterClient&) = delete;
  ClusterClient& operator=(const ClusterClient&) = delete;

  /// Reads the slot map from the first node (seeds, then known nodes) that
  /// answers. Called by the first command and after errors; callable directly.
  Result<void> refreshTopology();
  /// The primary serving the slot in the current map, if any.
  std::optional<NodeAddress> ownerOf(uint16_t slot) const;
  /// The primaries in the current map, sorted.
  std::vector<NodeAddress> primaries() const;
  /// How many refreshes and redirects happened (for logs, tests, metrics).
  int64_t refreshes() const { return refreshes_; }
  int64_t redirects() const { return redirects_; }

  /// Runs fn(client of the node serving key) and follows redirects. fn must
  /// send exactly one command about key (typed calls of redis::Client do).
  template <typename F>
  std::invoke_result_t<F, Client&> withKey(std::string_view key, F&& fn);

  /// Any command about `key`. Error replies other than redirects come back
  /// as Reply values, as from Client::command.
  Result<Reply> command(std::string_view key, const Command& args, Duration extraTimeout = Duration::zero());
  /// Commands all about `key`, in one round trip to the node serving it.
  /// A reply that is a redirect (the slot moved or is migrating) is re-sent
  /// alone through command(), which follows it; error replies that are not
  /// redirects come back as they are, so the caller knows exactly which
  /// commands did not run (each reply is that command's own outcome).
  Result<std::vector<Reply>> pipeline(std::string_view key, const std::vector<Command>& cmds);

  // The stream commands of redis::Client, routed by the stream's key.
  Result<bool> createGroup(const std::string& stream, const std::string& group, const std::string& startId,
                           bool mkstream = true);
  Result<std::vector<StreamEntry>> readGroup(const std::string& stream, const std::string& group,
                                             const std::string& consumer, const std::string& id, int64_t count,
                                             int64_t blockMs);
  Result<int64_t> ack(const std::string& stream, const std::string& group, const std::vector<std::string>& ids);
  Result<AutoClaimResult> autoClaim(const std::string& stream, const std::string& group,
                                    const std::string& consumer, int64_t minIdleMs, const std::string& start,
                                    int64_t count);
  Result<PendingSummary> pendingSummary(const std::string& stream, const std::string& group);
  Result<std::vector<GroupInfo>> groups(const std::string& stream);
  Result<StreamInfo> streamInfo(const std::string& stream);
  Result<std::string> add(const std::string& stream, const std::vector<std::pair<std::string, std::string>>& fields,
                          int64_t approxMaxLen = -1);

 private:
  Client& clientFor(const NodeAddress& a);
  Result<void> ensureTopology();
  template <typename T>
  static std::optional<Redirect> redirectOf(const Result<T>& r);
  static std::optional<Redirect> redirectOf(const Result<Reply>& r);

  ClusterOptions opts_;
  Clock& clock_;
  std::vector<NodeAddress> nodes_;                   // index -> primary
  std::array<int16_t, kClusterSlots> slotNode_;      // slot -> index into nodes_, -1 none
  std::map<std::string, std::unique_ptr<Client>> clients_;  // "host:port" -> client
  bool haveMap_ = false;
  bool stale_ = false;
  MonoTime lastRefresh_{};
  int64_t refreshes_ = 0, redirects_ = 0;
};

// ----------------------------------------------------------------- inline

template <typename T>
std::optional<Redirect> ClusterClient::redirectOf(const Result<T>& r) {
  if (r.ok() || r.error().code != Errc::kServer) return std::nullopt;
  return parseRedirect(r.error().message);
}

template <typename F>
std::invoke_result_t<F, Client&> ClusterClient::withKey(std::string_view key, F&& fn) {
  using R = std::invoke_result_t<F, Client&>;
  if (auto t = ensureTopology(); !t) return R(t.error());
  const uint16_t slot = keySlot(key);
  std::optional<NodeAddress> askTarget;
  for (int attempt = 0;; ++attempt) {
    std::optional<NodeAddress> target = askTarget ? askTarget : ownerOf(slot);
    if (!target) {
      stale_ = true;
      return R(makeError(Errc::kIo, "redis cluster: no node serves slot " + std::to_string(slot)));
    }
    Client& c = clientFor(*target);
    if (askTarget) {
      auto asking = c.command({"ASKING"});
      if (!asking) return R(asking.error());
    }
    R r = fn(c);
    if (!r.ok() && (r.error().code == Errc::kIo || r.error().code == Errc::kTimeout ||
                    r.error().message.find("CLUSTERDOWN") != std::string::npos ||
                    r.error().message.find("TRYAGAIN") != std::string::npos))
      stale_ = true;
    std::optional<Redirect> redirect = redirectOf(r);
    if (!redirect || attempt >= opts_.maxRedirects) return r;
    ++redirects_;
    if (redirect->ask) {
      askTarget = redirect->to;
    } else {
      askTarget.reset();
      auto it = std::find(nodes_.begin(), nodes_.end(), redirect->to);
      if (it == nodes_.end()) it = nodes_.insert(nodes_.end(), redirect->to);
      slotNode_[redirect->slot] = static_cast<int16_t>(it - nodes_.begin());
      stale_ = true;  // more slots probably moved with it
    }
  }
}

}  // namespace shoal::redis
