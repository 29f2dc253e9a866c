// The entry point of the metrics pipeline type (`type: metrics`): builds the
// BatchHandler for the one sink configured under spec.sink.
#pragma once

#include <prometheus/registry.h>

#include <chrono>
#include <map>
#include <memory>
#include <string>

#include "shoal/common/clock.h"
#include "shoal/common/result.h"
#include "shoal/http/transport.h"
#include "shoal/stream/batch_handler.h"
#include "shoal/stream/pipeline_config.h"

namespace shoal {

/// Dispatches on spec.sink.{prometheusRemoteWrite|pushgateway|postgres}
/// (exactly one; ConfigError naming the field otherwise) and parses
/// spec.transform.metrics. The PostgreSQL password comes from env
/// SHOAL_SINK_PASSWORD. Throws ConfigError (startup only). The registry gets
/// the sink's self-metrics and must outlive the handler.
std::unique_ptr<BatchHandler> makeMetricsHandler(const PipelineConfig& config, prometheus::Registry& registry,
                                                 Clock& clock);
/// Same, with the environment given explicitly (tests).
std::unique_ptr<BatchHandler> makeMetricsHandler(const PipelineConfig& config, prometheus::Registry& registry,
                                                 Clock& clock, const std::map<std::string, std::string>& env);

namespace metrics {

/// The HTTP client of the remote-write and Pushgateway sinks for their
/// configured `url`: connected to its origin (the sinks send the URL's path
/// themselves), `timeout` for connecting, reading and writing each,
/// compressed answers accepted. An error for a URL parseUrl rejects.
Result<std::unique_ptr<http::Transport>> makeSinkClient(const std::string& url,
                                                        std::chrono::milliseconds timeout);

}  // namespace metrics

}  // namespace shoal
