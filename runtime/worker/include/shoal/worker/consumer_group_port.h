// ConsumerGroupPort: what the consumer loop needs of one consumer of a
// consumer group (read its own pending entries and new ones, learn delivery
// counts, claim idle entries, keep held entries fresh, dead-letter and
// acknowledge, read the group's gauges). The stream, group, consumer name and
// dead-letter stream are bound when a port is opened, so the loop speaks only
// of entries. RedisGroupPort (redis_group_port.h) is the one implementation
// over a single Redis stream; sharded streams and Redis Cluster are further
// implementations of the same interface, and unit tests use an in-memory one.
//
// Contract (every implementation):
//  - One port is one session (one connection): not thread-safe. The loop opens
//    one per thread (reader, acknowledger, sweep); they act on the same group.
//  - An Error means the call failed as a whole (I/O, protocol, timeout, or a
//    refusal named below) and nothing can be assumed about what took effect;
//    the caller decides whether to retry. Calls never retry by themselves.
//  - An entry whose payload was deleted from the stream while pending comes
//    back from readPending with no fields and stays pending until
//    acknowledged; claimIdle instead drops such ids from the pending list and
//    names them in ClaimPage::deletedIds (Redis 7's XAUTOCLAIM).
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "shoal/common/clock.h"
#include "shoal/common/result.h"
#include "shoal/stream/stream_entry.h"

namespace shoal {

/// How often the group has delivered one pending entry (XPENDING's count).
struct PendingDeliveries {
  std::string id;
  int64_t deliveries = 0;
};

/// One page of a claim of idle entries (XAUTOCLAIM).
struct ClaimPage {
  std::string nextCursor;               // "0-0" when the pass is complete
  std::vector<StreamEntry> entries;     // now ours; deliveries include this claim
  std::vector<std::string> deletedIds;  // pending ids whose entries were gone (no longer pending)
};

/// A copy of an entry for the dead-letter stream: its fields in order, then
/// the loop's annotations (reason, original id, ...).
struct DeadLetter {
  std::vector<std::pair<std::string, std::string>> fields;
};

/// What one deadLetterAndAck round trip did.
struct AckReceipt {
  /// One per DeadLetter, in order: ok, or the refusal of that copy (the
  /// message is the server's).
  std::vector<Result<void>> deadLetters;
  /// How many of the acknowledged ids were still pending, or the refusal
  /// (Errc::kNotFound when the group is gone, else Errc::kServer; the message
  /// is the server's). 0 when no ids were given.
  Result<int64_t> acked = int64_t{0};
};

/// The group's gauges (XINFO GROUPS).
struct GroupGauges {
  int64_t pending = 0;
  std::optional<int64_t> lag;  // unknown (nil) after XDEL/trim or an arbitrary SETID
};

/// \brief One consumer's session on a consumer group. Not thread-safe.
class ConsumerGroupPort {
 public:
  virtual ~ConsumerGroupPort() = default;

  /// Creates the group at the configured start id (and the stream if
  /// missing). True if created, false if it already existed.
  virtual Result<bool> createGroup() = 0;
  /// Up to `count` of this consumer's own pending entries after `afterId`
  /// ("0": from the start), in id order; an empty vector when there are no
  /// more. Delivery counts are not known from this read (left at 1; see
  /// pendingDeliveries()). Errc::kNotFound when the group does not exist.
  virtual Result<std::vector<StreamEntry>> readPending(const std::string& afterId,
                                                       int64_t count) = 0;
  /// Up to `count` entries never delivered to the group (first deliveries,
  /// deliveries = 1), waiting up to blockMs for the first (blockMs < 0: no
  /// wait). Errc::kNotFound when the group does not exist.
  virtual Result<std::vector<StreamEntry>> readNew(int64_t count, int64_t blockMs) = 0;
  /// This consumer's pending entries with ids in [firstId, lastId], at most
  /// `count`, in id order, with their delivery counts.
  virtual Result<std::vector<PendingDeliveries>> pendingDeliveries(const std::string& firstId,
                                                                   const std::string& lastId,
                                                                   int64_t count) = 0;
  /// Claims for this consumer up to `count` entries of anyone's pending list
  /// idle for at least minIdleMs, starting at `cursor` ("0-0": the start).
  virtual Result<ClaimPage> claimIdle(int64_t minIdleMs, const std::string& cursor,
                                      int64_t count) = 0;
  /// Resets the idle time of entries this consumer holds without counting a
  /// delivery (XCLAIM ... JUSTID). False when the server refused.
  virtual Result<bool> touch(const std::vector<std::string>& ids) = 0;
  /// In one round trip: appends each dead letter to the dead-letter stream,
  /// then acknowledges `ackIds`. See AckReceipt for per-command refusals.
  virtual Result<AckReceipt> deadLetterAndAck(const std::vector<DeadLetter>& deadLetters,
                                              const std::vector<std::string>& ackIds) = 0;
  /// The group's gauges; nullopt when the stream has no such group,
  /// Errc::kNotFound when there is no such stream.
  virtual Result<std::optional<GroupGauges>> gauges() = 0;
  /// How long until a call can be attempted again after a failure (a
  /// reconnect backoff); zero if now.
  virtual Duration retryDelay() const = 0;
};

}  // namespace shoal
