// Request bodies into stream entries. See decode.h.
#include "shoal/receiver/decode.h"

#include <nlohmann/json.hpp>

#include "shoal/receiver/json_scan.h"

namespace shoal::receiver {
namespace {

DecodeError errorAt(std::string_view body, size_t byte, std::string message, bool utf8 = false) {
  const TextPosition p = positionOf(body, byte);
  return DecodeError{byte, p.line, p.column, utf8, std::move(message)};
}

DecodeError fromScan(std::string_view body, const JsonError& e) { return errorAt(body, e.byte, e.message, e.utf8); }

// Line numbers of increasing offsets, counted once over the body (asking
// positionOf for each entry would read the body once per entry).
class LineCounter {
 public:
  explicit LineCounter(std::string_view body) : body_(body) {}
  size_t lineAt(size_t offset) {
    for (; at_ < offset && at_ < body_.size(); ++at_)
      if (body_[at_] == '\n') ++line_;
    return line_;
  }

 private:
  std::string_view body_;
  size_t at_ = 0, line_ = 1;
};

void skipSpace(std::string_view s, size_t& pos) {
  while (pos < s.size() && isJsonSpace(s[pos])) ++pos;
}

// One object at body[pos] into out; an error if it is not one.
std::optional<DecodeError> takeObject(std::string_view body, size_t& pos, std::string_view keyMember,
                                      const char* what, LineCounter& lines, std::vector<EventEntry>& out) {
  if (body[pos] != '{') {
    // Name invalid UTF-8 as such even where an object was expected.
    size_t probe = pos;
    if (auto e = scanValue(body, probe); e && e->utf8) return fromScan(body, *e);
    return errorAt(body, pos, std::string("expected a JSON object ") + what);
  }
  const size_t start = pos;
  ScanCapture cap;
  cap.member = keyMember;
  if (auto e = scanValue(body, pos, keyMember.empty() ? nullptr : &cap)) return fromScan(body, *e);
  EventEntry entry;
  entry.json = body.substr(start, pos - start);
  entry.line = lines.lineAt(start);
  entry.hasKey = cap.found;
  entry.key = cap.value;
  out.push_back(entry);
  return std::nullopt;
}

}  // namespace

std::string DecodeError::describe() const {
  return std::string(utf8 ? "invalid UTF-8" : "invalid JSON") + " at line " + std::to_string(line) + ", column " +
         std::to_string(column) + " (byte " + std::to_string(byte) + "): " + message;
}

DecodedEvents decodeEvents(std::string_view body, std::string_view keyMember) {
  DecodedEvents out;
  LineCounter lines(body);
  size_t pos = 0;
  skipSpace(body, pos);
  if (pos >= body.size()) {
    out.error = errorAt(body, pos, "the body holds no JSON object");
    return out;
  }
  if (body[pos] == '[') {
    ++pos;
    skipSpace(body, pos);
    if (pos < body.size() && body[pos] == ']') {
      ++pos;
    } else {
      while (true) {
        if (pos >= body.size()) {
          out.error = errorAt(body, pos, "unexpected end of input in the array");
          return out;
        }
        if (auto e = takeObject(body, pos, keyMember, "in the array", lines, out.entries)) {
          out.error = e;
          return out;
        }
        skipSpace(body, pos);
        if (pos < body.size() && body[pos] == ']') {
          ++pos;
          break;
        }
        if (pos >= body.size() || body[pos] != ',') {
          out.error = errorAt(body, pos, "expected ',' or ']' in the array");
          return out;
        }
        ++pos;
        skipSpace(body, pos);
      }
    }
    skipSpace(body, pos);
    if (pos < body.size()) out.error = errorAt(body, pos, "unexpected data after the array");
    return out;
  }
  while (pos < body.size()) {
    if (auto e = takeObject(body, pos, keyMember, "(one per line)", lines, out.entries)) {
      out.error = e;
      return out;
    }
    skipSpace(body, pos);
  }
  return out;
}

namespace {

struct Line {
  std::string_view text;  // without the newline and a trailing '\r'
  size_t offset = 0;      // of text in the body
};

// The next non-blank line from pos on; false at the end.
bool nextLine(std::string_view body, size_t& pos, Line& line) {
  while (pos < body.size()) {
    const size_t end = body.find('\n', pos);
    const size_t stop = end == std::string_view::npos ? body.size() : end;
    std::string_view text = body.substr(pos, stop - pos);
    const size_t offset = pos;
    pos = end == std::string_view::npos ? body.size() : end + 1;
    if (!text.empty() && text.back() == '\r') text.remove_suffix(1);
    size_t i = 0;
    skipSpace(text, i);
    if (i == text.size()) continue;  // blank
    line = Line{text, offset};
    return true;
  }
  return false;
}

// Validates that a line is exactly one JSON object; the error's byte is
// relative to the body.
std::optional<DecodeError> oneObject(std::string_view body, const Line& line) {
  size_t pos = 0;
  skipSpace(line.text, pos);
  if (line.text[pos] != '{') {
    size_t probe = pos;
    if (auto e = scanValue(line.text, probe); e && e->utf8)
      return errorAt(body, line.offset + e->byte, e->message, true);
    return errorAt(body, line.offset + pos, "expected a JSON object");
  }
  if (auto e = scanValue(line.text, pos)) return errorAt(body, line.offset + e->byte, e->message, e->utf8);
  skipSpace(line.text, pos);
  if (pos < line.text.size()) return errorAt(body, line.offset + pos, "unexpected data after the object");
  return std::nullopt;
}

std::string_view trimmed(std::string_view s) {
  while (!s.empty() && isJsonSpace(s.front())) s.remove_prefix(1);
  while (!s.empty() && isJsonSpace(s.back())) s.remove_suffix(1);
  return s;
}

std::string asText(const nlohmann::json& v) { return v.is_string() ? v.get<std::string>() : v.dump(); }

}  // namespace

DecodedBulk decodeBulk(std::string_view body, std::string_view defaultIndex) {
  DecodedBulk out;
  LineCounter lines(body);
  size_t pos = 0;
  Line action;
  while (nextLine(body, pos, action)) {
    if (auto e = oneObject(body, action)) {
      e->message = "malformed action line: " + e->message;
      out.error = e;
      return out;
    }
    const auto parsed = nlohmann::json::parse(action.text, nullptr, false);
    if (parsed.is_discarded() || parsed.size() != 1 || !parsed.begin().value().is_object()) {
      out.error = errorAt(body, action.offset, "malformed action line: expected {\"<op>\":{...}}");
      return out;
    }
    BulkItem item;
    item.op = parsed.begin().key();
    item.line = lines.lineAt(action.offset);
    const auto& meta = parsed.begin().value();
    item.index = meta.contains("_index") ? asText(meta["_index"]) : std::string(defaultIndex);
    if (meta.contains("_id")) item.id = asText(meta["_id"]);
    if (item.op != "index" && item.op != "create" && item.op != "update" && item.op != "delete") {
      out.error = errorAt(body, action.offset,
                          "malformed action line: expected one of create, delete, index, update, found '" +
                              item.op + "'");
      return out;
    }
    if (item.op == "delete") {
      item.error = "delete is not supported: the receiver only appends";
      item.errorType = "illegal_argument_exception";
      out.items.push_back(std::move(item));
      continue;
    }
    Line source;
    if (!nextLine(body, pos, source)) {
      out.error = errorAt(body, body.size(), "the action at line " + std::to_string(item.line) +
                                                 " has no source line");
      return out;
    }
    item.source = trimmed(source.text);
    if (item.op == "update") {
      item.error = "update is not supported: the receiver only appends";
      item.errorType = "illegal_argument_exception";
    } else if (auto e = oneObject(body, source)) {
      item.error = "failed to parse the source: " + e->describe();
      item.errorType = "mapper_parsing_exception";
    }
    out.items.push_back(std::move(item));
  }
  return out;
}

}  // namespace shoal::receiver
