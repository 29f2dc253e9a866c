// Informer: cache fed by a Watcher thread, handlers told of every change, and
// a periodic resync on the injected clock.
#include "shoal/kube/informer.h"

#include <set>

namespace shoal::kube {

void stripForCache(Json& obj) {
  auto md = obj.find("metadata");
  if (md == obj.end() || !md->is_object()) return;
  md->erase("managedFields");
  auto ann = md->find("annotations");
  if (ann != md->end() && ann->is_object()) {
    ann->erase("kubectl.kubernetes.io/last-applied-configuration");
    if (ann->empty()) md->erase(ann);
  }
}

Informer::Informer(Client& client, Clock& clock, WatcherOptions opts, Duration resyncPeriod)
    : clock_(clock), watcher_(client, clock, std::move(opts), *this), resync_(resyncPeriod) {}

Informer::~Informer() { stop(); }

void Informer::addHandler(InformerHandler h) { handlers_.push_back(std::move(h)); }

void Informer::start() {
  if (thread_.joinable()) return;
  thread_ = std::jthread([this](std::stop_token st) { watcher_.run(st); });
  if (resync_ > Duration::zero()) {
    resyncThread_ = std::jthread([this](std::stop_token st) {
      while (sleepInterruptible(clock_, resync_, st)) resyncNow();
    });
  }
}

void Informer::stop() {
  if (resyncThread_.joinable()) {
    resyncThread_.request_stop();
    resyncThread_.join();
  }
  if (thread_.joinable()) {
    thread_.request_stop();
    thread_.join();
  }
}

bool Informer::waitForSync(std::chrono::milliseconds deadline) {
  std::unique_lock<std::mutex> l(mu_);
  return syncCv_.wait_for(l, deadline, [this] { return synced_.load(); });
}

ObjectPtr Informer::get(const std::string& key) const {
  std::lock_guard<std::mutex> l(mu_);
  auto it = cache_.find(key);
  return it == cache_.end() ? nullptr : it->second;
}

std::vector<ObjectPtr> Informer::list() const {
  std::lock_guard<std::mutex> l(mu_);
  std::vector<ObjectPtr> out;
  out.reserve(cache_.size());
  for (const auto& [k, v] : cache_) out.push_back(v);
  return out;
}

std::vector<ObjectPtr> Informer::listNamespace(const std::string& ns) const {
  std::lock_guard<std::mutex> l(mu_);
  std::vector<ObjectPtr> out;
  std::string prefix = ns + "/";
  for (auto it = cache_.lower_bound(prefix); it != cache_.end(); ++it) {
    if (it->first.compare(0, prefix.size(), prefix) != 0) break;
    out.push_back(it->second);
  }
  return out;
}

std::vector<std::string> Informer::keys() const {
  std::lock_guard<std::mutex> l(mu_);
  std::vector<std::string> out;
  for (const auto& [k, v] : cache_) out.push_back(k);
  return out;
}

size_t Informer::size() const {
  std::lock_guard<std::mutex> l(mu_);
  return cache_.size();
}

void Informer::resyncNow() {
  for (const auto& o : list()) notify(o, o);
}

void Informer::notify(const ObjectPtr& o, const ObjectPtr& n) {
  for (const auto& h : handlers_) h(o, n);
}

void Informer::onList(std::vector<Json> items, const std::string& /*resourceVersion*/) {
  std::vector<std::pair<ObjectPtr, ObjectPtr>> changes;
  {
    std::lock_guard<std::mutex> l(mu_);
    std::map<std::string, ObjectPtr> fresh;
    for (auto& item : items) {
      if (transform_) transform_(item);
      std::string k = keyOf(item);
      fresh[k] = std::make_shared<const Json>(std::move(item));
    }
    for (const auto& [k, oldObj] : cache_) {
      if (!fresh.count(k)) changes.emplace_back(oldObj, nullptr);
    }
    for (const auto& [k, newObj] : fresh) {
      auto it = cache_.find(k);
      if (it == cache_.end()) changes.emplace_back(nullptr, newObj);
      else changes.emplace_back(it->second, newObj);
    }
    cache_.swap(fresh);
  }
  if (!synced_.exchange(true)) {
    std::lock_guard<std::mutex> l(mu_);
    syncCv_.notify_all();
  }
  for (const auto& [o, n] : changes) notify(o, n);
}

void Informer::onEvent(const WatchEvent& ev) {
  std::string k = keyOf(ev.object);
  ObjectPtr oldObj, newObj;
  {
    std::lock_guard<std::mutex> l(mu_);
    auto it = cache_.find(k);
    if (it != cache_.end()) oldObj = it->second;
    if (ev.type == WatchEvent::Type::kDeleted) {
      if (it != cache_.end()) cache_.erase(it);
      newObj = nullptr;
      if (!oldObj) oldObj = std::make_shared<const Json>(ev.object);
    } else {
      Json obj = ev.object;
      if (transform_) transform_(obj);
      newObj = std::make_shared<const Json>(std::move(obj));
      cache_[k] = newObj;
    }
  }
  notify(oldObj, newObj);
}

}  // namespace shoal::kube
