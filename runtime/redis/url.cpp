// Parsing of redis:// and rediss:// URLs into ConnectionOptions.
#include <charconv>

#include "shoal/redis/client.h"

namespace shoal::redis {
namespace {

Error urlError(const std::string& what) { return makeError(Errc::kInvalidInput, "redis url: " + what); }

int hexValue(char c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  return -1;
}

Result<std::string> percentDecode(std::string_view s) {
  std::string out;
  out.reserve(s.size());
  for (size_t i = 0; i < s.size(); ++i) {
    if (s[i] != '%') {
      out.push_back(s[i]);
      continue;
    }
    if (i + 2 >= s.size()) return urlError("truncated percent escape");
    int hi = hexValue(s[i + 1]), lo = hexValue(s[i + 2]);
    if (hi < 0 || lo < 0) return urlError("bad percent escape");
    out.push_back(static_cast<char>(hi * 16 + lo));
    i += 2;
  }
  return out;
}

Result<int> parseInt(std::string_view s, int lo, int hi, const std::string& what) {
  int v = 0;
  auto [p, ec] = std::from_chars(s.data(), s.data() + s.size(), v);
  if (s.empty() || ec != std::errc() || p != s.data() + s.size() || v < lo || v > hi)
    return urlError("invalid " + what + " '" + std::string(s) + "'");
  return v;
}

}  // namespace

std::string ConnectionOptions::describe() const {
  const bool v6 = host.find(':') != std::string::npos;
  return (v6 ? "[" + host + "]" : host) + ":" + std::to_string(port);
}

Result<ConnectionOptions> parseUrl(std::string_view url) {
  ConnectionOptions o;
  std::string_view rest;
  if (url.starts_with("redis://")) {
    rest = url.substr(8);
  } else if (url.starts_with("rediss://")) {
    rest = url.substr(9);
    o.tls.enabled = true;
  } else {
    return urlError("scheme must be redis:// or rediss://");
  }
  // Drop a query string; none of its options are supported yet.
  if (auto q = rest.find('?'); q != std::string_view::npos) rest = rest.substr(0, q);
  std::string_view path;
  if (auto slash = rest.find('/'); slash != std::string_view::npos) {
    path = rest.substr(slash + 1);
    rest = rest.substr(0, slash);
  }
  if (auto at = rest.rfind('@'); at != std::string_view::npos) {
    std::string_view userinfo = rest.substr(0, at);
    rest = rest.substr(at + 1);
    std::string_view user = userinfo, pass;
    bool hasPass = false;
    if (auto colon = userinfo.find(':'); colon != std::string_view::npos) {
      user = userinfo.substr(0, colon);
      pass = userinfo.substr(colon + 1);
      hasPass = true;
    }
    auto u = percentDecode(user);
    if (!u) return u.error();
    o.username = *u;
    if (hasPass) {
      auto p = percentDecode(pass);
      if (!p) return p.error();
      o.password = *p;
    } else if (!o.username.empty()) {
      // redis://secret@host is the old form with only a password.
      o.password = o.username;
      o.username.clear();
    }
  }
  std::string_view hostport = rest;
  std::string_view portText;
  if (hostport.starts_with("[")) {
    auto close = hostport.find(']');
    if (close == std::string_view::npos) return urlError("unterminated [ in host");
    o.host = std::string(hostport.substr(1, close - 1));
    std::string_view after = hostport.substr(close + 1);
    if (!after.empty()) {
      if (after[0] != ':') return urlError("unexpected text after ]");
      portText = after.substr(1);
    }
  } else {
    auto colon = hostport.rfind(':');
    if (colon != std::string_view::npos) {
      o.host = std::string(hostport.substr(0, colon));
      portText = hostport.substr(colon + 1);
    } else {
      o.host = std::string(hostport);
    }
  }
  if (o.host.empty()) return urlError("missing host");
  if (!portText.empty()) {
    auto p = parseInt(portText, 1, 65535, "port");
    if (!p) return p.error();
    o.port = *p;
  } else if (hostport.ends_with(":")) {
    return urlError("empty port");
  }
  if (!path.empty()) {
    auto d = parseInt(path, 0, 1 << 20, "database index");
    if (!d) return d.error();
    o.db = *d;
  }
  return o;
}

}  // namespace shoal::redis
