// Elasticsearch `_bulk` delivery with item-level retries. See es_sink.h.
#include "shoal/logs/es_sink.h"

#include <algorithm>

#include "shoal/logs/bulk.h"

namespace shoal::logs {
namespace {

// The response keeps only what deliver() reads (filter_path, supported by
// Elasticsearch and OpenSearch alike): per item its _id, status and error.
// The rest of an item (_index, _version, result, _shards, _seq_no, ...) is
// two thirds of a response's bytes, all of them received and parsed for
// nothing.
constexpr const char* kBulkPath = "/_bulk?filter_path=errors,items.*._id,items.*.status,items.*.error";

const prometheus::Histogram::BucketBoundaries& requestBuckets() {
  static const prometheus::Histogram::BucketBoundaries b{0.001, 0.0025, 0.005, 0.01, 0.025, 0.05,
                                                         0.1,   0.25,   0.5,   1,    2.5,   5, 10};
  return b;
}

}  // namespace

ElasticsearchSink::ElasticsearchSink(ElasticsearchSinkConfig config,
                                     std::unique_ptr<http::Transport> transport,
                                     std::unique_ptr<http::Transport> probe, Clock& clock,
                                     prometheus::Registry& registry, uint64_t seed)
    : config_(std::move(config)),
      transport_(std::move(transport)),
      probe_(std::move(probe)),
      clock_(clock),
      seed_(seed),
      itemsFamily_(prometheus::BuildCounter()
                       .Name("shoal_sink_bulk_items_total")
                       .Help("Bulk items answered by the sink, by HTTP status of the item")
                       .Register(registry)),
      requestsFamily_(prometheus::BuildCounter()
                          .Name("shoal_sink_bulk_requests_total")
                          .Help("Bulk requests sent, by HTTP status (0: no response)")
                          .Register(registry)),
      itemRetries_(prometheus::BuildCounter()
                       .Name("shoal_sink_retries_total")
                       .Help("Documents sent again, by why: a retryable item or a failed request")
                       .Register(registry)
                       .Add({{"kind", "item"}})),
      requestRetries_(prometheus::BuildCounter()
                          .Name("shoal_sink_retries_total")
                          .Help("Documents sent again, by why: a retryable item or a failed request")
                          .Register(registry)
                          .Add({{"kind", "request"}})),
      requestSeconds_(prometheus::BuildHistogram()
                          .Name("shoal_sink_bulk_request_duration_seconds")
                          .Help("Time from sending a bulk request to its answer")
                          .Register(registry)
                          .Add({}, requestBuckets())),
      uncompressedBytes_(prometheus::BuildCounter()
                             .Name("shoal_sink_bulk_body_bytes_total")
                             .Help("Bulk request bodies: uncompressed, and as sent (after compression)")
                             .Register(registry)
                             .Add({{"form", "uncompressed"}})),
      sentBytes_(prometheus::BuildCounter()
                     .Name("shoal_sink_bulk_body_bytes_total")
                     .Help("Bulk request bodies: uncompressed, and as sent (after compression)")
                     .Register(registry)
                     .Add({{"form", "sent"}})) {}

void ElasticsearchSink::countItem(int status) {
  std::lock_guard lk(metricsMu_);
  auto it = itemCounters_.find(status);
  if (it == itemCounters_.end())
    it = itemCounters_.emplace(status, &itemsFamily_.Add({{"status", std::to_string(status)}})).first;
  it->second->Increment();
}

void ElasticsearchSink::sleepCancellable(Duration d, const CancelToken& cancel) {
  const Duration slice = millis(50);
  while (d > Duration::zero() && !cancel.cancelled()) {
    Duration step = std::min(d, slice);
    clock_.sleepFor(step);
    d -= step;
  }
}

// Sends docs idx[begin, end) as one request (bisecting on 400/413). Delivered
// and dead-lettered results go to `results`; retryable doc numbers to `retry`.
void ElasticsearchSink::sendRange(std::vector<size_t>& idx, size_t begin, size_t end,
                                  std::span<const BulkDocument> docs,
                                  const std::vector<size_t>& sizes,
                                  std::vector<EntryResult>& results, std::vector<size_t>& retry) {
  http::Request req{.method = "POST", .path = kBulkPath, .contentType = "application/x-ndjson"};
  size_t bytes = 0;
  for (size_t i = begin; i < end; ++i) bytes += sizes[idx[i]];
  const bool gzip = config_.compression == BodyCompression::kGzip;
  std::string& plain = gzip ? plain_ : req.body;
  plain.clear();
  plain.reserve(bytes);
  for (size_t i = begin; i < end; ++i)
    appendBulkCreate(plain, docs[idx[i]].index, docs[idx[i]].id, docs[idx[i]].source);
  uncompressedBytes_.Increment(static_cast<double>(plain.size()));
  // A body zlib could not compress (out of memory) goes as it is: the
  // request stays valid either way.
  if (gzip && gzip_.encode(plain, req.body)) req.headers["Content-Encoding"] = "gzip";
  else if (gzip) req.body = plain;
  sentBytes_.Increment(static_cast<double>(req.body.size()));

  const MonoTime started = clock_.now();
  const http::Response resp = transport_->send(req);
  requestSeconds_.Observe(toSeconds(clock_.now() - started));
  {
    std::lock_guard lk(metricsMu_);
    auto it = requestCounters_.find(resp.status);
    if (it == requestCounters_.end())
      it = requestCounters_
               .emplace(resp.status, &requestsFamily_.Add({{"status", std::to_string(resp.status)}}))
               .first;
    it->second->Increment();
  }

  const size_t n = end - begin;
  switch (classifyRequest(resp.status)) {
    case RequestVerdict::kRetry:
      for (size_t i = begin; i < end; ++i) retry.push_back(idx[i]);
      requestRetries_.Increment(static_cast<double>(n));
      return;
    case RequestVerdict::kSplit:
      if (n > 1) {
        size_t mid = begin + n / 2;
        sendRange(idx, begin, mid, docs, sizes, results, retry);
        sendRange(idx, mid, end, docs, sizes, results, retry);
      } else {
        results[idx[begin]] = EntryResult{
            EntryOutcome::kDeadLetter,
            "elasticsearch: request " + std::to_string(resp.status) + " " + describeErrorBody(resp.body)};
      }
      return;
    case RequestVerdict::kReadItems: break;
  }
  auto items = parseBulkResponse(resp.body);
  bool matches = items && items->size() == n;
  for (size_t k = 0; matches && k < n; ++k) {
    const std::string& got = (*items)[k].id;
    matches = got.empty() || got == docs[idx[begin + k]].id;
  }
  if (!matches) {
    // A reply we cannot match to our documents: nothing is known to be
    // delivered, so all of it goes again (create + _id keeps that safe).
    for (size_t i = begin; i < end; ++i) retry.push_back(idx[i]);
    requestRetries_.Increment(static_cast<double>(n));
    return;
  }
  for (size_t k = 0; k < n; ++k) {
    const BulkItemResult& item = (*items)[k];
    const size_t doc = idx[begin + k];
    countItem(item.status);
    switch (classifyItem(item.status, item.errorType)) {
      case ItemVerdict::kDelivered: results[doc] = EntryResult{EntryOutcome::kDelivered, {}}; break;
      case ItemVerdict::kDeadLetter:
        results[doc] = EntryResult{EntryOutcome::kDeadLetter, describeItemError(item)};
        break;
      case ItemVerdict::kRetry:
        retry.push_back(doc);
        itemRetries_.Increment();
        break;
    }
  }
}

std::vector<EntryResult> ElasticsearchSink::deliver(std::span<const BulkDocument> docs,
                                                    const CancelToken& cancel) {
  std::vector<EntryResult> results(docs.size());  // kRetry until decided
  // Bytes per document (action line + source line); the lines themselves are
  // written straight into each request body.
  std::vector<size_t> sizes(docs.size());
  for (size_t i = 0; i < docs.size(); ++i)
    sizes[i] = bulkActionSize(docs[i].index, docs[i].id) + docs[i].source.size() + 1;
  std::vector<size_t> pending(docs.size());
  for (size_t i = 0; i < docs.size(); ++i) pending[i] = i;
  Backoff backoff(millis(config_.retryInitialMs), millis(config_.retryMaxMs), seed_++);
  const size_t maxDocs = static_cast<size_t>(std::max<int64_t>(1, config_.maxDocsPerRequest));
  const size_t maxBytes = static_cast<size_t>(std::max<int64_t>(1, config_.maxBytesPerRequest));

  while (!pending.empty()) {
    std::vector<size_t> retry;
    size_t begin = 0;
    while (begin < pending.size()) {
      // A request holds at least one document, then as many as fit.
      size_t end = begin + 1;
      size_t bytes = sizes[pending[begin]];
      while (end < pending.size() && end - begin < maxDocs &&
             bytes + sizes[pending[end]] <= maxBytes) {
        bytes += sizes[pending[end]];
        ++end;
      }
      sendRange(pending, begin, end, docs, sizes, results, retry);
      begin = end;
    }
    if (retry.empty() || cancel.cancelled()) break;
    std::sort(retry.begin(), retry.end());  // keep the batch's order on resend
    sleepCancellable(backoff.next(), cancel);
    if (cancel.cancelled()) break;
    pending = std::move(retry);
  }
  return results;
}

bool ElasticsearchSink::ready() {
  std::lock_guard lk(readyMu_);
  const MonoTime now = clock_.now();
  if (readyChecked_ && now - readyCheckedAt_ < std::chrono::seconds(1)) return readyCached_;
  http::Transport& t = probe_ ? *probe_ : *transport_;
  const http::Response r = t.send(http::Request{.method = "GET", .path = "/"});
  readyCached_ = r.status == 200;
  readyChecked_ = true;
  readyCheckedAt_ = now;
  return readyCached_;
}

}  // namespace shoal::logs
