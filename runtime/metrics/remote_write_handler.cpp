// Remote write sink: grouping, sharding, chunking, retry and bisection.
// See the header for the design.
#include "shoal/metrics/remote_write_handler.h"

#include <algorithm>
#include <atomic>
#include <numeric>
#include <thread>
#include <unordered_map>

#include "shoal/common/backoff.h"
#include "shoal/common/log.h"
#include "shoal/http/url.h"
#include "shoal/metrics/remote_write_codec.h"
#include "shoal/metrics/retry_wait.h"

namespace shoal::metrics {

namespace {

struct LabelSetHash {
  size_t operator()(const LabelSet& l) const { return static_cast<size_t>(hashLabels(l)); }
};

struct SeriesRun {
  LabelSet labels;
  std::vector<std::pair<int64_t, double>> samples;  // (ts, value), sorted by ts
  std::vector<uint32_t> entries;                     // entry index per sample
};

// A run of one series' samples inside a request.
struct Piece {
  uint32_t series;
  uint32_t begin, end;
  uint32_t size() const { return end - begin; }
};

// Per-entry marks of one shard, merged after the shards finish.
struct EntryMarks {
  std::vector<uint8_t> state;  // 0 ok, 1 undelivered (cancelled), 2 rejected
  std::vector<std::string> reason;
  explicit EntryMarks(size_t n) : state(n, 0), reason(n) {}
};

// Only the start of an answer is read: Prometheus states why it rejected a
// request first, and an error page must not grow every log line and reason.
constexpr size_t kKeptBodyBytes = 4096;

bool looksAlreadyIngested(std::string_view body) {
  return body.find("out of order") != std::string_view::npos ||
         body.find("duplicate sample") != std::string_view::npos;
}

std::string oneLine(std::string s) {
  for (char& c : s)
    if (c == '\n' || c == '\r') c = ' ';
  while (!s.empty() && s.back() == ' ') s.pop_back();
  if (s.size() > 512) s.resize(512);
  return s;
}

prometheus::Counter* counter(prometheus::Registry* r, const std::string& name, const std::string& help) {
  if (!r) return nullptr;
  auto& fam = prometheus::BuildCounter().Name(name).Help(help).Register(*r);
  return &fam.Add({{"sink", "prometheusRemoteWrite"}});
}

void inc(prometheus::Counter* c, double v = 1) {
  if (c) c->Increment(v);
}

// Sorts a series' samples by timestamp (stable: equal timestamps keep stream
// order) and keeps only the last sample per timestamp: Prometheus stores one
// value per timestamp and would reject the request for the others.
void sortAndDedupe(SeriesRun& s) {
  const bool sorted = std::is_sorted(s.samples.begin(), s.samples.end(),
                                     [](auto& x, auto& y) { return x.first < y.first; });
  bool unique = sorted;
  for (size_t i = 1; unique && i < s.samples.size(); ++i) unique = s.samples[i].first != s.samples[i - 1].first;
  if (sorted && unique) return;
  std::vector<uint32_t> order(s.samples.size());
  std::iota(order.begin(), order.end(), 0);
  std::stable_sort(order.begin(), order.end(), [&](uint32_t x, uint32_t y) { return s.samples[x].first < s.samples[y].first; });
  std::vector<std::pair<int64_t, double>> ss;
  std::vector<uint32_t> se;
  for (uint32_t o : order) {
    if (!ss.empty() && ss.back().first == s.samples[o].first) {
      ss.back() = s.samples[o];  // a later entry for the same timestamp wins
      se.back() = s.entries[o];
      continue;
    }
    ss.push_back(s.samples[o]);
    se.push_back(s.entries[o]);
  }
  s.samples = std::move(ss);
  s.entries = std::move(se);
}

}  // namespace

struct RemoteWriteHandler::Shard {
  std::unique_ptr<http::Transport> transport;
  std::atomic<uint64_t> requests{0};
  std::atomic<bool> lastAnswered{true};
};

namespace {

// Everything one shard needs while sending its part of a batch.
struct ShardRun {
  const RemoteWriteConfig& cfg;
  const std::string& path;
  Clock& clock;
  const CancelToken& cancel;
  http::Transport& transport;
  std::atomic<uint64_t>& requests;
  std::atomic<bool>& lastAnswered;
  const std::vector<SeriesRun>& series;
  std::span<const StreamEntry> entries;
  EntryMarks& marks;
  uint64_t retries = 0;
  uint64_t delivered = 0;
  uint64_t rejected = 0;

  http::Response post(std::span<const Piece> req) {
    std::vector<SeriesSlice> slices;
    slices.reserve(req.size());
    for (auto& p : req) {
      const SeriesRun& s = series[p.series];
      slices.push_back(SeriesSlice{&s.labels, std::span(s.samples).subspan(p.begin, p.size())});
    }
    std::string raw;
    encodeWriteRequest(slices, raw);
    http::Request hr;
    hr.method = "POST";
    hr.path = path;
    hr.headers = cfg.headers;
    hr.headers["Content-Encoding"] = "snappy";
    hr.headers["X-Prometheus-Remote-Write-Version"] = "0.1.0";
    hr.headers["User-Agent"] = "shoal-worker";
    hr.contentType = "application/x-protobuf";
    hr.body = snappyCompress(raw);
    requests.fetch_add(1, std::memory_order_relaxed);
    http::Response r = transport.send(hr);
    lastAnswered.store(r.status != 0, std::memory_order_relaxed);
    if (r.body.size() > kKeptBodyBytes) r.body.resize(kKeptBodyBytes);
    return r;
  }

  template <typename F>
  void forEachSample(std::span<const Piece> req, F f) {
    for (auto& p : req)
      for (uint32_t i = p.begin; i < p.end; ++i) f(series[p.series].entries[i]);
  }

  void mark(uint32_t entry, uint8_t state, const std::string& reason) {
    if (marks.state[entry] >= state) return;  // rejected beats undelivered beats ok
    marks.state[entry] = state;
    marks.reason[entry] = reason;
  }

  void deliver(std::span<const Piece> req) {
    Backoff backoff(cfg.retryInitial, cfg.retryMax);
    size_t n = 0;
    for (auto& p : req) n += p.size();
    for (;;) {
      const http::Response r = post(req);
      if (r.status >= 200 && r.status < 300) {
        delivered += n;
        return;
      }
      if (retryableHttpStatus(r.status)) {
        ++retries;
        const Duration d = backoff.next();
        if (backoff.attempts() == 1 || backoff.attempts() % 20 == 0)
          log::warn("remote write failed, retrying",
                    {{"status", r.status}, {"error", r.status ? oneLine(r.body) : r.error},
                     {"attempt", backoff.attempts()}, {"delay_ms", std::chrono::duration_cast<std::chrono::milliseconds>(d).count()}});
        if (!waitOrCancelled(clock, d, cancel)) {
          forEachSample(req, [&](uint32_t e) { mark(e, 1, "cancelled"); });
          return;
        }
        continue;
      }
      if (r.status == 400 && n > 1) {
        auto [a, b] = split(req, n);
        deliver(a);
        deliver(b);
        return;
      }
      const std::string reason = "remote write: HTTP " + std::to_string(r.status) + ": " + oneLine(r.body);
      const bool maybeIngested = r.status == 400 && looksAlreadyIngested(r.body);
      forEachSample(req, [&](uint32_t e) {
        if (maybeIngested && entries[e].deliveries > 1) return;  // redelivery: already stored
        ++rejected;
        mark(e, 2, reason);
      });
      return;
    }
  }

  // Splits a request into two with about half the samples each, the first
  // holding the earlier samples of any series cut in two.
  static std::pair<std::vector<Piece>, std::vector<Piece>> split(std::span<const Piece> req, size_t n) {
    std::vector<Piece> a, b;
    size_t half = n / 2, taken = 0;
    for (auto& p : req) {
      if (taken >= half) {
        b.push_back(p);
      } else if (taken + p.size() <= half) {
        a.push_back(p);
        taken += p.size();
      } else {
        const uint32_t cut = p.begin + static_cast<uint32_t>(half - taken);
        a.push_back(Piece{p.series, p.begin, cut});
        b.push_back(Piece{p.series, cut, p.end});
        taken = half;
      }
    }
    return {std::move(a), std::move(b)};
  }

  void run(const std::vector<uint32_t>& mySeries) {
    std::vector<Piece> req;
    size_t inReq = 0;
    for (uint32_t si : mySeries) {
      const uint32_t total = static_cast<uint32_t>(series[si].samples.size());
      uint32_t at = 0;
      while (at < total) {
        const uint32_t take = static_cast<uint32_t>(std::min<size_t>(total - at, cfg.maxSamplesPerRequest - inReq));
        req.push_back(Piece{si, at, at + take});
        at += take;
        inReq += take;
        if (inReq >= cfg.maxSamplesPerRequest) {
          deliver(req);
          req.clear();
          inReq = 0;
        }
      }
    }
    if (!req.empty()) deliver(req);
  }
};

}  // namespace

RemoteWriteHandler::RemoteWriteHandler(RemoteWriteConfig cfg, TransformConfig transform,
                                       Clock& clock, http::TransportFactory transports,
                                       prometheus::Registry* registry)
    : cfg_(std::move(cfg)), clock_(clock), transform_(std::move(transform), clock) {
  auto u = http::parseUrl(cfg_.url);
  path_ = u && !u->path.empty() ? u->path : "/api/v1/write";
  if (cfg_.shards < 1) cfg_.shards = 1;
  if (cfg_.maxSamplesPerRequest < 1) cfg_.maxSamplesPerRequest = 1;
  for (int i = 0; i < cfg_.shards; ++i) {
    auto s = std::make_unique<Shard>();
    s->transport = transports();
    shards_.push_back(std::move(s));
  }
  samplesSent_ = counter(registry, "shoal_metrics_samples_sent_total", "Samples the sink accepted.");
  samplesRejected_ = counter(registry, "shoal_metrics_samples_rejected_total", "Samples the sink rejected for good.");
  retries_ = counter(registry, "shoal_metrics_sink_retries_total", "Sink requests retried after 429, 5xx or no answer.");
  invalidEvents_ = counter(registry, "shoal_metrics_invalid_events_total", "Entries that were not valid metric events.");
}

RemoteWriteHandler::~RemoteWriteHandler() = default;

uint64_t RemoteWriteHandler::requestsSent() const {
  uint64_t n = 0;
  for (auto& s : shards_) n += s->requests.load();
  return n;
}

bool RemoteWriteHandler::sinkReady() {
  for (auto& s : shards_)
    if (!s->lastAnswered.load()) return false;
  return true;
}

std::vector<EntryResult> RemoteWriteHandler::handle(std::span<const StreamEntry> entries, const CancelToken& cancel) {
  ParsedBatch b = transform_.parse(entries);
  inc(invalidEvents_, static_cast<double>(entries.size() - b.events.size()));

  // Group samples by series, in order of first appearance.
  std::vector<SeriesRun> series;
  std::unordered_map<LabelSet, uint32_t, LabelSetHash> index;
  std::vector<Sample> samples;
  for (size_t i = 0; i < b.events.size(); ++i) {
    samples.clear();
    expandSamples(b.events[i], samples);
    for (auto& s : samples) {
      auto [it, fresh] = index.try_emplace(s.labels, static_cast<uint32_t>(series.size()));
      if (fresh) series.push_back(SeriesRun{std::move(s.labels), {}, {}});
      SeriesRun& run = series[it->second];
      run.samples.emplace_back(s.timestampMs, s.value);
      run.entries.push_back(b.eventEntry[i]);
    }
  }
  for (auto& s : series) sortAndDedupe(s);

  // Shard by series.
  const size_t nShards = shards_.size();
  std::vector<std::vector<uint32_t>> perShard(nShards);
  for (uint32_t i = 0; i < series.size(); ++i) perShard[hashLabels(series[i].labels) % nShards].push_back(i);

  std::vector<EntryMarks> marks;
  std::vector<std::unique_ptr<ShardRun>> runs;
  marks.reserve(nShards);
  for (size_t k = 0; k < nShards; ++k) {
    marks.emplace_back(entries.size());
    runs.push_back(std::make_unique<ShardRun>(ShardRun{cfg_, path_, clock_, cancel, *shards_[k]->transport,
                                                       shards_[k]->requests, shards_[k]->lastAnswered, series,
                                                       entries, marks[k]}));
  }
  std::vector<std::thread> threads;
  size_t busy = 0;
  for (size_t k = 0; k < nShards; ++k) busy += perShard[k].empty() ? 0 : 1;
  for (size_t k = 0; k < nShards; ++k) {
    if (perShard[k].empty()) continue;
    if (busy == 1) runs[k]->run(perShard[k]);  // no thread for a single busy shard
    else threads.emplace_back([&, k] { runs[k]->run(perShard[k]); });
  }
  for (auto& t : threads) t.join();

  for (size_t k = 0; k < nShards; ++k) {
    inc(samplesSent_, static_cast<double>(runs[k]->delivered));
    inc(samplesRejected_, static_cast<double>(runs[k]->rejected));
    inc(retries_, static_cast<double>(runs[k]->retries));
    for (size_t e = 0; e < entries.size(); ++e) {
      const uint8_t st = marks[k].state[e];
      if (st == 0) continue;
      EntryResult& r = b.results[e];
      if (st == 2 && r.outcome != EntryOutcome::kDeadLetter) {
        r = {EntryOutcome::kDeadLetter, marks[k].reason[e]};
      } else if (st == 1 && r.outcome == EntryOutcome::kDelivered) {
        r = {EntryOutcome::kRetry, {}};
      }
    }
  }
  return std::move(b.results);
}

}  // namespace shoal::metrics
