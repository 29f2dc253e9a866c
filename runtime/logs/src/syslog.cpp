// RFC 5424 and RFC 3164 parsers. Strict on structure (PRI, field separators,
// structured-data syntax), lenient on the RFCs' length limits.
#include "shoal/logs/syslog.h"

namespace shoal::logs {
namespace {

Error bad(std::string what) { return makeError(Errc::kInvalidInput, std::move(what)); }

// Parses "<N>" at the start; returns the PRI and sets pos after '>'.
std::optional<int> parsePri(std::string_view s, size_t& pos) {
  if (s.empty() || s[0] != '<') return std::nullopt;
  size_t i = 1;
  int v = 0;
  while (i < s.size() && i <= 3 && s[i] >= '0' && s[i] <= '9') {
    v = v * 10 + (s[i] - '0');
    ++i;
  }
  if (i == 1 || i >= s.size() || s[i] != '>' || v > 191) return std::nullopt;
  // No leading zeros except "<0>" (RFC 5424 6.2.1).
  if (i > 2 && s[1] == '0') return std::nullopt;
  pos = i + 1;
  return v;
}

// Next space-delimited field at pos; fails when no space follows.
bool field(std::string_view s, size_t& pos, std::string_view& out, bool spaceRequired = true) {
  size_t sp = s.find(' ', pos);
  if (sp == std::string_view::npos) {
    if (spaceRequired) return false;
    sp = s.size();
  }
  out = s.substr(pos, sp - pos);
  pos = sp == s.size() ? sp : sp + 1;
  return !out.empty();
}

bool printUsAscii(std::string_view s) {
  for (unsigned char c : s)
    if (c < 33 || c > 126) return false;
  return true;
}

bool sdNameChar(unsigned char c) { return c >= 33 && c <= 126 && c != '=' && c != ']' && c != '"'; }

}  // namespace

std::string_view facilityName(int f) {
  static constexpr std::string_view kNames[] = {
      "kern",   "user",   "mail",   "daemon", "auth",   "syslog", "lpr",    "news",
      "uucp",   "cron",   "authpriv", "ftp",  "ntp",    "security", "console", "solaris-cron",
      "local0", "local1", "local2", "local3", "local4", "local5", "local6", "local7"};
  return f >= 0 && f < 24 ? kNames[f] : std::string_view("unknown");
}

std::string_view severityName(int s) {
  static constexpr std::string_view kNames[] = {"emergency", "alert",  "critical",      "error",
                                                "warning",   "notice", "informational", "debug"};
  return s >= 0 && s < 8 ? kNames[s] : std::string_view("unknown");
}

bool looksLikeSyslog(std::string_view line) {
  size_t pos;
  return parsePri(line, pos).has_value();
}

bool looksLikeRfc5424(std::string_view line) {
  size_t pos;
  if (!parsePri(line, pos)) return false;
  return pos + 1 < line.size() && line[pos] >= '1' && line[pos] <= '9' &&
         (line[pos + 1] == ' ' || (line[pos + 1] >= '0' && line[pos + 1] <= '9'));
}

Result<SyslogMessage> parseRfc5424(std::string_view s) {
  SyslogMessage m;
  m.kind = SyslogMessage::Kind::kRfc5424;
  size_t pos = 0;
  auto pri = parsePri(s, pos);
  if (!pri) return bad("rfc5424: missing or invalid PRI");
  m.priority = *pri;
  std::string_view tok;
  if (!field(s, pos, tok)) return bad("rfc5424: missing VERSION");
  if (tok.size() > 3 || tok[0] < '1' || tok[0] > '9') return bad("rfc5424: invalid VERSION");
  for (char c : tok)
    if (c < '0' || c > '9') return bad("rfc5424: invalid VERSION");
  m.version = std::stoi(std::string(tok));
  if (!field(s, pos, tok)) return bad("rfc5424: missing TIMESTAMP");
  if (tok != "-") {
    // RFC 5424 requires "T" and a zone; parseIso8601 is a superset, so check.
    if (tok.size() < 20 || tok[10] != 'T' ||
        !(tok.back() == 'Z' || tok[tok.size() - 6] == '+' || tok[tok.size() - 6] == '-'))
      return bad("rfc5424: invalid TIMESTAMP \"" + std::string(tok.substr(0, 40)) + "\"");
    m.timestamp = parseIso8601(tok);
    if (!m.timestamp) return bad("rfc5424: invalid TIMESTAMP \"" + std::string(tok.substr(0, 40)) + "\"");
  }
  static constexpr const char* kHeader[] = {"HOSTNAME", "APP-NAME", "PROCID", "MSGID"};
  std::string* dest[] = {&m.hostname, &m.appName, &m.procId, &m.msgId};
  for (int i = 0; i < 4; ++i) {
    if (!field(s, pos, tok)) return bad(std::string("rfc5424: missing ") + kHeader[i]);
    if (!printUsAscii(tok)) return bad(std::string("rfc5424: invalid ") + kHeader[i]);
    if (tok != "-") *dest[i] = tok;
  }
  // STRUCTURED-DATA
  if (pos >= s.size()) return bad("rfc5424: missing STRUCTURED-DATA");
  if (s[pos] == '-') {
    ++pos;
  } else if (s[pos] == '[') {
    while (pos < s.size() && s[pos] == '[') {
      ++pos;
      SyslogSdElement el;
      size_t start = pos;
      while (pos < s.size() && sdNameChar(static_cast<unsigned char>(s[pos])) && s[pos] != ' ') ++pos;
      if (pos == start) return bad("rfc5424: empty SD-ID");
      el.id = s.substr(start, pos - start);
      while (pos < s.size() && s[pos] == ' ') {
        ++pos;
        start = pos;
        while (pos < s.size() && sdNameChar(static_cast<unsigned char>(s[pos])) && s[pos] != ' ')
          ++pos;
        if (pos == start) return bad("rfc5424: empty PARAM-NAME in [" + el.id + "]");
        std::string name(s.substr(start, pos - start));
        if (pos + 1 >= s.size() || s[pos] != '=' || s[pos + 1] != '"')
          return bad("rfc5424: expected =\" after PARAM-NAME " + name);
        pos += 2;
        std::string value;
        bool closed = false;
        while (pos < s.size()) {
          char c = s[pos];
          if (c == '\\' && pos + 1 < s.size() &&
              (s[pos + 1] == '"' || s[pos + 1] == '\\' || s[pos + 1] == ']')) {
            value.push_back(s[pos + 1]);
            pos += 2;
          } else if (c == '"') {
            ++pos;
            closed = true;
            break;
          } else {
            value.push_back(c);
            ++pos;
          }
        }
        if (!closed) return bad("rfc5424: unterminated PARAM-VALUE of " + name);
        el.params.emplace_back(std::move(name), std::move(value));
      }
      if (pos >= s.size() || s[pos] != ']') return bad("rfc5424: unterminated SD-ELEMENT [" + el.id + "]");
      ++pos;
      m.structuredData.push_back(std::move(el));
    }
  } else {
    return bad("rfc5424: invalid STRUCTURED-DATA");
  }
  if (pos < s.size()) {
    if (s[pos] != ' ') return bad("rfc5424: expected SP before MSG");
    ++pos;
    std::string_view msg = s.substr(pos);
    if (msg.size() >= 3 && static_cast<unsigned char>(msg[0]) == 0xEF &&
        static_cast<unsigned char>(msg[1]) == 0xBB && static_cast<unsigned char>(msg[2]) == 0xBF)
      msg.remove_prefix(3);
    m.message = msg;
  }
  return m;
}

Result<SyslogMessage> parseRfc3164(std::string_view s, EpochNanos reference) {
  SyslogMessage m;
  m.kind = SyslogMessage::Kind::kRfc3164;
  size_t pos = 0;
  if (!s.empty() && s[0] == '<') {
    auto pri = parsePri(s, pos);
    if (!pri) return bad("rfc3164: invalid PRI");
    m.priority = *pri;
  }
  std::string_view rest = s.substr(pos);
  size_t used = 0;
  if (auto t = parseBsdTimestamp(rest, reference, used)) {
    m.timestamp = t;
  } else {
    // rsyslog's high-precision form puts an RFC 3339 timestamp here.
    size_t sp = rest.find(' ');
    std::string_view tok = rest.substr(0, sp);
    if (tok.size() >= 19 && tok[4] == '-' && tok[10] == 'T') {
      m.timestamp = parseIso8601(tok);
      if (!m.timestamp) return bad("rfc3164: invalid timestamp \"" + std::string(tok.substr(0, 40)) + "\"");
      used = tok.size();
    }
  }
  if (!m.timestamp) {  // RFC 3164 4.3.3: no valid timestamp, all of it is the message
    m.message = rest;
    return m;
  }
  if (used >= rest.size()) return m;
  if (rest[used] != ' ') return bad("rfc3164: expected SP after timestamp");
  rest.remove_prefix(used + 1);
  // HOSTNAME, unless the next token already is the TAG ("su:" or "cron[12]:").
  size_t sp = rest.find(' ');
  std::string_view tok = rest.substr(0, sp);
  const bool isTag = !tok.empty() && (tok.back() == ':' || tok.find('[') != std::string_view::npos);
  if (!isTag && sp != std::string_view::npos && !tok.empty()) {
    m.hostname = tok;
    rest.remove_prefix(sp + 1);
  } else if (!isTag && sp == std::string_view::npos) {
    m.message = rest;  // a lone word: the message
    return m;
  }
  // TAG[PID]: MSG
  size_t i = 0;
  while (i < rest.size() && i < 48 && rest[i] != ':' && rest[i] != '[' && rest[i] != ' ') ++i;
  size_t after = i;
  std::string pid;
  if (i < rest.size() && rest[i] == '[') {
    size_t close = rest.find(']', i);
    if (close != std::string_view::npos) {
      pid = rest.substr(i + 1, close - i - 1);
      after = close + 1;
    }
  }
  if (i > 0 && after < rest.size() && rest[after] == ':') {
    m.appName = rest.substr(0, i);
    m.procId = std::move(pid);
    ++after;
    if (after < rest.size() && rest[after] == ' ') ++after;
    m.message = rest.substr(after);
  } else {
    m.message = rest;
  }
  return m;
}

}  // namespace shoal::logs
