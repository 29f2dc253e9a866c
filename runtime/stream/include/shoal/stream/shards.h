// The streams of a sharded pipeline: `spec.source.redis.shards: N` turns the
// pipeline's stream S into N streams "S:{0}" ... "S:{N-1}". The hash tag puts
// each shard in a slot of its own on Redis Cluster; one consumer group of the
// same name reads every shard. With N = 1 the stream is S itself.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

namespace shoal {

inline constexpr int32_t kMaxShards = 1024;

/// The i-th shard stream of `stream` (0-based) when sharded.
inline std::string shardStream(const std::string& stream, int32_t i) {
  return stream + ":{" + std::to_string(i) + "}";
}

/// Every stream of the pipeline, in shard order ({stream} when shards <= 1).
inline std::vector<std::string> shardStreams(const std::string& stream, int32_t shards) {
  if (shards <= 1) return {stream};
  std::vector<std::string> out;
  out.reserve(static_cast<size_t>(shards));
  for (int32_t i = 0; i < shards; ++i) out.push_back(shardStream(stream, i));
  return out;
}

/// The dead-letter stream of shard i of a pipeline whose dead-letter stream
/// is `deadLetterStream`: the default "<stream>:dead" follows each shard (and
/// its hash slot, so that dead-lettering and replay stay on one node of a
/// cluster): "<stream>:{i}:dead"; a dead-letter stream set explicitly is
/// shared by every shard. With one shard it is `deadLetterStream` itself.
inline std::string shardDeadLetterStream(const std::string& stream, const std::string& deadLetterStream,
                                         int32_t shards, int32_t i) {
  if (shards <= 1 || deadLetterStream != stream + ":dead") return deadLetterStream;
  return shardStream(stream, i) + ":dead";
}

/// The shard (0-based) that entries with this key go to, so that entries of
/// one key keep their order within one shard. A stable hash (64-bit FNV-1a):
/// every writer of the pipeline (the receiver, shoal-loadgen) agrees, across
/// processes and versions.
inline int32_t shardForKey(std::string_view key, int32_t shards) {
  if (shards <= 1) return 0;
  uint64_t h = 14695981039346656037ull;
  for (unsigned char c : key) {
    h ^= c;
    h *= 1099511628211ull;
  }
  return static_cast<int32_t>(h % static_cast<uint64_t>(shards));
}

}  // namespace shoal
