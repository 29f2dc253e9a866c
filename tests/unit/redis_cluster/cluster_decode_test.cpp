// Unit tests of Redis Cluster's pure parts: hash slots (with hash tags),
// node addresses, MOVED/ASK errors and the CLUSTER SHARDS / CLUSTER SLOTS
// replies (RESP2 shapes as Redis 7.0 sends them).
#include <gtest/gtest.h>

#include "shoal/redis_cluster/cluster_client.h"

namespace shoal::redis {
namespace {

Reply str(std::string s) { return Reply{Reply::Kind::kString, std::move(s), 0, {}}; }
Reply num(int64_t v) { return Reply{Reply::Kind::kInteger, "", v, {}}; }
Reply arr(std::vector<Reply> e) { return Reply{Reply::Kind::kArray, "", 0, std::move(e)}; }

TEST(KeySlot, CrcOfTheKeyOrItsHashTag) {
  EXPECT_EQ(keySlot("123456789"), 0x31C3 % kClusterSlots);  // the CRC16/XMODEM check value
  EXPECT_EQ(keySlot("foo"), 12182);
  EXPECT_EQ(keySlot("{user1000}.following"), keySlot("{user1000}.followers"));
  EXPECT_EQ(keySlot("{user1000}.following"), keySlot("user1000"));
  EXPECT_EQ(keySlot("foo{}{bar}"), keySlot(std::string("foo{}{bar}")));  // empty tag: the whole key
  EXPECT_NE(keySlot("foo{}{bar}"), keySlot("bar"));
  EXPECT_EQ(keySlot("foo{{bar}}zap"), keySlot("{bar"));  // the first '{' to the next '}'
  EXPECT_EQ(keySlot("foo{bar}{zap}"), keySlot("bar"));
  EXPECT_EQ(keySlot("logs:{3}"), keySlot("3"));
}

TEST(NodeAddress, ParsesHostPortBusPortAndV6) {
  EXPECT_EQ(parseNodeAddress("127.0.0.1:7000"), (NodeAddress{"127.0.0.1", 7000}));
  EXPECT_EQ(parseNodeAddress("127.0.0.1:7000@17000"), (NodeAddress{"127.0.0.1", 7000}));
  EXPECT_EQ(parseNodeAddress("[::1]:7000"), (NodeAddress{"::1", 7000}));
  EXPECT_EQ((NodeAddress{"::1", 7000}).str(), "[::1]:7000");
  EXPECT_FALSE(parseNodeAddress("nohost"));
  EXPECT_FALSE(parseNodeAddress(":7000"));
  EXPECT_FALSE(parseNodeAddress("h:0"));
  EXPECT_FALSE(parseNodeAddress("h:70000"));
}

TEST(Redirect, MovedAndAskWithOrWithoutThePrefix) {
  auto m = parseRedirect("MOVED 3999 127.0.0.1:6381");
  ASSERT_TRUE(m);
  EXPECT_FALSE(m->ask);
  EXPECT_EQ(m->slot, 3999);
  EXPECT_EQ(m->to, (NodeAddress{"127.0.0.1", 6381}));
  auto a = parseRedirect("redis: ASK 12 10.0.0.2:7002");
  ASSERT_TRUE(a);
  EXPECT_TRUE(a->ask);
  EXPECT_EQ(a->slot, 12);
  EXPECT_FALSE(parseRedirect("redis: NOGROUP No such key"));
  EXPECT_FALSE(parseRedirect("MOVED 99999 127.0.0.1:1"));
  EXPECT_FALSE(parseRedirect("MOVED x 127.0.0.1:1"));
  EXPECT_FALSE(parseRedirect("MOVED 1"));
}

Reply shardNode(const std::string& ip, int64_t port, const std::string& role, const std::string& health) {
  return arr({str("id"), str("abc"), str("port"), num(port), str("ip"), str(ip), str("endpoint"), str(ip),
              str("role"), str(role), str("replication-offset"), num(1), str("health"), str(health)});
}

TEST(ClusterShards, RangesOfOnlinePrimaries) {
  Reply r = arr({
      arr({str("slots"), arr({num(0), num(5460), num(10923), num(10923)}), str("nodes"),
           arr({shardNode("127.0.0.1", 7000, "master", "online"), shardNode("127.0.0.1", 7003, "replica", "online")})}),
      arr({str("slots"), arr({num(5461), num(10922)}), str("nodes"),
           arr({shardNode("127.0.0.1", 7001, "master", "failed")})}),  // skipped: its primary failed
  });
  auto ranges = decodeClusterShards(r);
  ASSERT_TRUE(ranges.ok()) << ranges.error().message;
  ASSERT_EQ(ranges->size(), 2u);
  EXPECT_EQ((*ranges)[0].first, 0);
  EXPECT_EQ((*ranges)[0].last, 5460);
  EXPECT_EQ((*ranges)[0].primary, (NodeAddress{"127.0.0.1", 7000}));
  ASSERT_EQ((*ranges)[0].replicas.size(), 1u);
  EXPECT_EQ((*ranges)[0].replicas[0].port, 7003);
  EXPECT_EQ((*ranges)[1].first, 10923);
  EXPECT_EQ((*ranges)[1].last, 10923);
  EXPECT_FALSE(decodeClusterShards(arr({arr({str("slots"), arr({num(1)}), str("nodes"), arr({})})})).ok());
  EXPECT_FALSE(decodeClusterShards(str("x")).ok());
}

TEST(ClusterSlots, RangesWithPrimaryFirst) {
  Reply r = arr({arr({num(0), num(100), arr({str("127.0.0.1"), num(7000), str("id0")}),
                      arr({str("127.0.0.1"), num(7003), str("id3")})})});
  auto ranges = decodeClusterSlots(r);
  ASSERT_TRUE(ranges.ok()) << ranges.error().message;
  ASSERT_EQ(ranges->size(), 1u);
  EXPECT_EQ((*ranges)[0].primary, (NodeAddress{"127.0.0.1", 7000}));
  EXPECT_EQ((*ranges)[0].replicas.size(), 1u);
  EXPECT_FALSE(decodeClusterSlots(arr({arr({num(5), num(1), arr({str("h"), num(1)})})})).ok());  // first > last
  EXPECT_FALSE(decodeClusterSlots(arr({arr({num(0), num(16384), arr({str("h"), num(1)})})})).ok());
}

}  // namespace
}  // namespace shoal::redis
