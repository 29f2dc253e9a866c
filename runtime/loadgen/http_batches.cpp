// NDJSON batches to shoal-receiver, sent again until taken (see http_batches.h).
#include "shoal/loadgen/http_batches.h"

#include <algorithm>
#include <charconv>
#include <nlohmann/json.hpp>

namespace shoal::loadgen {

Result<BatchAnswer> parseBatchAnswer(const std::string& body) {
  const auto j = nlohmann::json::parse(body, nullptr, /*allow_exceptions=*/false);
  if (!j.is_object() || !j.contains("accepted") || !j["accepted"].is_number_integer())
    return makeError(Errc::kProtocol, "the answer has no \"accepted\" count: " + body.substr(0, 200));
  BatchAnswer a;
  a.accepted = j["accepted"].get<int64_t>();
  if (j.contains("rejected") && j["rejected"].is_array()) a.rejected = static_cast<int64_t>(j["rejected"].size());
  return a;
}

std::optional<Duration> retryAfter(const http::Response& r, Duration cap) {
  auto it = r.headers.find("retry-after");
  if (it == r.headers.end()) return std::nullopt;
  const std::string& v = it->second;
  int64_t seconds = -1;
  auto [end, ec] = std::from_chars(v.data(), v.data() + v.size(), seconds);
  if (ec != std::errc() || end != v.data() + v.size() || seconds < 0) return std::nullopt;  // an HTTP-date, say
  // Compared in seconds: a huge value must not overflow the nanoseconds.
  if (seconds >= std::chrono::duration_cast<std::chrono::seconds>(cap).count()) return cap;
  return std::chrono::seconds(seconds);
}

bool sendAgain(const http::Response& r) { return r.status == 0 || r.status == 429 || r.status == 503; }

BatchPoster::BatchPoster(http::Transport& transport, Options o, Clock& clock, std::function<bool()> stopRequested)
    : transport_(transport),
      opts_(std::move(o)),
      clock_(clock),
      stopRequested_(std::move(stopRequested)),
      backoff_(opts_.retryBase, opts_.retryMax, opts_.seed) {}

bool BatchPoster::wait(Duration d) {
  const MonoTime until = clock_.now() + d;
  while (!stopRequested_()) {
    const MonoTime now = clock_.now();
    if (now >= until) return true;
    clock_.sleepFor(std::min<Duration>(until - now, std::chrono::milliseconds(50)));
  }
  return false;
}

Result<BatchAnswer> BatchPoster::post(const std::string& body) {
  http::Request req;
  req.method = "POST";
  req.path = opts_.path;
  req.body = body;
  req.contentType = opts_.contentType;
  while (true) {
    if (stopRequested_()) return makeError(Errc::kRetryable, "stopped before the batch was taken");
    ++counts_.requests;
    const http::Response r = transport_.send(req);
    if (r.status >= 200 && r.status < 300) {
      backoff_.reset();
      return parseBatchAnswer(r.body);
    }
    if (!sendAgain(r))
      return makeError(Errc::kPermanent, "POST " + opts_.path + " answered " + std::to_string(r.status) + ": " +
                                             r.body.substr(0, 300));
    if (r.status == 429) ++counts_.throttled;
    if (r.status == 503) ++counts_.unavailable;
    if (r.status == 0) ++counts_.noResponse;
    if (opts_.onRetry) opts_.onRetry(r);
    // Retry-After as asked, but never a busy loop (a "0").
    const Duration backoff = backoff_.next();
    const auto asked = r.status == 0 ? std::nullopt : retryAfter(r, opts_.retryAfterCap);
    const Duration delay = asked ? std::max(*asked, opts_.retryBase) : backoff;
    if (!wait(delay)) return makeError(Errc::kRetryable, "stopped before the batch was taken");
  }
}

}  // namespace shoal::loadgen
