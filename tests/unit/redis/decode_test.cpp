// Decoding of stream command replies into typed results, including the
// shapes Redis 7 produces for nil lag, deleted entries and empty pending lists.
#include <gtest/gtest.h>

#include "shoal/redis/client.h"
#include "shoal/redis/resp_reader.h"

namespace shoal::redis {
namespace {

Reply parse(const std::string& wire) {
  RespReader r;
  r.feed(wire);
  auto got = r.next();
  EXPECT_TRUE(got.ok() && got->has_value());
  return got.ok() && got->has_value() ? **got : Reply{};
}

TEST(StreamDecode, XinfoGroupsWithNilLag) {
  auto g = decodeGroups(parse(
      "*1\r\n*12\r\n$4\r\nname\r\n$1\r\ng\r\n$9\r\nconsumers\r\n:2\r\n$7\r\npending\r\n:5\r\n"
      "$17\r\nlast-delivered-id\r\n$3\r\n9-0\r\n$12\r\nentries-read\r\n:7\r\n$3\r\nlag\r\n$-1\r\n"));
  ASSERT_TRUE(g.ok()) << g.error().message;
  ASSERT_EQ(g->size(), 1u);
  EXPECT_EQ((*g)[0].name, "g");
  EXPECT_EQ((*g)[0].consumers, 2);
  EXPECT_EQ((*g)[0].pending, 5);
  EXPECT_EQ((*g)[0].lastDeliveredId, "9-0");
  EXPECT_EQ((*g)[0].entriesRead, 7);
  EXPECT_FALSE((*g)[0].lag.has_value());
}

TEST(StreamDecode, XinfoStream) {
  auto s = decodeStreamInfo(parse("*8\r\n$6\r\nlength\r\n:3\r\n$17\r\nlast-generated-id\r\n$3\r\n5-1\r\n"
                                  "$13\r\nentries-added\r\n:9\r\n$6\r\ngroups\r\n:1\r\n"));
  ASSERT_TRUE(s.ok()) << s.error().message;
  EXPECT_EQ(s->length, 3);
  EXPECT_EQ(s->lastGeneratedId, "5-1");
  EXPECT_EQ(s->entriesAdded, 9);
  EXPECT_EQ(s->groups, 1);
}

TEST(StreamDecode, MissingStreamIsNotFound) {
  auto s = decodeStreamInfo(parse("-ERR no such key\r\n"));
  ASSERT_FALSE(s.ok());
  EXPECT_EQ(s.error().code, Errc::kNotFound);
}

TEST(StreamDecode, AutoClaimThreeElements) {
  auto a = decodeAutoClaim(parse("*3\r\n$3\r\n0-0\r\n*1\r\n*2\r\n$3\r\n1-0\r\n*2\r\n$1\r\nk\r\n$1\r\nv\r\n"
                                 "*1\r\n$3\r\n2-0\r\n"));
  ASSERT_TRUE(a.ok()) << a.error().message;
  EXPECT_EQ(a->nextCursor, "0-0");
  ASSERT_EQ(a->entries.size(), 1u);
  EXPECT_EQ(a->entries[0].id, "1-0");
  EXPECT_EQ(*a->entries[0].field("k"), "v");
  ASSERT_EQ(a->deletedIds.size(), 1u);
  EXPECT_EQ(a->deletedIds[0], "2-0");
}

TEST(StreamDecode, PendingSummaryEmptyAndFull) {
  auto e = decodePendingSummary(parse("*4\r\n:0\r\n$-1\r\n$-1\r\n*-1\r\n"));
  ASSERT_TRUE(e.ok()) << e.error().message;
  EXPECT_EQ(e->count, 0);
  EXPECT_TRUE(e->consumers.empty());
  auto f = decodePendingSummary(parse("*4\r\n:3\r\n$3\r\n1-0\r\n$3\r\n3-0\r\n*1\r\n*2\r\n$1\r\nc\r\n$1\r\n3\r\n"));
  ASSERT_TRUE(f.ok()) << f.error().message;
  EXPECT_EQ(f->count, 3);
  EXPECT_EQ(f->smallestId, "1-0");
  ASSERT_EQ(f->consumers.size(), 1u);
  EXPECT_EQ(f->consumers[0].second, 3);
}

TEST(StreamDecode, PendingRangeRows) {
  auto p = decodePendingRange(parse("*1\r\n*4\r\n$3\r\n1-0\r\n$1\r\nc\r\n:1500\r\n:4\r\n"));
  ASSERT_TRUE(p.ok()) << p.error().message;
  ASSERT_EQ(p->size(), 1u);
  EXPECT_EQ((*p)[0].consumer, "c");
  EXPECT_EQ((*p)[0].idleMs, 1500);
  EXPECT_EQ((*p)[0].deliveries, 4);
}

TEST(StreamDecode, ReadGroupTimeoutAndDeletedEntry) {
  auto none = decodeReadGroup(parse("*-1\r\n"));
  ASSERT_TRUE(none.ok());
  EXPECT_TRUE(none->empty());
  auto del = decodeReadGroup(parse("*1\r\n*2\r\n$1\r\ns\r\n*1\r\n*2\r\n$3\r\n2-0\r\n*-1\r\n"));
  ASSERT_TRUE(del.ok()) << del.error().message;
  ASSERT_EQ(del->size(), 1u);
  EXPECT_TRUE((*del)[0].fields.empty());
}

TEST(StreamDecode, WrongShapesAreProtocolErrorsNotCrashes) {
  for (const char* wire : {":1\r\n", "*1\r\n:1\r\n", "*1\r\n*2\r\n$1\r\ns\r\n:3\r\n",
                           "*1\r\n*2\r\n$1\r\ns\r\n*1\r\n*2\r\n$3\r\n1-0\r\n*1\r\n$1\r\nf\r\n"}) {
    auto r = decodeReadGroup(parse(wire));
    EXPECT_FALSE(r.ok()) << wire;
  }
  EXPECT_FALSE(decodeAutoClaim(parse(":1\r\n")).ok());
  EXPECT_FALSE(decodePendingSummary(parse("*1\r\n:1\r\n")).ok());
  EXPECT_FALSE(decodePendingRange(parse("*1\r\n*2\r\n$1\r\na\r\n$1\r\nb\r\n")).ok());
  EXPECT_FALSE(decodeStreamInfo(parse("*2\r\n$6\r\nlength\r\n$1\r\nx\r\n")).ok());
}

}  // namespace
}  // namespace shoal::redis
