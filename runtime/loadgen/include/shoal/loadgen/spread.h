// How shoal-loadgen spreads entries over a sharded pipeline's streams
// (shoal/stream/shards.h): round robin, by the hash of a key (the order of
// one key's entries holds within its shard, as the receiver's shardKey
// keeps it), or with one hot shard taking a fixed share.
#pragma once

#include <cstdint>
#include <string>

namespace shoal::loadgen {

struct Spread {
  enum class Mode { kRoundRobin, kKey, kHot } mode = Mode::kRoundRobin;
  int32_t shards = 1;
  int64_t keys = 64;    // kKey: distinct keys "host-<seq % keys>"
  int hotPercent = 90;  // kHot: shard 0 gets this share, the rest round robin

  /// The shard (0-based) of the seq-th entry.
  int32_t shardOf(uint64_t seq) const;
};

/// "round-robin", "key" or "hot:<0..100>"; false (out untouched in its
/// mode) for anything else.
bool parseSpread(const std::string& text, Spread& out);

}  // namespace shoal::loadgen
