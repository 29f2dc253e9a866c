// The Elasticsearch/OpenSearch sink: delivers documents through `_bulk` with
// `create` and deterministic ids, item by item.
//
// Design note. A batch is split into requests by document count and bytes.
// Every response is read item by item (bulk.h has the verdict table): what is
// delivered (2xx, or 409 "already there") is done; what can never succeed is
// dead-lettered with the Elasticsearch error; what is retryable is collected
// and only those items are sent again after a jittered exponential backoff
// (DeliveryConfig retryInitialMs..retryMaxMs). Whole-request failures
// (connection refused, 5xx, 429) retry all items of that request; a 400 or
// 413 for a whole request is bisected until the offending document is alone,
// then that document is dead-lettered. Retries go on for as long as it takes
// (an outage must not turn into dead letters); only when the CancelToken is
// cancelled does deliver() stop and report kRetry for what is left. Time is
// the injected Clock, so unit tests run retries on a ManualClock.
// With compression gzip every request body goes out gzipped (level 1) with
// `Content-Encoding: gzip`; the request limits (maxBytesPerRequest, the
// bisection) are on the uncompressed body, so compression changes only the
// bytes on the wire, never which documents share a request.
#pragma once

#include <prometheus/counter.h>
#include <prometheus/family.h>
#include <prometheus/histogram.h>
#include <prometheus/registry.h>

#include <cstdint>
#include <map>
#include <memory>
#include <mutex>
#include <span>
#include <string>
#include <vector>

#include "shoal/common/backoff.h"
#include "shoal/common/clock.h"
#include "shoal/http/gzip.h"
#include "shoal/http/transport.h"
#include "shoal/stream/stream_entry.h"

namespace shoal::logs {

/// How request bodies go on the wire.
enum class BodyCompression : uint8_t { kNone, kGzip };

/// spec.sink.elasticsearch
struct ElasticsearchSinkConfig {
  std::string url;                                          // required
  std::string indexPattern = "logs-{service.name}-{yyyy.MM.dd}";
  std::string indexFallback = "unknown";                    // for missing fields
  int64_t maxDocsPerRequest = 1000;
  int64_t maxBytesPerRequest = 5 << 20;
  std::string username, password;                           // env SHOAL_SINK_USERNAME/PASSWORD
  std::string apiKey;                                       // env SHOAL_SINK_API_KEY
  std::string caFile;                                       // tls.caFile
  bool insecureSkipVerify = false;                          // tls.insecureSkipVerify
  int64_t connectTimeoutMs = 2000;
  int64_t requestTimeoutMs = 30000;
  int64_t retryInitialMs = 100;                             // from spec.delivery
  int64_t retryMaxMs = 5000;
  BodyCompression compression = BodyCompression::kNone;     // compression: none | gzip
};

/// One document to create.
struct BulkDocument {
  std::string index;
  std::string id;
  std::string source;  // one-line JSON object
};

/// \brief Bulk delivery. deliver() may be called from one thread at a time;
/// ready() from any thread.
class ElasticsearchSink {
 public:
  /// `probe` answers ready(); when null the main transport is used.
  ElasticsearchSink(ElasticsearchSinkConfig config, std::unique_ptr<http::Transport> transport,
                    std::unique_ptr<http::Transport> probe, Clock& clock,
                    prometheus::Registry& registry, uint64_t seed);

  /// One result per document, in order: kDelivered, kDeadLetter (with the
  /// Elasticsearch error) or, only when cancelled, kRetry.
  std::vector<EntryResult> deliver(std::span<const BulkDocument> docs, const CancelToken& cancel);

  /// GET / answered 200 (cached for a second).
  bool ready();

 private:
  void sendRange(std::vector<size_t>& idx, size_t begin, size_t end,
                 std::span<const BulkDocument> docs, const std::vector<size_t>& sizes,
                 std::vector<EntryResult>& results, std::vector<size_t>& retry);
  void countItem(int status);
  void sleepCancellable(Duration d, const CancelToken& cancel);

  ElasticsearchSinkConfig config_;
  std::unique_ptr<http::Transport> transport_;
  std::unique_ptr<http::Transport> probe_;
  Clock& clock_;
  uint64_t seed_;

  prometheus::Family<prometheus::Counter>& itemsFamily_;
  prometheus::Family<prometheus::Counter>& requestsFamily_;
  prometheus::Counter& itemRetries_;
  prometheus::Counter& requestRetries_;
  prometheus::Histogram& requestSeconds_;
  prometheus::Counter& uncompressedBytes_;
  prometheus::Counter& sentBytes_;
  http::GzipEncoder gzip_;  // used by deliver() only (one thread at a time)
  std::string plain_;       // the uncompressed body of a gzipped request (reused)
  std::mutex metricsMu_;
  std::map<int, prometheus::Counter*> itemCounters_;
  std::map<int, prometheus::Counter*> requestCounters_;

  std::mutex readyMu_;
  MonoTime readyCheckedAt_{};
  bool readyCached_ = false;
  bool readyChecked_ = false;
};

}  // namespace shoal::logs
