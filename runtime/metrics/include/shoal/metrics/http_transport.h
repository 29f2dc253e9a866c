// The HTTP seam of the metrics sinks: a request goes out, a status and body
// come back (status 0 = no answer: refused, reset, timeout). The real one is
// cpp-httplib with keep-alive; unit tests script a fake.
#pragma once

#include <chrono>
#include <functional>
#include <map>
#include <memory>
#include <string>

#include "shoal/common/result.h"

namespace shoal::metrics {

struct HttpRequest {
  std::string method = "POST";
  std::string path;  // with query, e.g. "/api/v1/write"
  std::map<std::string, std::string> headers;
  std::string body;
  std::string contentType;
};

struct HttpResponse {
  int status = 0;     // 0: transport error, see `error`
  std::string body;   // truncated to a few KiB
  std::string error;  // transport error text
};

/// \brief Sends requests to one base URL. Not thread-safe: one per sender thread.
class HttpTransport {
 public:
  virtual ~HttpTransport() = default;
  virtual HttpResponse send(const HttpRequest& req) = 0;
};

/// Makes one transport per sender (shard).
using HttpTransportFactory = std::function<std::unique_ptr<HttpTransport>()>;

/// scheme://host[:port] and the path of a URL. kInvalidInput if it is not
/// http(s).
struct ParsedUrl {
  std::string base;  // "http://127.0.0.1:9090"
  std::string path;  // "/api/v1/write" ("" if none)
};
Result<ParsedUrl> parseHttpUrl(const std::string& url);

/// A keep-alive cpp-httplib client to `base`.
std::unique_ptr<HttpTransport> makeHttplibTransport(const std::string& base,
                                                    std::chrono::milliseconds timeout);

}  // namespace shoal::metrics
