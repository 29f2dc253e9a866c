// The real Transport: a keep-alive cpp-httplib client (plain or TLS) for one
// base URL, with the union of what the sinks need: a base path, headers on
// every request, a CA bundle or no verification, timeouts.
#pragma once

#include <chrono>
#include <memory>
#include <string>

#include "shoal/common/result.h"
#include "shoal/http/transport.h"

namespace shoal::http {

struct ClientOptions {
  /// http(s)://host[:port][/base]; the base path, without trailing '/', is
  /// put in front of every request's path.
  std::string url;
  /// Sent with every request; a request's own header of the same name wins.
  Headers headers;
  /// https: a PEM bundle to verify the server against; empty: the system's.
  std::string caFile;
  /// https: do not verify the server certificate.
  bool insecureSkipVerify = false;
  std::chrono::milliseconds connectTimeout{2000};
  /// For reading, and for writing, a request (each).
  std::chrono::milliseconds requestTimeout{30000};
  bool keepAlive = true;
  /// Decode a gzip/deflate/br body the server sent compressed (by its
  /// Content-Encoding); false returns it as it came. Either way no
  /// Accept-Encoding is sent unless `headers` have one.
  bool decompress = false;
};

/// A thread-safe (serialized, one connection) cpp-httplib transport; see
/// Transport for the contract. A bad URL is an error value (parseUrl's).
Result<std::unique_ptr<Transport>> makeClient(const ClientOptions& options);

}  // namespace shoal::http
