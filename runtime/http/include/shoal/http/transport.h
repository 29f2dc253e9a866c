// The HTTP port of the runtime's sinks: a Request goes out, a Response comes
// back. The Elasticsearch bulk sink and the remote-write and Pushgateway
// sinks are written against Transport, so their retry and classification
// rules run against a scripted fake in unit tests and against cpp-httplib
// (client.h) on real servers.
#pragma once

#include <functional>
#include <map>
#include <memory>
#include <string>

namespace shoal::http {

/// Header name -> value. Names are sent as written.
using Headers = std::map<std::string, std::string>;

struct Request {
  std::string method = "POST";  // GET, POST, PUT or DELETE
  std::string path;             // below the transport's base path, with query: "/_bulk"
  Headers headers;              // on top of the transport's own (these win)
  std::string body;             // not sent for GET and DELETE
  std::string contentType;      // for POST and PUT
};

struct Response {
  int status = 0;     // the HTTP status; 0: no response, see `error`
  std::string body;   // the whole body, never truncated (empty when status is 0)
  std::string error;  // status 0 only: what went wrong (refused, timeout, TLS, ...)
  Headers headers;    // names in lower case ("retry-after"); a repeated one: its last value
};

/// \brief Sends requests to one base URL.
///
/// The contract every implementation keeps:
/// - Thread-safe: send() may be called from several threads at once. The
///   cpp-httplib transport holds one connection and serializes the calls, so
///   a sender that wants requests in flight in parallel uses one transport
///   per thread (the remote-write sink has one per shard).
/// - Never throws. Anything that kept a response from arriving (connection
///   refused or reset, timeout, TLS failure, a bad method) is status 0 with a
///   non-empty `error`; every HTTP status, 4xx and 5xx included, is a
///   response like any other. Retrying is the caller's decision.
/// - The body is returned whole; callers that quote it in messages cut it.
class Transport {
 public:
  virtual ~Transport() = default;
  virtual Response send(const Request& request) = 0;
};

/// Makes one transport per sender (e.g. per remote-write shard).
using TransportFactory = std::function<std::unique_ptr<Transport>()>;

/// The `Authorization` value for HTTP Basic: "Basic base64(user:password)".
std::string basicAuthorization(const std::string& user, const std::string& password);

}  // namespace shoal::http
