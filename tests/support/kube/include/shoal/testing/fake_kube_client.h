// In-memory Kubernetes API for unit tests of controllers: a Client that keeps
// objects per resource, assigns uid/resourceVersion/generation, enforces
// optimistic concurrency (409), AlreadyExists, NotFound, finalizers
// (deletionTimestamp), the status and scale subresources, merge / JSON
// (with "test") / apply patches (apply approximated as a merge of the
// intent), equality label selectors, paging, and watches fed from an event
// log. Errors can be injected per verb. Thread-safe.
#pragma once

#include <condition_variable>
#include <cstdint>
#include <deque>
#include <functional>
#include <map>
#include <mutex>
#include <optional>
#include <string>
#include <vector>

#include "shoal/kube/client.h"

namespace shoal::kube {

/// \brief Fake API server in memory. Thread-safe.
class FakeClient : public Client {
 public:
  FakeClient() = default;

  ApiResult<Json> get(const Resource& r, const std::string& ns, const std::string& name,
                      const std::string& subresource = "") override;
  ApiResult<ListPage> list(const Resource& r, const std::string& ns,
                           const ListOptions& opts = {}) override;
  ApiResult<void> watch(const Resource& r, const std::string& ns, const WatchOptions& opts,
                        const WatchHandler& handler, std::stop_token stop = {}) override;
  ApiResult<Json> create(const Resource& r, const std::string& ns, const Json& obj,
                         const WriteOptions& opts = {}) override;
  ApiResult<Json> update(const Resource& r, const std::string& ns, const std::string& name,
                         const Json& obj, const std::string& subresource = "",
                         const WriteOptions& opts = {}) override;
  ApiResult<Json> patch(const Resource& r, const std::string& ns, const std::string& name,
                        PatchType type, const Json& body, const PatchOptions& opts = {},
                        const std::string& subresource = "") override;
  ApiResult<Json> remove(const Resource& r, const std::string& ns, const std::string& name,
                         const DeleteOptions& opts = {}) override;

  /// The next call of `verb` ("get", "list", "watch", "create", "update",
  /// "patch", "delete") fails with err (queued: several calls fail in order).
  void failNext(const std::string& verb, ApiError err);
  /// Number of calls per verb so far.
  int calls(const std::string& verb) const;
  /// Every write as "verb resource ns/name[/sub]" in order.
  std::vector<std::string> writeLog() const;
  /// Current resourceVersion counter.
  int64_t resourceVersion() const;
  /// Forget watch history older than now: watches from an older rv get 410.
  void compact();
  /// Ends every open watch (as if the server closed the streams).
  void closeWatches();
  /// Direct access for assertions (nullopt if absent).
  std::optional<Json> object(const Resource& r, const std::string& ns,
                             const std::string& name) const;

 private:
  struct LoggedEvent {
    int64_t rv;
    std::string resKey;  // group/plural
    std::string ns;
    WatchEvent ev;
  };
  static std::string resKey(const Resource& r) { return r.group + "/" + r.plural; }
  std::string objKey(const Resource& r, const std::string& ns, const std::string& name) const;
  std::optional<ApiError> takeFailure(const std::string& verb);
  ApiResult<Json> putLocked(const Resource& r, const std::string& ns, const std::string& name,
                            Json obj, const std::string& subresource, bool checkRv,
                            const std::string& verb);
  void emitLocked(const Resource& r, const std::string& ns, WatchEvent::Type t, const Json& obj);

  mutable std::mutex mu_;
  std::condition_variable cv_;
  std::map<std::string, Json> objects_;  // resKey|ns|name -> object
  std::deque<LoggedEvent> log_;
  int64_t compactedBefore_ = 0;
  int64_t rv_ = 1000;
  int64_t uidSeq_ = 0;
  int64_t watchEpoch_ = 0;
  std::map<std::string, std::deque<ApiError>> failures_;
  std::map<std::string, int> calls_;
  std::vector<std::string> writes_;
};

/// Whether obj's labels match an equality selector ("a=b,c!=d,e,!f").
bool matchesLabelSelector(const Json& obj, const std::string& selector);

}  // namespace shoal::kube
