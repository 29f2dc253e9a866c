// The logs pipeline's configuration sections, parsed from the Pipeline spec's
// `transform` and `sink` YAML nodes (PipelineConfig keeps them raw), plus the
// sink credentials from the environment. Errors are shoal::ConfigError naming
// the field path, e.g. "spec.sink.elasticsearch.url: required".
//
//   transform:
//     logs:
//       format: auto          # auto | json | rfc5424 | rfc3164 | plain (alias: fields)
//       messageField: message # entry field holding the log (alias: payloadField)
//       dataset: generic      # event.dataset when the log has none
//       fields:               # enrichment: ECS dotted name -> string (alias: enrich);
//         service.environment: prod   # shorthands: environment, version
//       entryFieldsAsLabels: true     # other entry fields -> labels.<name>
//       keepOriginal: false           # payload -> event.original
//       maxFields: 1000               # more fields in one entry: dead-lettered (1..1000000)
//   sink:
//     elasticsearch:
//       url: https://es:9200          # required (env SHOAL_SINK_URL overrides)
//       index: shoal-logs-%Y.%m.%d    # also {field.path}, {field|fallback}, {yyyy.MM.dd}
//       indexFallback: unknown
//       maxDocsPerRequest: 1000
//       maxBytesPerRequest: 5242880
//       timeoutMs: 30000              # per request
//       connectTimeoutMs: 2000
//       compression: none             # gzip: bodies gzipped (Content-Encoding: gzip)
//       tls: {caFile: /etc/shoal/es-ca.pem, insecureSkipVerify: false}
//   env: SHOAL_SINK_USERNAME + SHOAL_SINK_PASSWORD (basic) or SHOAL_SINK_API_KEY,
//        SHOAL_SINK_CA_FILE (overrides tls.caFile).
// Unknown keys in these sections are errors (they are typos).
#pragma once

#include <map>
#include <string>

#include "shoal/logs/ecs.h"
#include "shoal/logs/es_sink.h"
#include "shoal/stream/pipeline_config.h"

namespace shoal::logs {

/// The largest spec.transform.logs.maxFields accepted.
inline constexpr int64_t kMaxFieldsCeiling = 1'000'000;

struct LogsPipelineConfig {
  LogsTransformConfig transform;
  ElasticsearchSinkConfig sink;
};

/// Throws shoal::ConfigError.
LogsPipelineConfig parseLogsConfig(const PipelineConfig& pipeline,
                                   const std::map<std::string, std::string>& env);

}  // namespace shoal::logs
