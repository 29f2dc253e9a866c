// RespReader: every way of cutting the input into chunks yields the same
// replies; malformed input is an error, never a crash.
#include <gtest/gtest.h>

#include <string>
#include <vector>

#include "shoal/redis/resp_reader.h"

namespace shoal::redis {
namespace {

// A compact rendering of a reply tree for comparisons.
std::string show(const Reply& r) {
  switch (r.kind) {
    case Reply::Kind::kString: return "$" + r.str;
    case Reply::Kind::kStatus: return "+" + r.str;
    case Reply::Kind::kError: return "-" + r.str;
    case Reply::Kind::kInteger: return ":" + std::to_string(r.integer);
    case Reply::Kind::kNil: return "nil";
    case Reply::Kind::kArray: {
      std::string s = "[";
      for (size_t i = 0; i < r.elements.size(); ++i) s += (i ? "," : "") + show(r.elements[i]);
      return s + "]";
    }
  }
  return "?";
}

// Feeds the chunks one by one, collecting every complete reply.
std::vector<std::string> parseChunks(const std::vector<std::string>& chunks) {
  RespReader reader;
  std::vector<std::string> out;
  for (const auto& c : chunks) {
    reader.feed(c);
    for (;;) {
      auto r = reader.next();
      EXPECT_TRUE(r.ok()) << r.error().message;
      if (!r.ok() || !r->has_value()) break;
      out.push_back(show(**r));
    }
  }
  return out;
}

// Status, error, integer, bulk with CRLF inside, nil bulk, nil array, empty
// array, nested arrays (an XREADGROUP-shaped reply) and a large bulk string.
const std::string kInput = std::string("+OK\r\n") + "-BUSYGROUP Consumer Group name already exists\r\n" +
                           ":-42\r\n" + "$7\r\na\r\nb\r\nc\r\n" + "$-1\r\n" + "*-1\r\n" + "*0\r\n" +
                           "*1\r\n*2\r\n$1\r\ns\r\n*2\r\n*2\r\n$3\r\n1-0\r\n*2\r\n$1\r\nf\r\n$1\r\nv\r\n"
                           "*2\r\n$3\r\n2-0\r\n*-1\r\n" +
                           "$300\r\n" + std::string(300, 'x') + "\r\n";

const std::vector<std::string> kExpected = {
    "+OK",
    "-BUSYGROUP Consumer Group name already exists",
    ":-42",
    "$a\r\nb\r\nc",
    "nil",
    "nil",
    "[]",
    "[[$s,[[$1-0,[$f,$v]],[$2-0,nil]]]]",
    "$" + std::string(300, 'x'),
};

TEST(RespReader, ParsesWholeInput) { EXPECT_EQ(parseChunks({kInput}), kExpected); }

TEST(RespReader, EveryTwoWaySplitGivesTheSameReplies) {
  for (size_t cut = 0; cut <= kInput.size(); ++cut) {
    ASSERT_EQ(parseChunks({kInput.substr(0, cut), kInput.substr(cut)}), kExpected) << "cut at " << cut;
  }
}

TEST(RespReader, EveryThreeWaySplitOfTheNestedReplyGivesTheSameReplies) {
  const std::string nested = "*1\r\n*2\r\n$1\r\ns\r\n*1\r\n*2\r\n$3\r\n1-0\r\n*2\r\n$1\r\nf\r\n$1\r\nv\r\n";
  const std::vector<std::string> want = {"[[$s,[[$1-0,[$f,$v]]]]]"};
  for (size_t a = 0; a <= nested.size(); ++a)
    for (size_t b = a; b <= nested.size(); ++b)
      ASSERT_EQ(parseChunks({nested.substr(0, a), nested.substr(a, b - a), nested.substr(b)}), want)
          << "cuts at " << a << "," << b;
}

TEST(RespReader, ByteByByteGivesTheSameReplies) {
  std::vector<std::string> bytes;
  for (char c : kInput) bytes.emplace_back(1, c);
  EXPECT_EQ(parseChunks(bytes), kExpected);
}

TEST(RespReader, IncompleteInputWaitsForMore) {
  RespReader reader;
  reader.feed("*2\r\n$3\r\nfoo\r\n");
  auto r = reader.next();
  ASSERT_TRUE(r.ok());
  EXPECT_FALSE(r->has_value());
  reader.feed("$3\r\nbar\r\n");
  r = reader.next();
  ASSERT_TRUE(r.ok());
  ASSERT_TRUE(r->has_value());
  EXPECT_EQ(show(**r), "[$foo,$bar]");
}

// Found by fuzz_resp (out of memory): the announced element count of an
// array is not trusted for allocation. A peer announcing two billion
// elements and sending three gets a waiting reader, not a 150 GB allocation.
TEST(RespReader, AHugeAnnouncedArrayAllocatesOnlyForWhatArrives) {
  RespReader reader;
  reader.feed("*2147483647\r\n$3\r\n0-0\r\n+O\r\n*2\r\n:1\r\n:2\r\n");
  auto r = reader.next();
  ASSERT_TRUE(r.ok()) << r.error().message;
  EXPECT_FALSE(r->has_value()) << "still waiting for the other elements";

  RespReader nested;  // nested arrays still build the same tree
  nested.feed("*3\r\n*2\r\n$1\r\na\r\n*1\r\n:7\r\n$1\r\nb\r\n*0\r\n");
  auto n = nested.next();
  ASSERT_TRUE(n.ok());
  ASSERT_TRUE(n->has_value());
  EXPECT_EQ(show(**n), "[[$a,[:7]],$b,[]]");
}

TEST(RespReader, MalformedInputIsAnErrorAndStaysOne) {
  for (const std::string bad : {"?what\r\n", "$abc\r\n", ":12x\r\n", "*1\r\n!\r\n"}) {
    RespReader reader;
    reader.feed(bad);
    auto r = reader.next();
    ASSERT_FALSE(r.ok()) << bad;
    EXPECT_EQ(r.error().code, Errc::kProtocol);
    reader.feed("+OK\r\n");
    EXPECT_FALSE(reader.next().ok());
  }
}

TEST(RespReader, EncodedCommandsParseBackAsArraysOfBulkStrings) {
  std::string wire;
  encodeCommand({"XADD", "s", "*", "msg", std::string("a\r\nb\0c", 6), ""}, wire);
  encodeCommand({"PING"}, wire);
  auto got = parseChunks({wire});
  ASSERT_EQ(got.size(), 2u);
  EXPECT_EQ(got[0], std::string("[$XADD,$s,$*,$msg,$a\r\nb\0c,$]", 28));
  EXPECT_EQ(got[1], "[$PING]");
}

}  // namespace
}  // namespace shoal::redis
