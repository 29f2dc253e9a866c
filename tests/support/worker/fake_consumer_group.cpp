// The in-memory consumer group for the loop's unit tests. See
// fake_consumer_group.h.
#include "shoal/testing/fake_consumer_group.h"

#include <chrono>

namespace shoal::testing {

int64_t FakeConsumerGroup::seqOf(const std::string& id) {
  if (id == "0" || id == "0-0" || id == "-") return 0;
  return std::stoll(id.substr(0, id.find('-')));
}

StreamEntry FakeConsumerGroup::entryLocked(int64_t seq) const {
  const auto& e = entries_.at(seq);
  StreamEntry out;
  out.id = e.id;
  if (e.fields) out.fields = *e.fields;
  return out;
}

class FakeConsumerGroup::Port final : public ConsumerGroupPort {
 public:
  Port(FakeConsumerGroup& g, std::string consumer) : g_(g), consumer_(std::move(consumer)) {}

  Result<bool> createGroup() override {
    std::lock_guard lk(g_.mu_);
    const bool created = !g_.groupExists_;
    g_.groupExists_ = true;
    return created;
  }

  Result<std::vector<StreamEntry>> readPending(const std::string& afterId, int64_t count) override {
    std::lock_guard lk(g_.mu_);
    if (!g_.groupExists_) return makeError(Errc::kNotFound, "NOGROUP");
    std::vector<StreamEntry> out;
    for (auto it = g_.pel_.upper_bound(seqOf(afterId));
         it != g_.pel_.end() && static_cast<int64_t>(out.size()) < count; ++it) {
      if (it->second.consumer != consumer_) continue;
      if (g_.entries_.at(it->first).fields) {  // Redis counts no delivery of a deleted entry
        it->second.deliveries++;
        it->second.lastDelivery = g_.clock_.now();
      }
      out.push_back(g_.entryLocked(it->first));  // deliveries left at 1, as XREADGROUP says nothing
    }
    return out;
  }

  Result<std::vector<StreamEntry>> readNew(int64_t count, int64_t blockMs) override {
    std::unique_lock lk(g_.mu_);
    if (!g_.groupExists_) return makeError(Errc::kNotFound, "NOGROUP");
    auto anyNew = [&] { return g_.entries_.upper_bound(g_.lastDelivered_) != g_.entries_.end(); };
    // BLOCK: wait (real time, as Redis does) for an entry to arrive.
    if (!anyNew() && blockMs > 0)
      g_.added_.wait_for(lk, std::chrono::milliseconds(blockMs), anyNew);
    std::vector<StreamEntry> out;
    for (auto it = g_.entries_.upper_bound(g_.lastDelivered_);
         it != g_.entries_.end() && static_cast<int64_t>(out.size()) < count; ++it) {
      g_.lastDelivered_ = it->first;
      if (!it->second.fields) continue;  // deleted before anyone read it
      g_.pel_[it->first] = {consumer_, 1, g_.clock_.now()};
      out.push_back(g_.entryLocked(it->first));
    }
    return out;
  }

  Result<std::vector<PendingDeliveries>> pendingDeliveries(const std::string& firstId,
                                                           const std::string& lastId,
                                                           int64_t count) override {
    std::lock_guard lk(g_.mu_);
    std::vector<PendingDeliveries> out;
    for (auto it = g_.pel_.lower_bound(seqOf(firstId));
         it != g_.pel_.end() && it->first <= seqOf(lastId) &&
         static_cast<int64_t>(out.size()) < count;
         ++it)
      if (it->second.consumer == consumer_)
        out.push_back({g_.entries_.at(it->first).id, it->second.deliveries});
    return out;
  }

  Result<ClaimPage> claimIdle(int64_t minIdleMs, const std::string& cursor,
                              int64_t count) override {
    std::lock_guard lk(g_.mu_);
    g_.claimTimes_.push_back(g_.clock_.now());
    ClaimPage page;
    const MonoTime now = g_.clock_.now();
    auto it = g_.pel_.lower_bound(seqOf(cursor));
    while (it != g_.pel_.end() && static_cast<int64_t>(page.entries.size()) < count) {
      if (now - it->second.lastDelivery < millis(minIdleMs)) {
        ++it;
        continue;
      }
      const auto& entry = g_.entries_.at(it->first);
      if (!entry.fields) {
        page.deletedIds.push_back(entry.id);
        it = g_.pel_.erase(it);
        continue;
      }
      it->second = {consumer_, it->second.deliveries + 1, now};
      page.entries.push_back(g_.entryLocked(it->first));
      page.entries.back().deliveries = it->second.deliveries;
      ++it;
    }
    page.nextCursor = it == g_.pel_.end() ? "0-0" : g_.entries_.at(it->first).id;
    return page;
  }

  Result<bool> touch(const std::vector<std::string>& ids) override {
    std::lock_guard lk(g_.mu_);
    g_.touches_.push_back(ids);
    for (const auto& id : ids) {
      auto it = g_.pel_.find(seqOf(id));
      if (it != g_.pel_.end()) it->second = {consumer_, it->second.deliveries, g_.clock_.now()};
    }
    return true;
  }

  Result<AckReceipt> deadLetterAndAck(const std::vector<DeadLetter>& deadLetters,
                                      const std::vector<std::string>& ackIds) override {
    std::lock_guard lk(g_.mu_);
    g_.ackCalls_.push_back({deadLetters, ackIds, false});
    if (g_.failRoundTrips_ > 0) {
      --g_.failRoundTrips_;
      g_.ackCalls_.back().failed = true;
      return makeError(Errc::kIo, "connection reset");
    }
    AckReceipt r;
    for (const auto& d : deadLetters) {
      if (g_.refuseDeadLetters_) {
        r.deadLetters.push_back(makeError(Errc::kServer, "ERR dead-letter stream refused"));
        continue;
      }
      g_.deadLetters_.push_back(d.fields);
      r.deadLetters.push_back({});
    }
    int64_t n = 0;
    for (const auto& id : ackIds) {
      g_.acked_.push_back(id);
      n += static_cast<int64_t>(g_.pel_.erase(seqOf(id)));
    }
    r.acked = n;
    return r;
  }

  Result<std::optional<GroupGauges>> gauges() override {
    std::lock_guard lk(g_.mu_);
    ++g_.gaugeCalls_;
    if (!g_.groupExists_ && g_.entries_.empty()) return makeError(Errc::kNotFound, "no such key");
    if (!g_.groupExists_) return std::optional<GroupGauges>();
    GroupGauges gg;
    gg.pending = static_cast<int64_t>(g_.pel_.size());
    if (g_.lag_)
      gg.lag = *g_.lag_;
    else
      gg.lag = static_cast<int64_t>(
          std::distance(g_.entries_.upper_bound(g_.lastDelivered_), g_.entries_.end()));
    return std::optional<GroupGauges>(gg);
  }

  Duration retryDelay() const override { return Duration::zero(); }

 private:
  FakeConsumerGroup& g_;
  std::string consumer_;
};

std::unique_ptr<ConsumerGroupPort> FakeConsumerGroup::open(const std::string& consumer) {
  return std::make_unique<Port>(*this, consumer);
}

std::string FakeConsumerGroup::add(Fields fields) {
  std::lock_guard lk(mu_);
  const int64_t seq = nextSeq_++;
  std::string id = std::to_string(seq) + "-0";
  entries_[seq] = {id, std::move(fields)};
  added_.notify_all();
  return id;
}

void FakeConsumerGroup::createGroup() {
  std::lock_guard lk(mu_);
  groupExists_ = true;
}

std::vector<std::string> FakeConsumerGroup::deliverNew(const std::string& consumer, int64_t n) {
  std::lock_guard lk(mu_);
  std::vector<std::string> ids;
  for (auto it = entries_.upper_bound(lastDelivered_);
       it != entries_.end() && static_cast<int64_t>(ids.size()) < n; ++it) {
    lastDelivered_ = it->first;
    pel_[it->first] = {consumer, 1, clock_.now()};
    ids.push_back(it->second.id);
  }
  return ids;
}

void FakeConsumerGroup::claimFor(const std::string& consumer, const std::string& id) {
  std::lock_guard lk(mu_);
  auto& row = pel_.at(seqOf(id));
  row = {consumer, row.deliveries + 1, clock_.now()};
}

void FakeConsumerGroup::deleteEntry(const std::string& id) {
  std::lock_guard lk(mu_);
  entries_.at(seqOf(id)).fields.reset();
}

void FakeConsumerGroup::destroyGroup() {
  std::lock_guard lk(mu_);
  groupExists_ = false;
  pel_.clear();
  lastDelivered_ = 0;
}

void FakeConsumerGroup::failRoundTrips(int n) {
  std::lock_guard lk(mu_);
  failRoundTrips_ = n;
}

void FakeConsumerGroup::refuseDeadLetters(bool on) {
  std::lock_guard lk(mu_);
  refuseDeadLetters_ = on;
}

void FakeConsumerGroup::reportLag(std::optional<int64_t> lag) {
  std::lock_guard lk(mu_);
  lag_ = lag;
}

std::map<std::string, FakeConsumerGroup::PendingRow> FakeConsumerGroup::pending() const {
  std::lock_guard lk(mu_);
  std::map<std::string, PendingRow> out;
  for (const auto& [seq, row] : pel_) out[entries_.at(seq).id] = row;
  return out;
}

std::vector<FakeConsumerGroup::Fields> FakeConsumerGroup::deadLetters() const {
  std::lock_guard lk(mu_);
  return deadLetters_;
}

std::vector<FakeConsumerGroup::AckCall> FakeConsumerGroup::ackCalls() const {
  std::lock_guard lk(mu_);
  return ackCalls_;
}

std::vector<std::string> FakeConsumerGroup::acked() const {
  std::lock_guard lk(mu_);
  return acked_;
}

std::vector<MonoTime> FakeConsumerGroup::claimTimes() const {
  std::lock_guard lk(mu_);
  return claimTimes_;
}

std::vector<std::vector<std::string>> FakeConsumerGroup::touches() const {
  std::lock_guard lk(mu_);
  return touches_;
}

int FakeConsumerGroup::gaugeCalls() const {
  std::lock_guard lk(mu_);
  return gaugeCalls_;
}

}  // namespace shoal::testing
