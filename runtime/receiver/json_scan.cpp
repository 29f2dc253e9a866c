// The validating JSON scanner. See json_scan.h.
#include "shoal/receiver/json_scan.h"

namespace shoal::receiver {
namespace {

bool cont(unsigned char c) { return (c & 0xC0) == 0x80; }

// The length of the valid UTF-8 sequence at p (avail bytes left), 0 if none.
size_t utf8Length(const unsigned char* p, size_t avail) {
  const unsigned char c = p[0];
  if (c < 0x80) return 1;
  if (c >= 0xC2 && c <= 0xDF) return avail >= 2 && cont(p[1]) ? 2 : 0;
  if (c >= 0xE0 && c <= 0xEF) {
    if (avail < 3 || !cont(p[1]) || !cont(p[2])) return 0;
    if (c == 0xE0 && p[1] < 0xA0) return 0;  // overlong
    if (c == 0xED && p[1] > 0x9F) return 0;  // surrogates
    return 3;
  }
  if (c >= 0xF0 && c <= 0xF4) {
    if (avail < 4 || !cont(p[1]) || !cont(p[2]) || !cont(p[3])) return 0;
    if (c == 0xF0 && p[1] < 0x90) return 0;  // overlong
    if (c == 0xF4 && p[1] > 0x8F) return 0;  // past U+10FFFF
    return 4;
  }
  return 0;
}

bool hex(char c) { return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'f') || (c >= 'A' && c <= 'F'); }
bool digit(char c) { return c >= '0' && c <= '9'; }

class Scanner {
 public:
  explicit Scanner(std::string_view t) : t_(t) {}

  std::optional<JsonError> value(size_t& pos, int depth, ScanCapture* capture) {
    if (pos >= t_.size()) return fail(pos, "unexpected end of input, expected a value");
    switch (t_[pos]) {
      case '{':
        return object(pos, depth, capture);
      case '[':
        return array(pos, depth);
      case '"':
        return string(pos);
      case 't':
        return literal(pos, "true");
      case 'f':
        return literal(pos, "false");
      case 'n':
        return literal(pos, "null");
      default:
        if (t_[pos] == '-' || digit(t_[pos])) return number(pos);
        return unexpected(pos, "expected a value");
    }
  }

 private:
  std::optional<JsonError> fail(size_t at, std::string msg, bool utf8 = false) const {
    return JsonError{at, utf8, std::move(msg)};
  }

  // A byte that does not belong here; invalid UTF-8 is named as such.
  std::optional<JsonError> unexpected(size_t at, const std::string& expected) const {
    const auto* p = reinterpret_cast<const unsigned char*>(t_.data()) + at;
    if (*p >= 0x80 && utf8Length(p, t_.size() - at) == 0) return fail(at, "invalid UTF-8", true);
    return fail(at, "unexpected character, " + expected);
  }

  void skipSpace(size_t& pos) const {
    while (pos < t_.size() && isJsonSpace(t_[pos])) ++pos;
  }

  std::optional<JsonError> object(size_t& pos, int depth, ScanCapture* capture) {
    if (depth >= kMaxJsonDepth) return fail(pos, "nested more than " + std::to_string(kMaxJsonDepth) + " levels");
    ++pos;  // '{'
    skipSpace(pos);
    if (pos < t_.size() && t_[pos] == '}') {
      ++pos;
      return std::nullopt;
    }
    while (true) {
      if (pos >= t_.size()) return fail(pos, "unexpected end of input, expected a member name");
      if (t_[pos] != '"') return unexpected(pos, "expected a member name in double quotes");
      const size_t keyStart = pos + 1;
      if (auto e = string(pos)) return e;
      const std::string_view key = t_.substr(keyStart, pos - 1 - keyStart);
      skipSpace(pos);
      if (pos >= t_.size()) return fail(pos, "unexpected end of input, expected ':'");
      if (t_[pos] != ':') return unexpected(pos, "expected ':'");
      ++pos;
      skipSpace(pos);
      const size_t valueStart = pos;
      if (auto e = value(pos, depth + 1, nullptr)) return e;
      if (capture && !capture->member.empty() && !capture->found && key == capture->member) {
        capture->found = true;
        capture->value = t_.substr(valueStart, pos - valueStart);
        if (capture->value.size() >= 2 && capture->value.front() == '"')
          capture->value = capture->value.substr(1, capture->value.size() - 2);
      }
      skipSpace(pos);
      if (pos >= t_.size()) return fail(pos, "unexpected end of input, expected ',' or '}'");
      if (t_[pos] == '}') {
        ++pos;
        return std::nullopt;
      }
      if (t_[pos] != ',') return unexpected(pos, "expected ',' or '}'");
      ++pos;
      skipSpace(pos);
    }
  }

  std::optional<JsonError> array(size_t& pos, int depth) {
    if (depth >= kMaxJsonDepth) return fail(pos, "nested more than " + std::to_string(kMaxJsonDepth) + " levels");
    ++pos;  // '['
    skipSpace(pos);
    if (pos < t_.size() && t_[pos] == ']') {
      ++pos;
      return std::nullopt;
    }
    while (true) {
      if (auto e = value(pos, depth + 1, nullptr)) return e;
      skipSpace(pos);
      if (pos >= t_.size()) return fail(pos, "unexpected end of input, expected ',' or ']'");
      if (t_[pos] == ']') {
        ++pos;
        return std::nullopt;
      }
      if (t_[pos] != ',') return unexpected(pos, "expected ',' or ']'");
      ++pos;
      skipSpace(pos);
    }
  }

  std::optional<JsonError> string(size_t& pos) {
    const size_t start = pos;
    ++pos;  // '"'
    const auto* u = reinterpret_cast<const unsigned char*>(t_.data());
    while (pos < t_.size()) {
      const unsigned char c = u[pos];
      if (c == '"') {
        ++pos;
        return std::nullopt;
      }
      if (c == '\\') {
        if (pos + 1 >= t_.size()) break;
        const char e = t_[pos + 1];
        if (e == 'u') {
          for (size_t i = 2; i < 6; ++i)
            if (pos + i >= t_.size() || !hex(t_[pos + i])) return fail(pos, "invalid \\u escape in a string");
          pos += 6;
          continue;
        }
        if (e != '"' && e != '\\' && e != '/' && e != 'b' && e != 'f' && e != 'n' && e != 'r' && e != 't')
          return fail(pos, "invalid escape in a string");
        pos += 2;
        continue;
      }
      if (c < 0x20) return fail(pos, "control character in a string (escape it)");
      if (c < 0x80) {
        ++pos;
        continue;
      }
      const size_t n = utf8Length(u + pos, t_.size() - pos);
      if (n == 0) return fail(pos, "invalid UTF-8 in a string", true);
      pos += n;
    }
    return fail(start, "unterminated string");
  }

  std::optional<JsonError> literal(size_t& pos, std::string_view word) {
    if (t_.substr(pos, word.size()) != word) return unexpected(pos, "expected a value");
    pos += word.size();
    return std::nullopt;
  }

  std::optional<JsonError> number(size_t& pos) {
    const size_t start = pos;
    if (t_[pos] == '-') ++pos;
    if (pos >= t_.size() || !digit(t_[pos])) return fail(start, "invalid number");
    if (t_[pos] == '0') {
      ++pos;
    } else {
      while (pos < t_.size() && digit(t_[pos])) ++pos;
    }
    if (pos < t_.size() && t_[pos] == '.') {
      ++pos;
      if (pos >= t_.size() || !digit(t_[pos])) return fail(start, "invalid number");
      while (pos < t_.size() && digit(t_[pos])) ++pos;
    }
    if (pos < t_.size() && (t_[pos] == 'e' || t_[pos] == 'E')) {
      ++pos;
      if (pos < t_.size() && (t_[pos] == '+' || t_[pos] == '-')) ++pos;
      if (pos >= t_.size() || !digit(t_[pos])) return fail(start, "invalid number");
      while (pos < t_.size() && digit(t_[pos])) ++pos;
    }
    return std::nullopt;
  }

  std::string_view t_;
};

}  // namespace

std::optional<JsonError> scanValue(std::string_view text, size_t& pos, ScanCapture* capture) {
  return Scanner(text).value(pos, 0, capture);
}

bool validUtf8(std::string_view text, size_t* bad) {
  const auto* u = reinterpret_cast<const unsigned char*>(text.data());
  size_t i = 0;
  while (i < text.size()) {
    if (u[i] < 0x80) {
      ++i;
      continue;
    }
    const size_t n = utf8Length(u + i, text.size() - i);
    if (n == 0) {
      if (bad) *bad = i;
      return false;
    }
    i += n;
  }
  return true;
}

TextPosition positionOf(std::string_view text, size_t byte) {
  TextPosition p;
  const size_t end = std::min(byte, text.size());
  size_t lineStart = 0;
  for (size_t i = 0; i < end; ++i) {
    if (text[i] == '\n') {
      ++p.line;
      lineStart = i + 1;
    }
  }
  p.column = end - lineStart + 1;
  return p;
}

}  // namespace shoal::receiver
