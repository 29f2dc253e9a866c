// Index names from a pattern such as "logs-{service.name}-{yyyy.MM.dd}".
//
// The CRD's strftime-style escapes also work: %Y %y %m %d %H %M %S (UTC,
// from @timestamp) and %% for a literal '%'.
//
// A placeholder is either a date format (only the letters y M d H m s and the
// separators . - _; Joda-style: yyyy, yy, MM, dd, HH, mm, ss) rendered from
// the document's @timestamp in UTC, or a field path rendered from the
// document. `{path|fallback}` names a per-placeholder fallback; otherwise a
// missing, empty or non-scalar field renders as the pattern's fallback
// ("unknown" by default). Field values are made index-safe: lowercased,
// characters Elasticsearch forbids (\ / * ? " < > | , # : space, control)
// become '_', at most 64 bytes.
#pragma once

#include <functional>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "shoal/logs/ecs.h"

namespace shoal::logs {

class IndexPattern {
 public:
  /// Compiles a pattern; on error returns nullopt and sets `error`.
  static std::optional<IndexPattern> compile(std::string_view pattern, std::string fallback,
                                             std::string& error);
  std::string render(const LogDocument& doc) const;
  /// The same for any document: `text(path)` answers as LogDocument::text.
  std::string render(EpochNanos timestamp,
                     const std::function<std::optional<std::string>(std::string_view)>& text) const;
  const std::string& source() const { return source_; }
  /// The field paths of the placeholders, in order (repeats included).
  std::vector<std::string_view> fieldPaths() const;
  /// The length of the finest date unit the pattern renders, for a cache
  /// keyed by it: 1 s, 1 min, 1 h, else one day (a day, month or year
  /// pattern is the same all day long; UTC has no DST); 0: no date at all.
  EpochNanos dateBucketNanos() const { return dateBucket_; }

 private:
  struct Part {
    enum class Kind { kLiteral, kField, kDate } kind;
    std::string text;      // literal text, field path or date format
    std::string fallback;  // for kField
  };
  std::vector<Part> parts_;
  std::string source_;
  EpochNanos dateBucket_ = 0;
};

/// \brief Recent renders of one pattern, for the JSON fast path. An index is
/// a function of the placeholders' field values and of the timestamp's date
/// bucket (IndexPattern::dateBucketNanos), so an entry whose fields have the
/// same raw JSON text as a recent one, in the same bucket, gets that entry's
/// index without rendering. `raw(path)` must be the field's raw JSON scalar
/// (nullopt when missing or not a scalar) and `text(path)` a function of it
/// (the fast mapper's rawScalar and text), which makes the cached answer
/// exactly pattern.render(timestamp, text). Not thread-safe: one per handler.
class IndexCache {
 public:
  using RawFn = std::function<std::optional<std::string_view>(std::string_view)>;
  using TextFn = std::function<std::optional<std::string>(std::string_view)>;

  explicit IndexCache(const IndexPattern& pattern);
  /// The index; valid until the next call.
  const std::string& render(EpochNanos timestamp, const RawFn& raw, const TextFn& text);

 private:
  struct Slot {
    int64_t bucket = 0;
    std::string key;
    std::string index;
  };
  static constexpr size_t kSlots = 16;

  const IndexPattern& pattern_;
  std::vector<std::string_view> fields_;
  std::vector<Slot> slots_;
  size_t next_ = 0;  // the slot a miss overwrites once all are used
  std::string key_;  // scratch: this entry's key
};

/// Lowercases and replaces characters not allowed in index names.
std::string sanitizeIndexComponent(std::string_view v);

}  // namespace shoal::logs
