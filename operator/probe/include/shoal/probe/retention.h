// Safe retention: which entries of a stream may be trimmed without losing
// anything a consumer group still needs, as pure functions, and the one
// atomic Redis step that does it (trimScript(), run by the inspector's trim).
//
// Design note
// - Redis 7.0 has no XTRIM ... ACKED, so the bound is computed: an entry is
//   done for a group when the group has read it (id <= last-delivered-id) and
//   acknowledged it (id < its oldest pending id). The safe id is the minimum
//   over all groups of (oldest pending id if any, else last-delivered-id + 1
//   sequence step); XTRIM MINID <safe> removes exactly the entries below it,
//   i.e. those every group has read and acknowledged. No group: no safe id,
//   nothing is trimmed by this rule. entries-read and lag are not used, so a
//   group whose lag is nil (created or SETID at an arbitrary id, after XDEL)
//   is handled like any other: its last-delivered-id is what it has read.
// - Probe and trim are one EVAL: groups created, deleted or recreated at id 0
//   between reading the groups and trimming cannot exist, since nothing runs
//   in between. On a cluster the script names one key (the stream), so it
//   runs where that stream lives. The same step checks that the Pipeline's
//   own group exists (RetentionRule::requiredGroup): a group not created yet
//   has read nothing, and the other groups alone must not decide for it.
// - keepAcknowledged lowers the bound (never raises it): count keeps the
//   `count` entries just below the safe id, age keeps entries younger than
//   now - age. Over maxLength, kept entries go first (all of them); then only
//   onFull: dropOldest trims unconsumed entries (MAXLEN = maxLength), and the
//   number dropped is reported. Trims are exact (`=`), so counts are exact.
// - applyTrim() is the model of the script on an in-memory stream; the real
//   Redis tests check the script against it on the same states.
#pragma once

#include <compare>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace shoal::probe {

/// A stream entry id: milliseconds and sequence, ordered as Redis orders them.
struct StreamId {
  uint64_t ms = 0;
  uint64_t seq = 0;
  auto operator<=>(const StreamId&) const = default;
  /// "ms-seq" or "ms" (sequence 0); nullopt otherwise.
  static std::optional<StreamId> parse(std::string_view s);
  std::string str() const;
  /// The next id up (the sequence, carrying into ms); the largest id has
  /// none and stays itself (which trims less, never more).
  StreamId next() const;
};

/// What retention needs of one consumer group.
struct GroupPosition {
  std::string name;
  StreamId lastDelivered;
  std::optional<StreamId> oldestPending;  ///< nullopt when nothing is pending
};

/// The exclusive bound below which every group has read and acknowledged
/// every entry; nullopt with no group (never trim by this rule).
std::optional<StreamId> safeTrimId(const std::vector<GroupPosition>& groups);

/// spec.retention as the trim step takes it.
struct RetentionRule {
  int64_t keepCount = 0;          ///< acknowledged entries kept below the safe id
  std::optional<int64_t> keepAgeMs;
  std::optional<int64_t> maxLength;
  bool dropOldest = false;        ///< onFull: dropOldest
  /// When set, nothing at all is trimmed unless this group exists (the
  /// Pipeline's own: checked in the same atomic step as the trim).
  std::string requiredGroup;
};

/// The oldest id keepAgeMs keeps at wall time nowMs ("nowMs - age"), or
/// nullopt without an age.
std::optional<StreamId> ageCutoff(const RetentionRule& rule, int64_t nowMs);

/// What one trim of one stream did.
struct TrimOutcome {
  bool streamExists = true;
  bool requiredGroupMissing = false;  ///< RetentionRule::requiredGroup absent: nothing trimmed
  int64_t groups = 0;
  std::optional<StreamId> safeId;  ///< nullopt: no group
  std::optional<StreamId> minId;   ///< the MINID trimmed with, if any
  int64_t trimmed = 0;             ///< acknowledged entries removed
  int64_t droppedUnconsumed = 0;   ///< removed past the safe id (dropOldest only)
  int64_t length = 0;              ///< entries left
  bool atCap = false;              ///< length >= maxLength afterwards
  bool operator==(const TrimOutcome&) const = default;
};

/// An in-memory stream for the model: entry ids ascending, and its groups.
struct StreamModel {
  std::vector<StreamId> ids;
  std::vector<GroupPosition> groups;
};

/// The trim the script does, applied to the model (ids are removed).
TrimOutcome applyTrim(StreamModel& stream, const RetentionRule& rule, int64_t nowMs);

/// The Lua source of the trim step. KEYS[1] the stream; ARGV: keepCount,
/// age cutoff id ("" none), maxLength ("0" none), dropOldest ("1"/"0"),
/// required group ("" none). Returns {exists, groups, safeId|"", minId|"",
/// trimmed, dropped, length, atCap, requiredGroupFound}.
const std::string& trimScript();

}  // namespace shoal::probe
