// The read side of the consumer loop: ensure the group, own pending first
// with delivery counts, then new entries within batch bounds. See reader.h.
#include "reader.h"

#include "shoal/common/log.h"

namespace shoal::worker_detail {

BatchReader::BatchReader(LoopContext& ctx, ConsumerGroupPort& port)
    : ctx_(ctx),
      port_(port),
      backoff_(millis(ctx.config.delivery.retryInitialMs), millis(ctx.config.delivery.retryMaxMs)) {
}

bool BatchReader::ensureGroup() {
  if (ctx_.groupReady) return true;
  auto r = port_.createGroup();
  if (!r) {
    ctx_.onRedisError(r.error(), "XGROUP CREATE");
    return false;
  }
  ctx_.markReachable();
  backoff_.reset();
  ctx_.groupReady = true;
  const auto& c = ctx_.config;
  log::info("consumer group ready", {{"stream", c.redis.stream},
                                     {"group", c.redis.consumerGroup},
                                     {"consumer", c.consumerName},
                                     {"created", *r}});
  return true;
}

// (Assigned from a std::string: GCC 12 warns falsely on `= "0"`, PR 105329.)
void BatchReader::restartOwnPending() {
  pendingCursor_ = std::string(1, '0');
}

bool BatchReader::takeBytes(std::vector<StreamEntry>& batch, size_t& bytes) {
  const size_t maxN = static_cast<size_t>(ctx_.config.delivery.batchSize);
  const size_t maxBytes = static_cast<size_t>(ctx_.config.delivery.batchBytes);
  while (!leftover_.empty() && batch.size() < maxN) {
    size_t b = leftover_.front().bytes();
    // Always take at least one entry, so an entry bigger than batchBytes
    // still moves (it is dead-lettered if above maxEntryBytes).
    if (!batch.empty() && bytes + b > maxBytes) return true;
    bytes += b;
    batch.push_back(std::move(leftover_.front()));
    leftover_.pop_front();
  }
  return batch.size() >= maxN || bytes >= maxBytes;
}

void BatchReader::fillDeliveries(std::vector<StreamEntry>& entries) {
  if (entries.empty()) return;
  auto rows = port_.pendingDeliveries(entries.front().id, entries.back().id,
                                      static_cast<int64_t>(entries.size()) * 2 + 16);
  if (!rows) {
    ctx_.onRedisError(rows.error(), "XPENDING");
    return;  // counts stay at 1: the entry is still delivered, just not dead-lettered by count now
  }
  size_t j = 0;
  for (auto& e : entries) {
    while (j < rows->size() && (*rows)[j].id != e.id) ++j;
    if (j == rows->size()) break;
    e.deliveries = (*rows)[j].deliveries;
  }
}

std::vector<StreamEntry> BatchReader::collect() {
  std::vector<StreamEntry> batch;
  size_t bytes = 0;
  const auto& rc = ctx_.config.redis;
  const auto& dc = ctx_.config.delivery;
  const int64_t maxN = dc.batchSize;
  if (takeBytes(batch, bytes)) return batch;
  {
    std::lock_guard lk(ctx_.mu);
    while (!ctx_.claimed.empty()) {
      leftover_.push_back(std::move(ctx_.claimed.front()));
      ctx_.claimed.pop_front();
    }
  }
  if (takeBytes(batch, bytes)) return batch;

  if (!ctx_.ownPendingDone) {
    auto r = port_.readPending(pendingCursor_, maxN - static_cast<int64_t>(batch.size()));
    if (!r) {
      ctx_.onRedisError(r.error(), "XREADGROUP 0");
      if (r.error().code == Errc::kNotFound) ctx_.groupReady = false;
      if (batch.empty()) waitBeforeRetry();
      return batch;
    }
    ctx_.markReachable();
    if (r->empty()) {
      ctx_.ownPendingDone = true;
    } else {
      pendingCursor_ = r->back().id;
      fillDeliveries(*r);
      ctx_.countRead(static_cast<int64_t>(r->size()));
      for (auto& e : *r) leftover_.push_back(std::move(e));
      takeBytes(batch, bytes);
      return batch;
    }
  }
  if (ctx_.stop.load()) return batch;

  const MonoTime lingerEnd = ctx_.clock.now() + millis(dc.lingerMs);
  while (static_cast<int64_t>(batch.size()) < maxN && bytes < static_cast<size_t>(dc.batchBytes)) {
    int64_t block = -1;
    if (batch.empty()) {
      block = rc.blockMs > 0 ? rc.blockMs : -1;
    } else {
      if (dc.lingerMs <= 0) break;
      auto left =
          std::chrono::duration_cast<std::chrono::milliseconds>(lingerEnd - ctx_.clock.now())
              .count();
      if (left < 1) break;
      block = left;
    }
    auto r = port_.readNew(maxN - static_cast<int64_t>(batch.size()), block);
    if (!r) {
      ctx_.onRedisError(r.error(), "XREADGROUP >");
      if (r.error().code == Errc::kNotFound) ctx_.groupReady = false;
      if (batch.empty()) waitBeforeRetry();
      break;
    }
    ctx_.markReachable();
    backoff_.reset();
    if (r->empty()) break;
    ctx_.countRead(static_cast<int64_t>(r->size()));
    for (auto& e : *r) leftover_.push_back(std::move(e));
    if (takeBytes(batch, bytes)) break;
    if (ctx_.stop.load()) break;
  }
  return batch;
}

}  // namespace shoal::worker_detail
