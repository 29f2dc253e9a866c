// The list-then-watch state machine that keeps a local view of one resource
// type in sync with the API server (what kube-runtime's watcher and
// client-go's Reflector do).
//
// States and transitions:
//   kList  --list ok (all pages)------------------> kWatch (rv = list rv), sink.onList(items)
//   kList  --error--------------------------------> kBackoff -> kList
//   kWatch --stream ended / handler/stop----------> kWatch (resume from the last seen rv)
//   kWatch --BOOKMARK-----------------------------> kWatch (rv advances, no sink call)
//   kWatch --410 (HTTP status or ERROR event)-----> kList  (relist: the rv is too old)
//   kWatch --other error (transport, 5xx, ...)----> kBackoff -> kWatch (same rv)
//   any    --stop token---------------------------> kStopped
// Backoff is exponential with jitter and resets after a successful list or a
// watch that delivered events. Waiting uses the injected Clock in short slices
// so a stop request is honoured promptly.
#pragma once

#include <atomic>
#include <cstdint>
#include <functional>
#include <mutex>
#include <stop_token>
#include <string>
#include <vector>

#include "shoal/common/backoff.h"
#include "shoal/common/clock.h"
#include "shoal/kube/client.h"

namespace shoal::kube {

/// \brief Receives what the watcher learns. Called on the watcher's thread.
class WatchSink {
 public:
  virtual ~WatchSink() = default;
  /// A full list (after start or a relist): replaces the whole view.
  virtual void onList(std::vector<Json> items, const std::string& resourceVersion) = 0;
  /// ADDED, MODIFIED or DELETED after the list.
  virtual void onEvent(const WatchEvent& ev) = 0;
};

struct WatcherOptions {
  Resource resource;
  std::string ns;              // "" = all namespaces (namespaced resources)
  std::string labelSelector;
  std::string fieldSelector;
  int64_t pageSize = 500;
  int watchTimeoutSeconds = 300;
  Duration backoffBase = millis(200);
  Duration backoffMax = seconds(30);
};

/// \brief Explicit list/watch state machine. step() is one transition, run()
/// loops until stopped. Not thread-safe except the accessors.
class Watcher {
 public:
  enum class State { kList, kWatch, kBackoff, kStopped };

  Watcher(Client& client, Clock& clock, WatcherOptions opts, WatchSink& sink,
          uint64_t seed = 0x5eed);

  /// Performs one transition from the current state and returns the new one.
  State step(std::stop_token stop = {});
  /// Steps until the stop token fires.
  void run(std::stop_token stop);

  State state() const { return state_.load(); }
  std::string resourceVersion() const;
  int64_t relists() const { return relists_.load(); }
  int64_t watchesStarted() const { return watches_.load(); }
  int64_t errors() const { return errors_.load(); }
  const WatcherOptions& options() const { return opts_; }
  static const char* stateName(State s);

 private:
  State doList(std::stop_token stop);
  State doWatch(std::stop_token stop);
  State doBackoff(std::stop_token stop);
  void setRv(const std::string& rv);

  Client& client_;
  Clock& clock_;
  WatcherOptions opts_;
  WatchSink& sink_;
  Backoff backoff_;
  std::atomic<State> state_{State::kList};
  State afterBackoff_ = State::kList;
  mutable std::mutex rvMu_;
  std::string rv_;
  std::atomic<int64_t> relists_{0}, watches_{0}, errors_{0};
};

/// Sleeps on `clock` for d in slices, returning early (false) if stop fires.
bool sleepInterruptible(Clock& clock, Duration d, const std::stop_token& stop);

}  // namespace shoal::kube
