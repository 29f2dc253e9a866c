// A validating JSON scanner for request bodies: it checks one value in
// place (RFC 8259 grammar, strict UTF-8 in strings, a nesting limit) without
// building a tree, so the receiver can keep each object exactly as sent and
// name the byte where a body goes wrong. It can also hand back the raw value
// of one top-level member (the shard key). Pure functions; no allocation on
// the success path.
#pragma once

#include <cstddef>
#include <optional>
#include <string>
#include <string_view>

namespace shoal::receiver {

inline constexpr int kMaxJsonDepth = 128;

struct JsonError {
  size_t byte = 0;      // offset into the scanned text where it went wrong
  bool utf8 = false;    // the problem is invalid UTF-8, not the grammar
  std::string message;  // "expected ':'", "invalid UTF-8 in a string", ...
};

/// What scanValue may report about the value besides its extent.
struct ScanCapture {
  /// When not empty and the value is an object: the top-level member of this
  /// name (compared with the key as written, escapes not decoded).
  std::string_view member;
  bool found = false;
  /// Its value as written; for a string, the text between the quotes.
  std::string_view value;
};

/// Validates the one JSON value that starts at text[pos] (no leading
/// whitespace) and sets pos just past it. Returns the first problem instead.
std::optional<JsonError> scanValue(std::string_view text, size_t& pos, ScanCapture* capture = nullptr);

/// Whether the bytes are valid UTF-8 (no overlong forms, no surrogates,
/// nothing past U+10FFFF); when not, *bad is the offset of the first bad byte.
bool validUtf8(std::string_view text, size_t* bad = nullptr);

/// Whitespace as JSON defines it.
inline bool isJsonSpace(char c) { return c == ' ' || c == '\t' || c == '\n' || c == '\r'; }

/// 1-based line and column of a byte offset, for messages.
struct TextPosition {
  size_t line = 1, column = 1;
};
TextPosition positionOf(std::string_view text, size_t byte);

}  // namespace shoal::receiver
