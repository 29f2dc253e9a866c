// shoal-loadgen --http: posting NDJSON batches to shoal-receiver's /v1/logs
// (or /v1/metrics) so that no batch is ever dropped.
//
// Design note
// - 200: the receiver took the batch; `accepted` (stored in the target
//   stream) and `rejected` (stored in <stream>:rejected) are read from its
//   answer, `{"accepted":N,"rejected":[...]}`.
// - 429 (a target stream is over maxBacklog) and 503 (Redis did not
//   acknowledge, or the receiver is stopping): wait for Retry-After (whole
//   seconds; absent or unreadable: the backoff), then send the same batch
//   again. A 429 stored nothing; a 503 may follow a partial write, so its
//   retry can store some entries twice (docs/receiver.md: the receiver does
//   not deduplicate). No response at all (refused, reset, timeout): the
//   backoff, then again, with the same caveat.
// - Any other status (400, 401, 404, 413, ...) cannot be fixed by sending
//   again: an error naming the status and the start of the body.
// - Waits run on the injected Clock, in slices, so a stop request ends them.
#pragma once

#include <cstdint>
#include <functional>
#include <optional>
#include <string>

#include "shoal/common/backoff.h"
#include "shoal/common/clock.h"
#include "shoal/common/result.h"
#include "shoal/http/transport.h"

namespace shoal::loadgen {

/// What the receiver said it did with one batch.
struct BatchAnswer {
  int64_t accepted = 0;
  int64_t rejected = 0;
};

/// Reads the receiver's 200 answer; kProtocol if it is not one.
Result<BatchAnswer> parseBatchAnswer(const std::string& body);

/// The Retry-After header's delay (delta-seconds only, capped at `cap`), or
/// nullopt when absent or not a number.
std::optional<Duration> retryAfter(const http::Response& r, Duration cap);

/// Whether a batch answered `r` is to be sent again (429, 503, no response).
bool sendAgain(const http::Response& r);

/// How the posting went, over every batch.
struct PostCounts {
  int64_t requests = 0;     // every attempt
  int64_t throttled = 0;    // answered 429
  int64_t unavailable = 0;  // answered 503
  int64_t noResponse = 0;   // no answer (status 0)
};

/// \brief Posts batches to one path until each is taken. Not thread-safe.
class BatchPoster {
 public:
  struct Options {
    std::string path = "/v1/logs";
    std::string contentType = "application/x-ndjson";
    Duration retryBase = std::chrono::milliseconds(100);
    Duration retryMax = std::chrono::seconds(5);
    Duration retryAfterCap = std::chrono::seconds(60);
    uint64_t seed = 1;
    /// Called with each answer that makes the batch go again (may be empty).
    std::function<void(const http::Response&)> onRetry;
  };
  /// `stopRequested` is polled between attempts and while waiting.
  BatchPoster(http::Transport& transport, Options o, Clock& clock, std::function<bool()> stopRequested);
  /// Sends `body` until the receiver takes it. Errors: a status that
  /// retrying cannot fix, a 200 that is not the receiver's answer
  /// (kProtocol), or a stop request while retrying (kRetryable).
  Result<BatchAnswer> post(const std::string& body);
  const PostCounts& counts() const { return counts_; }

 private:
  /// Waits `d` on the clock; false if a stop was requested meanwhile.
  bool wait(Duration d);

  http::Transport& transport_;
  Options opts_;
  Clock& clock_;
  std::function<bool()> stopRequested_;
  Backoff backoff_;
  PostCounts counts_;
};

}  // namespace shoal::loadgen
