// LogsHandler: map each entry to ECS, render index and _id, deliver in bulk.
#include "shoal/logs/logs_handler.h"

#include <prometheus/counter.h>

#include <random>

#include "shoal/common/log.h"
#include "shoal/logs/bulk.h"
#include "shoal/logs/ecs.h"
#include "shoal/logs/index_pattern.h"

extern char** environ;

namespace shoal {
namespace logs {
namespace {

class LogsHandler final : public BatchHandler {
 public:
  LogsHandler(std::string stream, LogsPipelineConfig cfg, IndexPattern pattern,
              std::unique_ptr<ElasticsearchSink> sink, prometheus::Registry& registry,
              Clock& clock)
      : stream_(std::move(stream)),
        cfg_(std::move(cfg)),
        pattern_(std::move(pattern)),
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
    try {
      const EpochNanos ingest =
          std::chrono::duration_cast<std::chrono::nanoseconds>(clock_.wallNow().time_since_epoch())
              .count();
      std::vector<BulkDocument> docs;
      std::vector<size_t> docEntry;
      docs.reserve(entries.size());
      docEntry.reserve(entries.size());
      int64_t invalid = 0;
      for (size_t i = 0; i < entries.size(); ++i) {
        auto doc = mapToEcs(entries[i], cfg_.transform, ingest);
        if (!doc) {
          results[i] = EntryResult{EntryOutcome::kDeadLetter, doc.error().message};
          ++invalid;
          continue;
        }
        BulkDocument& d = docs.emplace_back();
        d.index = pattern_.render(*doc);
        d.id = documentId(stream_, entries[i].id);
        d.source.reserve(entries[i].bytes() + 256);
        doc->appendJson(d.source);
        docEntry.push_back(i);
      }
      if (invalid) invalid_.Increment(static_cast<double>(invalid));
      mapped_.Increment(static_cast<double>(docs.size()));
      if (!docs.empty()) {
        std::vector<EntryResult> sent = sink_->deliver(docs, cancel);
        for (size_t k = 0; k < sent.size(); ++k) results[docEntry[k]] = std::move(sent[k]);
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
  std::string stream_;
  LogsPipelineConfig cfg_;
  IndexPattern pattern_;
  std::unique_ptr<ElasticsearchSink> sink_;
  Clock& clock_;
  prometheus::Counter& mapped_;
  prometheus::Counter& invalid_;
};

HttpClientOptions clientOptions(const ElasticsearchSinkConfig& c) {
  HttpClientOptions o;
  o.url = c.url;
  if (!c.apiKey.empty()) o.authorization = "ApiKey " + c.apiKey;
  else if (!c.username.empty()) o.authorization = basicAuthorization(c.username, c.password);
  o.caFile = c.caFile;
  o.insecureSkipVerify = c.insecureSkipVerify;
  o.connectTimeoutMs = c.connectTimeoutMs;
  o.requestTimeoutMs = c.requestTimeoutMs;
  return o;
}

std::unique_ptr<BatchHandler> build(const PipelineConfig& config, const LogsPipelineConfig& lc,
                                    std::unique_ptr<HttpTransport> transport,
                                    std::unique_ptr<HttpTransport> probe,
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
                                              std::unique_ptr<HttpTransport> transport,
                                              prometheus::Registry& registry, Clock& clock) {
  return build(config, logsConfig, std::move(transport), nullptr, registry, clock);
}

}  // namespace logs

std::unique_ptr<BatchHandler> makeLogsHandler(const PipelineConfig& config,
                                              prometheus::Registry& registry, Clock& clock,
                                              const std::map<std::string, std::string>& env) {
  logs::LogsPipelineConfig lc = logs::parseLogsConfig(config, env);
  const logs::HttpClientOptions options = logs::clientOptions(lc.sink);
  auto transport = logs::makeHttpTransport(options);
  if (!transport) throw ConfigError("spec.sink.elasticsearch.url", transport.error().message);
  logs::HttpClientOptions probeOptions = options;
  probeOptions.requestTimeoutMs = std::min<int64_t>(options.requestTimeoutMs, 2000);
  auto probe = logs::makeHttpTransport(probeOptions);
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
