// The fast path of the ECS mapping for JSON logs: the same document as
// mapToEcs(...)->appendJson(), without a JSON DOM and without per-field
// allocations.
//
// Design note. mapToEcs parses with simdjson, copies every key and value into
// a LogDocument tree and re-escapes every string; at ~300-byte logs that is
// most of the worker's CPU. The fast path scans the payload once and keeps
// keys and values as views into it: a value is kept only when its text is
// already what the general path would print (strings without escapes or
// control characters, plain integers, literals, nested values without
// whitespace). It then runs the same rules (ecs.h) over those views, sharing
// the general path's helpers for levels and timestamps.
// Invariant: map() either produces exactly the bytes and the index fields the
// general path produces, or declines (returns false) and the caller uses
// mapToEcs. It declines on anything unusual (escapes, floats, big numbers,
// whitespace inside nested values, deep nesting, invalid UTF-8, a timestamp
// it cannot parse) and so on every input the general path rejects: errors
// and their reasons always come from the general path. The unit test
// ecs_fast_test pins this on a corpus and on generated inputs.
#pragma once

#include <cstdint>
#include <deque>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "shoal/logs/ecs.h"
#include "shoal/logs/key_set.h"

namespace shoal::logs {

/// \brief Reusable fast mapper (keeps its buffers between entries). Not
/// thread-safe; one per handler. Views stay valid until the next map() and
/// only while the entry and the config passed to map() live.
class FastJsonEcsMapper {
 public:
  /// Maps a JSON-log entry. false: not handled here, use mapToEcs().
  bool map(const StreamEntry& entry, const LogsTransformConfig& config, EpochNanos ingest);
  /// After map() returned true: appends what LogDocument::appendJson would.
  void appendJson(std::string& out) const;
  /// After map() returned true: LogDocument::text() of the same document.
  std::optional<std::string> text(std::string_view path) const;
  /// After map() returned true: the raw JSON of the scalar text() renders
  /// (nullopt exactly when text() is); text() is a function of it.
  std::optional<std::string_view> rawScalar(std::string_view path) const;
  /// After map() returned true: the document's @timestamp.
  EpochNanos timestamp() const { return timestamp_; }

 private:
  struct Node {
    std::string_view key;
    std::string_view raw;     // JSON text of a scalar (empty for objects)
    int32_t firstChild = -1;  // objects (top level only): index into children_
    int32_t lastChild = -1;
    int32_t next = -1;        // next sibling among children_
    int32_t liveChildren = 0;
    bool object = false;
    bool alive = true;
    bool plainKey = false;  // the key needs no JSON escaping: written as it is
  };
  class Scanner;

  bool parse(std::string_view payload, size_t maxFields);
  bool addEntryFieldsAsLabels(const StreamEntry& entry, const LogsTransformConfig& cfg);
  const Node* find(std::string_view path) const;
  Node* findTopLevel(std::string_view key);
  std::optional<std::string_view> take(std::string_view path);
  std::optional<std::string_view> takeFirstScalar(std::initializer_list<std::string_view> paths,
                                                  bool stringOnly = false);
  // `plainPath`: the path is one of the mapper's own names (no escapes);
  // false for configured ones (enrichment), which are checked.
  bool set(std::string_view path, std::string_view raw, bool overwrite = true, bool plainPath = true);
  Node& objectAt(std::string_view ns, bool plainKey = true);
  void addChild(Node& parent, std::string_view key, std::string_view raw, bool plainKey = false);
  Node& addTop(std::string_view key, bool plainKey = false);
  /// Could a top-level node have this key? false: certainly not (a filter
  /// over every top-level key ever added for this entry, so that the many
  /// candidate names of the canonical fields cost no scan when absent).
  bool mayHaveTop(std::string_view key) const { return (topKeyBits_ & keyBit(key)) != 0; }
  static uint64_t keyBit(std::string_view key) {
    if (key.empty()) return 1;
    const auto first = static_cast<unsigned char>(key.front()), last = static_cast<unsigned char>(key.back());
    return uint64_t{1} << ((key.size() * 31 + first * 7 + last) & 63);
  }
  std::string_view own(std::string s);
  static bool plainJsonKey(std::string_view key);
  static void appendKey(std::string& out, const Node& n);
  std::string_view asJsonStringRaw(std::string_view raw);

  std::vector<Node> top_;
  std::vector<Node> children_;
  std::deque<std::string> owned_;  // values made up while mapping (stable addresses)
  // Duplicate-key detection (first wins) in linear time; views into the
  // payload, the entry and owned_.
  KeySet topKeys_, childKeys_, flatLabelKeys_;
  uint64_t topKeyBits_ = 0;  // keyBit() of every top-level key added (see mayHaveTop)
  EpochNanos timestamp_ = 0;
  EpochNanos ingestCachedFor_ = -1;
  std::string ingestRaw_;
};

}  // namespace shoal::logs
