// shoal-receiver: wires the configuration, the Redis appender, the backlog
// monitor, the HTTP routes, the metrics/health endpoints and the signals.
#include <CLI/CLI.hpp>
#include <prometheus/registry.h>
#include <prometheus/text_serializer.h>
#include <signal.h>

#include <iostream>
#include <thread>

#include "shoal/common/clock.h"
#include "shoal/common/signals.h"
#include "shoal/common/log.h"
#include "shoal/http/server.h"
#include "shoal/receiver/appender.h"
#include "shoal/receiver/backpressure.h"
#include "shoal/receiver/config.h"
#include "shoal/receiver/metrics.h"
#include "shoal/receiver/receiver.h"
#include "shoal/receiver/syslog_sink.h"
#include "shoal/syslog_input/listener.h"
#include "shoal/stream/config_fields.h"

namespace {

const char* kHelp = R"(Environment:
  SHOAL_REDIS_URL, SHOAL_REDIS_USERNAME, SHOAL_REDIS_PASSWORD, SHOAL_REDIS_PASSWORD_FILE,
  SHOAL_REDIS_TLS_CA_FILE, SHOAL_REDIS_TLS_CERT_FILE, SHOAL_REDIS_TLS_KEY_FILE   as for shoal-worker
  SHOAL_RECEIVER_BEARER_TOKEN         require "Authorization: Bearer <token>"
  SHOAL_RECEIVER_USERNAME/_PASSWORD   require HTTP Basic credentials
  SHOAL_RECEIVER_TLS_CERT_FILE/_KEY_FILE  serve HTTPS and syslog over TLS

Config (YAML, a Receiver or its spec; see docs/receiver.md):
  spec.redis, spec.http{port, maxBodyBytes, routes{logs, metrics, bulk, remoteWrite:
    {stream, shards, shardKey, streamFromField{field, streams}}}},
  spec.syslog{tcp, udp, tls: {port}, route: {stream, byFacility}},
  spec.limits, spec.backpressure, spec.durability, spec.metricsPort

Exit codes: 0 clean shutdown, 1 cannot listen, 2 bad config.
)";

}  // namespace

int main(int argc, char** argv) {
  CLI::App app{"shoal-receiver: accepts logs and metrics over HTTP and appends them to Redis streams,\n"
               "answering 2xx only once Redis holds every entry."};
  std::string configPath, logLevel = "info";
  app.add_option("--config", configPath, "Receiver resource or spec (YAML)")->required();
  app.add_option("--log-level", logLevel, "debug, info, warn or error")
      ->capture_default_str()
      ->check(CLI::IsMember({"debug", "info", "warn", "error"}));
  app.footer(kHelp);
  try {
    app.parse(argc, argv);
  } catch (const CLI::ParseError& e) {
    const int rc = app.exit(e);
    return rc == 0 ? 0 : 2;
  }
  shoal::log::setLevel(shoal::log::parseLevel(logLevel));

  shoal::receiver::ReceiverConfig cfg;
  try {
    cfg = shoal::receiver::loadReceiverConfigFile(configPath, shoal::config::processEnv());
  } catch (const std::exception& e) {
    std::cerr << "shoal-receiver: config error: " << e.what() << "\n";
    return 2;
  }

  // Block the shutdown signals in every thread; one thread waits for them.
  sigset_t sigs = shoal::blockShutdownSignals();

  auto& clock = shoal::SystemClock::instance();
  auto registry = std::make_shared<prometheus::Registry>();
  shoal::receiver::ReceiverMetrics metrics(*registry);

  shoal::receiver::RedisAppenderOptions ao;
  ao.redis = cfg.redis;
  ao.waitReplicas = cfg.waitReplicas;
  ao.waitTimeoutMs = cfg.waitTimeoutMilliseconds;
  ao.observeLatency = [&metrics](double s) { metrics.xaddLatency(s); };
  auto appender = shoal::receiver::makeRedisAppender(ao, clock);

  shoal::receiver::ThrottleGate gate(shoal::receiver::targetStreams(cfg));
  auto loadSource = shoal::receiver::makeRedisLoadSource(cfg.redis, clock);
  shoal::receiver::BacklogMonitor monitor(gate, *loadSource, {cfg.maxBacklog, cfg.maxLength}, metrics);
  std::thread monitorThread([&] { monitor.run(clock, shoal::millis(cfg.checkIntervalMilliseconds)); });

  shoal::receiver::Receiver receiver(cfg, *appender, gate, metrics, clock);
  std::unique_ptr<shoal::http::Server> http;
  if (cfg.httpPort != 0) {
    shoal::http::ServerOptions o;
    o.port = cfg.httpPort;
    o.maxBodyBytes = static_cast<size_t>(cfg.maxBodyBytes);
    o.readTimeout = std::chrono::seconds(cfg.readTimeoutSeconds);
    o.idleTimeout = std::chrono::seconds(cfg.idleTimeoutSeconds);
    o.maxConnections = static_cast<size_t>(cfg.maxConnections);
    o.tlsCertFile = cfg.tlsCertFile;
    o.tlsKeyFile = cfg.tlsKeyFile;
    http = shoal::http::makeServer(o);
    receiver.addRoutes(*http);
  }
  // Syslog: TCP, UDP and TLS listeners sharing one sink.
  std::unique_ptr<shoal::receiver::SyslogSink> syslogSink;
  std::vector<std::unique_ptr<shoal::syslog_input::SyslogListener>> syslog;
  if (cfg.syslogListeners.any()) {
    auto routes = shoal::syslog_input::FacilityRoutes::make(cfg.syslogListeners.stream, cfg.syslogListeners.byFacility);
    if (!routes) {  // checked with the config; kept for safety
      std::cerr << "shoal-receiver: config error: spec.syslog.route: " << routes.error().message << "\n";
      return 2;
    }
    syslogSink = std::make_unique<shoal::receiver::SyslogSink>(std::move(*routes), *appender, gate, metrics);
    using shoal::syslog_input::Transport;
    for (auto [transport, port] : {std::pair{Transport::kTcp, cfg.syslogListeners.tcpPort},
                                   std::pair{Transport::kUdp, cfg.syslogListeners.udpPort},
                                   std::pair{Transport::kTls, cfg.syslogListeners.tlsPort}}) {
      if (port == 0) continue;
      shoal::syslog_input::ListenerOptions o;
      o.transport = transport;
      o.port = port;
      o.framing.maxFrameBytes = static_cast<size_t>(cfg.maxEntryBytes);
      o.maxConnections = static_cast<size_t>(cfg.maxConnections);
      o.readTimeout = std::chrono::seconds(cfg.readTimeoutSeconds);
      o.idleTimeout = std::chrono::seconds(cfg.idleTimeoutSeconds);
      if (transport == Transport::kTls) {
        o.tlsCertFile = cfg.tlsCertFile;
        o.tlsKeyFile = cfg.tlsKeyFile;
      }
      syslog.push_back(std::make_unique<shoal::syslog_input::SyslogListener>(o, *syslogSink));
    }
  }
  std::unique_ptr<shoal::http::Server> ops;
  if (cfg.metricsPort != 0) {
    shoal::http::ServerOptions o;
    o.port = cfg.metricsPort;
    o.maxConnections = 64;
    ops = shoal::http::makeServer(o);
    ops->route("GET", "/metrics", [&](const shoal::http::ServerRequest&) {
      prometheus::TextSerializer ser;
      return shoal::http::ServerResponse{200, ser.Serialize(registry->Collect()), "text/plain; version=0.0.4", {}};
    });
    ops->route("GET", "/healthz",
               [](const shoal::http::ServerRequest&) { return shoal::http::ServerResponse{200, "ok\n", "text/plain", {}}; });
    ops->route("GET", "/readyz", [&](const shoal::http::ServerRequest&) {
      const bool ok = metrics.redisReachable();
      return shoal::http::ServerResponse{ok ? 200 : 503, ok ? "redis: ok\n" : "redis: unreachable\n", "text/plain", {}};
    });
  }
  auto stopAll = [&] {
    monitor.stop();
    monitorThread.join();
  };
  for (auto* s : {ops.get(), http.get()}) {
    if (!s) continue;
    if (auto r = s->start(); !r) {
      shoal::log::error("cannot start a listener", {{"error", r.error().message}});
      stopAll();
      return 1;
    }
  }
  std::vector<int> syslogPorts;
  for (auto& l : syslog) {
    if (auto r = l->start(); !r) {
      shoal::log::error("cannot start a syslog listener", {{"error", r.error().message}});
      if (http) http->stop();
      stopAll();
      return 1;
    }
    syslogPorts.push_back(l->port());
  }
  shoal::log::info("shoal-receiver started",
                   {{"redis", cfg.redis.host + ":" + std::to_string(cfg.redis.port)},
                    {"cluster", cfg.redis.cluster},
                    {"httpPort", http ? http->port() : 0},
                    {"tls", !cfg.tlsCertFile.empty()},
                    {"metricsPort", ops ? ops->port() : 0},
                    {"syslogPorts", syslogPorts},
                    {"streams", gate.streams()}});

  int sig = 0;
  sigwait(&sigs, &sig);
  shoal::log::info("shutdown signal: finishing in-flight requests", {{"signal", sig == SIGTERM ? "SIGTERM" : "SIGINT"}});
  if (http) http->stop();
  for (auto& l : syslog) l->stop();  // flushes what was read into Redis
  stopAll();
  if (ops) ops->stop();
  shoal::log::info("shoal-receiver stopped");
  return 0;
}
