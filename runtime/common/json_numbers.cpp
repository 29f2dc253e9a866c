// See json_numbers.h.
#include "shoal/common/json_numbers.h"

#include <cerrno>
#include <charconv>
#include <cmath>
#include <cstdint>
#include <cstdlib>
#include <vector>

namespace shoal {
namespace {

struct Frame {
  bool object = false;
  bool expectKey = false;  // objects: the next string is a key
  std::string_view key;    // objects: the current member's key (raw, as written)
  int64_t index = 0;       // arrays: the current element
};

bool numberChar(char c) {
  return (c >= '0' && c <= '9') || c == '-' || c == '+' || c == '.' || c == 'e' || c == 'E';
}

// An integer literal that neither int64 nor uint64 holds: simdjson rejects it
// ("Problem while parsing a number").
bool isWiderThan64Bits(std::string_view text) {
  if (text.find_first_of(".eE") != std::string_view::npos) return false;
  int64_t i = 0;
  const auto r = std::from_chars(text.data(), text.data() + text.size(), i);
  if (r.ec != std::errc::result_out_of_range) return false;
  uint64_t u = 0;
  const auto ru = std::from_chars(text.data(), text.data() + text.size(), u);
  return ru.ec != std::errc();
}

std::string pathOf(const std::vector<Frame>& stack) {
  std::string path;
  for (const auto& f : stack) {
    if (f.object) {
      if (!path.empty()) path += '.';
      path += f.key;
    } else {
      path += '[' + std::to_string(f.index) + ']';
    }
  }
  if (path.size() > 128) path = path.substr(0, 128) + "...";
  return path.empty() ? "document" : path;
}

}  // namespace

bool isOutOfRangeNumber(std::string_view number) {
  // strtod tells an overflow (+-HUGE_VAL) from an underflow (a tiny value or
  // zero, which simdjson accepts); both set ERANGE.
  const std::string text(number);
  char* end = nullptr;
  errno = 0;
  const double v = std::strtod(text.c_str(), &end);
  return !text.empty() && end == text.c_str() + text.size() && errno == ERANGE && std::isinf(v);
}

std::string outOfRangeReason(std::string_view number) {
  std::string shown(number.substr(0, 40));
  if (number.size() > 40) shown += "...";
  return "number " + shown + " is out of range";
}

std::optional<std::string> outOfRangeNumber(std::string_view json) {
  constexpr size_t kMaxDepth = 1024;
  std::vector<Frame> stack;
  size_t i = 0;
  while (i < json.size()) {
    const char c = json[i];
    if (c == '"') {
      const size_t start = ++i;
      while (i < json.size() && json[i] != '"') i += json[i] == '\\' ? 2 : 1;
      if (i >= json.size()) return std::nullopt;
      if (!stack.empty() && stack.back().object && stack.back().expectKey) {
        stack.back().key = json.substr(start, i - start);
        stack.back().expectKey = false;
      }
      ++i;
    } else if (c == '{' || c == '[') {
      if (stack.size() >= kMaxDepth) return std::nullopt;
      stack.push_back(Frame{c == '{', c == '{', {}, 0});
      ++i;
    } else if (c == '}' || c == ']') {
      if (!stack.empty()) stack.pop_back();
      ++i;
    } else if (c == ',') {
      if (!stack.empty()) {
        if (stack.back().object)
          stack.back().expectKey = true;
        else
          ++stack.back().index;
      }
      ++i;
    } else if (c == '-' || (c >= '0' && c <= '9')) {
      const size_t start = i;
      while (i < json.size() && numberChar(json[i])) ++i;
      const std::string_view text = json.substr(start, i - start);
      if (isOutOfRangeNumber(text)) return pathOf(stack) + ": " + outOfRangeReason(text);
      if (isWiderThan64Bits(text))
        return pathOf(stack) + ": " + outOfRangeReason(text) + " (integers are limited to 64 bits)";
    } else {
      ++i;
    }
  }
  return std::nullopt;
}

}  // namespace shoal
