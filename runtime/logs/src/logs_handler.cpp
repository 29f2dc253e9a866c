// LogsHandler: map each entry to ECS, render index and _id, deliver in bulk.
#include "shoal/logs/logs_handler.h"

#include <prometheus/counter.h>

#include <algorithm>
#include <condition_variable>
#include <deque>
#include <functional>
#include <mutex>
#include <random>
#include <thread>

#include "shoal/common/log.h"
#include "shoal/http/client.h"
#include "shoal/logs/bulk.h"
#include "shoal/logs/ecs.h"
#include "shoal/logs/ecs_fast.h"
#include "shoal/logs/index_pattern.h"

extern char** environ;

namespace shoal {
namespace logs {
namespace {

// Runs posted jobs one at a time, in order, on a thread of its own.
// post() and drain() are called by one thread (the handler's).
class ChunkSender {
 public:
  ChunkSender() : thread_([this] { loop(); }) {}
  ~ChunkSender() {
    {
      std::lock_guard lk(mu_);
      stop_ = true;
    }
    cv_.notify_all();
    thread_.join();
  }
  void post(std::function<void()> job) {
    {
      std::lock_guard lk(mu_);
      jobs_.push_back(std::move(job));
    }
    cv_.notify_all();
  }
  /// Waits until every posted job has finished.
  void drain() {
    std::unique_lock lk(mu_);
    cv_.wait(lk, [&] { return jobs_.empty() && !busy_; });
  }

 private:
  void loop() {
    std::unique_lock lk(mu_);
    for (;;) {
      cv_.wait(lk, [&] { return stop_ || !jobs_.empty(); });
      if (jobs_.empty()) return;  // stop_ and nothing left
      auto job = std::move(jobs_.front());
      jobs_.pop_front();
      busy_ = true;
      lk.unlock();
      try {
        job();
      } catch (const std::exception& e) {
        // Not expected (allocation failure): the chunk's entries stay
        // undecided (kRetry) and are redelivered.
        log::error("logs handler: sending a chunk failed", {{"error", e.what()}});
      }
      lk.lock();
      busy_ = false;
      cv_.notify_all();
    }
  }

  std::mutex mu_;
  std::condition_variable cv_;
  std::deque<std::function<void()>> jobs_;
  bool busy_ = false;
  bool stop_ = false;
  std::thread thread_;  // last: starts after the state above exists
};

class LogsHandler final : public BatchHandler {
 public:
  LogsHandler(std::string stream, LogsPipelineConfig cfg, IndexPattern pattern,
              std::unique_ptr<ElasticsearchSink> sink, prometheus::Registry& registry,
              Clock& clock)
      : stream_(std::move(stream)),
        cfg_(std::move(cfg)),
        pattern_(std::move(pattern)),
        indexCache_(pattern_),
        sink_(std::move(sink)),
        clock_(clock),
        mapped_(prometheus::BuildCounter()
                    .Name("shoal_logs_entries_total")
                    .Help("Log entries transformed, by result: mapped to ECS or invalid (dead-lettered)")
                    .Register(registry)
                    .Add({{"result", "mapped"}})),
        invalid_(prometheus::BuildCounter()
                     .Name("shoal_logs_entries_total")
                     .Help("Log entries transformed, by result: mapped to ECS or invalid (dead-lettered)")
                     .Register(registry)
                     .Add({{"result", "invalid"}})) {}

  std::vector<EntryResult> handle(std::span<const StreamEntry> entries,
                                  const CancelToken& cancel) override {
    std::vector<EntryResult> results(entries.size());
    // Large batches go out in chunks: while the sender thread has chunk k on
    // the wire, this thread transforms chunk k+1. The sink still sees one
    // deliver() at a time, and every entry's result comes from its chunk.
    const size_t n = entries.size();
    const size_t chunkSize = n >= 2 * kMinChunk ? std::max(kMinChunk, (n + kChunks - 1) / kChunks) : n;
    size_t used = 0;           // chunks_[0, used) belong to this batch
    struct DrainOnExit {       // never leave with the sender still using the chunks
      ChunkSender* sender;
      ~DrainOnExit() {
        if (sender) sender->drain();
      }
    } drainOnExit{nullptr};
    try {
      const EpochNanos ingest =
          std::chrono::duration_cast<std::chrono::nanoseconds>(clock_.wallNow().time_since_epoch())
              .count();
      int64_t invalid = 0, mapped = 0;
      for (size_t begin = 0; begin < n; begin += chunkSize) {
        const size_t end = std::min(n, begin + chunkSize);
        if (used == chunks_.size()) chunks_.emplace_back();
        Chunk& c = chunks_[used++];
        c.used = 0;
        c.entry.clear();
        c.sent.clear();
        c.entry.reserve(end - begin);
        for (size_t i = begin; i < end; ++i) {
          if (transform(entries[i], ingest, c, results[i])) c.entry.push_back(i);
          else ++invalid;
        }
        mapped += static_cast<int64_t>(c.used);
        if (c.used == 0) continue;
        if (chunkSize == n) {
          c.sent = sink_->deliver(c.documents(), cancel);  // one chunk: no hand-off
          continue;
        }
        if (!sender_) sender_ = std::make_unique<ChunkSender>();
        drainOnExit.sender = sender_.get();
        sender_->post([this, &c, &cancel] { c.sent = sink_->deliver(c.documents(), cancel); });
      }
      if (drainOnExit.sender) drainOnExit.sender->drain();
      if (invalid) invalid_.Increment(static_cast<double>(invalid));
      mapped_.Increment(static_cast<double>(mapped));
      for (size_t k = 0; k < used; ++k) {
        Chunk& c = chunks_[k];
        for (size_t j = 0; j < c.sent.size() && j < c.entry.size(); ++j) results[c.entry[j]] = std::move(c.sent[j]);
        c.release();
      }
    } catch (const std::exception& e) {
      // Not expected (allocation failure): leave undecided entries pending so
      // they are redelivered rather than lost.
      log::error("logs handler failed", {{"error", e.what()}});
    }
    return results;
  }

  bool sinkReady() override { return sink_->ready(); }
  std::string sinkName() const override { return "elasticsearch"; }

 private:
  static constexpr size_t kMinChunk = 200;  // smaller batches are sent in one piece
  static constexpr size_t kChunks = 4;

  // One chunk of a batch. Chunks (and their documents' buffers) are kept
  // from batch to batch, so that building a document allocates nothing once
  // the buffers have grown to the usual sizes.
  struct Chunk {
    std::vector<BulkDocument> docs;  // docs[0, used) are this batch's
    size_t used = 0;
    std::vector<size_t> entry;  // docs[k] is entries[entry[k]]
    std::vector<EntryResult> sent;

    std::span<const BulkDocument> documents() const { return {docs.data(), used}; }
    BulkDocument& next() {
      if (used == docs.size()) docs.emplace_back();
      return docs[used++];
    }
    // After the batch: what an unusually large entry grew is not kept.
    void release() {
      for (size_t k = 0; k < used; ++k)
        if (docs[k].source.capacity() > kKeptSourceBytes) std::string().swap(docs[k].source);
      sent.clear();
    }
  };
  static constexpr size_t kKeptSourceBytes = 64 << 10;

  // One entry -> one bulk document (true), or its dead-letter result (false).
  bool transform(const StreamEntry& entry, EpochNanos ingest, Chunk& chunk, EntryResult& result) {
    // The fast path renders the same document without a DOM; anything it
    // declines (including every invalid entry) takes the general path.
    if (fast_.map(entry, cfg_.transform, ingest)) {
      BulkDocument& d = chunk.next();
      d.index.assign(indexCache_.render(fast_.timestamp(), fastRaw_, fastText_));
      assignDocumentId(d.id, stream_, entry.id);
      d.source.clear();
      d.source.reserve(entry.bytes() + 256);
      fast_.appendJson(d.source);
      return true;
    }
    auto doc = mapToEcs(entry, cfg_.transform, ingest);
    if (!doc) {
      result = EntryResult{EntryOutcome::kDeadLetter, doc.error().message};
      return false;
    }
    BulkDocument& d = chunk.next();
    d.index = pattern_.render(*doc);
    assignDocumentId(d.id, stream_, entry.id);
    d.source.clear();
    d.source.reserve(entry.bytes() + 256);
    doc->appendJson(d.source);
    return true;
  }

  std::string stream_;
  LogsPipelineConfig cfg_;
  IndexPattern pattern_;
  IndexCache indexCache_;  // over pattern_ (declared after it)
  std::unique_ptr<ElasticsearchSink> sink_;
  Clock& clock_;
  FastJsonEcsMapper fast_;  // handle() runs on one thread at a time
  IndexCache::TextFn fastText_ = [this](std::string_view path) { return fast_.text(path); };
  IndexCache::RawFn fastRaw_ = [this](std::string_view path) { return fast_.rawScalar(path); };
  prometheus::Counter& mapped_;
  prometheus::Counter& invalid_;
  std::deque<Chunk> chunks_;             // stable addresses while the sender works on them
  std::unique_ptr<ChunkSender> sender_;  // started with the first chunked batch
};

// The wire of every request: JSON answers, uncompressed, the credentials.
http::ClientOptions clientOptions(const ElasticsearchSinkConfig& c) {
  http::ClientOptions o;
  o.url = c.url;
  o.headers = {{"Accept", "application/json"}, {"Accept-Encoding", "identity"}};
  if (!c.apiKey.empty())
    o.headers["Authorization"] = "ApiKey " + c.apiKey;
  else if (!c.username.empty())
    o.headers["Authorization"] = http::basicAuthorization(c.username, c.password);
  o.caFile = c.caFile;
  o.insecureSkipVerify = c.insecureSkipVerify;
  o.connectTimeout = std::chrono::milliseconds(c.connectTimeoutMs);
  o.requestTimeout = std::chrono::milliseconds(c.requestTimeoutMs);
  return o;
}

std::unique_ptr<BatchHandler> build(const PipelineConfig& config, const LogsPipelineConfig& lc,
                                    std::unique_ptr<http::Transport> transport,
                                    std::unique_ptr<http::Transport> probe,
                                    prometheus::Registry& registry, Clock& clock) {
  std::string err;
  auto pattern = IndexPattern::compile(lc.sink.indexPattern, lc.sink.indexFallback, err);
  if (!pattern) throw ConfigError("spec.sink.elasticsearch.index", err);
  auto sink = std::make_unique<ElasticsearchSink>(lc.sink, std::move(transport), std::move(probe),
                                                  clock, registry, std::random_device{}());
  return std::make_unique<LogsHandler>(config.redis.stream, lc, std::move(*pattern),
                                       std::move(sink), registry, clock);
}

}  // namespace

std::unique_ptr<BatchHandler> makeLogsHandler(const PipelineConfig& config,
                                              const LogsPipelineConfig& logsConfig,
                                              std::unique_ptr<http::Transport> transport,
                                              prometheus::Registry& registry, Clock& clock) {
  return build(config, logsConfig, std::move(transport), nullptr, registry, clock);
}

}  // namespace logs

std::unique_ptr<BatchHandler> makeLogsHandler(const PipelineConfig& config,
                                              prometheus::Registry& registry, Clock& clock,
                                              const std::map<std::string, std::string>& env) {
  logs::LogsPipelineConfig lc = logs::parseLogsConfig(config, env);
  const http::ClientOptions options = logs::clientOptions(lc.sink);
  auto transport = http::makeClient(options);
  if (!transport) throw ConfigError("spec.sink.elasticsearch.url", transport.error().message);
  http::ClientOptions probeOptions = options;
  probeOptions.requestTimeout =
      std::min<std::chrono::milliseconds>(options.requestTimeout, std::chrono::milliseconds(2000));
  auto probe = http::makeClient(probeOptions);
  if (!probe) throw ConfigError("spec.sink.elasticsearch.url", probe.error().message);
  return logs::build(config, lc, std::move(*transport), std::move(*probe), registry, clock);
}

std::unique_ptr<BatchHandler> makeLogsHandler(const PipelineConfig& config,
                                              prometheus::Registry& registry, Clock& clock) {
  std::map<std::string, std::string> env;
  for (char** e = environ; e && *e; ++e) {
    std::string kv(*e);
    size_t eq = kv.find('=');
    if (eq != std::string::npos) env.emplace(kv.substr(0, eq), kv.substr(eq + 1));
  }
  return makeLogsHandler(config, registry, clock, env);
}

}  // namespace shoal
