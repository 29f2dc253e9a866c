// The reclaim sweep: keep held batches fresh, claim idle entries, refresh the
// group's gauges, on the injected clock. See sweep.h.
#include "sweep.h"

#include <algorithm>
#include <limits>
#include <unordered_set>

#include "shoal/common/log.h"

namespace shoal::worker_detail {

ReclaimSweep::ReclaimSweep(LoopContext& ctx, ConsumerGroupPort& port)
    : ctx_(ctx),
      port_(port),
      gaugeEvery_(millis(ctx.config.redis.claimIntervalMs > 0
                             ? std::min<int64_t>(ctx.config.redis.claimIntervalMs, 5000)
                             : 5000)),
      lastClaim_(ctx.clock.now()) {}

ReclaimSweep::~ReclaimSweep() {
  ctx_.stop.store(true);  // the loop is going away; never leave the thread behind
  wake();
  join();
}

void ReclaimSweep::keepHeldFresh() {
  const auto& rc = ctx_.config.redis;
  Batch held[2];
  MonoTime since[2];
  {
    std::lock_guard lk(ctx_.mu);
    held[0] = ctx_.inFlight;
    since[0] = ctx_.inFlightSince;
    held[1] = ctx_.ready;
    since[1] = ctx_.readySince;
  }
  for (int k = 0; k < 2; ++k) {
    if (!held[k] || ctx_.clock.now() - since[k] <= millis(rc.claimMinIdleMs / 2)) continue;
    std::vector<std::string> ids;
    ids.reserve(held[k]->size());
    for (const auto& e : *held[k]) ids.push_back(e.id);
    auto r = port_.touch(ids);
    if (!r) ctx_.onRedisError(r.error(), "XCLAIM JUSTID");
  }
}

Result<int64_t> ReclaimSweep::sweepOnce() {
  const auto& rc = ctx_.config.redis;
  // Until our own pending list has been re-read, claiming could hand us the
  // same entries twice (XAUTOCLAIM also matches our own idle entries).
  if (!ctx_.ownPendingDone.load()) return int64_t{0};
  // Keep a long-running batch fresh so that nobody (us included) reclaims it.
  keepHeldFresh();
  const int64_t batchSize = ctx_.config.delivery.batchSize;
  int64_t total = 0;
  std::string cursor = "0-0";
  do {
    if (ctx_.stop.load()) break;
    {
      std::lock_guard lk(ctx_.mu);
      if (static_cast<int64_t>(ctx_.claimed.size()) >= batchSize) break;  // backpressure
    }
    auto r = port_.claimIdle(rc.claimMinIdleMs, cursor, batchSize);
    if (!r) {
      ctx_.onRedisError(r.error(), "XAUTOCLAIM");
      return r.error();
    }
    cursor = r->nextCursor;
    if (r->entries.empty()) continue;
    std::lock_guard lk(ctx_.mu);
    std::unordered_set<std::string> ours;
    if (ctx_.inFlight)
      for (const auto& e : *ctx_.inFlight) ours.insert(e.id);
    if (ctx_.ready)
      for (const auto& e : *ctx_.ready) ours.insert(e.id);
    for (const auto& e : ctx_.claimed) ours.insert(e.id);
    int64_t n = 0;
    for (auto& e : r->entries) {
      if (ours.count(e.id)) continue;
      ctx_.claimed.push_back(std::move(e));
      ++n;
    }
    ctx_.stats.claimed += n;
    ctx_.stats.read += n;
    ctx_.metrics.claimed->Increment(static_cast<double>(n));
    ctx_.metrics.read->Increment(static_cast<double>(n));
    total += n;
  } while (cursor != "0-0");
  if (total > 0)
    log::info("reclaimed idle entries", {{"count", total}, {"minIdleMs", rc.claimMinIdleMs}});
  return total;
}

void ReclaimSweep::refreshGauges() {
  auto g = port_.gauges();
  if (!g || !*g) return;
  ctx_.metrics.pending->Set(static_cast<double>((*g)->pending));
  ctx_.metrics.lag->Set((*g)->lag ? static_cast<double>(*(*g)->lag)
                                  : std::numeric_limits<double>::quiet_NaN());
}

MonoTime ReclaimSweep::tick() {
  const auto& rc = ctx_.config.redis;
  refreshGauges();
  if (rc.claimIntervalMs > 0 && ctx_.clock.now() - lastClaim_ >= millis(rc.claimIntervalMs)) {
    lastClaim_ = ctx_.clock.now();
    (void)sweepOnce();
  }
  return ctx_.clock.now() + gaugeEvery_;
}

void ReclaimSweep::start() {
  lastClaim_ = ctx_.clock.now();
  thread_ = std::thread([this] { run(); });
}

void ReclaimSweep::wake() {
  { std::lock_guard lk(mu_); }  // a waiter between its check and its wait still sees the notify
  cv_.notify_all();
}

void ReclaimSweep::join() {
  if (thread_.joinable()) thread_.join();
}

void ReclaimSweep::run() {
  while (!ctx_.stop.load()) {
    const MonoTime due = tick();
    std::unique_lock lk(mu_);
    while (!ctx_.stop.load()) {
      const Duration left = due - ctx_.clock.now();
      if (left <= Duration::zero()) break;
      cv_.wait_for(lk, std::min<Duration>(left, kPollSlice), [&] { return ctx_.stop.load(); });
    }
  }
}

}  // namespace shoal::worker_detail
