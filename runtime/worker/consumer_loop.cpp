// The consumer loop: read (own pending, then new), batch, handle, dead-letter,
// acknowledge; a reclaim sweep on its own thread. See consumer_loop.h.
#include "shoal/worker/consumer_loop.h"

#include <algorithm>
#include <cmath>
#include <limits>
#include <unordered_set>

#include "shoal/common/log.h"

namespace shoal {

redis::ConnectionOptions redisOptions(const RedisSourceConfig& c) {
  redis::ConnectionOptions o;
  o.host = c.host;
  o.port = c.port;
  o.db = c.db;
  o.username = c.username;
  o.password = c.password;
  o.tls.enabled = c.tls.enabled;
  o.tls.caFile = c.tls.caFile;
  o.tls.certFile = c.tls.certFile;
  o.tls.keyFile = c.tls.keyFile;
  o.tls.serverName = c.tls.serverName;
  o.tls.insecureSkipVerify = c.tls.insecureSkipVerify;
  o.connectTimeout = millis(c.connectTimeoutMs);
  o.readTimeout = millis(c.readTimeoutMs);
  return o;
}

struct ConsumerLoop::Metrics {
  prometheus::Counter* read;
  prometheus::Counter* delivered;
  prometheus::Counter* deadLettered;
  prometheus::Counter* retried;
  prometheus::Counter* claimed;
  prometheus::Counter* redisErrors;
  prometheus::Histogram* batchSeconds;
  prometheus::Gauge* pending;
  prometheus::Gauge* lag;

  Metrics(prometheus::Registry& reg, const PipelineConfig& c) {
    const prometheus::Labels l{{"stream", c.redis.stream}, {"group", c.redis.consumerGroup}};
    auto counter = [&](const char* name, const char* help) {
      return &prometheus::BuildCounter().Name(name).Help(help).Register(reg).Add(l);
    };
    auto gauge = [&](const char* name, const char* help) {
      return &prometheus::BuildGauge().Name(name).Help(help).Register(reg).Add(l);
    };
    read = counter("shoal_worker_entries_read_total", "Stream entries read (new, own pending and claimed).");
    delivered = counter("shoal_worker_entries_delivered_total", "Entries the sink confirmed and that were acknowledged.");
    deadLettered = counter("shoal_worker_entries_dead_lettered_total", "Entries moved to the dead-letter stream.");
    retried = counter("shoal_worker_entries_retried_total", "Entries left pending for redelivery.");
    claimed = counter("shoal_worker_entries_claimed_total", "Entries reclaimed from idle consumers with XAUTOCLAIM.");
    redisErrors = counter("shoal_worker_redis_errors_total", "Failed Redis calls (I/O, protocol, server errors).");
    batchSeconds = &prometheus::BuildHistogram()
                        .Name("shoal_worker_batch_duration_seconds")
                        .Help("Time to handle and acknowledge one batch.")
                        .Register(reg)
                        .Add(l, prometheus::Histogram::BucketBoundaries{0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025,
                                                                        0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10});
    pending = gauge("shoal_worker_group_pending", "Pending (delivered, unacknowledged) entries of the group.");
    lag = gauge("shoal_worker_group_lag", "Lag of the group (entries not yet delivered); NaN when Redis reports nil.");
    lag->Set(std::numeric_limits<double>::quiet_NaN());
  }
};

ConsumerLoop::ConsumerLoop(const PipelineConfig& config, BatchHandler& handler, Clock& clock,
                           prometheus::Registry& registry)
    : config_(config),
      handler_(handler),
      clock_(clock),
      client_(redisOptions(config.redis), clock),
      sweepClient_(redisOptions(config.redis), clock),
      ackClient_(redisOptions(config.redis), clock),
      errorBackoff_(millis(config.delivery.retryInitialMs), millis(config.delivery.retryMaxMs)),
      sweepBackoff_(millis(config.delivery.retryInitialMs), millis(config.delivery.retryMaxMs)),
      ackBackoff_(millis(config.delivery.retryInitialMs), millis(config.delivery.retryMaxMs)),
      metrics_(std::make_unique<Metrics>(registry, config)) {}

ConsumerLoop::~ConsumerLoop() {
  requestStop();
  if (sweeper_.joinable()) sweeper_.join();
  if (reader_.joinable()) reader_.join();
}

void ConsumerLoop::requestStop() {
  stop_.store(true);
  sweepCv_.notify_all();
  { std::lock_guard lk(mu_); }  // a waiter between its check and its wait still sees the notify
  readyCv_.notify_all();
}

void ConsumerLoop::cancel() {
  cancel_.cancel();
  requestStop();
}

LoopStats ConsumerLoop::stats() const {
  std::lock_guard lk(mu_);
  return stats_;
}

void ConsumerLoop::onRedisError(const Error& e, const char* what) {
  metrics_->redisErrors->Increment();
  reachable_.store(false);
  const bool firstFailure = !warnedDown_.exchange(true);
  nlohmann::json f{{"op", what}, {"error", e.message}, {"redis", config_.redis.host + ":" + std::to_string(config_.redis.port)}};
  if (firstFailure || e.code != Errc::kIo)
    log::warn("redis call failed", f);
  else
    log::debug("redis call failed", f);
}

void ConsumerLoop::markReachable() {
  if (!reachable_.exchange(true) && warnedDown_.exchange(false)) log::info("redis reachable again");
}

Backoff& ConsumerLoop::backoffFor(const redis::Client& client) {
  if (&client == &ackClient_) return ackBackoff_;
  if (&client == &sweepClient_) return sweepBackoff_;
  return errorBackoff_;
}

void ConsumerLoop::waitBeforeRetry(redis::Client& client) {
  Duration d = std::max(client.retryDelay(), backoffFor(client).next());
  // Sleep in slices so that a stop or cancel is seen promptly.
  const Duration slice = std::chrono::milliseconds(50);
  while (d > Duration::zero() && !cancel_.cancelled()) {
    Duration s = std::min(d, slice);
    clock_.sleepFor(s);
    d -= s;
    if (stop_.load() && &client == &sweepClient_) break;
  }
}

bool ConsumerLoop::ensureGroup() {
  if (groupReady_) return true;
  auto r = client_.createGroup(config_.redis.stream, config_.redis.consumerGroup, config_.redis.startId, true);
  if (!r) {
    onRedisError(r.error(), "XGROUP CREATE");
    return false;
  }
  markReachable();
  errorBackoff_.reset();
  groupReady_ = true;
  log::info("consumer group ready", {{"stream", config_.redis.stream},
                                     {"group", config_.redis.consumerGroup},
                                     {"consumer", config_.consumerName},
                                     {"created", *r}});
  return true;
}

bool ConsumerLoop::takeBytes(std::vector<StreamEntry>& batch, size_t& bytes, std::deque<StreamEntry>& from) {
  const size_t maxN = static_cast<size_t>(config_.delivery.batchSize);
  const size_t maxBytes = static_cast<size_t>(config_.delivery.batchBytes);
  while (!from.empty() && batch.size() < maxN) {
    size_t b = from.front().bytes();
    // Always take at least one entry, so an entry bigger than batchBytes
    // still moves (it is dead-lettered if above maxEntryBytes).
    if (!batch.empty() && bytes + b > maxBytes) return true;
    bytes += b;
    batch.push_back(std::move(from.front()));
    from.pop_front();
  }
  return batch.size() >= maxN || bytes >= maxBytes;
}

void ConsumerLoop::fillDeliveries(std::vector<StreamEntry>& entries) {
  if (entries.empty()) return;
  auto rows = client_.pendingRange(config_.redis.stream, config_.redis.consumerGroup, entries.front().id,
                                   entries.back().id, static_cast<int64_t>(entries.size()) * 2 + 16,
                                   config_.consumerName);
  if (!rows) {
    onRedisError(rows.error(), "XPENDING");
    return;  // counts stay at 1: the entry is still delivered, just not dead-lettered by count now
  }
  size_t j = 0;
  for (auto& e : entries) {
    while (j < rows->size() && (*rows)[j].id != e.id) ++j;
    if (j == rows->size()) break;
    e.deliveries = (*rows)[j].deliveries;
  }
}

std::vector<StreamEntry> ConsumerLoop::collect() {
  std::vector<StreamEntry> batch;
  size_t bytes = 0;
  const auto& rc = config_.redis;
  const int64_t maxN = config_.delivery.batchSize;
  if (takeBytes(batch, bytes, leftover_)) return batch;
  {
    std::lock_guard lk(mu_);
    while (!claimed_.empty()) {
      leftover_.push_back(std::move(claimed_.front()));
      claimed_.pop_front();
    }
  }
  if (takeBytes(batch, bytes, leftover_)) return batch;

  if (!ownPendingDone_) {
    auto r = client_.readGroup(rc.stream, rc.consumerGroup, config_.consumerName, pendingCursor_,
                               maxN - static_cast<int64_t>(batch.size()), -1);
    if (!r) {
      onRedisError(r.error(), "XREADGROUP 0");
      if (r.error().code == Errc::kNotFound) groupReady_ = false;
      if (batch.empty()) waitBeforeRetry(client_);
      return batch;
    }
    markReachable();
    if (r->empty()) {
      ownPendingDone_ = true;
    } else {
      pendingCursor_ = r->back().id;
      fillDeliveries(*r);
      {
        std::lock_guard lk(mu_);
        stats_.read += static_cast<int64_t>(r->size());
      }
      metrics_->read->Increment(static_cast<double>(r->size()));
      for (auto& e : *r) leftover_.push_back(std::move(e));
      takeBytes(batch, bytes, leftover_);
      return batch;
    }
  }
  if (stop_.load()) return batch;

  const MonoTime lingerEnd = clock_.now() + millis(config_.delivery.lingerMs);
  while (static_cast<int64_t>(batch.size()) < maxN && bytes < static_cast<size_t>(config_.delivery.batchBytes)) {
    int64_t block = -1;
    if (batch.empty()) {
      block = rc.blockMs > 0 ? rc.blockMs : -1;
    } else {
      if (config_.delivery.lingerMs <= 0) break;
      auto left = std::chrono::duration_cast<std::chrono::milliseconds>(lingerEnd - clock_.now()).count();
      if (left < 1) break;
      block = left;
    }
    auto r = client_.readGroup(rc.stream, rc.consumerGroup, config_.consumerName, ">",
                               maxN - static_cast<int64_t>(batch.size()), block);
    if (!r) {
      onRedisError(r.error(), "XREADGROUP >");
      if (r.error().code == Errc::kNotFound) groupReady_ = false;
      if (batch.empty()) waitBeforeRetry(client_);
      break;
    }
    markReachable();
    errorBackoff_.reset();
    if (r->empty()) break;
    {
      std::lock_guard lk(mu_);
      stats_.read += static_cast<int64_t>(r->size());
    }
    metrics_->read->Increment(static_cast<double>(r->size()));
    for (auto& e : *r) leftover_.push_back(std::move(e));
    if (takeBytes(batch, bytes, leftover_)) break;
    if (stop_.load()) break;
  }
  return batch;
}

void ConsumerLoop::process(std::vector<StreamEntry> entries) {
  process(std::make_shared<const std::vector<StreamEntry>>(std::move(entries)), clock_.now());
}

// `since`: when the batch was read (for the sweep's idle refresh).
void ConsumerLoop::process(std::shared_ptr<const std::vector<StreamEntry>> batch, MonoTime since) {
  const MonoTime start = clock_.now();
  const auto& b = *batch;
  std::vector<EntryResult> results(b.size());
  std::vector<size_t> toHandle;
  toHandle.reserve(b.size());
  for (size_t i = 0; i < b.size(); ++i) {
    const auto& e = b[i];
    const size_t bytes = e.bytes();
    if (static_cast<int64_t>(bytes) > config_.delivery.maxEntryBytes) {
      results[i] = {EntryOutcome::kDeadLetter, "entry too large: " + std::to_string(bytes) +
                                                   " bytes, more than maxEntryBytes " +
                                                   std::to_string(config_.delivery.maxEntryBytes)};
    } else if (e.deliveries > config_.redis.maxDeliveries) {
      results[i] = {EntryOutcome::kDeadLetter, "delivered " + std::to_string(e.deliveries) +
                                                   " times, more than maxDeliveries " +
                                                   std::to_string(config_.redis.maxDeliveries)};
    } else if (e.fields.empty()) {
      // The entry was deleted from the stream while pending: nothing to deliver.
      results[i] = {EntryOutcome::kDelivered, {}};
    } else {
      toHandle.push_back(i);
    }
  }
  {
    std::lock_guard lk(mu_);
    inFlight_ = batch;
    inFlightSince_ = since;
  }
  if (!toHandle.empty()) {
    std::vector<EntryResult> handled;
    if (toHandle.size() == b.size()) {
      handled = handler_.handle(std::span<const StreamEntry>(b), cancel_);
    } else {
      std::vector<StreamEntry> sub;
      sub.reserve(toHandle.size());
      for (size_t i : toHandle) sub.push_back(b[i]);
      handled = handler_.handle(std::span<const StreamEntry>(sub), cancel_);
    }
    if (handled.size() != toHandle.size()) {
      log::error("handler broke its contract: result count differs from entry count",
                 {{"entries", toHandle.size()}, {"results", handled.size()}, {"sink", handler_.sinkName()}});
      handled.resize(toHandle.size());  // missing ones default to kRetry: left pending
    }
    for (size_t k = 0; k < toHandle.size(); ++k) results[toHandle[k]] = std::move(handled[k]);
  }
  deliverOutcomes(b, results);
  {
    std::lock_guard lk(mu_);
    inFlight_.reset();
    stats_.batches++;
  }
  metrics_->batchSeconds->Observe(toSeconds(clock_.now() - start));
}

bool ConsumerLoop::deliverOutcomes(const std::vector<StreamEntry>& batch, const std::vector<EntryResult>& results) {
  const auto& rc = config_.redis;
  std::vector<std::string> ackIds;
  std::vector<size_t> dead;
  int64_t retried = 0;
  ackIds.reserve(batch.size());
  for (size_t i = 0; i < batch.size(); ++i) {
    switch (results[i].outcome) {
      case EntryOutcome::kDelivered: ackIds.push_back(batch[i].id); break;
      case EntryOutcome::kDeadLetter: dead.push_back(i); break;
      case EntryOutcome::kRetry: ++retried; break;
    }
  }
  std::vector<redis::Command> cmds;
  cmds.reserve(dead.size() + 1);
  for (size_t i : dead) {
    const auto& e = batch[i];
    redis::Command c{"XADD", rc.deadLetterStream, "*"};
    for (const auto& [k, v] : e.fields) {
      c.push_back(k);
      c.push_back(v);
    }
    for (auto kv : {std::pair<std::string, std::string>{"shoal.reason", results[i].reason},
                    {"shoal.original_id", e.id},
                    {"shoal.stream", rc.stream},
                    {"shoal.group", rc.consumerGroup},
                    {"shoal.deliveries", std::to_string(e.deliveries)}}) {
      c.push_back(kv.first);
      c.push_back(kv.second);
    }
    cmds.push_back(std::move(c));
  }
  const size_t ackIndex = cmds.size();
  if (!ackIds.empty()) {
    redis::Command c;
    c.reserve(ackIds.size() + 3);
    c.push_back("XACK");
    c.push_back(rc.stream);
    c.push_back(rc.consumerGroup);
    for (auto& id : ackIds) c.push_back(std::move(id));
    cmds.push_back(std::move(c));
  }
  // Acknowledgements are idempotent: retry until they land (or we are cancelled).
  auto runWithRetry = [&](const std::vector<redis::Command>& cs, const char* what) -> std::optional<std::vector<redis::Reply>> {
    while (true) {
      auto r = ackClient_.pipeline(cs);
      if (r) {
        markReachable();
        ackBackoff_.reset();
        return std::move(*r);
      }
      onRedisError(r.error(), what);
      if (cancel_.cancelled()) return std::nullopt;
      waitBeforeRetry(ackClient_);
    }
  };
  int64_t delivered = 0, deadLettered = 0;
  bool ok = true;
  if (!cmds.empty()) {
    auto replies = runWithRetry(cmds, dead.empty() ? "XACK" : "XADD dead-letter + XACK");
    if (!replies) return false;
    std::vector<std::string> deadAck;
    for (size_t k = 0; k < dead.size(); ++k) {
      const auto& rep = (*replies)[k];
      if (rep.isError()) {
        ok = false;
        log::error("dead-letter XADD failed; entry stays pending",
                   {{"id", batch[dead[k]].id}, {"error", rep.str}, {"deadLetterStream", rc.deadLetterStream}});
        continue;
      }
      deadAck.push_back(batch[dead[k]].id);
    }
    if (ackIndex < replies->size()) {
      const auto& rep = (*replies)[ackIndex];
      if (rep.isError()) {
        ok = false;
        log::error("XACK failed", {{"error", rep.str}});
        if (rep.str.starts_with("NOGROUP")) groupReady_ = false;
      } else {
        delivered = rep.integer;  // what was still pending: a duplicate is not counted twice
      }
    }
    if (!deadAck.empty()) {
      redis::Command c{"XACK", rc.stream, rc.consumerGroup};
      for (const auto& id : deadAck) c.push_back(id);
      auto r2 = runWithRetry({c}, "XACK dead-lettered");
      if (!r2) return false;
      if ((*r2)[0].isError()) {
        ok = false;
        log::error("XACK of dead-lettered entries failed", {{"error", (*r2)[0].str}});
      } else {
        deadLettered = static_cast<int64_t>(deadAck.size());
        for (size_t k : dead)
          log::warn("entry dead-lettered", {{"id", batch[k].id},
                                            {"reason", results[k].reason},
                                            {"deliveries", batch[k].deliveries},
                                            {"deadLetterStream", rc.deadLetterStream}});
      }
    }
  }
  {
    std::lock_guard lk(mu_);
    stats_.delivered += delivered;
    stats_.deadLettered += deadLettered;
    stats_.retried += retried;
  }
  metrics_->delivered->Increment(static_cast<double>(delivered));
  metrics_->deadLettered->Increment(static_cast<double>(deadLettered));
  metrics_->retried->Increment(static_cast<double>(retried));
  return ok;
}

int64_t ConsumerLoop::step() {
  if (!groupReady_ && !ensureGroup()) {
    waitBeforeRetry(client_);
    return 0;
  }
  auto batch = collect();
  const auto n = static_cast<int64_t>(batch.size());
  if (n > 0) process(std::move(batch));
  return n;
}

void ConsumerLoop::drainHeld() {
  // First what is already held (leftovers, queued claims), then our own
  // pending list from the start once; no new entries. Held entries are also
  // in the pending list, so they go first to avoid handling them twice.
  {
    std::lock_guard lk(mu_);
    // Never reached Redis: nothing can be held, nothing to wait for.
    if (!groupReady_ && stats_.read == 0 && claimed_.empty() && leftover_.empty()) return;
  }
  ownPendingDone_ = true;
  while (!cancel_.cancelled()) {
    auto batch = collect();
    if (batch.empty()) break;
    process(std::move(batch));
  }
  ownPendingDone_ = false;
  pendingCursor_ = "0";
  while (!cancel_.cancelled()) {
    if (!groupReady_ && !ensureGroup()) {
      waitBeforeRetry(client_);
      continue;
    }
    bool more;
    {
      std::lock_guard lk(mu_);
      more = !claimed_.empty();
    }
    auto batch = collect();
    if (batch.empty()) {
      if (ownPendingDone_ && leftover_.empty() && !more) break;
      continue;  // a failed read: collect() already waited
    }
    process(std::move(batch));
  }
}

// The reader thread of run(): collects batches into the read-ahead slot.
void ConsumerLoop::readAhead() {
  while (!stop_.load()) {
    if (!groupReady_ && !ensureGroup()) {
      waitBeforeRetry(client_);
      continue;
    }
    {
      // Read only once the slot is free, so entries never wait read but unqueued.
      std::unique_lock lk(mu_);
      readyCv_.wait(lk, [&] { return !ready_ || stop_.load(); });
      if (stop_.load()) break;
    }
    const MonoTime readAt = clock_.now();
    auto batch = collect();
    if (batch.empty()) continue;
    std::lock_guard lk(mu_);
    if (ready_) {  // cannot happen (one reader), but never drop entries
      for (auto& e : batch) leftover_.push_back(std::move(e));
      continue;
    }
    ready_ = std::make_shared<const std::vector<StreamEntry>>(std::move(batch));
    readySince_ = readAt;
    readyCv_.notify_all();
  }
}

int ConsumerLoop::run() {
  sweeper_ = std::thread([this] { sweepThread(); });
  reader_ = std::thread([this] { readAhead(); });
  for (;;) {
    std::shared_ptr<const std::vector<StreamEntry>> batch;
    MonoTime since;
    {
      std::unique_lock lk(mu_);
      readyCv_.wait(lk, [&] { return ready_ || stop_.load(); });
      if (!ready_) break;  // stopping, nothing read ahead
      // Hand over from read-ahead to in flight under one lock: the sweep
      // always sees the batch as held.
      batch = std::move(ready_);
      ready_.reset();
      since = readySince_;
      inFlight_ = batch;
      inFlightSince_ = since;
    }
    readyCv_.notify_all();
    process(std::move(batch), since);
  }
  log::info("stopping: finishing held entries", {{"consumer", config_.consumerName}});
  sweepCv_.notify_all();
  readyCv_.notify_all();
  if (reader_.joinable()) reader_.join();
  {
    // A batch the reader finished after the stop goes first, as held entries.
    std::lock_guard lk(mu_);
    if (ready_) {
      std::deque<StreamEntry> held;
      for (const auto& e : *ready_) held.push_back(e);
      for (auto& e : leftover_) held.push_back(std::move(e));
      leftover_ = std::move(held);
      ready_.reset();
    }
  }
  if (sweeper_.joinable()) sweeper_.join();  // no claims while draining
  drainHeld();
  const auto s = stats();
  log::info("stopped", {{"read", s.read},
                        {"delivered", s.delivered},
                        {"deadLettered", s.deadLettered},
                        {"retried", s.retried},
                        {"claimed", s.claimed},
                        {"cancelled", cancel_.cancelled()}});
  return cancel_.cancelled() ? 1 : 0;
}

Result<int64_t> ConsumerLoop::sweepOnce() {
  const auto& rc = config_.redis;
  // Until our own pending list has been re-read, claiming could hand us the
  // same entries twice (XAUTOCLAIM also matches our own idle entries).
  if (!ownPendingDone_.load()) return int64_t{0};
  // Keep a long-running batch fresh so that nobody (us included) reclaims it.
  std::shared_ptr<const std::vector<StreamEntry>> held[2];
  MonoTime since[2];
  {
    std::lock_guard lk(mu_);
    held[0] = inFlight_;
    since[0] = inFlightSince_;
    held[1] = ready_;
    since[1] = readySince_;
  }
  for (int k = 0; k < 2; ++k) {
    if (!held[k] || clock_.now() - since[k] <= millis(rc.claimMinIdleMs / 2)) continue;
    redis::Command c{"XCLAIM", rc.stream, rc.consumerGroup, config_.consumerName, "0"};
    for (const auto& e : *held[k]) c.push_back(e.id);
    c.push_back("JUSTID");
    auto r = sweepClient_.command(c);
    if (!r) onRedisError(r.error(), "XCLAIM JUSTID");
  }
  int64_t total = 0;
  std::string cursor = "0-0";
  do {
    if (stop_.load()) break;
    {
      std::lock_guard lk(mu_);
      if (static_cast<int64_t>(claimed_.size()) >= config_.delivery.batchSize) break;  // backpressure
    }
    auto r = sweepClient_.autoClaim(rc.stream, rc.consumerGroup, config_.consumerName, rc.claimMinIdleMs, cursor,
                                    config_.delivery.batchSize);
    if (!r) {
      onRedisError(r.error(), "XAUTOCLAIM");
      return r.error();
    }
    cursor = r->nextCursor;
    if (r->entries.empty()) continue;
    std::lock_guard lk(mu_);
    std::unordered_set<std::string> ours;
    if (inFlight_)
      for (const auto& e : *inFlight_) ours.insert(e.id);
    if (ready_)
      for (const auto& e : *ready_) ours.insert(e.id);
    for (const auto& e : claimed_) ours.insert(e.id);
    int64_t n = 0;
    for (auto& e : r->entries) {
      if (ours.count(e.id)) continue;
      claimed_.push_back(std::move(e));
      ++n;
    }
    stats_.claimed += n;
    stats_.read += n;
    metrics_->claimed->Increment(static_cast<double>(n));
    metrics_->read->Increment(static_cast<double>(n));
    total += n;
  } while (cursor != "0-0");
  if (total > 0)
    log::info("reclaimed idle entries", {{"count", total}, {"minIdleMs", rc.claimMinIdleMs}});
  return total;
}

void ConsumerLoop::refreshGroupGauges(redis::Client& client) {
  auto gs = client.groups(config_.redis.stream);
  if (!gs) return;
  for (const auto& g : *gs) {
    if (g.name != config_.redis.consumerGroup) continue;
    metrics_->pending->Set(static_cast<double>(g.pending));
    metrics_->lag->Set(g.lag ? static_cast<double>(*g.lag) : std::numeric_limits<double>::quiet_NaN());
  }
}

void ConsumerLoop::sweepThread() {
  const auto& rc = config_.redis;
  const auto gaugeEvery = std::chrono::milliseconds(rc.claimIntervalMs > 0 ? std::min<int64_t>(rc.claimIntervalMs, 5000) : 5000);
  auto lastClaim = std::chrono::steady_clock::now();
  while (!stop_.load()) {
    refreshGroupGauges(sweepClient_);
    if (rc.claimIntervalMs > 0 &&
        std::chrono::steady_clock::now() - lastClaim >= std::chrono::milliseconds(rc.claimIntervalMs)) {
      lastClaim = std::chrono::steady_clock::now();
      (void)sweepOnce();
    }
    std::unique_lock lk(sweepMu_);
    sweepCv_.wait_for(lk, gaugeEvery, [&] { return stop_.load(); });
  }
}

}  // namespace shoal
