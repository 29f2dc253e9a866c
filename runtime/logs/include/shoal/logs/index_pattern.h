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

 private:
  struct Part {
    enum class Kind { kLiteral, kField, kDate } kind;
    std::string text;      // literal text, field path or date format
    std::string fallback;  // for kField
  };
  std::vector<Part> parts_;
  std::string source_;
};

/// Lowercases and replaces characters not allowed in index names.
std::string sanitizeIndexComponent(std::string_view v);

}  // namespace shoal::logs
