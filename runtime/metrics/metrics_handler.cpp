// Sink dispatch and config parsing for the metrics pipeline type.
#include "shoal/metrics/metrics_handler.h"

#include <cstdlib>
#include <string_view>

#include "shoal/http/client.h"
#include "shoal/http/url.h"
#include "shoal/metrics/metrics_config.h"
#include "shoal/metrics/postgres_handler.h"
#include "shoal/metrics/pushgateway_handler.h"
#include "shoal/metrics/remote_write_handler.h"

namespace shoal {

std::unique_ptr<BatchHandler> makeMetricsHandler(const PipelineConfig& config, prometheus::Registry& registry,
                                                 Clock& clock) {
  std::map<std::string, std::string> env;
  for (const char* name : {"SHOAL_SINK_PASSWORD", "SHOAL_SINK_USERNAME", "SHOAL_SINK_BEARER_TOKEN"})
    if (const char* v = std::getenv(name)) env[name] = v;
  return makeMetricsHandler(config, registry, clock, env);
}

std::unique_ptr<BatchHandler> makeMetricsHandler(const PipelineConfig& config, prometheus::Registry& registry,
                                                 Clock& clock, const std::map<std::string, std::string>& env) {
  using namespace shoal::metrics;
  const YAML::Node& sink = config.sink;
  if (!sink || !sink.IsMap())
    throw ConfigError("spec.sink", "required: one of prometheusRemoteWrite, pushgateway, postgres");
  const char* kinds[] = {"prometheusRemoteWrite", "pushgateway", "postgres"};
  std::string kind;
  for (const char* k : kinds) {
    if (!sink[k]) continue;
    if (!kind.empty())
      throw ConfigError("spec.sink." + std::string(k), "only one sink allowed (" + kind + " is set too)");
    kind = k;
  }
  for (auto it : sink) {
    const std::string key = it.first.as<std::string>();
    if (key != kinds[0] && key != kinds[1] && key != kinds[2])
      throw ConfigError("spec.sink." + key, "not a metrics sink (prometheusRemoteWrite, pushgateway, postgres)");
  }
  if (kind.empty()) throw ConfigError("spec.sink", "required: one of prometheusRemoteWrite, pushgateway, postgres");
  TransformConfig transform = parseTransformConfig(config.transform);
  const std::string path = "spec.sink." + kind;
  if (kind == "prometheusRemoteWrite") {
    RemoteWriteConfig c = parseRemoteWriteConfig(sink[kind], path);
    // Credentials the operator resolved from the spec's Secret references.
    if (auto it = env.find("SHOAL_SINK_BEARER_TOKEN"); it != env.end() && !it->second.empty()) {
      c.headers["Authorization"] = "Bearer " + it->second;
    } else if (auto u = env.find("SHOAL_SINK_USERNAME"); u != env.end() && !u->second.empty()) {
      auto pw = env.find("SHOAL_SINK_PASSWORD");
      c.headers["Authorization"] =
          http::basicAuthorization(u->second, pw == env.end() ? std::string() : pw->second);
    }
    const std::string url = c.url;  // checked by parseRemoteWriteConfig
    const auto timeout = c.timeout;
    return std::make_unique<RemoteWriteHandler>(
        std::move(c), std::move(transform), clock,
        [url, timeout] { return *makeSinkClient(url, timeout); }, &registry);
  }
  if (kind == "pushgateway") {
    PushgatewayConfig c = parsePushgatewayConfig(sink[kind], path);
    auto transport = *makeSinkClient(c.url, c.timeout);  // checked by parsePushgatewayConfig
    return std::make_unique<PushgatewayHandler>(std::move(c), std::move(transform), clock, std::move(transport));
  }
  PostgresConfig c = parsePostgresConfig(sink[kind], path);
  if (auto it = env.find("SHOAL_SINK_PASSWORD"); it != env.end()) c.password = it->second;
  c.stream = config.redis.stream;
  c.consumerGroup = config.redis.consumerGroup;
  if (c.stream.empty()) throw ConfigError("spec.source.redis.stream", "required for the postgres sink's entry ids");
  return std::make_unique<PostgresHandler>(std::move(c), std::move(transform), clock);
}

Result<std::unique_ptr<http::Transport>> metrics::makeSinkClient(
    const std::string& url, std::chrono::milliseconds timeout) {
  auto u = http::parseUrl(url);
  if (!u) return u.error();
  http::ClientOptions o;
  o.url = u->origin();
  o.connectTimeout = timeout;
  o.requestTimeout = timeout;
  o.decompress = true;
  return http::makeClient(o);
}

}  // namespace shoal
