// parseUrl: http(s)://host[:port][/path], strictly, with reasons.
#include "shoal/http/url.h"

namespace shoal::http {

Result<Url> parseUrl(const std::string& url) {
  Url u;
  size_t rest;
  if (url.rfind("http://", 0) == 0) {
    u.scheme = "http";
    u.port = 80;
    rest = 7;
  } else if (url.rfind("https://", 0) == 0) {
    u.scheme = "https";
    u.port = 443;
    rest = 8;
  } else {
    return makeError(Errc::kInvalidInput, "must start with http:// or https://");
  }
  const size_t slash = url.find('/', rest);
  const std::string hostport =
      url.substr(rest, slash == std::string::npos ? std::string::npos : slash - rest);
  if (slash != std::string::npos) u.path = url.substr(slash);
  if (hostport.find('@') != std::string::npos)
    return makeError(
        Errc::kInvalidInput,
        "credentials in the URL are not supported; use SHOAL_SINK_USERNAME/SHOAL_SINK_PASSWORD");
  size_t colon = hostport.rfind(':');
  if (!hostport.empty() && hostport[0] == '[') {  // [v6]:port
    const size_t close = hostport.find(']');
    if (close == std::string::npos)
      return makeError(Errc::kInvalidInput, "unterminated IPv6 address");
    u.host = hostport.substr(0, close + 1);
    colon = hostport.find(':', close);
  } else {
    u.host = hostport.substr(0, colon);
  }
  if (colon != std::string::npos) {
    const std::string p = hostport.substr(colon + 1);
    if (p.empty() || p.size() > 5 || p.find_first_not_of("0123456789") != std::string::npos)
      return makeError(Errc::kInvalidInput, "invalid port \"" + p + "\"");
    u.port = std::stoi(p);
    if (u.port < 1 || u.port > 65535)
      return makeError(Errc::kInvalidInput, "invalid port \"" + p + "\"");
  }
  if (u.host.empty()) return makeError(Errc::kInvalidInput, "missing host");
  return u;
}

}  // namespace shoal::http
