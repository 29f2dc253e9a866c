// Settling a handled batch: dead letters, then acknowledgements, retried
// until they land. See acknowledger.h.
#include "acknowledger.h"

#include <optional>
#include <string>

#include "shoal/stream/dead_letter.h"
#include "shoal/common/log.h"

namespace shoal::worker_detail {

Acknowledger::Acknowledger(LoopContext& ctx, ConsumerGroupPort& port)
    : ctx_(ctx),
      port_(port),
      backoff_(millis(ctx.config.delivery.retryInitialMs), millis(ctx.config.delivery.retryMaxMs)) {
}

// Acknowledgements are idempotent: retry until they land (or we are cancelled).
std::optional<AckReceipt> Acknowledger::untilItLands(const std::vector<DeadLetter>& deadLetters,
                                                     const std::vector<std::string>& ackIds,
                                                     const char* what) {
  while (true) {
    auto r = port_.deadLetterAndAck(deadLetters, ackIds);
    if (r) {
      ctx_.markReachable();
      backoff_.reset();
      return std::move(*r);
    }
    ctx_.onRedisError(r.error(), what);
    if (ctx_.cancel.cancelled()) return std::nullopt;
    ctx_.waitBeforeRetry(port_, backoff_);
  }
}

bool Acknowledger::settle(const std::vector<StreamEntry>& batch,
                          const std::vector<EntryResult>& results) {
  const auto& rc = ctx_.config.redis;
  std::vector<std::string> ackIds;
  std::vector<size_t> dead;
  int64_t retried = 0;
  ackIds.reserve(batch.size());
  for (size_t i = 0; i < batch.size(); ++i) {
    switch (results[i].outcome) {
      case EntryOutcome::kDelivered:
        ackIds.push_back(batch[i].id);
        break;
      case EntryOutcome::kDeadLetter:
        dead.push_back(i);
        break;
      case EntryOutcome::kRetry:
        ++retried;
        break;
    }
  }
  std::vector<DeadLetter> letters;
  letters.reserve(dead.size());
  for (size_t i : dead) {
    const auto& e = batch[i];
    DeadLetter d;
    d.fields.reserve(e.fields.size() + 5);
    d.fields.insert(d.fields.end(), e.fields.begin(), e.fields.end());
    d.fields.emplace_back("shoal.reason", results[i].reason);
    d.fields.emplace_back("shoal.original_id", e.id);
    d.fields.emplace_back("shoal.stream", rc.stream);
    d.fields.emplace_back("shoal.group", rc.consumerGroup);
    d.fields.emplace_back("shoal.deliveries", std::to_string(e.deliveries));
    letters.push_back(std::move(d));
  }
  int64_t delivered = 0, deadLettered = 0;
  bool ok = true;
  if (!letters.empty() || !ackIds.empty()) {
    auto receipt = untilItLands(letters, ackIds, dead.empty() ? "XACK" : "XADD dead-letter + XACK");
    if (!receipt) return false;
    std::vector<size_t> deadAckEntries;  // indices into batch whose copy landed
    for (size_t k = 0; k < dead.size(); ++k) {
      // A port that answered for fewer copies than it was given: unconfirmed, so pending.
      const bool answered = k < receipt->deadLetters.size();
      if (!answered || !receipt->deadLetters[k]) {
        ok = false;
        log::error("dead-letter XADD failed; entry stays pending",
                   {{"id", batch[dead[k]].id},
                    {"error", answered ? receipt->deadLetters[k].error().message : "no reply"},
                    {"deadLetterStream", rc.deadLetterStream}});
        continue;
      }
      deadAckEntries.push_back(dead[k]);
    }
    if (!ackIds.empty()) {
      if (!receipt->acked) {
        ok = false;
        log::error("XACK failed", {{"error", receipt->acked.error().message}});
        if (receipt->acked.error().code == Errc::kNotFound) ctx_.groupReady = false;
      } else {
        delivered = *receipt->acked;  // what was still pending: a duplicate is not counted twice
      }
    }
    if (!deadAckEntries.empty()) {
      std::vector<std::string> deadAck;
      deadAck.reserve(deadAckEntries.size());
      for (size_t k : deadAckEntries) deadAck.push_back(batch[k].id);
      auto second = untilItLands({}, deadAck, "XACK dead-lettered");
      if (!second) return false;
      if (!second->acked) {
        ok = false;
        log::error("XACK of dead-lettered entries failed",
                   {{"error", second->acked.error().message}});
      } else {
        deadLettered = static_cast<int64_t>(deadAckEntries.size());
        for (size_t k : deadAckEntries) {
          ctx_.metrics.deadLettered[deadLetterKind(results[k].reason)]->Increment();
          log::warn("entry dead-lettered", {{"id", batch[k].id},
                                            {"reason", results[k].reason},
                                            {"deliveries", batch[k].deliveries},
                                            {"deadLetterStream", rc.deadLetterStream}});
        }
      }
    }
  }
  {
    std::lock_guard lk(ctx_.mu);
    ctx_.stats.delivered += delivered;
    ctx_.stats.deadLettered += deadLettered;
    ctx_.stats.retried += retried;
  }
  ctx_.metrics.delivered->Increment(static_cast<double>(delivered));
  ctx_.metrics.retried->Increment(static_cast<double>(retried));
  return ok;
}

}  // namespace shoal::worker_detail
