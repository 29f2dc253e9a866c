// A small harness for fault scenarios: a Redis stream preloaded with known
// entries, the bulk endpoint, N shoal-worker processes that can be killed and
// replaced, and the end-of-run accounting every scenario must pass:
// every entry delivered (by id), no duplicates, nothing pending, the
// dead-letter stream holding only genuinely bad entries.
#pragma once

#include <memory>
#include <set>
#include <string>
#include <vector>

#include "shoal/testing/process.h"
#include "shoal/testing/servers.h"

namespace shoal::chaos {

/// Whether the long form was asked for (SHOAL_CHAOS=long).
bool longForm();

/// shoal-bulk-server as a child process on a free port.
class BulkServer {
 public:
  /// `threads`: request threads. Each keep-alive client connection holds one
  /// for as long as it stays open, so many workers need more than the default.
  explicit BulkServer(int threads = 8);
  int port() const { return port_; }
  std::string url() const { return "http://127.0.0.1:" + std::to_string(port_); }
  testing::Process& process() { return proc_; }
  /// POST a JSON body to a /_shoal control endpoint; true on 2xx.
  bool control(const std::string& method, const std::string& path, const std::string& body = "");
  /// Stored document ids of an index.
  std::set<std::string> ids(const std::string& index);
  int64_t conflicts();

 private:
  testing::TempDir dir_;
  int port_ = 0;
  testing::Process proc_;
};

struct Tally {
  int64_t sent = 0;
  int64_t delivered = 0;     // distinct entry ids stored in the sink
  int64_t duplicates = 0;    // documents stored twice for one entry (must be 0)
  int64_t lost = 0;          // sent, neither delivered nor dead-lettered
  int64_t deadLettered = 0;  // entries in the dead-letter stream
  int64_t pending = 0;       // the group's pending list at the end
  int64_t redelivered = 0;   // 409 conflicts: redeliveries the sink absorbed
  std::string line(const std::string& scenario) const;
};

/// The end-of-run accounting every scenario shares. `deliveredIds` are the
/// stream entry ids the sink holds, `duplicates` what the sink holds twice;
/// sent ids come from the stream itself, dead-lettered ones from
/// `<stream>:dead` (field shoal.original_id), pending from the group.
Tally account(testing::RedisServer& redis, const std::string& stream, const std::string& group,
              const std::set<std::string>& deliveredIds, int64_t duplicates);

/// Entries of the group still pending (-1 if Redis cannot be read).
int64_t pendingCount(testing::RedisServer& redis, const std::string& stream,
                     const std::string& group);
/// Length of `<stream>:dead` (0 if absent or unreadable).
int64_t deadLetterCount(testing::RedisServer& redis, const std::string& stream);

/// XADDs one entry per payload (field `field`) in pipelined rounds; returns
/// the entry ids Redis assigned, in order. Throws if Redis refuses.
std::vector<std::string> addEntries(testing::RedisServer& redis, const std::string& stream,
                                    const std::string& field,
                                    const std::vector<std::string>& payloads);

/// Splits the bulk sink's document ids ("<stream>/<entry id>") of `stream`
/// into entry ids; documents of any other shape count as `foreign`.
std::set<std::string> entryIdsOf(const std::set<std::string>& docIds, const std::string& stream,
                                 int64_t* foreign);

class Scenario {
 public:
  struct Options {
    testing::RedisServer::Options redis;
    std::string stream = "chaos";
    std::string index = "logs-chaos";
    int64_t claimMinIdleMs = 1000;
    int64_t readTimeoutMs = 1000;
    int64_t sinkTimeoutMs = 2000;
  };
  explicit Scenario(Options o);
  ~Scenario();

  testing::RedisServer& redis() { return *redis_; }
  BulkServer& sink() { return sink_; }
  /// XADDs n JSON log entries (via shoal-loadgen, so ids are Redis's).
  void preload(int64_t n, int64_t invalidEvery = 0);
  /// Starts one more worker; returns its index.
  size_t startWorker();
  size_t workerCount() const { return workers_.size(); }
  /// kill -9 of worker i (and forget it).
  void killWorker(size_t i);
  bool workerAlive(size_t i);
  /// SIGTERM every worker; returns false if one did not exit 0 in time.
  bool stopWorkers();
  /// Entries the sink holds (distinct ids of this stream).
  int64_t deliveredCount();
  int64_t deadLetterCount();
  int64_t pendingCount();
  /// Waits until every sent entry is delivered or dead-lettered and the
  /// pending list is empty.
  bool waitSettled(std::chrono::milliseconds deadline);
  Tally tally();
  int64_t sent() const { return sent_; }
  std::string logs() const;

 private:
  std::string writeConfig();
  Options opts_;
  testing::TempDir dir_;
  std::unique_ptr<testing::RedisServer> redis_;
  BulkServer sink_;
  std::string configPath_;
  std::vector<std::unique_ptr<testing::Process>> workers_;
  int64_t sent_ = 0;
  int nextWorker_ = 0;
};

}  // namespace shoal::chaos
