// A small HTTP interface for the Elasticsearch sink, so its retry and
// item-handling logic runs against a scripted fake in unit tests and against
// a real server (cpp-httplib, plain or TLS) in integration tests.
#pragma once

#include <cstdint>
#include <memory>
#include <string>

#include "shoal/common/result.h"

namespace shoal::logs {

struct HttpResponse {
  int status = 0;     // 0: no response (connect refused, timeout, reset, TLS)
  std::string body;
  std::string error;  // for status 0: what went wrong
};

/// \brief One HTTP endpoint. Implementations are thread-safe and never throw.
class HttpTransport {
 public:
  virtual ~HttpTransport() = default;
  /// POSTs to `path` below the base URL.
  virtual HttpResponse post(const std::string& path, const std::string& body,
                            const std::string& contentType) = 0;
  virtual HttpResponse get(const std::string& path) = 0;
};

struct HttpClientOptions {
  std::string url;            // http(s)://host[:port][/prefix]
  std::string authorization;  // full Authorization header value, or empty
  std::string caFile;         // PEM bundle for https; empty: system CAs
  bool insecureSkipVerify = false;
  int64_t connectTimeoutMs = 2000;
  int64_t requestTimeoutMs = 30000;
};

/// Parsed base URL.
struct BaseUrl {
  std::string scheme, host, prefix;
  int port = 0;
};
/// Parses http(s)://host[:port][/prefix]; error text names the problem.
Result<BaseUrl> parseBaseUrl(const std::string& url);

/// A keep-alive cpp-httplib client. Errors in the URL are reported as values.
Result<std::unique_ptr<HttpTransport>> makeHttpTransport(const HttpClientOptions& options);

/// "Basic base64(user:pass)".
std::string basicAuthorization(const std::string& user, const std::string& password);

}  // namespace shoal::logs
