// The dead-letter stream of a Pipeline, as `kubectl shoal dlq` shows it and
// `kubectl shoal replay` moves it back.
//
// What the worker writes (runtime/worker/consumer_loop.cpp): one XADD to the
// dead-letter stream (spec.source.redis.deadLetterStream, default
// "<stream>:dead") per entry, with the entry's own fields followed by
// shoal.reason, shoal.original_id, shoal.stream, shoal.group and
// shoal.deliveries.
//
// Replay semantics (the contract, also in operator/plugin/README.md):
//  - An entry is replayed by one Lua script run atomically by Redis: if the
//    id is still in the dead-letter stream, XADD its original fields (the
//    five shoal.* fields removed, order kept) to the Pipeline's source stream
//    with a new id, then XDEL it from the dead-letter stream; otherwise do
//    nothing. So an entry is moved at most once, however often or
//    concurrently replay runs: replaying twice never duplicates it.
//  - Only entries that name this Pipeline's stream and consumer group in
//    shoal.stream / shoal.group are replayed (a dead-letter stream shared by
//    two Pipelines keeps the other's entries); entries without those fields
//    count as this Pipeline's.
//  - The replayed copy is new to every consumer group of the source stream,
//    not only to this Pipeline's.
//  - An entry without original fields cannot be XADDed and stays.
//  - A sharded Pipeline (spec.source.redis.shards > 1) has one dead-letter
//    stream per shard by default ("<stream>:{i}:dead", shoal/stream/shards.h),
//    each a DeadLetterSource of its own whose entries go back to their
//    shard; an explicit deadLetterStream is shared by the shards, and each
//    entry goes back to the shard named in its shoal.stream. On a Redis
//    Cluster the script needs both keys in one slot: the default per-shard
//    streams are (same hash tag); a shared one generally is not, and Redis
//    refuses (the item fails with Redis's reason and stays).
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "shoal/common/clock.h"
#include "shoal/common/result.h"
#include "shoal/plugin/output.h"
#include "shoal/redis/client.h"
#include "shoal/redis_cluster/keyed_client.h"
#include "shoal/stream/stream_entry.h"

namespace shoal::plugin {

/// Where a Pipeline's entries and dead letters live: one dead-letter stream
/// and the source streams whose dead letters it holds.
struct DeadLetterSource {
  std::string stream;            // spec.source.redis.stream (or one shard's stream)
  std::string group;             // spec.source.redis.consumerGroup
  std::string deadLetterStream;  // spec.source.redis.deadLetterStream or "<stream>:dead"
  /// Every source stream whose entries this dead-letter stream may hold
  /// (the shards sharing it); empty means {stream}.
  std::vector<std::string> streams = {};

  bool holdsStream(const std::string& s) const;
};

/// From a Pipeline's spec JSON (spec.source.redis...), with the worker's
/// defaults: one source per dead-letter stream (one for an unsharded
/// Pipeline or a shared dead-letter stream, else one per shard, in order).
std::vector<DeadLetterSource> deadLetterSourcesOf(const Json& pipelineSpec);

/// One dead-letter stream entry, split into what the worker added and the
/// entry's own fields.
struct DeadLetter {
  std::string id;  // in the dead-letter stream
  std::string reason;
  std::string originalId;
  std::string stream;
  std::string group;
  std::optional<int64_t> deliveries;
  std::vector<std::pair<std::string, std::string>> fields;  // the original entry's
};

/// Whether `field` is one of the five the worker adds.
bool isDeadLetterField(const std::string& field);
DeadLetter deadLetterOf(const StreamEntry& e);

/// The milliseconds part of a stream id ("1700000000000-3"), if it has one.
std::optional<int64_t> idMillis(const std::string& id);

/// The `dlq` table: ID, AGE, ORIGINAL ID, DELIVERIES, REASON, FIELDS.
std::string formatDeadLetters(const std::vector<DeadLetter>& entries, WallTime now);
Json deadLettersDocument(const DeadLetterSource& src, int64_t length,
                         const std::vector<DeadLetter>& entries);

/// What replay does (or would do) with one requested id.
struct ReplayItem {
  enum class Outcome {
    kReplay,         // planned (dry run: would be replayed)
    kReplayed,       // moved; newId is its id in the source stream
    kMissing,        // not in the dead-letter stream (already replayed, or never there)
    kOtherPipeline,  // written for another stream or group: left alone
    kNoFields,       // no original fields to XADD: left alone
    kFailed,         // Redis refused; note says why; left in place
  };
  std::string id;
  Outcome outcome = Outcome::kReplay;
  std::string target;  // the stream it goes (or went) back to
  std::string newId;
  std::string note;
};
const char* outcomeName(ReplayItem::Outcome o);

/// The plan: every present entry for `all`, else each of `ids` in order
/// (duplicates once), each marked kReplay, kMissing, kOtherPipeline or kNoFields.
std::vector<ReplayItem> planReplay(const std::vector<DeadLetter>& present,
                                   const std::vector<std::string>& ids, bool all,
                                   const DeadLetterSource& src);

/// Human lines for a plan or its result, and a summary line.
std::string formatReplay(const std::vector<ReplayItem>& items, const DeadLetterSource& src,
                         bool dryRun);
Json replayDocument(const std::vector<ReplayItem>& items, const DeadLetterSource& src, bool dryRun);

// ---- Redis I/O (shoal_redis; one server or a cluster, routed by key) ----

/// XLEN of the dead-letter stream (0 when it does not exist).
Result<int64_t> deadLetterLength(redis::KeyedClient& c, const DeadLetterSource& src);
/// The newest `tail` entries in id order (tail < 0: all of them, read in pages).
Result<std::vector<DeadLetter>> readDeadLetters(redis::KeyedClient& c, const DeadLetterSource& src,
                                                int64_t tail);
/// Entries by id (XRANGE id id each, pipelined); ids not present are left out.
Result<std::vector<DeadLetter>> readDeadLettersById(redis::KeyedClient& c, const DeadLetterSource& src,
                                                    const std::vector<std::string>& ids);
/// Runs the replay script for every kReplay item, turning it into kReplayed,
/// kMissing (moved by someone else meanwhile), kNoFields or kFailed. A
/// transport error stops the run and is returned; items done so far keep
/// their outcome.
Result<void> executeReplay(redis::KeyedClient& c, const DeadLetterSource& src,
                           std::vector<ReplayItem>& items);

}  // namespace shoal::plugin
