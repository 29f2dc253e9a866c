// shoal-worker: wires the config, the pipeline's BatchHandler, the consumer
// loop, the HTTP endpoints (/metrics, /healthz, /readyz) and signal handling.
#include <CLI/CLI.hpp>
#include <httplib.h>
#include <prometheus/registry.h>
#include <prometheus/text_serializer.h>
#include <signal.h>

#include <atomic>
#include <chrono>
#include <cstdio>
#include <iostream>
#include <sstream>
#include <thread>

#include "shoal/common/clock.h"
#include "shoal/common/signals.h"
#include "shoal/common/log.h"
#include "shoal/worker/config.h"
#include "shoal/worker/consumer_loop.h"
#ifdef SHOAL_HAVE_LOGS
#include "shoal/logs/logs_handler.h"
#endif
#ifdef SHOAL_HAVE_METRICS
#include "shoal/metrics/metrics_handler.h"
#endif

namespace {

const char* kEnvHelp = R"(Environment:
  SHOAL_REDIS_URL            redis://host:port/db or rediss://... (TLS); overrides
                             spec.source.redis.url/address; may carry user:password@
  SHOAL_REDIS_USERNAME       Redis ACL user name
  SHOAL_REDIS_PASSWORD       Redis password (never put it in the YAML)
  SHOAL_REDIS_PASSWORD_FILE  file holding the Redis password (e.g. a mounted Secret)
  SHOAL_REDIS_TLS_CA_FILE    CA bundle for Redis TLS (overrides tls.caFile)
  SHOAL_REDIS_TLS_CERT_FILE  client certificate for Redis TLS (overrides tls.certFile)
  SHOAL_REDIS_TLS_KEY_FILE   client key for Redis TLS (overrides tls.keyFile)
  SHOAL_CONSUMER_NAME        consumer name in the group (default: the hostname)
  Sinks (logs -> Elasticsearch/OpenSearch; see the README for the metrics sinks):
  SHOAL_SINK_URL             overrides spec.sink.elasticsearch.url
  SHOAL_SINK_CA_FILE         CA bundle for an https sink
  SHOAL_SINK_USERNAME        basic auth user (with SHOAL_SINK_PASSWORD)
  SHOAL_SINK_PASSWORD        basic auth password
  SHOAL_SINK_API_KEY         API key (instead of basic auth)

Config (YAML, a Pipeline or its spec; camelCase keys):
  spec.type: logs | metrics
  spec.source.redis: url | address, db, username, tls{enabled, caFile, certFile,
    keyFile, serverName, insecureSkipVerify}, stream (required), consumerGroup,
    startId, deadLetterStream, maxDeliveries, claimMinIdleMs, claimIntervalMs,
    connectTimeoutMs, readTimeoutMs, blockMs
  spec.delivery: batchSize, batchBytes, lingerMs, retryInitialMs, retryMaxMs,
    maxEntryBytes, shutdownTimeoutMs, parallelism (delivery pipelines per
    stream in this process, each its own consumer "<name>-<i>" when above 1)
  spec.transform, spec.sink: see the pipeline type's documentation

Exit codes: 0 clean shutdown, 1 runtime failure or drain cut short, 2 bad config.
)";

std::unique_ptr<shoal::BatchHandler> makeHandler(const shoal::PipelineConfig& cfg, prometheus::Registry& reg,
                                                 shoal::Clock& clock) {
  if (cfg.type == "logs") {
#ifdef SHOAL_HAVE_LOGS
    return shoal::makeLogsHandler(cfg, reg, clock);
#else
    throw shoal::ConfigError("spec.type", "this build of shoal-worker has no logs pipeline");
#endif
  }
  if (cfg.type == "metrics") {
#ifdef SHOAL_HAVE_METRICS
    return shoal::makeMetricsHandler(cfg, reg, clock);
#else
    throw shoal::ConfigError("spec.type", "this build of shoal-worker has no metrics pipeline");
#endif
  }
  throw shoal::ConfigError("spec.type", "unknown pipeline type '" + cfg.type + "'");
}

bool parseListen(const std::string& s, std::string& host, int& port) {
  auto colon = s.rfind(':');
  if (colon == std::string::npos) return false;
  host = s.substr(0, colon);
  if (host.size() > 2 && host.front() == '[' && host.back() == ']') host = host.substr(1, host.size() - 2);
  if (host.empty()) host = "0.0.0.0";
  try {
    size_t used = 0;
    port = std::stoi(s.substr(colon + 1), &used);
    if (used != s.size() - colon - 1 || port < 0 || port > 65535) return false;
  } catch (...) {
    return false;
  }
  return true;
}

}  // namespace

int main(int argc, char** argv) {
  CLI::App app{"shoal-worker: consumes a Redis stream through a consumer group and delivers it to a sink,\n"
               "acknowledging only what the sink confirmed."};
  std::string configPath, listen = "0.0.0.0:9100", logLevel = "info";
  app.add_option("--config", configPath, "Pipeline spec (YAML) to run")->required();
  app.add_option("--listen", listen, "host:port for /metrics, /healthz and /readyz (port 0: any)")->capture_default_str();
  app.add_option("--log-level", logLevel, "debug, info, warn or error")->capture_default_str()
      ->check(CLI::IsMember({"debug", "info", "warn", "error"}));
  app.footer(kEnvHelp);
  try {
    app.parse(argc, argv);
  } catch (const CLI::ParseError& e) {
    int rc = app.exit(e);
    return rc == 0 ? 0 : 2;
  }
  shoal::log::setLevel(shoal::log::parseLevel(logLevel));

  // Block the shutdown signals in every thread; one thread waits for them.
  sigset_t sigs = shoal::blockShutdownSignals();

  auto& clock = shoal::SystemClock::instance();
  auto registry = std::make_shared<prometheus::Registry>();
  shoal::PipelineConfig cfg;
  // One consumer loop per delivery pipeline: delivery.parallelism of them on
  // each shard stream (one stream for an unsharded source), each with its own
  // handler (its own sink connections), its own sessions on the group and its
  // own consumer name; they share the self-metrics registry (series labelled
  // by stream, summed over the pipelines) and the drain. The handlers see
  // their shard's stream name, so that what they derive from it (document
  // ids, PostgreSQL's processed-entry keys) stays unique per shard.
  std::vector<shoal::PipelineConfig> pipelineConfigs;
  std::vector<std::unique_ptr<shoal::BatchHandler>> handlers;
  std::string listenHost;
  int listenPort = 0;
  try {
    cfg = shoal::loadPipelineConfigFile(configPath, shoal::processEnv());
    if (!parseListen(listen, listenHost, listenPort))
      throw shoal::ConfigError("--listen", "must be host:port, got '" + listen + "'");
    pipelineConfigs = shoal::deliveryPipelines(cfg);
    for (const shoal::PipelineConfig& c : pipelineConfigs) handlers.push_back(makeHandler(c, *registry, clock));
  } catch (const shoal::ConfigError& e) {
    std::cerr << "shoal-worker: config error: " << e.what() << "\n";
    return 2;
  } catch (const std::exception& e) {
    std::cerr << "shoal-worker: config error: " << e.what() << "\n";
    return 2;
  }

  std::vector<std::unique_ptr<shoal::ConsumerLoop>> loops;
  for (size_t i = 0; i < pipelineConfigs.size(); ++i)
    loops.push_back(std::make_unique<shoal::ConsumerLoop>(pipelineConfigs[i], *handlers[i], clock, *registry));
  auto forEachLoop = [&](auto&& fn) {
    for (auto& l : loops) fn(*l);
  };
  auto allRedisReachable = [&] {
    bool ok = true;
    for (auto& l : loops) ok = ok && l->redisReachable();
    return ok;
  };
  auto allSinksReady = [&] {
    bool ok = true;
    for (auto& h : handlers) ok = ok && h->sinkReady();
    return ok;
  };
  shoal::BatchHandler& firstHandler = *handlers.front();

  httplib::Server http;
  http.Get("/metrics", [&](const httplib::Request&, httplib::Response& res) {
    prometheus::TextSerializer ser;
    res.set_content(ser.Serialize(registry->Collect()), "text/plain; version=0.0.4");
  });
  http.Get("/healthz", [](const httplib::Request&, httplib::Response& res) { res.set_content("ok\n", "text/plain"); });
  http.Get("/readyz", [&](const httplib::Request&, httplib::Response& res) {
    const bool redisOk = allRedisReachable();
    const bool sinkOk = allSinksReady();
    res.status = redisOk && sinkOk ? 200 : 503;
    res.set_content(std::string("redis: ") + (redisOk ? "ok" : "unreachable") + "\nsink " + firstHandler.sinkName() +
                        ": " + (sinkOk ? "ok" : "unreachable") + "\n",
                    "text/plain");
  });
  int boundPort = listenPort;
  if (listenPort == 0) {
    boundPort = http.bind_to_any_port(listenHost);
  } else if (!http.bind_to_port(listenHost, listenPort)) {
    boundPort = -1;
  }
  if (boundPort <= 0) {
    std::cerr << "shoal-worker: cannot listen on " << listen << "\n";
    return 1;
  }
  std::thread httpThread([&] { http.listen_after_bind(); });

  std::atomic<bool> done{false};
  std::thread signalThread([&] {
    timespec tick{0, 100 * 1000 * 1000};
    while (!done.load()) {
      int sig = sigtimedwait(&sigs, nullptr, &tick);
      if (sig < 0) continue;
      shoal::log::info("shutdown signal: finishing in-flight work", {{"signal", sig == SIGTERM ? "SIGTERM" : "SIGINT"},
                                                                     {"timeoutMs", cfg.delivery.shutdownTimeoutMs}});
      forEachLoop([](shoal::ConsumerLoop& l) { l.requestStop(); });
      // Cancel a little before the deadline so that what the sink already
      // confirmed can still be acknowledged; exit at the deadline regardless.
      const auto t0 = std::chrono::steady_clock::now();
      const auto total = std::chrono::milliseconds(cfg.delivery.shutdownTimeoutMs);
      const auto margin = std::min<std::chrono::milliseconds>(total / 10, std::chrono::milliseconds(2000));
      while (!done.load() && std::chrono::steady_clock::now() < t0 + total - margin) {
        if (sigtimedwait(&sigs, nullptr, &tick) > 0) break;  // a second signal: cancel now
      }
      if (done.load()) return;
      shoal::log::warn("shutdown deadline near: cancelling in-flight work");
      forEachLoop([](shoal::ConsumerLoop& l) { l.cancel(); });
      while (!done.load() && std::chrono::steady_clock::now() < t0 + total) sigtimedwait(&sigs, nullptr, &tick);
      if (!done.load()) {
        shoal::log::error("work did not finish by the shutdown deadline; exiting");
        std::_Exit(1);
      }
      return;
    }
  });

  shoal::log::info("shoal-worker started", {{"type", cfg.type},
                                            {"stream", cfg.redis.stream},
                                            {"group", cfg.redis.consumerGroup},
                                            {"consumer", cfg.consumerName},
                                            {"redis", cfg.redis.host + ":" + std::to_string(cfg.redis.port)},
                                            {"tls", cfg.redis.tls.enabled},
                                            {"shards", cfg.redis.shards},
                                            {"parallelism", cfg.delivery.parallelism},
                                            {"cluster", cfg.redis.cluster},
                                            {"sink", firstHandler.sinkName()},
                                            {"listen", listenHost + ":" + std::to_string(boundPort)}});
  // Each loop runs (and drains) on its own thread; the process exits once
  // every one has drained, with 1 if any drain was cut short.
  std::vector<int> rcs(loops.size(), 0);
  std::vector<std::thread> runners;
  for (size_t i = 1; i < loops.size(); ++i) runners.emplace_back([&, i] { rcs[i] = loops[i]->run(); });
  rcs[0] = loops[0]->run();
  for (auto& t : runners) t.join();
  int rc = 0;
  for (int r : rcs) rc = std::max(rc, r);
  done.store(true);
  signalThread.join();
  http.stop();
  httpThread.join();
  return rc;
}
