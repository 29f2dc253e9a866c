// The JSON fast path of the ECS mapping. See ecs_fast.h; the rules mirror
// mapToEcs() in ecs.cpp step by step (same order, same first-match and
// overwrite semantics), over views instead of an owned tree.
#include "shoal/logs/ecs_fast.h"

#include <cstring>

#include "ecs_internal.h"

namespace shoal::logs {
namespace {

// Key equality with a cheap first-byte check before memcmp: most candidate
// names differ from the keys of a log at their first byte.
inline bool sameKey(std::string_view a, std::string_view b) {
  return a.size() == b.size() && (a.empty() || (a[0] == b[0] && a == b));
}

}  // namespace

// A strict scanner for the subset of JSON whose text is already canonical
// (what the general path would print). Any other input makes it fail, and the
// entry goes to the general path.
class FastJsonEcsMapper::Scanner {
 public:
  explicit Scanner(std::string_view s) : p_(s.data()), end_(s.data() + s.size()) {}

  const char* pos() const { return p_; }
  bool atEnd() const { return p_ == end_; }
  char peek() const { return p_ < end_ ? *p_ : '\0'; }
  void skipWhitespace() {
    while (p_ < end_ && (*p_ == ' ' || *p_ == '\t' || *p_ == '\n' || *p_ == '\r')) ++p_;
  }
  bool consume(char c) {
    if (p_ < end_ && *p_ == c) {
      ++p_;
      return true;
    }
    return false;
  }

  // A string without escapes or control characters; `content` excludes quotes.
  bool string(std::string_view& content) {
    if (!consume('"')) return false;
    const char* start = p_;
    while (p_ < end_) {
      const auto c = static_cast<unsigned char>(*p_);
      if (c == '"') {
        content = std::string_view(start, static_cast<size_t>(p_ - start));
        ++p_;
        return true;
      }
      if (c == '\\' || c < 0x20) return false;
      ++p_;
    }
    return false;
  }

  // A value with no whitespace inside: string, plain integer, literal, or an
  // array/object of those.
  bool compactValue(int depth) {
    if (depth > 64) return false;
    const char c = peek();
    if (c == '"') {
      std::string_view s;
      return string(s);
    }
    if (c == '{') {
      ++p_;
      if (consume('}')) return true;
      do {
        std::string_view key;
        if (!string(key) || !consume(':') || !compactValue(depth + 1)) return false;
      } while (consume(','));
      return consume('}');
    }
    if (c == '[') {
      ++p_;
      if (consume(']')) return true;
      do {
        if (!compactValue(depth + 1)) return false;
      } while (consume(','));
      return consume(']');
    }
    if (c == '-' || (c >= '0' && c <= '9')) return integer();
    return literal("true") || literal("false") || literal("null");
  }

 private:
  // -?(0|[1-9][0-9]*) with at most 18 digits (always an int64 the general
  // path prints back unchanged). "-0", fractions and exponents fail here or
  // at the next token.
  bool integer() {
    const bool negative = consume('-');
    const char* digits = p_;
    while (p_ < end_ && *p_ >= '0' && *p_ <= '9') ++p_;
    const auto n = p_ - digits;
    if (n == 0 || n > 18) return false;
    if (digits[0] == '0' && (n > 1 || negative)) return false;
    return true;
  }

  bool literal(std::string_view word) {
    if (static_cast<size_t>(end_ - p_) < word.size() || std::string_view(p_, word.size()) != word)
      return false;
    p_ += word.size();
    return true;
  }

  const char* p_;
  const char* end_;
};

std::string_view FastJsonEcsMapper::own(std::string s) { return owned_.emplace_back(std::move(s)); }

// jsonString(rawToText(raw)) for a canonical raw scalar.
std::string_view FastJsonEcsMapper::asJsonStringRaw(std::string_view raw) {
  if (!raw.empty() && raw[0] == '"') return raw;  // canonical: decoding and re-encoding is the identity
  return own(jsonString(raw));
}

// A key that appendJsonString would write unchanged between its quotes.
bool FastJsonEcsMapper::plainJsonKey(std::string_view key) {
  for (unsigned char c : key)
    if (c == '"' || c == '\\' || c < 0x20) return false;
  return true;
}

inline FastJsonEcsMapper::Node& FastJsonEcsMapper::addTop(std::string_view key, bool plainKey) {
  Node& n = top_.emplace_back();
  n.key = key;
  n.plainKey = plainKey || plainJsonKey(key);
  topKeyBits_ |= keyBit(key);
  return n;
}

inline void FastJsonEcsMapper::addChild(Node& parent, std::string_view key, std::string_view raw, bool plainKey) {
  const auto idx = static_cast<int32_t>(children_.size());
  Node& child = children_.emplace_back();
  child.key = key;
  child.raw = raw;
  child.plainKey = plainKey || plainJsonKey(key);
  if (parent.lastChild < 0) parent.firstChild = idx;
  else children_[static_cast<size_t>(parent.lastChild)].next = idx;
  parent.lastChild = idx;
  parent.liveChildren++;
}

bool FastJsonEcsMapper::parse(std::string_view payload, size_t maxFields) {
  // Counted as in the general path (duplicates included); over the limit the
  // general path words the dead-letter reason.
  size_t count = 0;
  topKeys_.clear();
  Scanner sc(payload);
  sc.skipWhitespace();
  if (!sc.consume('{')) return false;
  sc.skipWhitespace();
  if (!sc.consume('}')) {
    for (;;) {
      sc.skipWhitespace();
      std::string_view key;
      if (!sc.string(key)) return false;
      sc.skipWhitespace();
      if (!sc.consume(':')) return false;
      sc.skipWhitespace();
      if (++count > maxFields) return false;
      const bool duplicate = !topKeys_.insert(key);  // the first wins
      if (sc.peek() == '{') {
        sc.consume('{');
        const size_t self = top_.size();
        childKeys_.clear();
        if (!duplicate) addTop(key, true).object = true;  // scanned keys have no escapes
        sc.skipWhitespace();
        if (!sc.consume('}')) {
          for (;;) {
            sc.skipWhitespace();
            std::string_view childKey;
            if (!sc.string(childKey)) return false;
            if (++count > maxFields) return false;
            sc.skipWhitespace();
            if (!sc.consume(':')) return false;
            sc.skipWhitespace();
            const char* start = sc.pos();
            if (!sc.compactValue(3)) return false;
            if (!duplicate && childKeys_.insert(childKey))
              addChild(top_[self], childKey,
                       std::string_view(start, static_cast<size_t>(sc.pos() - start)), true);
            sc.skipWhitespace();
            if (sc.consume(',')) continue;
            if (sc.consume('}')) break;
            return false;
          }
        }
      } else {
        const char* start = sc.pos();
        if (!sc.compactValue(2)) return false;
        if (!duplicate) addTop(key, true).raw = std::string_view(start, static_cast<size_t>(sc.pos() - start));
      }
      sc.skipWhitespace();
      if (sc.consume(',')) continue;
      if (sc.consume('}')) break;
      return false;
    }
  }
  sc.skipWhitespace();
  return sc.atEnd();
}

FastJsonEcsMapper::Node* FastJsonEcsMapper::findTopLevel(std::string_view key) {
  if (!mayHaveTop(key)) return nullptr;
  for (auto& n : top_)
    if (n.alive && sameKey(n.key, key)) return &n;
  return nullptr;
}

const FastJsonEcsMapper::Node* FastJsonEcsMapper::find(std::string_view path) const {
  if (mayHaveTop(path))
    for (auto& n : top_)
      if (n.alive && sameKey(n.key, path)) return &n;
  const size_t dot = path.find('.');
  if (dot == std::string_view::npos) return nullptr;
  const std::string_view ns = path.substr(0, dot), member = path.substr(dot + 1);
  if (!mayHaveTop(ns)) return nullptr;
  for (auto& n : top_) {
    if (!n.alive || !n.object || !sameKey(n.key, ns)) continue;
    for (int32_t c = n.firstChild; c >= 0; c = children_[static_cast<size_t>(c)].next) {
      const Node& child = children_[static_cast<size_t>(c)];
      if (child.alive && sameKey(child.key, member)) return &child;
    }
  }
  return nullptr;
}

std::optional<std::string_view> FastJsonEcsMapper::take(std::string_view path) {
  if (mayHaveTop(path)) {
    for (auto& n : top_) {
      if (n.alive && sameKey(n.key, path)) {
        n.alive = false;
        return n.raw;
      }
    }
  }
  const size_t dot = path.find('.');
  if (dot == std::string_view::npos) return std::nullopt;
  const std::string_view ns = path.substr(0, dot), member = path.substr(dot + 1);
  if (!mayHaveTop(ns)) return std::nullopt;
  for (auto& n : top_) {
    if (!n.alive || !n.object || !sameKey(n.key, ns)) continue;
    for (int32_t c = n.firstChild; c >= 0; c = children_[static_cast<size_t>(c)].next) {
      Node& child = children_[static_cast<size_t>(c)];
      if (!child.alive || !sameKey(child.key, member)) continue;
      child.alive = false;
      if (--n.liveChildren == 0) n.alive = false;  // an emptied object disappears
      return child.raw;
    }
  }
  return std::nullopt;
}

std::optional<std::string_view> FastJsonEcsMapper::takeFirstScalar(std::initializer_list<std::string_view> paths,
                                                                   bool stringOnly) {
  for (auto p : paths) {
    const Node* f = find(p);
    if (!f || f->object || f->raw.empty()) continue;
    const char c = f->raw[0];
    if (c == '[' || c == '{' || f->raw == "null") continue;
    if (stringOnly && c != '"') continue;
    return take(p);
  }
  return std::nullopt;
}

// objectAt() of the general path (ecs.cpp), over nodes.
FastJsonEcsMapper::Node& FastJsonEcsMapper::objectAt(std::string_view ns, bool plainKey) {
  if (Node* f = findTopLevel(ns)) {
    if (!f->object) {
      const std::string_view original = f->raw;
      f->raw = {};
      f->object = true;
      addChild(*f, "original", original, true);
    }
    return *f;
  }
  Node& n = addTop(ns, plainKey);
  n.object = true;
  return n;
}

bool FastJsonEcsMapper::set(std::string_view path, std::string_view raw, bool overwrite, bool plainPath) {
  const size_t dot = path.find('.');
  if (dot == std::string_view::npos) {
    if (Node* f = findTopLevel(path)) {
      if (!overwrite) return false;
      f->object = false;
      f->firstChild = f->lastChild = -1;
      f->liveChildren = 0;
      f->raw = raw;
      return true;
    }
    addTop(path, plainPath).raw = raw;
    return true;
  }
  const std::string_view ns = path.substr(0, dot), member = path.substr(dot + 1);
  if (!overwrite && findTopLevel(path)) return false;  // a flat "a.b" key
  Node* obj = &objectAt(ns, plainPath);
  for (int32_t c = obj->firstChild; c >= 0; c = children_[static_cast<size_t>(c)].next) {
    Node& child = children_[static_cast<size_t>(c)];
    if (!child.alive || !sameKey(child.key, member)) continue;
    if (!overwrite) return false;
    child.raw = raw;
    return true;
  }
  addChild(*obj, member, raw, plainPath);
  return true;
}

bool FastJsonEcsMapper::map(const StreamEntry& entry, const LogsTransformConfig& cfg, EpochNanos ingest) {
  top_.clear();
  children_.clear();
  owned_.clear();
  topKeyBits_ = 0;
  const std::string* payload = entry.field(cfg.payloadField);
  if (!payload) return false;
  const LogFormat fmt = cfg.format == LogFormat::kAuto ? detail::detectedFormat(payload) : cfg.format;
  if (fmt != LogFormat::kJson) return false;
  const size_t otherFields = entry.fields.size() - 1;  // besides the payload
  if (otherFields > cfg.maxFields) return false;
  if (!detail::isValidUtf8(*payload) || !parse(*payload, cfg.maxFields - otherFields)) return false;
  const EpochNanos added = entryIdTime(entry.id).value_or(ingest);

  // Canonical fields, in the order and with the candidates of resolveCanonical().
  auto timestampRaw = takeFirstScalar({"@timestamp", "timestamp", "time", "ts", "datetime"});
  auto message = takeFirstScalar({"message", "msg"});
  if (!message) message = takeFirstScalar({"log"}, true);
  auto level = takeFirstScalar({"log.level", "level", "severity", "lvl", "loglevel", "log_level"});
  auto service = takeFirstScalar({"service.name", "service", "service_name", "app", "application"});
  auto host = takeFirstScalar({"host.name", "host", "hostname"});
  auto trace = takeFirstScalar({"trace.id", "trace_id", "traceId", "traceID", "trace"});
  auto span = takeFirstScalar({"span.id", "span_id", "spanId", "spanID", "span"});
  auto dataset = takeFirstScalar({"event.dataset", "dataset"});

  for (size_t i = 0; i < top_.size(); ++i) {
    Node& n = top_[i];
    if (!n.alive || n.object || !detail::isEcsObjectKey(n.key)) continue;
    const std::string_view original = n.raw;
    n.raw = {};
    n.object = true;
    addChild(n, "original", original, true);
  }

  if (timestampRaw) {
    const std::string_view raw = *timestampRaw;
    std::optional<EpochNanos> t;
    if (raw[0] == '"') {
      t = parseTimestampText(raw.substr(1, raw.size() - 2));  // canonical: the text is what is quoted
    } else if (auto n = detail::timestampOfRaw(std::string(raw))) {
      t = *n;
    }
    if (!t) return false;  // the general path words the error
    timestamp_ = *t;
  } else {
    timestamp_ = added;
  }
  if (message) set("message", asJsonStringRaw(*message));
  if (level) {
    std::string_view raw = *level;
    if (raw[0] == '"') {
      bool upper = false;
      for (char ch : raw) upper = upper || (ch >= 'A' && ch <= 'Z');
      if (upper) {
        std::string lowered(raw);
        for (char& ch : lowered)
          if (ch >= 'A' && ch <= 'Z') ch = static_cast<char>(ch - 'A' + 'a');
        raw = own(std::move(lowered));
      }
    } else {
      raw = own(jsonString(detail::normalizedLevel(std::string(raw))));
    }
    set("log.level", raw);
  }
  if (service) set("service.name", asJsonStringRaw(*service));
  if (host) set("host.name", asJsonStringRaw(*host));
  if (trace) set("trace.id", asJsonStringRaw(*trace));
  if (span) set("span.id", asJsonStringRaw(*span));
  set("event.dataset", dataset ? asJsonStringRaw(*dataset) : own(jsonString(cfg.defaultDataset)));
  if (ingest != ingestCachedFor_) {
    ingestRaw_.assign(1, '"');
    appendTimestamp(ingestRaw_, ingest);
    ingestRaw_ += '"';
    ingestCachedFor_ = ingest;
  }
  set("event.ingested", ingestRaw_);
  if (cfg.keepOriginal) set("event.original", own(jsonString(*payload)), false);
  set("ecs.version", own(jsonString(cfg.ecsVersion)));
  if (cfg.entryFieldsAsLabels && !addEntryFieldsAsLabels(entry, cfg)) return false;
  for (auto& [path, value] : cfg.enrich) set(path, own(jsonString(value)), false, false);
  return true;
}

// addEntryFieldsAsLabels() of the general path (ecs.cpp), over nodes.
bool FastJsonEcsMapper::addEntryFieldsAsLabels(const StreamEntry& entry,
                                               const LogsTransformConfig& cfg) {
  flatLabelKeys_.clear();  // flat top-level "labels.<k>" keys keep their place
  for (const auto& n : top_)
    if (n.alive && n.key.size() > 7 && n.key.substr(0, 7) == "labels.")
      flatLabelKeys_.insert(n.key.substr(7));
  int32_t labels = -1;  // index into top_, found or made when the first label is added
  for (auto& [k, v] : entry.fields) {
    if (k == cfg.payloadField) continue;
    if (!detail::isValidUtf8(k) || !detail::isValidUtf8(v)) return false;
    if (k.empty() || flatLabelKeys_.contains(k)) continue;
    if (labels < 0) {
      Node* obj = &objectAt("labels");
      labels = static_cast<int32_t>(obj - top_.data());
      childKeys_.clear();
      for (int32_t c = obj->firstChild; c >= 0; c = children_[static_cast<size_t>(c)].next)
        if (children_[static_cast<size_t>(c)].alive)
          childKeys_.insert(children_[static_cast<size_t>(c)].key);
    }
    if (!childKeys_.insert(k)) continue;
    addChild(top_[static_cast<size_t>(labels)], k, own(jsonString(v)));
  }
  return true;
}

// `"key":`, as appendJsonString would write the key.
void FastJsonEcsMapper::appendKey(std::string& out, const Node& n) {
  if (!n.plainKey) {
    appendJsonString(out, n.key);
    out.push_back(':');
    return;
  }
  const size_t at = out.size();
  out.resize(at + n.key.size() + 3);
  char* p = out.data() + at;
  *p++ = '"';
  if (!n.key.empty()) std::memcpy(p, n.key.data(), n.key.size());
  p += n.key.size();
  *p++ = '"';
  *p = ':';
}

void FastJsonEcsMapper::appendJson(std::string& out) const {
  out += "{\"@timestamp\":\"";
  appendTimestamp(out, timestamp_);
  out += '"';
  for (const auto& f : top_) {
    if (!f.alive || f.key == "@timestamp") continue;
    out.push_back(',');
    appendKey(out, f);
    if (!f.object) {
      out += f.raw;
      continue;
    }
    out.push_back('{');
    bool first = true;
    for (int32_t c = f.firstChild; c >= 0; c = children_[static_cast<size_t>(c)].next) {
      const Node& child = children_[static_cast<size_t>(c)];
      if (!child.alive) continue;
      if (!first) out.push_back(',');
      first = false;
      appendKey(out, child);
      out += child.raw;
    }
    out.push_back('}');
  }
  out.push_back('}');
}

std::optional<std::string_view> FastJsonEcsMapper::rawScalar(std::string_view path) const {
  const Node* f = find(path);
  if (!f || f->object || f->raw.empty() || f->raw[0] == '{' || f->raw[0] == '[' || f->raw == "null")
    return std::nullopt;
  return f->raw;
}

std::optional<std::string> FastJsonEcsMapper::text(std::string_view path) const {
  const auto raw = rawScalar(path);
  if (!raw) return std::nullopt;
  return detail::rawScalarText(std::string(*raw));
}

}  // namespace shoal::logs
