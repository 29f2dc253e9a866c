// Request bodies into stream entries: pure functions over the body text,
// unit-tested and fuzzed without a server.
//  - Events (POST /v1/logs, /v1/metrics): one JSON object, a JSON array of
//    objects, or objects one after another separated by whitespace (NDJSON,
//    or one pretty-printed object). Each object is kept exactly as sent.
//  - Elasticsearch bulk (POST /_bulk, /<index>/_bulk): newline-separated
//    action and source lines; `index` and `create` carry a source line and
//    become entries, `update` (with its source line) and `delete` (without)
//    are answered per item as unsupported.
// A problem with the body as a whole is a DecodeError naming where it is
// (line, column, byte); a bad bulk source line is that item's error only, as
// Elasticsearch answers it.
#pragma once

#include <cstddef>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace shoal::receiver {

struct DecodeError {
  size_t byte = 0;  // 0-based offset into the body
  size_t line = 1;  // 1-based
  size_t column = 1;
  bool utf8 = false;  // invalid UTF-8 rather than bad JSON
  std::string message;

  /// "invalid JSON at line 3, column 7 (byte 41): expected ':'".
  std::string describe() const;
};

/// One object of an events body.
struct EventEntry {
  std::string_view json;  // the object as sent (a view into the body)
  size_t line = 1;        // where it starts
  bool hasKey = false;    // the shard-key member was there
  std::string_view key;   // its value as written (a string's text between the quotes)
};

struct DecodedEvents {
  std::vector<EventEntry> entries;
  std::optional<DecodeError> error;  // set: the body is refused whole
};

/// Decodes an events body. `keyMember`: the top-level member whose value is
/// each entry's shard key ("" for none). An empty array is zero entries; a
/// body with no object at all (empty, only whitespace) is an error.
DecodedEvents decodeEvents(std::string_view body, std::string_view keyMember = {});

/// One item of a bulk body.
struct BulkItem {
  std::string op;      // "index", "create", "update" or "delete"
  std::string index;   // the action's _index, else the default (the path's)
  std::string id;      // the action's _id, if any
  std::string_view source;  // the source line as sent, without surrounding whitespace (index, create, update)
  size_t line = 1;          // the action line
  /// Set: this item fails with status 400 and this reason (a source line that
  /// is not one JSON object: errorType mapper_parsing_exception; an
  /// unsupported op: illegal_argument_exception). Otherwise it is an entry.
  std::optional<std::string> error;
  std::string errorType;  // Elasticsearch's error type for `error`
};

struct DecodedBulk {
  std::vector<BulkItem> items;
  std::optional<DecodeError> error;  // a bad action line, a missing source line
};

DecodedBulk decodeBulk(std::string_view body, std::string_view defaultIndex = {});

}  // namespace shoal::receiver
