// Index pattern compilation and rendering.
#include "shoal/logs/index_pattern.h"

#include <algorithm>
#include <cstdio>

namespace shoal::logs {
namespace {

bool isDateFormat(std::string_view s) {
  bool letter = false;
  for (char c : s) {
    if (c == 'y' || c == 'M' || c == 'd' || c == 'H' || c == 'm' || c == 's') letter = true;
    else if (c != '.' && c != '-' && c != '_') return false;
  }
  return letter;
}

bool forbidden(unsigned char c) {
  return c < 0x20 || c == '\\' || c == '/' || c == '*' || c == '?' || c == '"' || c == '<' ||
         c == '>' || c == '|' || c == ',' || c == '#' || c == ':' || c == ' ';
}

void appendNumber(std::string& out, int v, int width) {
  if (v >= 0 && width <= 8) {  // the usual case, without printf
    char digits[12];
    int n = 0;
    do {
      digits[n++] = static_cast<char>('0' + v % 10);
      v /= 10;
    } while (v > 0);
    for (int i = n; i < width; ++i) out.push_back('0');
    while (n > 0) out.push_back(digits[--n]);
    return;
  }
  char buf[16];
  int n = std::snprintf(buf, sizeof buf, "%0*d", width, v);
  out.append(buf, static_cast<size_t>(n));
}

void renderDate(std::string& out, std::string_view fmt, const CivilTime& c) {
  size_t i = 0;
  while (i < fmt.size()) {
    char ch = fmt[i];
    size_t run = 1;
    while (i + run < fmt.size() && fmt[i + run] == ch) ++run;
    switch (ch) {
      case 'y':
        if (run == 2) appendNumber(out, c.year % 100, 2);
        else appendNumber(out, c.year, static_cast<int>(run));
        break;
      case 'M': appendNumber(out, c.month, static_cast<int>(run)); break;
      case 'd': appendNumber(out, c.day, static_cast<int>(run)); break;
      case 'H': appendNumber(out, c.hour, static_cast<int>(run)); break;
      case 'm': appendNumber(out, c.minute, static_cast<int>(run)); break;
      case 's': appendNumber(out, c.second, static_cast<int>(run)); break;
      default: out.append(run, ch);
    }
    i += run;
  }
}

}  // namespace

std::string sanitizeIndexComponent(std::string_view v) {
  std::string out;
  out.reserve(v.size());
  for (unsigned char c : v) {
    // Stop at 64 bytes, but only between UTF-8 sequences.
    if (out.size() >= 64 && (c & 0xC0) != 0x80) break;
    if (c >= 'A' && c <= 'Z') out.push_back(static_cast<char>(c - 'A' + 'a'));
    else if (forbidden(c)) out.push_back('_');
    else out.push_back(static_cast<char>(c));
  }
  return out;
}

std::optional<IndexPattern> IndexPattern::compile(std::string_view pattern, std::string fallback,
                                                  std::string& error) {
  IndexPattern p;
  p.source_ = pattern;
  if (pattern.empty()) {
    error = "must not be empty";
    return std::nullopt;
  }
  size_t i = 0;
  std::string literal;
  auto flush = [&] {
    if (!literal.empty()) p.parts_.push_back({Part::Kind::kLiteral, std::move(literal), {}});
    literal.clear();
  };
  while (i < pattern.size()) {
    char c = pattern[i];
    if (c == '{') {
      size_t close = pattern.find('}', i);
      if (close == std::string_view::npos) {
        error = "unclosed '{' at offset " + std::to_string(i);
        return std::nullopt;
      }
      std::string_view inner = pattern.substr(i + 1, close - i - 1);
      if (inner.empty()) {
        error = "empty placeholder at offset " + std::to_string(i);
        return std::nullopt;
      }
      flush();
      if (isDateFormat(inner)) {
        p.parts_.push_back({Part::Kind::kDate, std::string(inner), {}});
      } else {
        size_t bar = inner.find('|');
        std::string path(inner.substr(0, bar));
        std::string fb = bar == std::string_view::npos ? fallback : std::string(inner.substr(bar + 1));
        if (path.empty()) {
          error = "empty field name at offset " + std::to_string(i);
          return std::nullopt;
        }
        p.parts_.push_back({Part::Kind::kField, std::move(path), sanitizeIndexComponent(fb)});
      }
      i = close + 1;
      continue;
    }
    if (c == '%') {
      if (i + 1 >= pattern.size()) {
        error = "dangling '%' at the end";
        return std::nullopt;
      }
      const char e = pattern[i + 1];
      const char* fmt = e == 'Y' ? "yyyy" : e == 'y' ? "yy" : e == 'm' ? "MM" : e == 'd' ? "dd"
                      : e == 'H' ? "HH" : e == 'M' ? "mm" : e == 'S' ? "ss" : nullptr;
      if (e == '%') {
        literal.push_back('%');
      } else if (!fmt) {
        error = std::string("unknown escape '%") + e + "' (use %Y %y %m %d %H %M %S or %%)";
        return std::nullopt;
      } else {
        flush();
        p.parts_.push_back({Part::Kind::kDate, fmt, {}});
      }
      i += 2;
      continue;
    }
    if (c == '}') {
      error = "unmatched '}' at offset " + std::to_string(i);
      return std::nullopt;
    }
    if ((c >= 'A' && c <= 'Z') || forbidden(static_cast<unsigned char>(c))) {
      error = std::string("character '") + c + "' is not allowed in an index name (lowercase, no \\/*?\"<>|,#: or space)";
      return std::nullopt;
    }
    literal.push_back(c);
    ++i;
  }
  flush();
  constexpr EpochNanos kSecond = 1'000'000'000;
  for (const Part& part : p.parts_) {
    if (part.kind != Part::Kind::kDate) continue;
    EpochNanos unit = 86400 * kSecond;
    if (part.text.find('H') != std::string::npos) unit = 3600 * kSecond;
    if (part.text.find('m') != std::string::npos) unit = 60 * kSecond;
    if (part.text.find('s') != std::string::npos) unit = kSecond;
    p.dateBucket_ = p.dateBucket_ == 0 ? unit : std::min(p.dateBucket_, unit);
  }
  if (pattern[0] == '-' || pattern[0] == '_' || pattern[0] == '+') {
    error = "an index name must not start with '-', '_' or '+'";
    return std::nullopt;
  }
  return p;
}

std::vector<std::string_view> IndexPattern::fieldPaths() const {
  std::vector<std::string_view> out;
  for (const Part& part : parts_)
    if (part.kind == Part::Kind::kField) out.push_back(part.text);
  return out;
}

IndexCache::IndexCache(const IndexPattern& pattern) : pattern_(pattern), fields_(pattern.fieldPaths()) {
  slots_.reserve(kSlots);
}

const std::string& IndexCache::render(EpochNanos timestamp, const RawFn& raw, const TextFn& text) {
  const EpochNanos unit = pattern_.dateBucketNanos();
  // Floor division: timestamps before 1970 bucket like the others.
  const int64_t bucket = unit == 0 ? 0 : timestamp / unit - (timestamp % unit < 0 ? 1 : 0);
  // The key, prefix-free: per field a tag (0 absent, 1 present), then for a
  // present one its length and raw text.
  key_.clear();
  for (std::string_view path : fields_) {
    const auto r = raw(path);
    key_.push_back(r ? '\1' : '\0');
    if (!r) continue;
    const auto n = static_cast<uint32_t>(r->size());
    key_.append(reinterpret_cast<const char*>(&n), sizeof n);
    key_.append(*r);
  }
  for (const Slot& s : slots_)
    if (s.bucket == bucket && s.key == key_) return s.index;
  Slot* slot;
  if (slots_.size() < kSlots) {
    slot = &slots_.emplace_back();
  } else {
    slot = &slots_[next_];
    next_ = (next_ + 1) % kSlots;
  }
  slot->bucket = bucket;
  slot->key = key_;
  slot->index = pattern_.render(timestamp, text);
  return slot->index;
}

std::string IndexPattern::render(const LogDocument& doc) const {
  return render(doc.timestamp, [&doc](std::string_view path) { return doc.text(path); });
}

std::string IndexPattern::render(EpochNanos timestamp,
                                 const std::function<std::optional<std::string>(std::string_view)>& text) const {
  std::string out;
  out.reserve(64);
  std::optional<CivilTime> civil;
  for (auto& part : parts_) {
    switch (part.kind) {
      case Part::Kind::kLiteral: out += part.text; break;
      case Part::Kind::kDate:
        if (!civil) civil = toCivil(timestamp);
        renderDate(out, part.text, *civil);
        break;
      case Part::Kind::kField: {
        auto v = text(part.text);
        std::string s = v ? sanitizeIndexComponent(*v) : std::string();
        out += s.empty() ? part.fallback : s;
        break;
      }
    }
  }
  return out;
}

}  // namespace shoal::logs
