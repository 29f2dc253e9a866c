// PostgreSQL aggregates sink (libpq). See the header for the design.
#include "shoal/metrics/postgres_handler.h"

#include <libpq-fe.h>

#include <cmath>
#include <map>
#include <nlohmann/json.hpp>
#include <unordered_set>

#include "shoal/common/backoff.h"
#include "shoal/common/log.h"
#include "shoal/metrics/retry_wait.h"

namespace shoal::metrics {

namespace {

std::string floatText(double v) {
  if (std::isnan(v)) return "NaN";
  if (std::isinf(v)) return v > 0 ? "Infinity" : "-Infinity";
  return formatFloat(v);
}

struct Aggregate {
  int64_t count = 0;
  double sum = 0, min = 0, max = 0, last = 0;
  int64_t lastTs = 0;
};

// RAII for PGresult.
struct PgResult {
  PGresult* r;
  ~PgResult() { PQclear(r); }
  ExecStatusType status() const { return PQresultStatus(r); }
  std::string sqlstate() const {
    const char* s = PQresultErrorField(r, PG_DIAG_SQLSTATE);
    return s ? s : "";
  }
  std::string message() const {
    std::string m = PQresultErrorMessage(r);
    while (!m.empty() && (m.back() == '\n' || m.back() == ' ')) m.pop_back();
    return m;
  }
};

}  // namespace

PostgresHandler::PostgresHandler(PostgresConfig cfg, TransformConfig transform, Clock& clock)
    : cfg_(std::move(cfg)), clock_(clock), transform_(std::move(transform), clock) {
  // Connect eagerly so the schema exists at start when the database is up;
  // if it is not, handle() keeps trying.
  connect();
}

PostgresHandler::~PostgresHandler() {
  if (conn_) PQfinish(conn_);
}

bool PostgresHandler::sinkReady() { return conn_ && PQstatus(conn_) == CONNECTION_OK; }

bool PostgresHandler::connect() {
  if (conn_ && PQstatus(conn_) == CONNECTION_OK && schemaReady_) return true;
  if (conn_) {
    PQfinish(conn_);
    conn_ = nullptr;
  }
  schemaReady_ = false;
  std::vector<const char*> keys = {"dbname", "connect_timeout", "application_name"};
  std::vector<const char*> vals = {cfg_.conninfo.c_str(), "5", "shoal-worker"};
  if (!cfg_.password.empty()) {
    keys.push_back("password");
    vals.push_back(cfg_.password.c_str());
  }
  keys.push_back(nullptr);
  vals.push_back(nullptr);
  conn_ = PQconnectdbParams(keys.data(), vals.data(), /*expand_dbname=*/1);
  if (!conn_ || PQstatus(conn_) != CONNECTION_OK) {
    log::warn("postgres connect failed", {{"error", conn_ ? PQerrorMessage(conn_) : "out of memory"}});
    return false;
  }
  const std::string ddl =
      "SET client_min_messages = warning;"
      "CREATE TABLE IF NOT EXISTS " + cfg_.table + " ("
      " metric_name text NOT NULL,"
      " labels jsonb NOT NULL,"
      " window_start timestamptz NOT NULL,"
      " window_seconds integer NOT NULL,"
      " count bigint NOT NULL,"
      " sum double precision NOT NULL,"
      " min double precision NOT NULL,"
      " max double precision NOT NULL,"
      " last double precision NOT NULL,"
      " last_ts timestamptz NOT NULL,"
      " updated_at timestamptz NOT NULL DEFAULT now(),"
      " PRIMARY KEY (metric_name, labels, window_start, window_seconds));"
      "CREATE TABLE IF NOT EXISTS " + cfg_.processedTable + " ("
      " stream text NOT NULL,"
      " consumer_group text NOT NULL,"
      " entry_id text NOT NULL,"
      " processed_at timestamptz NOT NULL DEFAULT now(),"
      " PRIMARY KEY (stream, consumer_group, entry_id));";
  PgResult r{PQexec(conn_, ddl.c_str())};
  if (r.status() != PGRES_COMMAND_OK) {
    // Two workers creating the schema at once may race on the catalog; the
    // next attempt finds the tables.
    log::warn("postgres schema creation failed", {{"error", r.message()}});
    return false;
  }
  schemaReady_ = true;
  return true;
}

PostgresHandler::TxResult PostgresHandler::runBatch(const ParsedBatch& b, std::span<const StreamEntry> entries,
                                                     std::string& error) {
  auto fail = [&](const PgResult& r) {
    error = r.message();
    const std::string state = r.sqlstate();
    PQclear(PQexec(conn_, "ROLLBACK"));
    return state.rfind("22", 0) == 0 ? TxResult::kDataError : TxResult::kRetry;
  };

  {
    PgResult r{PQexec(conn_, "BEGIN")};
    if (r.status() != PGRES_COMMAND_OK) return fail(r);
  }
  // 1. Claim the entry ids; only new ones come back.
  nlohmann::json ids = nlohmann::json::array();
  std::vector<uint32_t> validEntries;
  for (uint32_t e : b.eventEntry) {
    if (!validEntries.empty() && validEntries.back() == e) continue;
    validEntries.push_back(e);
    ids.push_back(entries[e].id);
  }
  std::unordered_set<std::string> fresh;
  {
    const std::string sql = "INSERT INTO " + cfg_.processedTable +
                            " (stream, consumer_group, entry_id)"
                            " SELECT $1, $2, x FROM jsonb_array_elements_text($3::jsonb) AS x"
                            " ON CONFLICT DO NOTHING RETURNING entry_id";
    const std::string idsText = ids.dump();
    const char* params[] = {cfg_.stream.c_str(), cfg_.consumerGroup.c_str(), idsText.c_str()};
    PgResult r{PQexecParams(conn_, sql.c_str(), 3, nullptr, params, nullptr, nullptr, 0)};
    if (r.status() != PGRES_TUPLES_OK) return fail(r);
    for (int i = 0; i < PQntuples(r.r); ++i) fresh.insert(PQgetvalue(r.r, i, 0));
  }
  // 2. Aggregate the fresh entries' samples per (name, labels, window).
  std::map<std::tuple<std::string, std::string, int64_t>, Aggregate> aggs;
  std::vector<Sample> samples;
  const int64_t windowMs = cfg_.windowSeconds * 1000;
  for (size_t i = 0; i < b.events.size(); ++i) {
    if (!fresh.count(entries[b.eventEntry[i]].id)) continue;
    samples.clear();
    expandSamples(b.events[i], samples);
    for (auto& s : samples) {
      std::string name;
      nlohmann::json labels = nlohmann::json::object();
      for (auto& l : s.labels) {
        if (l.name == "__name__") name = l.value;
        else labels[l.name] = l.value;
      }
      const int64_t ts = s.timestampMs;
      const int64_t window = (ts >= 0 ? ts / windowMs : (ts - windowMs + 1) / windowMs) * windowMs;
      auto [it, created] = aggs.try_emplace({name, labels.dump(), window});
      Aggregate& a = it->second;
      if (created) {
        a.min = a.max = s.value;
        a.last = s.value;
        a.lastTs = ts;
      } else {
        a.min = std::fmin(a.min, s.value);
        a.max = std::fmax(a.max, s.value);
        if (ts >= a.lastTs) {
          a.last = s.value;
          a.lastTs = ts;
        }
      }
      a.count += 1;
      a.sum += s.value;
    }
  }
  if (!aggs.empty()) {
    nlohmann::json rows = nlohmann::json::array();
    for (auto& [key, a] : aggs) {
      rows.push_back({{"n", std::get<0>(key)},
                      {"l", nlohmann::json::parse(std::get<1>(key))},
                      {"w", std::get<2>(key)},
                      {"c", a.count},
                      {"s", floatText(a.sum)},
                      {"mn", floatText(a.min)},
                      {"mx", floatText(a.max)},
                      {"lv", floatText(a.last)},
                      {"lt", a.lastTs}});
    }
    const std::string sql =
        "INSERT INTO " + cfg_.table + " AS t"
        " (metric_name, labels, window_start, window_seconds, count, sum, min, max, last, last_ts)"
        " SELECT r.n, r.l, to_timestamp(r.w / 1000.0), $2::integer, r.c, r.s::float8, r.mn::float8,"
        "        r.mx::float8, r.lv::float8, to_timestamp(r.lt / 1000.0)"
        " FROM jsonb_to_recordset($1::jsonb) AS r(n text, l jsonb, w bigint, c bigint, s text, mn text,"
        "      mx text, lv text, lt bigint)"
        " ON CONFLICT (metric_name, labels, window_start, window_seconds) DO UPDATE SET"
        " count = t.count + EXCLUDED.count, sum = t.sum + EXCLUDED.sum,"
        " min = LEAST(t.min, EXCLUDED.min), max = GREATEST(t.max, EXCLUDED.max),"
        " last = CASE WHEN EXCLUDED.last_ts >= t.last_ts THEN EXCLUDED.last ELSE t.last END,"
        " last_ts = GREATEST(t.last_ts, EXCLUDED.last_ts), updated_at = now()";
    const std::string rowsText = rows.dump();
    const std::string window = std::to_string(cfg_.windowSeconds);
    const char* params[] = {rowsText.c_str(), window.c_str()};
    PgResult r{PQexecParams(conn_, sql.c_str(), 2, nullptr, params, nullptr, nullptr, 0)};
    if (r.status() != PGRES_COMMAND_OK) return fail(r);
  }
  // 3. Commit: only now are the entries delivered.
  PgResult r{PQexec(conn_, "COMMIT")};
  if (r.status() != PGRES_COMMAND_OK) return fail(r);
  return TxResult::kCommitted;
}

std::vector<EntryResult> PostgresHandler::handle(std::span<const StreamEntry> entries, const CancelToken& cancel) {
  ParsedBatch b = transform_.parse(entries);
  if (b.events.empty()) return std::move(b.results);
  Backoff backoff(cfg_.retryInitial, cfg_.retryMax);
  for (;;) {
    std::string error;
    TxResult tx = TxResult::kRetry;
    if (connect()) {
      tx = runBatch(b, entries, error);
      if (tx == TxResult::kCommitted) return std::move(b.results);
      if (tx == TxResult::kDataError) {
        for (uint32_t e : b.eventEntry) b.results[e] = {EntryOutcome::kDeadLetter, "postgres: " + error};
        return std::move(b.results);
      }
      if (PQstatus(conn_) != CONNECTION_OK) schemaReady_ = false;
    } else {
      error = conn_ ? PQerrorMessage(conn_) : "connect failed";
    }
    const Duration d = backoff.next();
    if (backoff.attempts() == 1 || backoff.attempts() % 20 == 0)
      log::warn("postgres batch failed, retrying", {{"error", error}, {"attempt", backoff.attempts()}});
    if (!waitOrCancelled(clock_, d, cancel)) {
      for (uint32_t e : b.eventEntry) b.results[e] = {EntryOutcome::kRetry, {}};
      return std::move(b.results);
    }
  }
}

}  // namespace shoal::metrics
