// Work queue with dedup, per-key serialization, per-key backoff and delayed
// requeue on the injected clock (see work_queue.h).
#include "shoal/kube/work_queue.h"

#include <algorithm>

namespace shoal::kube {

WorkQueue::WorkQueue(Clock& clock, Duration baseDelay, Duration maxDelay)
    : clock_(clock), base_(baseDelay), max_(maxDelay) {}

WorkQueue::~WorkQueue() { shutdown(); }

void WorkQueue::addLocked(const std::string& key) {
  if (shutdown_) return;
  if (processing_.count(key)) {
    dirtyWhileProcessing_.insert(key);
    return;
  }
  if (queued_.insert(key).second) {
    queue_.push_back(key);
    cv_.notify_one();
  }
}

void WorkQueue::add(const std::string& key) {
  std::lock_guard<std::mutex> l(mu_);
  delayed_.erase(key);
  addLocked(key);
}

void WorkQueue::addAfter(const std::string& key, Duration d) {
  if (d <= Duration::zero()) {
    add(key);
    return;
  }
  std::lock_guard<std::mutex> l(mu_);
  if (shutdown_) return;
  if (queued_.count(key)) return;  // already due now
  MonoTime due = clock_.now() + d;
  auto it = delayed_.find(key);
  if (it == delayed_.end() || due < it->second) delayed_[key] = due;
  cv_.notify_all();  // a sleeping get() may need to wake earlier
}

void WorkQueue::addRateLimited(const std::string& key) {
  Duration d;
  {
    std::lock_guard<std::mutex> l(mu_);
    int n = failures_[key]++;
    d = base_;
    for (int i = 0; i < n && d < max_; ++i) d *= 2;
    d = std::min(d, max_);
  }
  addAfter(key, d);
}

void WorkQueue::forget(const std::string& key) {
  std::lock_guard<std::mutex> l(mu_);
  failures_.erase(key);
}

int WorkQueue::failures(const std::string& key) const {
  std::lock_guard<std::mutex> l(mu_);
  auto it = failures_.find(key);
  return it == failures_.end() ? 0 : it->second;
}

void WorkQueue::promoteDueLocked() {
  MonoTime now = clock_.now();
  std::vector<std::pair<MonoTime, std::string>> due;
  for (auto it = delayed_.begin(); it != delayed_.end();) {
    if (it->second <= now) {
      due.emplace_back(it->second, it->first);
      it = delayed_.erase(it);
    } else {
      ++it;
    }
  }
  std::sort(due.begin(), due.end());
  for (const auto& [t, k] : due) addLocked(k);
}

std::optional<std::string> WorkQueue::tryGet() {
  std::lock_guard<std::mutex> l(mu_);
  promoteDueLocked();
  if (queue_.empty() || shutdown_) return std::nullopt;
  std::string k = std::move(queue_.front());
  queue_.pop_front();
  queued_.erase(k);
  processing_.insert(k);
  return k;
}

std::optional<std::string> WorkQueue::get(std::stop_token stop) {
  // Registered before taking the lock: if stop already fired, the callback
  // runs right here and needs the lock itself.
  std::stop_callback wake(stop, [this] {
    std::lock_guard<std::mutex> g(mu_);
    cv_.notify_all();
  });
  std::unique_lock<std::mutex> l(mu_);
  for (;;) {
    if (shutdown_ || stop.stop_requested()) return std::nullopt;
    promoteDueLocked();
    if (!queue_.empty()) {
      std::string k = std::move(queue_.front());
      queue_.pop_front();
      queued_.erase(k);
      processing_.insert(k);
      return k;
    }
    // Delays are on the injected clock, which may not be the real one: wake
    // at least every 50 ms of real time to look again.
    auto wait = std::chrono::milliseconds(50);
    if (!delayed_.empty()) {
      MonoTime next = MonoTime::max();
      for (const auto& [k, t] : delayed_) next = std::min(next, t);
      auto left = std::chrono::duration_cast<std::chrono::milliseconds>(next - clock_.now());
      wait = std::clamp(left, std::chrono::milliseconds(1), wait);
    }
    cv_.wait_for(l, wait);
  }
}

void WorkQueue::done(const std::string& key) {
  std::lock_guard<std::mutex> l(mu_);
  processing_.erase(key);
  if (dirtyWhileProcessing_.erase(key)) addLocked(key);
}

void WorkQueue::shutdown() {
  std::lock_guard<std::mutex> l(mu_);
  shutdown_ = true;
  cv_.notify_all();
}

bool WorkQueue::shuttingDown() const {
  std::lock_guard<std::mutex> l(mu_);
  return shutdown_;
}

size_t WorkQueue::len() const {
  std::lock_guard<std::mutex> l(mu_);
  return queue_.size();
}

size_t WorkQueue::delayedLen() const {
  std::lock_guard<std::mutex> l(mu_);
  return delayed_.size();
}

std::optional<MonoTime> WorkQueue::nextDue() const {
  std::lock_guard<std::mutex> l(mu_);
  if (delayed_.empty()) return std::nullopt;
  MonoTime next = MonoTime::max();
  for (const auto& [k, t] : delayed_) next = std::min(next, t);
  return next;
}

InformerHandler enqueueHandler(WorkQueue& q) {
  return [&q](const ObjectPtr& o, const ObjectPtr& n) {
    const ObjectPtr& obj = n ? n : o;
    if (obj) q.add(keyOf(*obj));
  };
}

InformerHandler enqueueOwnerHandler(WorkQueue& q, const std::string& ownerKind,
                                    const std::string& ownerApiGroup) {
  return [&q, ownerKind, ownerApiGroup](const ObjectPtr& o, const ObjectPtr& n) {
    auto enqueueOwner = [&](const ObjectPtr& obj) {
      if (!obj) return;
      auto owner = controllerOwnerOf(*obj);
      if (!owner) return;
      if (owner->value("kind", "") != ownerKind) return;
      if (!ownerApiGroup.empty()) {
        std::string av = owner->value("apiVersion", "");
        auto slash = av.find('/');
        std::string group = slash == std::string::npos ? "" : av.substr(0, slash);
        if (group != ownerApiGroup) return;
      }
      std::string name = owner->value("name", "");
      if (!name.empty()) q.add(makeKey(namespaceOf(*obj), name));
    };
    enqueueOwner(n);
    // The owner may have changed (or the object was deleted): tell the old one too.
    if (o && (!n || controllerOwnerOf(*o) != controllerOwnerOf(*n))) enqueueOwner(o);
  };
}

ReconcileWorkers::ReconcileWorkers(WorkQueue& q, Reconcile fn, int workers)
    : q_(q), fn_(std::move(fn)) {
  for (int i = 0; i < workers; ++i) {
    threads_.emplace_back([this](std::stop_token st) {
      while (auto key = q_.get(st)) {
        ReconcileOutcome out;
        try {
          out = fn_(*key);
        } catch (...) {
          out = ReconcileOutcome::failed();  // a reconcile must not kill the worker
        }
        if (!out.ok) {
          q_.addRateLimited(*key);
        } else {
          q_.forget(*key);
          if (out.requeueAfter) q_.addAfter(*key, *out.requeueAfter);
        }
        q_.done(*key);
      }
    });
  }
}

ReconcileWorkers::~ReconcileWorkers() { stop(); }

void ReconcileWorkers::stop() {
  q_.shutdown();
  for (auto& t : threads_) {
    if (t.joinable()) {
      t.request_stop();
      t.join();
    }
  }
}

}  // namespace shoal::kube
