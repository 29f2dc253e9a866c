// The logs pipeline as a BatchHandler: stream entries -> ECS documents ->
// Elasticsearch `_bulk`. Entries that cannot be parsed are dead-lettered with
// the parse error; sink results follow es_sink.h. This is what shoal-worker
// runs for `type: logs`.
#pragma once

#include <prometheus/registry.h>

#include <map>
#include <memory>
#include <string>

#include "shoal/common/clock.h"
#include "shoal/logs/es_sink.h"
#include "shoal/logs/logs_config.h"
#include "shoal/stream/batch_handler.h"
#include "shoal/stream/pipeline_config.h"

namespace shoal {

/// Builds the logs handler from the pipeline config and the process
/// environment (SHOAL_SINK_*). Registers its metrics in `registry`. Throws
/// ConfigError on bad config.
std::unique_ptr<BatchHandler> makeLogsHandler(const PipelineConfig& config,
                                              prometheus::Registry& registry, Clock& clock);

/// The same with an explicit environment (tests).
std::unique_ptr<BatchHandler> makeLogsHandler(const PipelineConfig& config,
                                              prometheus::Registry& registry, Clock& clock,
                                              const std::map<std::string, std::string>& env);

namespace logs {

/// The same over a given transport (unit tests and benchmarks: a fake sink).
std::unique_ptr<BatchHandler> makeLogsHandler(const PipelineConfig& config,
                                              const LogsPipelineConfig& logsConfig,
                                              std::unique_ptr<http::Transport> transport,
                                              prometheus::Registry& registry, Clock& clock);

}  // namespace logs
}  // namespace shoal
