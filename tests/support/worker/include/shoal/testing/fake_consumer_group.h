// An in-memory consumer group behind ConsumerGroupPort, for unit tests of the
// consumer loop's logic: a stream of entries (payloads can be deleted), the
// group's last-delivered id, and its pending list (owner, delivery count,
// last delivery on the injected clock), with the Redis 7 semantics the loop
// relies on: ">" delivers new entries (count 1), re-reading own pending
// entries and claiming both count a delivery (a re-read of a deleted entry
// does not), XAUTOCLAIM drops ids whose payload is gone, XACK removes and
// counts what was pending. The port's contract test
// (tests/integration/worker/consumer_group_port_contract_test.cpp) runs the
// same cases against this and real Redis. It records every call and can fail
// round trips or refuse dead-letter copies. Thread-safe (the loop's parts use
// their ports on different threads).
#pragma once

#include <condition_variable>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "shoal/common/clock.h"
#include "shoal/worker/consumer_group_port.h"

namespace shoal::testing {

class FakeConsumerGroup {
 public:
  using Fields = std::vector<std::pair<std::string, std::string>>;

  /// One deadLetterAndAck call as the port received it.
  struct AckCall {
    std::vector<DeadLetter> deadLetters;
    std::vector<std::string> ackIds;
    bool failed = false;  // answered with an I/O error
  };
  struct PendingRow {
    std::string consumer;
    int64_t deliveries = 0;
    MonoTime lastDelivery{};
  };

  explicit FakeConsumerGroup(Clock& clock) : clock_(clock) {}

  /// A port for consumer `consumer` (one per part of the loop).
  std::unique_ptr<ConsumerGroupPort> open(const std::string& consumer);

  // ---- setting the scene
  /// XADD: returns the new id ("<n>-0").
  std::string add(Fields fields);
  /// Creates the group (at "0": every entry is new to it).
  void createGroup();
  /// XREADGROUP ... > by `consumer` (a pod that then died): up to n new entries.
  std::vector<std::string> deliverNew(const std::string& consumer, int64_t n);
  /// XCLAIM id by `consumer`: one more delivery.
  void claimFor(const std::string& consumer, const std::string& id);
  /// XDEL: the payload is gone; the id stays pending where it was.
  void deleteEntry(const std::string& id);
  /// XGROUP DESTROY: the group and its pending list are gone.
  void destroyGroup();

  // ---- failures
  void failRoundTrips(int n);                  // the next n deadLetterAndAck calls fail with kIo
  void refuseDeadLetters(bool on);             // dead-letter copies are refused (kServer)
  void reportLag(std::optional<int64_t> lag);  // what gauges() says of lag (default: computed)

  // ---- inspection
  std::map<std::string, PendingRow> pending() const;
  std::vector<Fields> deadLetters() const;
  std::vector<AckCall> ackCalls() const;
  std::vector<std::string> acked() const;    // ids acknowledged, in order
  std::vector<MonoTime> claimTimes() const;  // clock time of each claimIdle call
  std::vector<std::vector<std::string>> touches() const;
  int gaugeCalls() const;

 private:
  class Port;
  struct Entry {
    std::string id;
    std::optional<Fields> fields;  // nullopt: deleted
  };
  static int64_t seqOf(const std::string& id);
  StreamEntry entryLocked(int64_t seq) const;

  Clock& clock_;
  mutable std::mutex mu_;
  std::condition_variable added_;
  std::map<int64_t, Entry> entries_;
  int64_t nextSeq_ = 1;
  bool groupExists_ = false;
  int64_t lastDelivered_ = 0;
  std::map<int64_t, PendingRow> pel_;
  int failRoundTrips_ = 0;
  bool refuseDeadLetters_ = false;
  std::optional<std::optional<int64_t>> lag_;
  std::vector<Fields> deadLetters_;
  std::vector<AckCall> ackCalls_;
  std::vector<std::string> acked_;
  std::vector<MonoTime> claimTimes_;
  std::vector<std::vector<std::string>> touches_;
  int gaugeCalls_ = 0;
};

}  // namespace shoal::testing
