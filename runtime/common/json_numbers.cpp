// See json_numbers.h.
#include "shoal/common/json_numbers.h"

#include <charconv>
#include <cstdint>
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

bool allZeroDigits(std::string_view mantissa) {
  for (char c : mantissa)
    if (c >= '1' && c <= '9') return false;
  return true;
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
  double v = 0;
  const auto r = std::from_chars(number.data(), number.data() + number.size(), v);
  if (r.ec != std::errc::result_out_of_range || r.ptr != number.data() + number.size())
    return false;
  // from_chars also answers out of range for an underflow; a zero with a
  // huge exponent ("0e-400") is still zero.
  return !allZeroDigits(number.substr(0, number.find_first_of("eE")));
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
    } else {
      ++i;
    }
  }
  return std::nullopt;
}

}  // namespace shoal
