// Stream entry -> ECS LogDocument. See ecs.h for the design and the rules.
#include "shoal/logs/ecs.h"

#include <simdjson.h>

#include <algorithm>
#include <charconv>
#include <cstdlib>
#include <cstring>
#include <map>
#include <unordered_map>

#include "ecs_internal.h"
#include "shoal/common/json_numbers.h"
#include "shoal/logs/syslog.h"

namespace shoal::logs {
namespace {

Error bad(std::string what) { return makeError(Errc::kInvalidInput, std::move(what)); }

std::pair<std::string_view, std::string_view> splitPath(std::string_view path) {
  size_t dot = path.find('.');
  if (dot == std::string_view::npos) return {path, {}};
  return {path.substr(0, dot), path.substr(dot + 1)};
}

void appendUtf8(std::string& out, uint32_t cp) {
  if (cp < 0x80) {
    out.push_back(static_cast<char>(cp));
  } else if (cp < 0x800) {
    out.push_back(static_cast<char>(0xC0 | (cp >> 6)));
    out.push_back(static_cast<char>(0x80 | (cp & 0x3F)));
  } else if (cp < 0x10000) {
    out.push_back(static_cast<char>(0xE0 | (cp >> 12)));
    out.push_back(static_cast<char>(0x80 | ((cp >> 6) & 0x3F)));
    out.push_back(static_cast<char>(0x80 | (cp & 0x3F)));
  } else {
    out.push_back(static_cast<char>(0xF0 | (cp >> 18)));
    out.push_back(static_cast<char>(0x80 | ((cp >> 12) & 0x3F)));
    out.push_back(static_cast<char>(0x80 | ((cp >> 6) & 0x3F)));
    out.push_back(static_cast<char>(0x80 | (cp & 0x3F)));
  }
}

int hexValue(char c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  return -1;
}

bool hex4(std::string_view s, size_t pos, uint32_t& v) {
  if (pos + 4 > s.size()) return false;
  v = 0;
  for (size_t i = 0; i < 4; ++i) {
    int h = hexValue(s[pos + i]);
    if (h < 0) return false;
    v = v * 16 + static_cast<uint32_t>(h);
  }
  return true;
}

// Decodes a JSON string literal (with quotes). Lenient: bad escapes are kept.
std::string unescapeJsonString(std::string_view raw) {
  std::string out;
  if (raw.size() < 2) return out;
  raw = raw.substr(1, raw.size() - 2);
  if (raw.find('\\') == std::string_view::npos) return std::string(raw);
  out.reserve(raw.size());
  for (size_t i = 0; i < raw.size(); ++i) {
    char c = raw[i];
    if (c != '\\' || i + 1 >= raw.size()) {
      out.push_back(c);
      continue;
    }
    char e = raw[++i];
    switch (e) {
      case 'n': out.push_back('\n'); break;
      case 't': out.push_back('\t'); break;
      case 'r': out.push_back('\r'); break;
      case 'b': out.push_back('\b'); break;
      case 'f': out.push_back('\f'); break;
      case 'u': {
        uint32_t cp;
        if (!hex4(raw, i + 1, cp)) {
          out.push_back('u');
          break;
        }
        i += 4;
        if (cp >= 0xD800 && cp < 0xDC00 && i + 6 < raw.size() && raw[i + 1] == '\\' &&
            raw[i + 2] == 'u') {
          uint32_t lo;
          if (hex4(raw, i + 3, lo) && lo >= 0xDC00 && lo < 0xE000) {
            cp = 0x10000 + ((cp - 0xD800) << 10) + (lo - 0xDC00);
            i += 6;
          }
        }
        appendUtf8(out, cp);
        break;
      }
      default: out.push_back(e);  // \" \\ \/
    }
  }
  return out;
}

LogField* findTop(std::vector<LogField>& fields, std::string_view key) {
  for (auto& f : fields)
    if (f.key == key) return &f;
  return nullptr;
}

// Raw JSON of a simdjson element. Strings are re-escaped by us (simdjson
// hands them unescaped); everything else is minified by simdjson.
void appendRaw(std::string& out, simdjson::dom::element el) {
  if (el.is_string()) {
    appendJsonString(out, el.get_string().value_unsafe());
  } else {
    out += simdjson::minify(el);
  }
}

struct Canonical {
  std::optional<std::string> timestampRaw;  // raw JSON
  std::optional<std::string> message, level, service, host, trace, span, dataset;
  std::optional<EpochNanos> timestamp;
};

enum class Want { kScalar, kString };

// Takes the first candidate present as a scalar; returns its raw JSON.
std::optional<std::string> takeFirst(LogDocument& doc, std::initializer_list<std::string_view> paths,
                                     Want want = Want::kScalar) {
  for (auto p : paths) {
    const LogField* f = doc.find(p);
    if (!f || f->object || f->raw.empty()) continue;
    char c = f->raw[0];
    if (c == '[' || c == '{' || f->raw == "null") continue;
    if (want == Want::kString && c != '"') continue;
    return doc.take(p);
  }
  return std::nullopt;
}

std::string rawToText(const std::string& raw) {
  if (!raw.empty() && raw[0] == '"') return unescapeJsonString(raw);
  return raw;
}

std::string normalizeLevel(const std::string& raw) {
  if (!raw.empty() && raw[0] != '"') {
    // pino / bunyan numeric levels
    int64_t n = 0;
    auto [p, ec] = std::from_chars(raw.data(), raw.data() + raw.size(), n);
    if (ec == std::errc() && p == raw.data() + raw.size()) {
      switch (n) {
        case 10: return "trace";
        case 20: return "debug";
        case 30: return "info";
        case 40: return "warn";
        case 50: return "error";
        case 60: return "fatal";
        default: break;
      }
    }
    return raw;
  }
  std::string s = unescapeJsonString(raw);
  for (char& c : s)
    if (c >= 'A' && c <= 'Z') c = static_cast<char>(c - 'A' + 'a');
  return s;
}

Result<EpochNanos> timestampFromRaw(const std::string& raw) {
  std::optional<EpochNanos> t;
  if (!raw.empty() && raw[0] == '"') {
    t = parseTimestampText(unescapeJsonString(raw));
  } else if (raw.find_first_of(".eE") == std::string::npos) {
    int64_t n = 0;
    auto [p, ec] = std::from_chars(raw.data(), raw.data() + raw.size(), n);
    if (ec == std::errc() && p == raw.data() + raw.size()) t = fromEpochInteger(n);
  } else {
    char* end = nullptr;
    double d = std::strtod(raw.c_str(), &end);
    if (end == raw.c_str() + raw.size()) t = fromEpochNumber(d);
  }
  if (!t) return bad("timestamp: cannot parse " + raw.substr(0, 64));
  return *t;
}

// Every canonical field out of the generic tree (JSON and fields modes).
void resolveCanonical(LogDocument& doc, Canonical& c) {
  c.timestampRaw = takeFirst(doc, {"@timestamp", "timestamp", "time", "ts", "datetime"});
  if (auto v = takeFirst(doc, {"message", "msg"})) c.message = rawToText(*v);
  else if (auto lv = takeFirst(doc, {"log"}, Want::kString)) c.message = rawToText(*lv);
  if (auto v = takeFirst(doc, {"log.level", "level", "severity", "lvl", "loglevel", "log_level"}))
    c.level = normalizeLevel(*v);
  if (auto v = takeFirst(doc, {"service.name", "service", "service_name", "app", "application"}))
    c.service = rawToText(*v);
  if (auto v = takeFirst(doc, {"host.name", "host", "hostname"})) c.host = rawToText(*v);
  if (auto v = takeFirst(doc, {"trace.id", "trace_id", "traceId", "traceID", "trace"}))
    c.trace = rawToText(*v);
  if (auto v = takeFirst(doc, {"span.id", "span_id", "spanId", "spanID", "span"}))
    c.span = rawToText(*v);
  if (auto v = takeFirst(doc, {"event.dataset", "dataset"})) c.dataset = rawToText(*v);
}

bool validUtf8(std::string_view s) {
  return simdjson::validate_utf8(s.data(), s.size());
}

// simdjson calls a number beyond the double range a structural error; the
// reason names the field and the number instead.
std::string describeJsonError(std::string_view payload, simdjson::error_code err) {
  if (auto number = outOfRangeNumber(payload)) return *number;
  return simdjson::error_message(err);
}

// The fields an entry brings besides its payload (see maxFields).
size_t otherEntryFields(const StreamEntry& entry, const LogsTransformConfig& cfg) {
  return entry.fields.size() - (entry.field(cfg.payloadField) ? 1 : 0);
}

Result<void> buildFromJson(std::string_view payload, size_t otherFields, size_t maxFields,
                           LogDocument& doc) {
  thread_local simdjson::dom::parser parser;
  thread_local std::string padded;
  padded.assign(payload);
  padded.append(simdjson::SIMDJSON_PADDING, '\0');
  simdjson::dom::element root;
  auto err = parser.parse(padded.data(), payload.size(), false).get(root);
  if (err) return bad(std::string("parse: json: ") + describeJsonError(payload, err));
  simdjson::dom::object obj;
  if (root.get_object().get(obj)) return bad("parse: json: payload is not a JSON object");
  // Counted before anything is copied, so a too-wide entry costs one parse.
  size_t count = otherFields + obj.size();
  for (auto [key, value] : obj) {
    simdjson::dom::object child;
    if (value.get_object().get(child) == simdjson::SUCCESS) count += child.size();
  }
  if (count > maxFields) return bad(detail::tooManyFields(count, maxFields));
  auto& fields = doc.fields();
  fields.reserve(obj.size() + 8);
  // Keys are views into the parser's buffers, valid until the next parse.
  thread_local KeySet topKeys, childKeys;
  topKeys.clear();
  for (auto [key, value] : obj) {
    if (!topKeys.insert(key)) continue;  // duplicate key: the first wins
    LogField f;
    f.key = key;
    simdjson::dom::object child;
    if (value.get_object().get(child) == simdjson::SUCCESS) {
      f.object = true;
      f.children.reserve(child.size());
      childKeys.clear();
      for (auto [ck, cv] : child) {
        if (!childKeys.insert(ck)) continue;
        LogField m;
        m.key = ck;
        appendRaw(m.raw, cv);
        f.children.push_back(std::move(m));
      }
    } else {
      appendRaw(f.raw, value);
    }
    fields.push_back(std::move(f));
  }
  return {};
}

Result<void> buildFromFields(const StreamEntry& entry, const LogsTransformConfig& cfg,
                             LogDocument& doc) {
  if (entry.fields.size() > cfg.maxFields)
    return bad(detail::tooManyFields(entry.fields.size(), cfg.maxFields));
  const bool renamePayload = cfg.payloadField != "message" && !entry.field("message");
  KeySet seen;  // views into the entry, which outlives the build
  doc.fields().reserve(entry.fields.size() + 8);
  for (auto& [k, v] : entry.fields) {
    if (!validUtf8(k) || !validUtf8(v)) return bad("parse: field " + jsonString(validUtf8(k) ? k : "?") + ": invalid UTF-8");
    std::string_view key = (renamePayload && k == cfg.payloadField) ? std::string_view("message") : std::string_view(k);
    if (!seen.insert(key)) continue;
    LogField f;
    f.key = key;
    appendJsonString(f.raw, v);
    doc.fields().push_back(std::move(f));
  }
  return {};
}

void buildFromSyslog(const SyslogMessage& m, LogDocument& doc, Canonical& c) {
  std::string s = "{\"priority\":" + std::to_string(m.priority) +
                  ",\"facility\":{\"code\":" + std::to_string(m.facility()) + ",\"name\":\"";
  s += facilityName(m.facility());
  s += "\"},\"severity\":{\"code\":" + std::to_string(m.severity()) + ",\"name\":\"";
  s += severityName(m.severity());
  s += "\"}";
  if (m.kind == SyslogMessage::Kind::kRfc5424) s += ",\"version\":\"" + std::to_string(m.version) + "\"";
  if (!m.hostname.empty()) {
    s += ",\"hostname\":";
    appendJsonString(s, m.hostname);
  }
  if (!m.appName.empty()) {
    s += ",\"appname\":";
    appendJsonString(s, m.appName);
  }
  if (!m.procId.empty()) {
    s += ",\"procid\":";
    appendJsonString(s, m.procId);
  }
  if (!m.msgId.empty()) {
    s += ",\"msgid\":";
    appendJsonString(s, m.msgId);
  }
  if (!m.structuredData.empty()) {
    // Repeated SD-IDs merge; a PARAM-NAME repeated within one id becomes an
    // array. Indexed by name (views into m) so merging stays linear.
    struct SdParam {
      std::string_view name;
      std::vector<std::string_view> values;
    };
    struct SdElement {
      std::string_view id;
      std::vector<SdParam> params;
      std::unordered_map<std::string_view, size_t> byName;
    };
    std::vector<SdElement> sd;
    std::unordered_map<std::string_view, size_t> byId;
    for (auto& el : m.structuredData) {
      auto [at, fresh] = byId.try_emplace(el.id, sd.size());
      if (fresh) sd.push_back({el.id, {}, {}});
      SdElement& merged = sd[at->second];
      for (auto& param : el.params) {
        auto [pit, freshParam] = merged.byName.try_emplace(param.first, merged.params.size());
        if (freshParam) merged.params.push_back({param.first, {}});
        merged.params[pit->second].values.push_back(param.second);
      }
    }
    s += ",\"structured_data\":{";
    for (size_t i = 0; i < sd.size(); ++i) {
      if (i) s += ',';
      appendJsonString(s, sd[i].id);
      s += ":{";
      for (size_t j = 0; j < sd[i].params.size(); ++j) {
        if (j) s += ',';
        const auto& values = sd[i].params[j].values;
        appendJsonString(s, sd[i].params[j].name);
        s += ':';
        if (values.size() == 1) {
          appendJsonString(s, values[0]);
        } else {
          s += '[';
          for (size_t k = 0; k < values.size(); ++k) {
            if (k) s += ',';
            appendJsonString(s, values[k]);
          }
          s += ']';
        }
      }
      s += '}';
    }
    s += '}';
  }
  s += '}';
  doc.set("log.syslog", std::move(s));
  if (!m.appName.empty()) doc.set("process.name", jsonString(m.appName));
  if (!m.procId.empty()) {
    int64_t pid = 0;
    auto [p, ec] = std::from_chars(m.procId.data(), m.procId.data() + m.procId.size(), pid);
    if (ec == std::errc() && p == m.procId.data() + m.procId.size() && pid >= 0)
      doc.set("process.pid", std::to_string(pid));
  }
  c.timestamp = m.timestamp;
  if (!m.message.empty() || m.kind == SyslogMessage::Kind::kRfc3164) c.message = m.message;
  c.level = std::string(severityName(m.severity()));
  if (!m.appName.empty()) c.service = m.appName;
  if (!m.hostname.empty()) c.host = m.hostname;
}

// The top-level object ns, made at the end when absent. A scalar where ECS
// needs an object is kept as <ns>.original.
LogField& objectAt(std::vector<LogField>& fields, std::string_view ns) {
  if (LogField* f = findTop(fields, ns)) {
    if (!f->object) {
      LogField orig{"original", std::move(f->raw), {}, false};
      f->raw.clear();
      f->object = true;
      f->children.push_back(std::move(orig));
    }
    return *f;
  }
  fields.push_back(LogField{std::string(ns), {}, {}, true});
  return fields.back();
}

// doc.set("labels.<k>", v, false) for each entry field but the payload, in
// one pass: set() looks its path up among all fields, which made this
// quadratic in the number of entry fields.
Result<void> addEntryFieldsAsLabels(const StreamEntry& entry, const LogsTransformConfig& cfg,
                                    LogDocument& doc) {
  auto& fields = doc.fields();
  // Flat top-level "labels.<k>" keys keep their place (copied: fields may
  // reallocate below). Rare, so usually nothing is copied.
  std::vector<std::string> flatKeys;
  for (auto& f : fields)
    if (f.key.size() > 7 && f.key.compare(0, 7, "labels.") == 0)
      flatKeys.push_back(f.key.substr(7));
  KeySet flat;
  for (auto& k : flatKeys) flat.insert(k);
  LogField* labels = nullptr;  // found or made when the first label is added
  KeySet present;              // views into labels->children (reserved: no reallocation)
  for (auto& [k, v] : entry.fields) {
    if (k == cfg.payloadField) continue;
    if (!validUtf8(k) || !validUtf8(v)) return bad("parse: field: invalid UTF-8");
    // Elasticsearch rejects an empty field name, which would cost the whole
    // document; such a field is left out of labels.
    if (k.empty() || flat.contains(k)) continue;
    if (!labels) {
      labels = &objectAt(fields, "labels");
      labels->children.reserve(labels->children.size() + entry.fields.size());
      present.clear();
      for (auto& c : labels->children) present.insert(c.key);
    }
    if (present.contains(k)) continue;
    labels->children.push_back(LogField{k, jsonString(v), {}, false});
    present.insert(labels->children.back().key);
  }
  return {};
}

LogFormat detect(const std::string* payload) {
  if (!payload) return LogFormat::kFields;
  std::string_view s = *payload;
  size_t i = 0;
  while (i < s.size() && (s[i] == ' ' || s[i] == '\t' || s[i] == '\r' || s[i] == '\n')) ++i;
  if (i < s.size() && s[i] == '{') return LogFormat::kJson;
  if (looksLikeRfc5424(s)) return LogFormat::kRfc5424;
  if (looksLikeSyslog(s)) return LogFormat::kRfc3164;
  return LogFormat::kFields;
}

}  // namespace

std::optional<EpochNanos> entryIdTime(std::string_view id) {
  const size_t dash = id.find('-');
  std::string_view ms = id.substr(0, dash);
  int64_t v = 0;
  auto [p, ec] = std::from_chars(ms.data(), ms.data() + ms.size(), v);
  if (ec != std::errc() || p != ms.data() + ms.size() || ms.empty() || v < 0 ||
      v > 9'000'000'000'000LL)
    return std::nullopt;
  return v * 1'000'000;
}

std::optional<LogFormat> parseLogFormat(std::string_view s) {
  if (s == "auto") return LogFormat::kAuto;
  if (s == "json") return LogFormat::kJson;
  if (s == "rfc5424") return LogFormat::kRfc5424;
  if (s == "rfc3164") return LogFormat::kRfc3164;
  if (s == "fields") return LogFormat::kFields;
  return std::nullopt;
}

namespace {
struct EscapeTable {
  bool needs[256] = {};
  constexpr EscapeTable() {
    for (int c = 0; c < 0x20; ++c) needs[c] = true;
    needs[static_cast<int>('"')] = true;
    needs[static_cast<int>('\\')] = true;
  }
};
constexpr EscapeTable kEscape;
}  // namespace

// Whether any of the 8 bytes in w is a control character, '"' or '\\'
// (the classic "has zero byte" / "has byte less than" word tricks).
inline bool wordNeedsEscape(uint64_t w) {
  constexpr uint64_t kOnes = 0x0101010101010101ULL, kHigh = 0x8080808080808080ULL;
  const uint64_t quote = w ^ (kOnes * '"'), backslash = w ^ (kOnes * '\\');
  const uint64_t less20 = (w - kOnes * 0x20) & ~w;
  const uint64_t zeroQ = (quote - kOnes) & ~quote;
  const uint64_t zeroB = (backslash - kOnes) & ~backslash;
  return ((less20 | zeroQ | zeroB) & kHigh) != 0;
}

size_t jsonStringSize(std::string_view s) {
  const unsigned char* p = reinterpret_cast<const unsigned char*>(s.data());
  size_t clean = 0;
  while (clean + 8 <= s.size()) {
    uint64_t w;
    std::memcpy(&w, p + clean, 8);
    if (wordNeedsEscape(w)) break;
    clean += 8;
  }
  size_t n = s.size() + 2;
  for (size_t i = clean; i < s.size(); ++i) {
    const unsigned char c = p[i];
    if (!kEscape.needs[c]) continue;
    const bool shortForm = c == '"' || c == '\\' || c == '\n' || c == '\r' || c == '\t';
    n += shortForm ? 1 : 5;  // \x or \u00xx in place of one byte
  }
  return n;
}

void appendJsonString(std::string& out, std::string_view s) {
  static const char* kHex = "0123456789abcdef";
  out.push_back('"');
  size_t start = 0;
  const unsigned char* p = reinterpret_cast<const unsigned char*>(s.data());
  size_t clean = 0;  // s[0, clean) needs no escaping: skip it 8 bytes at a time
  while (clean + 8 <= s.size()) {
    uint64_t w;
    std::memcpy(&w, p + clean, 8);
    if (wordNeedsEscape(w)) break;
    clean += 8;
  }
  for (size_t i = clean; i < s.size(); ++i) {
    unsigned char c = p[i];
    if (!kEscape.needs[c]) continue;
    out.append(s.data() + start, i - start);
    start = i + 1;
    switch (c) {
      case '"': out += "\\\""; break;
      case '\\': out += "\\\\"; break;
      case '\n': out += "\\n"; break;
      case '\r': out += "\\r"; break;
      case '\t': out += "\\t"; break;
      default:
        out += "\\u00";
        out.push_back(kHex[c >> 4]);
        out.push_back(kHex[c & 15]);
    }
  }
  out.append(s.data() + start, s.size() - start);
  out.push_back('"');
}

std::string jsonString(std::string_view s) {
  std::string out;
  out.reserve(s.size() + 2);
  appendJsonString(out, s);
  return out;
}

const LogField* LogDocument::find(std::string_view path) const {
  for (auto& f : fields_)
    if (f.key == path) return &f;
  auto [ns, member] = splitPath(path);
  if (member.empty()) return nullptr;
  for (auto& f : fields_) {
    if (f.key != ns || !f.object) continue;
    for (auto& c : f.children)
      if (c.key == member) return &c;
  }
  return nullptr;
}

std::optional<std::string> LogDocument::take(std::string_view path) {
  for (auto it = fields_.begin(); it != fields_.end(); ++it) {
    if (it->key == path) {
      std::string raw = std::move(it->raw);
      fields_.erase(it);
      return raw;
    }
  }
  auto [ns, member] = splitPath(path);
  if (member.empty()) return std::nullopt;
  for (auto it = fields_.begin(); it != fields_.end(); ++it) {
    if (it->key != ns || !it->object) continue;
    for (auto c = it->children.begin(); c != it->children.end(); ++c) {
      if (c->key != member) continue;
      std::string raw = std::move(c->raw);
      it->children.erase(c);
      if (it->children.empty()) fields_.erase(it);
      return raw;
    }
  }
  return std::nullopt;
}

bool LogDocument::set(std::string_view path, std::string raw, bool overwrite) {
  auto [ns, member] = splitPath(path);
  if (member.empty()) {
    if (LogField* f = findTop(fields_, ns)) {
      if (!overwrite) return false;
      f->object = false;
      f->children.clear();
      f->raw = std::move(raw);
      return true;
    }
    LogField f;
    f.key = ns;
    f.raw = std::move(raw);
    fields_.push_back(std::move(f));
    return true;
  }
  if (!overwrite && findTop(fields_, path)) return false;  // a flat "a.b" key
  LogField* obj = &objectAt(fields_, ns);
  for (auto& c : obj->children) {
    if (c.key == member) {
      if (!overwrite) return false;
      c.raw = std::move(raw);
      return true;
    }
  }
  obj->children.push_back(LogField{std::string(member), std::move(raw), {}, false});
  return true;
}

std::optional<std::string> LogDocument::text(std::string_view path) const {
  const LogField* f = find(path);
  if (!f || f->object || f->raw.empty() || f->raw[0] == '{' || f->raw[0] == '[' || f->raw == "null")
    return std::nullopt;
  return rawToText(f->raw);
}

void LogDocument::appendJson(std::string& out) const {
  // @timestamp always comes first and is rendered from `timestamp`.
  out += "{\"@timestamp\":\"";
  appendTimestamp(out, timestamp);
  out += '"';
  for (auto& f : fields_) {
    if (f.key == "@timestamp") continue;
    out.push_back(',');
    appendJsonString(out, f.key);
    out.push_back(':');
    if (!f.object) {
      out += f.raw;
      continue;
    }
    out.push_back('{');
    for (size_t i = 0; i < f.children.size(); ++i) {
      if (i) out.push_back(',');
      appendJsonString(out, f.children[i].key);
      out.push_back(':');
      out += f.children[i].raw;
    }
    out.push_back('}');
  }
  out.push_back('}');
}

Result<LogDocument> mapToEcs(const StreamEntry& entry, const LogsTransformConfig& cfg,
                             EpochNanos ingest) {
  const std::string* payload = entry.field(cfg.payloadField);
  // A log without a timestamp gets the time its entry was added to the
  // stream (the entry id's milliseconds): unlike the ingest time it is the
  // same on every redelivery, so the rendered index, and with it the
  // create/409 protection, stays stable.
  const EpochNanos added = entryIdTime(entry.id).value_or(ingest);
  // Only `plain` reads the entry's own fields; every other format (auto
  // included) reads a payload, and an entry without one is a producer's
  // mistake that would otherwise be indexed without a message.
  if (cfg.format != LogFormat::kFields && !payload)
    return bad("parse: entry has no field " + jsonString(cfg.payloadField));
  LogFormat fmt = cfg.format == LogFormat::kAuto ? detect(payload) : cfg.format;
  LogDocument doc;
  Canonical c;
  switch (fmt) {
    case LogFormat::kJson: {
      auto r = buildFromJson(*payload, otherEntryFields(entry, cfg), cfg.maxFields, doc);
      if (!r) return r.error();
      resolveCanonical(doc, c);
      break;
    }
    case LogFormat::kRfc5424:
    case LogFormat::kRfc3164: {
      if (!validUtf8(*payload)) return bad("parse: syslog: invalid UTF-8");
      auto m = fmt == LogFormat::kRfc5424 ? parseRfc5424(*payload) : parseRfc3164(*payload, added);
      if (!m) return bad("parse: " + m.error().message);
      size_t count = otherEntryFields(entry, cfg);
      for (auto& el : m->structuredData) count += el.params.size();
      if (count > cfg.maxFields) return bad(detail::tooManyFields(count, cfg.maxFields));
      buildFromSyslog(*m, doc, c);
      break;
    }
    case LogFormat::kFields:
    case LogFormat::kAuto: {
      auto r = buildFromFields(entry, cfg, doc);
      if (!r) return r.error();
      resolveCanonical(doc, c);
      break;
    }
  }

  // ECS object namespaces must be objects in the document (an index with the
  // ECS template rejects "log":"text"): a scalar left there moves to
  // <key>.original.
  for (auto& f : doc.fields()) {
    if (f.object) continue;
    if (!detail::isEcsObjectKey(f.key)) continue;
    f.object = true;
    f.children.push_back(LogField{"original", std::move(f.raw), {}, false});
    f.raw.clear();
  }

  if (c.timestampRaw) {
    auto t = timestampFromRaw(*c.timestampRaw);
    if (!t) return t.error();
    c.timestamp = *t;
  }
  doc.timestamp = c.timestamp.value_or(added);
  doc.timestampInferred = !c.timestamp.has_value();
  if (c.message) doc.set("message", jsonString(*c.message));
  if (c.level) doc.set("log.level", jsonString(*c.level));
  if (c.service) doc.set("service.name", jsonString(*c.service));
  if (c.host) doc.set("host.name", jsonString(*c.host));
  if (c.trace) doc.set("trace.id", jsonString(*c.trace));
  if (c.span) doc.set("span.id", jsonString(*c.span));
  doc.set("event.dataset", jsonString(c.dataset.value_or(cfg.defaultDataset)));
  {
    std::string ts = "\"";
    appendTimestamp(ts, ingest);
    ts += '"';
    doc.set("event.ingested", std::move(ts));
  }
  if (cfg.keepOriginal && payload) doc.set("event.original", jsonString(*payload), false);
  doc.set("ecs.version", jsonString(cfg.ecsVersion));
  if (cfg.entryFieldsAsLabels && fmt != LogFormat::kFields) {
    auto r = addEntryFieldsAsLabels(entry, cfg, doc);
    if (!r) return r.error();
  }
  for (auto& [path, value] : cfg.enrich) doc.set(path, jsonString(value), false);
  return doc;
}

namespace detail {
std::string rawScalarText(const std::string& raw) { return rawToText(raw); }
std::string normalizedLevel(const std::string& raw) { return normalizeLevel(raw); }
Result<EpochNanos> timestampOfRaw(const std::string& raw) { return timestampFromRaw(raw); }
LogFormat detectedFormat(const std::string* payload) { return detect(payload); }
bool isValidUtf8(std::string_view s) { return validUtf8(s); }
std::string tooManyFields(size_t count, size_t maxFields) {
  return "too many fields: " + std::to_string(count) + ", more than maxFields " +
         std::to_string(maxFields);
}
}  // namespace detail

}  // namespace shoal::logs
