// The consumer loop: wires the reader, the triage, the handler, the
// acknowledger and the reclaim sweep; owns run() with its read-ahead
// hand-over, step() and the drain on stop. See consumer_loop.h.
#include "shoal/worker/consumer_loop.h"

#include "shoal/common/log.h"
#include "shoal/worker/batch_triage.h"
#include "src/acknowledger.h"
#include "src/loop_context.h"
#include "src/reader.h"
#include "src/sweep.h"

namespace shoal {

using worker_detail::Batch;

ConsumerLoop::ConsumerLoop(const PipelineConfig& config, BatchHandler& handler, Clock& clock,
                           prometheus::Registry& registry)
    : ConsumerLoop(config, handler, clock, registry, [&config, &clock] {
        return openRedisGroupPort(config.redis, config.consumerName, clock);
      }) {}

ConsumerLoop::ConsumerLoop(const PipelineConfig& config, BatchHandler& handler, Clock& clock,
                           prometheus::Registry& registry, const PortFactory& openPort)
    : config_(config),
      handler_(handler),
      readerPort_(openPort()),
      ackPort_(openPort()),
      sweepPort_(openPort()),
      ctx_(std::make_unique<worker_detail::LoopContext>(config_, clock, registry)),
      reader_(std::make_unique<worker_detail::BatchReader>(*ctx_, *readerPort_)),
      ack_(std::make_unique<worker_detail::Acknowledger>(*ctx_, *ackPort_)),
      sweep_(std::make_unique<worker_detail::ReclaimSweep>(*ctx_, *sweepPort_)) {}

ConsumerLoop::~ConsumerLoop() {
  requestStop();
  sweep_->join();
  if (readerThread_.joinable()) readerThread_.join();
}

void ConsumerLoop::requestStop() {
  ctx_->stop.store(true);
  sweep_->wake();
  {
    std::lock_guard lk(ctx_->mu);
  }  // a waiter between its check and its wait still sees the notify
  ctx_->readyCv.notify_all();
}

void ConsumerLoop::cancel() {
  ctx_->cancel.cancel();
  requestStop();
}

bool ConsumerLoop::stopping() const {
  return ctx_->stop.load();
}

bool ConsumerLoop::redisReachable() const {
  return ctx_->reachable.load();
}

LoopStats ConsumerLoop::stats() const {
  std::lock_guard lk(ctx_->mu);
  return ctx_->stats;
}

Result<int64_t> ConsumerLoop::sweepOnce() {
  return sweep_->sweepOnce();
}

void ConsumerLoop::process(std::vector<StreamEntry> entries) {
  process(std::make_shared<const std::vector<StreamEntry>>(std::move(entries)), ctx_->clock.now());
}

void ConsumerLoop::process(std::shared_ptr<const std::vector<StreamEntry>> batch, MonoTime since) {
  auto& ctx = *ctx_;
  const MonoTime start = ctx.clock.now();
  const auto& b = *batch;
  auto triage = triageBatch(b, {config_.delivery.maxEntryBytes, config_.redis.maxDeliveries});
  auto& results = triage.results;
  const auto& toHandle = triage.toHandle;
  {
    std::lock_guard lk(ctx.mu);
    ctx.inFlight = batch;
    ctx.inFlightSince = since;
  }
  if (!toHandle.empty()) {
    std::vector<EntryResult> handled;
    if (toHandle.size() == b.size()) {
      handled = handler_.handle(std::span<const StreamEntry>(b), ctx.cancel);
    } else {
      std::vector<StreamEntry> sub;
      sub.reserve(toHandle.size());
      for (size_t i : toHandle) sub.push_back(b[i]);
      handled = handler_.handle(std::span<const StreamEntry>(sub), ctx.cancel);
    }
    if (handled.size() != toHandle.size()) {
      log::error("handler broke its contract: result count differs from entry count",
                 {{"entries", toHandle.size()}, {"results", handled.size()}, {"sink", handler_.sinkName()}});
      handled.resize(toHandle.size());  // missing ones default to kRetry: left pending
    }
    for (size_t k = 0; k < toHandle.size(); ++k) results[toHandle[k]] = std::move(handled[k]);
  }
  ack_->settle(b, results);
  {
    std::lock_guard lk(ctx.mu);
    ctx.inFlight.reset();
    ctx.stats.batches++;
  }
  ctx.metrics.batchSeconds->Observe(toSeconds(ctx.clock.now() - start));
}

int64_t ConsumerLoop::step() {
  if (!ctx_->groupReady && !reader_->ensureGroup()) {
    reader_->waitBeforeRetry();
    return 0;
  }
  auto batch = reader_->collect();
  const auto n = static_cast<int64_t>(batch.size());
  if (n > 0) process(std::move(batch));
  return n;
}

void ConsumerLoop::drainHeld() {
  auto& ctx = *ctx_;
  // First what is already held (leftovers, queued claims), then our own
  // pending list from the start once; no new entries. Held entries are also
  // in the pending list, so they go first to avoid handling them twice.
  {
    std::lock_guard lk(ctx.mu);
    // Never reached Redis: nothing can be held, nothing to wait for.
    if (!ctx.groupReady && ctx.stats.read == 0 && ctx.claimed.empty() &&
        reader_->leftovers().empty())
      return;
  }
  ctx.ownPendingDone = true;
  while (!ctx.cancel.cancelled()) {
    auto batch = reader_->collect();
    if (batch.empty()) break;
    process(std::move(batch));
  }
  ctx.ownPendingDone = false;
  reader_->restartOwnPending();
  while (!ctx.cancel.cancelled()) {
    if (!ctx.groupReady && !reader_->ensureGroup()) {
      reader_->waitBeforeRetry();
      continue;
    }
    bool more;
    {
      std::lock_guard lk(ctx.mu);
      more = !ctx.claimed.empty();
    }
    auto batch = reader_->collect();
    if (batch.empty()) {
      if (ctx.ownPendingDone && reader_->leftovers().empty() && !more) break;
      continue;  // a failed read: collect() already waited
    }
    process(std::move(batch));
  }
}

// The reader thread of run(): collects batches into the read-ahead slot.
void ConsumerLoop::readAhead() {
  auto& ctx = *ctx_;
  while (!ctx.stop.load()) {
    if (!ctx.groupReady && !reader_->ensureGroup()) {
      reader_->waitBeforeRetry();
      continue;
    }
    {
      // Read only once the slot is free, so entries never wait read but unqueued.
      std::unique_lock lk(ctx.mu);
      ctx.readyCv.wait(lk, [&] { return !ctx.ready || ctx.stop.load(); });
      if (ctx.stop.load()) break;
    }
    const MonoTime readAt = ctx.clock.now();
    auto batch = reader_->collect();
    if (batch.empty()) continue;
    std::lock_guard lk(ctx.mu);
    if (ctx.ready) {  // cannot happen (one reader), but never drop entries
      for (auto& e : batch) reader_->leftovers().push_back(std::move(e));
      continue;
    }
    ctx.ready = std::make_shared<const std::vector<StreamEntry>>(std::move(batch));
    ctx.readySince = readAt;
    ctx.readyCv.notify_all();
  }
}

int ConsumerLoop::run() {
  auto& ctx = *ctx_;
  sweep_->start();
  readerThread_ = std::thread([this] { readAhead(); });
  for (;;) {
    Batch batch;
    MonoTime since;
    {
      std::unique_lock lk(ctx.mu);
      ctx.readyCv.wait(lk, [&] { return ctx.ready || ctx.stop.load(); });
      if (!ctx.ready) break;  // stopping, nothing read ahead
      // Hand over from read-ahead to in flight under one lock: the sweep
      // always sees the batch as held.
      batch = std::move(ctx.ready);
      since = ctx.readySince;
      ctx.inFlight = batch;
      ctx.inFlightSince = since;
    }
    ctx.readyCv.notify_all();
    process(std::move(batch), since);
  }
  log::info("stopping: finishing held entries", {{"consumer", config_.consumerName}});
  sweep_->wake();
  ctx.readyCv.notify_all();
  if (readerThread_.joinable()) readerThread_.join();
  {
    // A batch the reader finished after the stop goes first, as held entries.
    std::lock_guard lk(ctx.mu);
    if (ctx.ready) {
      std::deque<StreamEntry> held;
      for (const auto& e : *ctx.ready) held.push_back(e);
      for (auto& e : reader_->leftovers()) held.push_back(std::move(e));
      reader_->leftovers() = std::move(held);
      ctx.ready.reset();
    }
  }
  sweep_->join();  // no claims while draining
  drainHeld();
  const auto s = stats();
  log::info("stopped", {{"read", s.read},
                        {"delivered", s.delivered},
                        {"deadLettered", s.deadLettered},
                        {"retried", s.retried},
                        {"claimed", s.claimed},
                        {"cancelled", ctx.cancel.cancelled()}});
  return ctx.cancel.cancelled() ? 1 : 0;
}

}  // namespace shoal
