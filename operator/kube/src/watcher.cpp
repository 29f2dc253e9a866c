// The list/watch state machine (see watcher.h for states and transitions).
#include "shoal/kube/watcher.h"

#include <algorithm>

#include "shoal/common/log.h"

namespace shoal::kube {

bool sleepInterruptible(Clock& clock, Duration d, const std::stop_token& stop) {
  const Duration slice = millis(100);
  MonoTime end = clock.now() + d;
  while (!stop.stop_requested()) {
    MonoTime now = clock.now();
    if (now >= end) return true;
    clock.sleepFor(std::min(slice, end - now));
  }
  return false;
}

Watcher::Watcher(Client& client, Clock& clock, WatcherOptions opts, WatchSink& sink,
                 uint64_t seed)
    : client_(client),
      clock_(clock),
      opts_(std::move(opts)),
      sink_(sink),
      backoff_(opts_.backoffBase, opts_.backoffMax, seed) {}

const char* Watcher::stateName(State s) {
  switch (s) {
    case State::kList: return "List";
    case State::kWatch: return "Watch";
    case State::kBackoff: return "Backoff";
    case State::kStopped: return "Stopped";
  }
  return "?";
}

std::string Watcher::resourceVersion() const {
  std::lock_guard<std::mutex> l(rvMu_);
  return rv_;
}

void Watcher::setRv(const std::string& rv) {
  std::lock_guard<std::mutex> l(rvMu_);
  rv_ = rv;
}

Watcher::State Watcher::step(std::stop_token stop) {
  if (stop.stop_requested()) {
    state_ = State::kStopped;
    return State::kStopped;
  }
  State next = State::kStopped;
  switch (state_.load()) {
    case State::kList: next = doList(stop); break;
    case State::kWatch: next = doWatch(stop); break;
    case State::kBackoff: next = doBackoff(stop); break;
    case State::kStopped: next = State::kStopped; break;
  }
  if (stop.stop_requested()) next = State::kStopped;
  state_ = next;
  return next;
}

void Watcher::run(std::stop_token stop) {
  while (step(stop) != State::kStopped) {
  }
}

Watcher::State Watcher::doList(std::stop_token stop) {
  ListOptions lo;
  lo.labelSelector = opts_.labelSelector;
  lo.fieldSelector = opts_.fieldSelector;
  auto res = client_.listAll(opts_.resource, opts_.ns, lo, opts_.pageSize);
  if (!res) {
    ++errors_;
    log::warn("watcher: list failed",
              {{"resource", opts_.resource.plural}, {"error", res.error().describe()}});
    afterBackoff_ = State::kList;
    return State::kBackoff;
  }
  ++relists_;
  backoff_.reset();
  setRv(res->resourceVersion);
  sink_.onList(std::move(res->items), res->resourceVersion);
  return State::kWatch;
}

Watcher::State Watcher::doWatch(std::stop_token stop) {
  WatchOptions wo;
  wo.resourceVersion = resourceVersion();
  wo.labelSelector = opts_.labelSelector;
  wo.fieldSelector = opts_.fieldSelector;
  wo.allowBookmarks = true;
  wo.timeoutSeconds = opts_.watchTimeoutSeconds;
  bool gone = false;
  std::optional<ApiError> eventError;
  int64_t delivered = 0;
  int64_t seen = 0;  // events and bookmarks
  ++watches_;
  auto res = client_.watch(
      opts_.resource, opts_.ns, wo,
      [&](const WatchEvent& ev) {
        switch (ev.type) {
          case WatchEvent::Type::kError: {
            ApiError e = ev.statusError();
            if (e.isGone()) gone = true;
            else eventError = e;
            return false;
          }
          case WatchEvent::Type::kBookmark: {
            ++seen;
            std::string rv = resourceVersionOf(ev.object);
            if (!rv.empty()) setRv(rv);
            return true;
          }
          default: {
            std::string rv = resourceVersionOf(ev.object);
            sink_.onEvent(ev);
            if (!rv.empty()) setRv(rv);
            ++delivered;
            ++seen;
            return true;
          }
        }
      },
      stop);
  if (stop.stop_requested()) return State::kStopped;
  if (!res && res.error().isGone()) gone = true;
  if (gone) {
    log::info("watcher: resourceVersion too old, relisting",
              {{"resource", opts_.resource.plural}, {"resourceVersion", resourceVersion()}});
    return State::kList;
  }
  if (eventError || !res) {
    ++errors_;
    ApiError e = eventError ? *eventError : res.error();
    log::warn("watcher: watch failed",
              {{"resource", opts_.resource.plural}, {"error", e.describe()}});
    afterBackoff_ = State::kWatch;
    return State::kBackoff;
  }
  if (delivered > 0) backoff_.reset();
  if (seen == 0) {
    // Ended without a single event or bookmark: pause a little before
    // resuming so a server that keeps closing streams is not hammered.
    afterBackoff_ = State::kWatch;
    return State::kBackoff;
  }
  return State::kWatch;  // the server ended the stream: resume from the last rv
}

Watcher::State Watcher::doBackoff(std::stop_token stop) {
  Duration d = backoff_.next();
  if (!sleepInterruptible(clock_, d, stop)) return State::kStopped;
  return afterBackoff_;
}

}  // namespace shoal::kube
