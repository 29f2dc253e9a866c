// Mapping a stream entry to an Elastic Common Schema (ECS) log document.
//
// Design note. The payload (a JSON log object, an RFC 5424 / RFC 3164 line, or
// the entry's own fields) is parsed once and turned into a LogDocument: an
// ordered, two-level tree (top-level keys; members of top-level objects),
// where every deeper value is kept as raw JSON text. Two levels are all the
// ECS fields we set need (log.level, service.name, ...), so renaming and
// merging stay cheap and nothing the producer sent is lost. The document is
// then serialized by appending to one string (no DOM re-encoding).
//
// Canonical fields and the source keys accepted for them, first match wins
// (a dotted name matches both the flat key "a.b" and member b of object a):
//   @timestamp     @timestamp, timestamp, time, ts, datetime
//   message        message, msg, log (string)
//   log.level      log.level, level, severity, lvl, loglevel, log_level
//   service.name   service.name, service (string), service_name, app, application
//   host.name      host.name, host (string), hostname
//   trace.id       trace.id, trace_id, traceId, traceID, trace (string)
//   span.id        span.id, span_id, spanId, spanID, span (string)
//   event.dataset  event.dataset, dataset
// The matched key is removed and the value written at the ECS path. A scalar
// left at a top-level key ECS needs as an object (e.g. "event":"login") moves
// to "<key>.original". See runtime/logs/README.md for every other rule.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "shoal/common/result.h"
#include "shoal/logs/timestamp.h"
#include "shoal/stream/stream_entry.h"

namespace shoal::logs {

/// How the payload is read. kAuto: '{' -> JSON, "<N>1 " -> RFC 5424,
/// "<N>" -> RFC 3164, anything else -> kFields. Every format but kFields
/// needs the payload field: an entry without it is an error.
enum class LogFormat { kAuto, kJson, kRfc5424, kRfc3164, kFields };

std::optional<LogFormat> parseLogFormat(std::string_view s);

/// spec.transform.logs
struct LogsTransformConfig {
  LogFormat format = LogFormat::kAuto;
  std::string payloadField = "message";  // the entry field holding the log
  std::string defaultDataset = "generic";  // event.dataset when the log has none
  /// Fields added when the log does not have them, ECS dotted paths to
  /// strings (shorthands environment/version/... are resolved by the config
  /// parser to service.environment/service.version).
  std::vector<std::pair<std::string, std::string>> enrich;
  bool entryFieldsAsLabels = true;  // other entry fields -> labels.<name>
  bool keepOriginal = false;        // the payload as event.original
  std::string ecsVersion = "8.11.0";
  /// The most fields one entry may carry; more and it is dead-lettered. It
  /// counts the keys of the JSON payload and of its top-level objects,
  /// structured-data parameters of a syslog line, and the entry's own fields
  /// other than the payload. 1000 is Elasticsearch's default
  /// index.mapping.total_fields.limit: a wider log could not be indexed as
  /// fields anyway, and the limit bounds the work one entry costs.
  size_t maxFields = 1000;
};

/// One member of a LogDocument. Either a raw JSON value (`raw`) or, at the
/// top level only, an object whose members are `children`.
struct LogField {
  std::string key;
  std::string raw;
  std::vector<LogField> children;
  bool object = false;
};

/// \brief An ECS log document. Not thread-safe; a value type.
class LogDocument {
 public:
  /// The field at a dotted path: "a" (top level), "a.b" (member b of object a,
  /// or a flat top-level key "a.b"). nullptr when absent.
  const LogField* find(std::string_view path) const;
  /// Sets the raw JSON value at "a" or "a.b" (creating object a). With
  /// overwrite=false an existing value is kept. Returns whether it wrote.
  bool set(std::string_view path, std::string raw, bool overwrite = true);
  /// Removes the field at path (either form); returns the removed raw value.
  std::optional<std::string> take(std::string_view path);
  /// The field's string value (JSON string unescaped, other scalars as their
  /// JSON text), or nullopt when absent or an object/array.
  std::optional<std::string> text(std::string_view path) const;

  void appendJson(std::string& out) const;
  std::string json() const {
    std::string s;
    appendJson(s);
    return s;
  }

  std::vector<LogField>& fields() { return fields_; }
  const std::vector<LogField>& fields() const { return fields_; }

  EpochNanos timestamp = 0;  // @timestamp as nanoseconds
  bool timestampInferred = false;  // the log had none: the entry id's time

 private:
  std::vector<LogField> fields_;
};

/// The time a stream entry was added: the milliseconds of its id
/// ("1700000000000-0"), or nullopt for an id of another shape.
std::optional<EpochNanos> entryIdTime(std::string_view id);

/// Maps one entry. The error (Errc::kInvalidInput) carries the reason that
/// goes to the dead-letter stream, e.g. "parse: json: TAPE_ERROR ...".
/// `ingest` is the ingest time (event.ingested). A log without a timestamp
/// gets entryIdTime(entry.id) (the ingest time if the id has no time), so a
/// redelivered entry renders the same document index. Never throws on data.
Result<LogDocument> mapToEcs(const StreamEntry& entry, const LogsTransformConfig& config,
                             EpochNanos ingest);

/// Appends s as a JSON string literal (quotes included).
void appendJsonString(std::string& out, std::string_view s);
std::string jsonString(std::string_view s);
/// The number of bytes appendJsonString(out, s) appends.
size_t jsonStringSize(std::string_view s);

}  // namespace shoal::logs
