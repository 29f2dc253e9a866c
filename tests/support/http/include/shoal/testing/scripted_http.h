// A scripted HTTP peer for unit tests of the sinks: every request sent
// through any of its transports is recorded, in order, and answered by a
// callback. Recording and answering happen under one lock, so the remote-write
// sink's shards (one transport each, on their own threads) can share one
// script, and a responder may keep its own state without locking.
#pragma once

#include <functional>
#include <memory>
#include <mutex>
#include <vector>

#include "shoal/common/clock.h"
#include "shoal/http/transport.h"

namespace shoal::testing {

/// A request as the script received it, and when (on the script's clock).
struct RecordedHttpRequest : http::Request {
  MonoTime at{};
};

class ScriptedHttp {
 public:
  /// `callIndex` is the request's position in requests(), counting from 0.
  using Responder = std::function<http::Response(const RecordedHttpRequest&, size_t callIndex)>;

  /// `clock`, if given, stamps each request's `at`.
  explicit ScriptedHttp(Responder respond, const Clock* clock = nullptr);
  ScriptedHttp(const ScriptedHttp&) = delete;
  ScriptedHttp& operator=(const ScriptedHttp&) = delete;

  /// A thread-safe transport whose requests this script records and answers.
  /// Any number may be made; none may outlive the script.
  std::unique_ptr<http::Transport> transport();

  /// Everything received so far. Read it after the code under test returned
  /// (or joined the threads that send).
  const std::vector<RecordedHttpRequest>& requests() const { return requests_; }

 private:
  class Endpoint;
  http::Response answer(const http::Request& request);

  std::mutex mu_;
  Responder respond_;
  const Clock* clock_;
  std::vector<RecordedHttpRequest> requests_;
};

}  // namespace shoal::testing
