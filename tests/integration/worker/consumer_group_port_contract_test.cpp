// The ConsumerGroupPort contract, case by case, against both implementations
// the worker has: the Redis port (openRedisGroupPort) on a real redis-server and the in-memory
// FakeConsumerGroup the loop's unit tests run on. A case that passes on one
// and fails on the other is a fake that lies (or an adapter that does).
#include <gtest/gtest.h>

#include <map>
#include <memory>
#include <string>

#include "shoal/testing/fake_consumer_group.h"
#include "shoal/testing/process.h"
#include "shoal/testing/servers.h"
#include "shoal/worker/redis_group_port.h"

namespace shoal {
namespace {

using Fields = std::vector<std::pair<std::string, std::string>>;
using shoal::testing::FakeConsumerGroup;
using shoal::testing::RedisServer;
using shoal::testing::waitUntil;

struct PendingOwner {
  std::string consumer;
  int64_t deliveries = 0;
  bool operator==(const PendingOwner&) const = default;
};

// A group to test ports on, and the means to set the scene and look at it.
class GroupBackend {
 public:
  virtual ~GroupBackend() = default;
  virtual std::unique_ptr<ConsumerGroupPort> open(const std::string& consumer) = 0;
  virtual std::string add(const std::string& message) = 0;
  virtual void createGroup() = 0;
  /// `consumer` reads up to n new entries (and then dies).
  virtual void deliverNew(const std::string& consumer, int n) = 0;
  virtual void deleteEntry(const std::string& id) = 0;
  /// Lets every pending entry become idle for at least ms.
  virtual void letIdle(int64_t ms) = 0;
  virtual std::vector<Fields> deadLetters() = 0;
  virtual std::map<std::string, PendingOwner> pending() = 0;
  virtual void refuseDeadLetters() = 0;
};

RedisSourceConfig sourceConfig(int port) {
  RedisSourceConfig c;
  c.host = "127.0.0.1";
  c.port = port;
  c.stream = "events";
  c.consumerGroup = "g";
  c.startId = "0";
  c.deadLetterStream = "events:dead";
  return c;
}

class RedisBackend final : public GroupBackend {
 public:
  explicit RedisBackend(RedisServer& server)
      : cfg_(sourceConfig(server.port())), client_(redisOptions(cfg_), SystemClock::instance()) {
    server.cli("FLUSHALL");
  }
  std::unique_ptr<ConsumerGroupPort> open(const std::string& consumer) override {
    return openRedisGroupPort(cfg_, consumer, SystemClock::instance());
  }
  std::string add(const std::string& message) override {
    auto id = client_.add(cfg_.stream, {{"message", message}});
    EXPECT_TRUE(id.ok());
    return id.ok() ? *id : std::string();
  }
  void createGroup() override {
    ASSERT_TRUE(client_.createGroup(cfg_.stream, cfg_.consumerGroup, "0").ok());
  }
  void deliverNew(const std::string& consumer, int n) override {
    ASSERT_TRUE(client_.readGroup(cfg_.stream, cfg_.consumerGroup, consumer, ">", n, -1).ok());
  }
  void deleteEntry(const std::string& id) override {
    ASSERT_TRUE(client_.command({"XDEL", cfg_.stream, id}).ok());
  }
  void letIdle(int64_t ms) override {
    const auto total = static_cast<size_t>(pending().size());
    ASSERT_TRUE(waitUntil([&] {
      auto rows = client_.pendingRange(cfg_.stream, cfg_.consumerGroup, "-", "+", 1000, "", ms);
      return rows.ok() && rows->size() == total;
    }));
  }
  std::vector<Fields> deadLetters() override {
    auto r = client_.command({"XRANGE", cfg_.deadLetterStream, "-", "+"});
    std::vector<Fields> out;
    if (!r.ok() || r->isError()) return out;
    auto d = redis::decodeEntries(*r);
    if (d.ok())
      for (auto& e : *d) out.push_back(e.fields);
    return out;
  }
  std::map<std::string, PendingOwner> pending() override {
    std::map<std::string, PendingOwner> out;
    auto rows = client_.pendingRange(cfg_.stream, cfg_.consumerGroup, "-", "+", 1000);
    if (rows.ok())
      for (const auto& r : *rows) out[r.id] = {r.consumer, r.deliveries};
    return out;
  }
  void refuseDeadLetters() override {
    // A key of the wrong type: XADD answers WRONGTYPE.
    ASSERT_TRUE(client_.command({"SET", cfg_.deadLetterStream, "not a stream"}).ok());
  }

 private:
  RedisSourceConfig cfg_;
  redis::Client client_;
};

class FakeBackend final : public GroupBackend {
 public:
  std::unique_ptr<ConsumerGroupPort> open(const std::string& consumer) override {
    return group_.open(consumer);
  }
  std::string add(const std::string& message) override {
    return group_.add({{"message", message}});
  }
  void createGroup() override { group_.createGroup(); }
  void deliverNew(const std::string& consumer, int n) override { group_.deliverNew(consumer, n); }
  void deleteEntry(const std::string& id) override { group_.deleteEntry(id); }
  void letIdle(int64_t ms) override { clock_.advance(millis(ms)); }
  std::vector<Fields> deadLetters() override { return group_.deadLetters(); }
  std::map<std::string, PendingOwner> pending() override {
    std::map<std::string, PendingOwner> out;
    for (const auto& [id, row] : group_.pending()) out[id] = {row.consumer, row.deliveries};
    return out;
  }
  void refuseDeadLetters() override { group_.refuseDeadLetters(true); }

 private:
  ManualClock clock_;
  FakeConsumerGroup group_{clock_};
};

class ConsumerGroupPortContract : public ::testing::TestWithParam<std::string> {
 protected:
  void SetUp() override {
    if (GetParam() == "redis")
      backend_ = std::make_unique<RedisBackend>(redisServer());
    else
      backend_ = std::make_unique<FakeBackend>();
    port_ = backend_->open("live");
  }
  // One redis-server for the binary, started by the first case that needs it.
  static RedisServer& redisServer() {
    static RedisServer server;
    return server;
  }

  std::unique_ptr<GroupBackend> backend_;
  std::unique_ptr<ConsumerGroupPort> port_;
};

std::vector<std::string> idsOf(const std::vector<StreamEntry>& es) {
  std::vector<std::string> ids;
  for (const auto& e : es) ids.push_back(e.id);
  return ids;
}

TEST_P(ConsumerGroupPortContract, CreateGroupSaysWhetherItCreated) {
  auto first = port_->createGroup();
  ASSERT_TRUE(first.ok()) << first.error().message;
  EXPECT_TRUE(*first);
  auto second = port_->createGroup();
  ASSERT_TRUE(second.ok());
  EXPECT_FALSE(*second);
}

TEST_P(ConsumerGroupPortContract, ReadsWithoutAGroupAreNotFound) {
  backend_->add("a");
  auto n = port_->readNew(10, -1);
  ASSERT_FALSE(n.ok());
  EXPECT_EQ(n.error().code, Errc::kNotFound);
  auto p = port_->readPending("0", 10);
  ASSERT_FALSE(p.ok());
  EXPECT_EQ(p.error().code, Errc::kNotFound);
}

TEST_P(ConsumerGroupPortContract, NewEntriesAreFirstDeliveriesAndComeOnce) {
  backend_->createGroup();
  const std::string a = backend_->add("a"), b = backend_->add("b");
  auto r = port_->readNew(10, -1);
  ASSERT_TRUE(r.ok());
  EXPECT_EQ(idsOf(*r), (std::vector<std::string>{a, b}));
  EXPECT_EQ(*(*r)[0].field("message"), "a");
  EXPECT_EQ((*r)[0].deliveries, 1);
  EXPECT_TRUE(port_->readNew(10, -1)->empty());
  EXPECT_EQ(backend_->pending().at(a), (PendingOwner{"live", 1}));
}

TEST_P(ConsumerGroupPortContract, OwnPendingIsReReadAndItsCountsComeFromPendingDeliveries) {
  backend_->createGroup();
  const std::string a = backend_->add("a"), b = backend_->add("b");
  backend_->add("c");
  backend_->deliverNew("live", 2);
  auto r = port_->readPending("0", 10);
  ASSERT_TRUE(r.ok());
  EXPECT_EQ(idsOf(*r), (std::vector<std::string>{a, b}));
  EXPECT_EQ((*r)[0].deliveries, 1);  // not known from the read
  auto counts = port_->pendingDeliveries(a, b, 10);
  ASSERT_TRUE(counts.ok());
  ASSERT_EQ(counts->size(), 2u);
  EXPECT_EQ((*counts)[0].id, a);
  EXPECT_EQ((*counts)[0].deliveries, 2);
  EXPECT_TRUE(port_->readPending(b, 10)->empty());  // after the last one: no more
}

TEST_P(ConsumerGroupPortContract, ADeletedPendingEntryComesBackWithoutFieldsAndItsCountStays) {
  backend_->createGroup();
  const std::string gone = backend_->add("gone"), kept = backend_->add("kept");
  backend_->deliverNew("live", 2);
  backend_->deleteEntry(gone);
  auto r = port_->readPending("0", 10);
  ASSERT_TRUE(r.ok());
  ASSERT_EQ(idsOf(*r), (std::vector<std::string>{gone, kept}));
  EXPECT_TRUE((*r)[0].fields.empty());
  EXPECT_FALSE((*r)[1].fields.empty());
  auto p = backend_->pending();
  EXPECT_EQ(p.at(gone).deliveries, 1);
  EXPECT_EQ(p.at(kept).deliveries, 2);
}

TEST_P(ConsumerGroupPortContract, ClaimIdleTakesIdleEntriesAndDropsDeletedOnes) {
  backend_->createGroup();
  const std::string a = backend_->add("a"), gone = backend_->add("gone"), c = backend_->add("c");
  backend_->deliverNew("dead-pod", 3);
  backend_->deleteEntry(gone);
  backend_->letIdle(5);
  auto page = port_->claimIdle(5, "0-0", 10);
  ASSERT_TRUE(page.ok()) << page.error().message;
  EXPECT_EQ(page->nextCursor, "0-0");
  EXPECT_EQ(idsOf(page->entries), (std::vector<std::string>{a, c}));
  EXPECT_EQ(page->entries[0].deliveries, 2);
  EXPECT_EQ(*page->entries[1].field("message"), "c");
  EXPECT_EQ(page->deletedIds, std::vector<std::string>{gone});
  auto p = backend_->pending();
  EXPECT_EQ(p.size(), 2u);
  EXPECT_EQ(p.at(a), (PendingOwner{"live", 2}));
  EXPECT_EQ(p.count(gone), 0u);
}

TEST_P(ConsumerGroupPortContract, ClaimIdleLeavesEntriesNotIdleLongEnough) {
  backend_->createGroup();
  const std::string a = backend_->add("a");
  backend_->deliverNew("busy-pod", 1);
  auto page = port_->claimIdle(600000, "0-0", 10);
  ASSERT_TRUE(page.ok());
  EXPECT_TRUE(page->entries.empty());
  EXPECT_EQ(backend_->pending().at(a), (PendingOwner{"busy-pod", 1}));
}

TEST_P(ConsumerGroupPortContract, TouchResetsIdleTimeWithoutCountingADelivery) {
  backend_->createGroup();
  const std::string a = backend_->add("a");
  backend_->deliverNew("live", 1);
  backend_->letIdle(300);
  auto t = port_->touch({a});
  ASSERT_TRUE(t.ok());
  EXPECT_TRUE(*t);
  EXPECT_TRUE(port_->claimIdle(300, "0-0", 10)->entries.empty());
  EXPECT_EQ(backend_->pending().at(a), (PendingOwner{"live", 1}));
}

TEST_P(ConsumerGroupPortContract, DeadLetterAndAckCopiesThenAcknowledgesWhatWasPending) {
  backend_->createGroup();
  const std::string a = backend_->add("a"), b = backend_->add("b");
  backend_->deliverNew("live", 2);
  DeadLetter d{{{"message", "b"}, {"shoal.reason", "parse: not JSON"}}};
  auto r = port_->deadLetterAndAck({d}, {a});
  ASSERT_TRUE(r.ok()) << r.error().message;
  ASSERT_EQ(r->deadLetters.size(), 1u);
  EXPECT_TRUE(r->deadLetters[0].ok());
  ASSERT_TRUE(r->acked.ok());
  EXPECT_EQ(*r->acked, 1);
  EXPECT_EQ(backend_->deadLetters(), std::vector<Fields>{d.fields});
  auto again = port_->deadLetterAndAck({}, {a, b});
  ASSERT_TRUE(again.ok());
  EXPECT_EQ(*again->acked, 1);  // a was no longer pending
  EXPECT_TRUE(backend_->pending().empty());
}

TEST_P(ConsumerGroupPortContract, ARefusedDeadLetterCopyIsAValueAndTheAckStillRuns) {
  backend_->createGroup();
  const std::string a = backend_->add("a"), b = backend_->add("b");
  backend_->deliverNew("live", 2);
  backend_->refuseDeadLetters();
  auto r = port_->deadLetterAndAck({DeadLetter{{{"message", "b"}}}}, {a});
  ASSERT_TRUE(r.ok()) << r.error().message;
  ASSERT_EQ(r->deadLetters.size(), 1u);
  ASSERT_FALSE(r->deadLetters[0].ok());
  EXPECT_EQ(r->deadLetters[0].error().code, Errc::kServer);
  EXPECT_EQ(*r->acked, 1);
  EXPECT_EQ(backend_->pending().count(b), 1u);
}

TEST_P(ConsumerGroupPortContract, NothingToSettleIsNoRoundTripAndNoCount) {
  auto r = port_->deadLetterAndAck({}, {});
  ASSERT_TRUE(r.ok());
  EXPECT_TRUE(r->deadLetters.empty());
  EXPECT_EQ(*r->acked, 0);
}

TEST_P(ConsumerGroupPortContract, GaugesReportPendingAndLagAndWhetherTheGroupExists) {
  auto none = port_->gauges();
  ASSERT_FALSE(none.ok());  // no stream yet
  EXPECT_EQ(none.error().code, Errc::kNotFound);
  backend_->add("a");
  backend_->add("b");
  backend_->add("c");
  auto noGroup = port_->gauges();
  ASSERT_TRUE(noGroup.ok());
  EXPECT_FALSE(noGroup->has_value());
  backend_->createGroup();
  backend_->deliverNew("other", 1);
  auto g = port_->gauges();
  ASSERT_TRUE(g.ok());
  ASSERT_TRUE(g->has_value());
  EXPECT_EQ((*g)->pending, 1);
  EXPECT_EQ((*g)->lag, std::optional<int64_t>(2));
}

INSTANTIATE_TEST_SUITE_P(Implementations, ConsumerGroupPortContract,
                         ::testing::Values("redis", "fake"),
                         [](const auto& info) { return info.param; });

}  // namespace
}  // namespace shoal
