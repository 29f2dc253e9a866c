// Parsing of the http(s) URLs the sinks are configured with
// (`http://es:9200/prefix`, `https://[::1]:9090/api/v1/write`), so a bad URL
// is a configuration error with a reason rather than a sink that never
// answers.
#pragma once

#include <string>

#include "shoal/common/result.h"

namespace shoal::http {

struct Url {
  std::string scheme;  // "http" or "https"
  std::string host;    // an IPv6 address keeps its brackets: "[::1]"
  int port = 0;        // as written, else 80 or 443
  std::string path;    // from the first '/' after the host, as written (query included); "" if none

  /// "scheme://host:port", what a connection is opened to.
  std::string origin() const { return scheme + "://" + host + ":" + std::to_string(port); }
};

/// Parses http(s)://host[:port][/path]. kInvalidInput, with the reason, for
/// another scheme, a missing host, a port outside 1..65535, credentials in
/// the URL (they come from the environment) or an unterminated IPv6 address.
Result<Url> parseUrl(const std::string& url);

}  // namespace shoal::http
