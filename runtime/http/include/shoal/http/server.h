// The HTTP server port: what the receiver (and any other listener of ours)
// needs of a server, with cpp-httplib behind it (src/httplib_server.cpp).
//
// Design note
//  - A route is a method and a path pattern (an ECMAScript regex matched
//    against the whole path; its capture groups come back in `captures`). The
//    handler gets the whole request, body included and already decoded from
//    its Content-Encoding (gzip, deflate, br), and returns the response.
//  - The body limit is on the decoded body: a request whose Content-Length,
//    or whose decoded body, passes `maxBodyBytes` is answered 413 without
//    reading further (a small gzip body cannot inflate into memory without
//    bound), and the handler never runs. A body that cannot be decoded is 400.
//  - `maxConnections` connections are served at once, each on its own
//    thread; one more is answered 503 and closed by a spare thread. A
//    connection that sends nothing for `readTimeout` mid-request, or nothing
//    for `idleTimeout` between keep-alive requests, is closed.
//  - stop(): stops accepting and returns once every request being served has
//    its response (a request whose body is still arriving counts: it is read
//    to the end, within the read timeout, and handled). A request that comes
//    later on a kept-alive connection is answered 503 and the connection
//    closed; idle kept-alive connections are left to their idle timeout
//    (their threads no longer reach the handlers).
//  - Handlers run on the connection threads, concurrently: they must be
//    thread-safe. A handler that throws answers 500.
#pragma once

#include <chrono>
#include <functional>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "shoal/common/result.h"
#include "shoal/http/transport.h"

namespace shoal::http {

struct ServerRequest {
  std::string method;
  std::string path;                   // without the query
  std::vector<std::string> captures;  // the route pattern's capture groups
  Headers headers;                    // names as sent; see header()
  std::string body;                   // decoded
  std::string remoteAddress;

  /// The value of a header, its name compared case-insensitively; "" if absent.
  std::string header(std::string_view name) const;
};

struct ServerResponse {
  int status = 200;
  std::string body;
  std::string contentType = "text/plain";
  Headers headers;
};

using RouteHandler = std::function<ServerResponse(const ServerRequest&)>;

struct ServerOptions {
  std::string host = "0.0.0.0";
  int port = 0;  // 0: any free port (see Server::port())
  size_t maxBodyBytes = 10 << 20;
  std::chrono::seconds readTimeout{30};
  std::chrono::seconds idleTimeout{120};
  size_t maxConnections = 1024;
  /// Both set: HTTPS with this PEM certificate (chain) and key.
  std::string tlsCertFile, tlsKeyFile;
};

/// \brief An HTTP(S) server. route() before start(); start() once; stop()
/// from any thread. Thread-safe after start().
class Server {
 public:
  virtual ~Server() = default;
  /// Adds a route; the first route whose method and pattern match wins.
  virtual void route(const std::string& method, const std::string& pattern, RouteHandler handler) = 0;
  /// Binds and starts serving on a thread of its own. An error (address in
  /// use, unreadable certificate) names the reason.
  virtual Result<void> start() = 0;
  /// The bound port (after start()).
  virtual int port() const = 0;
  /// Graceful: see the design note. Idempotent.
  virtual void stop() = 0;
};

std::unique_ptr<Server> makeServer(ServerOptions options);

}  // namespace shoal::http
