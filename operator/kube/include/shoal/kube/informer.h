// Informer: a Watcher running on its own thread that keeps an in-memory cache
// of one resource type (keyed "ns/name") and tells handlers about changes.
// Controllers read the cache instead of the API server and enqueue keys from
// the handlers (see enqueueHandler / enqueueOwnerHandler in work_queue.h).
//
// A relist replaces the cache and reports the difference (adds, updates,
// deletes of objects that vanished while we were not watching). Every
// resyncPeriod (on the injected Clock) each cached object is reported again
// as an update with old == new, so level-based controllers revisit everything.
//
// Before an object is cached it passes through the informer's transform (by
// default stripForCache: managedFields and kubectl's last-applied annotation,
// which no controller reads and which make up much of a cached object).
#pragma once

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <thread>
#include <vector>

#include "shoal/common/clock.h"
#include "shoal/kube/client.h"
#include "shoal/kube/watcher.h"

namespace shoal::kube {

using ObjectPtr = std::shared_ptr<const Json>;

/// \brief Change notification: add (old null), update (both), delete (new null).
/// Called on the informer's thread, without the cache lock held.
using InformerHandler = std::function<void(const ObjectPtr& oldObj, const ObjectPtr& newObj)>;

/// \brief Rewrites an object in place before it is cached.
using CacheTransform = std::function<void(Json& obj)>;

/// \brief The default CacheTransform: drops metadata.managedFields and the
/// kubectl.kubernetes.io/last-applied-configuration annotation (an empty
/// annotations map is removed too). Cached objects are only read and never
/// written back whole, so nothing depends on either.
void stripForCache(Json& obj);

/// \brief Thread-safe cache of one resource type fed by a Watcher.
class Informer : private WatchSink {
 public:
  Informer(Client& client, Clock& clock, WatcherOptions opts,
           Duration resyncPeriod = std::chrono::minutes(10));
  ~Informer() override;
  Informer(const Informer&) = delete;
  Informer& operator=(const Informer&) = delete;

  /// Register before start().
  void addHandler(InformerHandler h);
  /// Replaces the transform (stripForCache by default); nullptr keeps objects
  /// as the API server sent them. Set before start().
  void setTransform(CacheTransform t) { transform_ = std::move(t); }
  /// Starts the watch thread (and resync timer).
  void start();
  /// Stops and joins. Idempotent.
  void stop();
  /// True once the first full list has been applied.
  bool hasSynced() const { return synced_.load(); }
  /// Waits (real time) for the first list; false on timeout.
  bool waitForSync(std::chrono::milliseconds deadline);

  ObjectPtr get(const std::string& key) const;
  ObjectPtr get(const std::string& ns, const std::string& name) const {
    return get(makeKey(ns, name));
  }
  std::vector<ObjectPtr> list() const;
  std::vector<ObjectPtr> listNamespace(const std::string& ns) const;
  std::vector<std::string> keys() const;
  size_t size() const;
  const Watcher& watcher() const { return watcher_; }

  /// Reports every cached object as an update now (what the resync timer does).
  void resyncNow();

 private:
  void onList(std::vector<Json> items, const std::string& resourceVersion) override;
  void onEvent(const WatchEvent& ev) override;
  void notify(const ObjectPtr& o, const ObjectPtr& n);

  Clock& clock_;
  Watcher watcher_;
  Duration resync_;
  std::vector<InformerHandler> handlers_;
  CacheTransform transform_ = stripForCache;
  mutable std::mutex mu_;
  std::map<std::string, ObjectPtr> cache_;
  std::atomic<bool> synced_{false};
  std::condition_variable syncCv_;
  std::jthread thread_;
  std::jthread resyncThread_;
};

}  // namespace shoal::kube
