// The PostgreSQL aggregates sink of the metrics pipeline: per metric name,
// label set and time window it keeps count, sum, min, max and last, exactly
// once per stream entry.
//
// Schema (created on connect if missing, CREATE TABLE IF NOT EXISTS only, so
// it never alters or drops anything that exists; later versions add columns
// with ADD COLUMN IF NOT EXISTS):
//   <table> (default shoal_metric_aggregates)
//     metric_name text, labels jsonb (without __name__), window_start timestamptz,
//     window_seconds integer, count bigint, sum/min/max/last double precision,
//     last_ts timestamptz, updated_at timestamptz,
//     PRIMARY KEY (metric_name, labels, window_start, window_seconds)
//   <processedTable> (default shoal_processed_entries)
//     stream text, consumer_group text, entry_id text, processed_at timestamptz,
//     PRIMARY KEY (stream, consumer_group, entry_id)
//
// Exactly once: per batch, in ONE transaction,
//   1. INSERT the valid entries' ids into <processedTable> ON CONFLICT DO
//      NOTHING RETURNING entry_id -> only ids not seen before come back (a
//      concurrent transaction with the same id blocks on the key, then sees
//      it as a conflict);
//   2. aggregate only those entries' samples in memory per (name, labels,
//      window) and upsert them with one INSERT ... ON CONFLICT DO UPDATE;
//   3. COMMIT. handle() returns after the commit and the loop XACKs after
//      that, so a crash between commit and XACK redelivers entries whose ids
//      are already in the table: they count as delivered and add nothing.
// Histograms and summaries are aggregated per expanded series
// (name_bucket{le}, name{quantile}, name_sum, name_count).
// Errors: lost connection, serialization failure, deadlock and other
// transient classes -> rollback, reconnect, retry with backoff forever
// (until cancelled -> kRetry); data exceptions (SQLSTATE class 22) ->
// the batch's valid entries are dead-lettered with the server's message.
// <processedTable> grows with the stream; prune it by processed_at once
// entries are past any possible redelivery (e.g. older than the stream's
// retention).
#pragma once

#include <prometheus/registry.h>

#include <span>
#include <string>
#include <vector>

#include "shoal/common/clock.h"
#include "shoal/metrics/metrics_config.h"
#include "shoal/metrics/metrics_transform.h"
#include "shoal/stream/batch_handler.h"

struct pg_conn;

namespace shoal::metrics {

/// \brief BatchHandler for spec.sink.postgres. One handle() at a time.
class PostgresHandler final : public BatchHandler {
 public:
  PostgresHandler(PostgresConfig cfg, TransformConfig transform, Clock& clock);
  ~PostgresHandler() override;
  std::vector<EntryResult> handle(std::span<const StreamEntry> entries, const CancelToken& cancel) override;
  bool sinkReady() override;
  std::string sinkName() const override { return "postgres"; }

 private:
  enum class TxResult { kCommitted, kRetry, kDataError };
  bool connect();
  TxResult runBatch(const ParsedBatch& b, std::span<const StreamEntry> entries, std::string& error);

  PostgresConfig cfg_;
  Clock& clock_;
  MetricsTransform transform_;
  pg_conn* conn_ = nullptr;
  bool schemaReady_ = false;
};

}  // namespace shoal::metrics
