// FrameDecoder and datagramFrame: each framing and each bad input has one
// outcome, and every way of cutting the input into chunks gives the same one.
#include <gtest/gtest.h>

#include <string>
#include <vector>

#include "shoal/syslog_input/framing.h"

namespace shoal::syslog_input {
namespace {

using namespace std::string_literals;

// "msg" for a frame, "!reason:bytes:head" for a rejected one, then "|closed"
// if the decoder failed.
std::string show(const std::vector<Frame>& frames, bool failed) {
  std::string s;
  for (const auto& f : frames) {
    if (!s.empty()) s += ",";
    if (f.ok()) {
      s += f.message;
      EXPECT_EQ(f.bytes, f.message.size());
    } else {
      s += "!" + std::string(errorReason(f.error)) + ":" + std::to_string(f.bytes) + ":" + f.message;
    }
  }
  if (failed) s += "|closed";
  return s;
}

std::string decodeChunks(const std::vector<std::string>& chunks, DecoderOptions o, bool finish) {
  FrameDecoder d(o);
  std::vector<Frame> out;
  for (const auto& c : chunks) d.feed(c, out);
  bool failed = d.failed();
  if (finish) d.finish(out);
  return show(out, failed);
}

DecoderOptions small(size_t max) {
  DecoderOptions o;
  o.maxFrameBytes = max;
  o.rejectedHeadBytes = 4;
  return o;
}

// Decodes input whole, cut in two at every position and byte by byte;
// all must agree. Returns the whole-input result.
std::string decode(const std::string& in, DecoderOptions o = {}, bool finish = false) {
  std::string whole = decodeChunks({in}, o, finish);
  for (size_t cut = 0; cut <= in.size(); ++cut) {
    EXPECT_EQ(decodeChunks({in.substr(0, cut), in.substr(cut)}, o, finish), whole) << "cut " << cut;
  }
  std::vector<std::string> bytes;
  for (char c : in) bytes.emplace_back(1, c);
  EXPECT_EQ(decodeChunks(bytes, o, finish), whole) << "byte by byte";
  return whole;
}

TEST(FrameDecoder, OctetCountingFramesCarryTheirBytesUnchanged) {
  EXPECT_EQ(decode("5 <13>a11 <14>b\nc d e"), "<13>a,<14>b\nc d e");
  FrameDecoder d;
  std::vector<Frame> out;
  d.feed("3", out);
  EXPECT_EQ(d.framing(), Framing::kOctetCounting);
}

TEST(FrameDecoder, NewlineFramingSplitsOnLfAndNulAndSkipsEmptyFrames) {
  EXPECT_EQ(decode("<13>one\n<13>two\r\n\n<13>three\0<13>four\0\n"s), "<13>one,<13>two\r,<13>three,<13>four");
  FrameDecoder d;
  std::vector<Frame> out;
  d.feed("<", out);
  EXPECT_EQ(d.framing(), Framing::kNonTransparent);
}

TEST(FrameDecoder, FramingIsDecidedOnceByTheFirstByte) {
  // Newline framing stays newline framing even if a line starts with digits.
  EXPECT_EQ(decode("<1>a\n12 b\n"), "<1>a,12 b");
  // Octet counting stays octet counting: a '<' where a count belongs is broken.
  EXPECT_EQ(decode("3 abc<1>x\n", small(100)), "abc,!bad_octet_count:1:<|closed");
  // Neither digit nor '<': newline framing (the worker judges the line).
  EXPECT_EQ(decode("hello\nworld\n"), "hello,world");
}

TEST(FrameDecoder, OversizeNewlineFrameIsRejectedAndDecodingResyncsAtTheNextLf) {
  // Limit 5: "<1>abc" (6 bytes) is too large, "<1>ok" (5) fits.
  EXPECT_EQ(decode("<1>abc\n<1>ok\n", small(5)), "!too_large:6:<1>a,<1>ok");
  // A long line without LF yet is reported once, as soon as it passes the limit
  // (the size is what was seen by then, so only the whole feed is compared).
  EXPECT_EQ(decodeChunks({"<1>abcdefgh\n<1>ok\n"}, small(5), false), "!too_large:11:<1>a,<1>ok");
  std::vector<std::string> chunks = {"<1>ab", "cdef", "gh", "ij\n<1>ok\n"};
  EXPECT_EQ(decodeChunks(chunks, small(5), false), "!too_large:9:<1>a,<1>ok");
}

TEST(FrameDecoder, OversizeOctetFrameIsSkippedExactlyAndTheConnectionStays) {
  EXPECT_EQ(decode("6 abcdef5 vwxyz", small(5)), "!too_large:6:abcd,vwxyz");
  // The skip spans any number of chunks and needs no terminator.
  EXPECT_EQ(decode("12 aaaaaaaaaaaa2 ok", small(5)), "!too_large:12:aaaa,ok");
}

TEST(FrameDecoder, BrokenOctetCountsCloseTheConnection) {
  EXPECT_EQ(decode("3 abcx y", small(100)), "abc,!bad_octet_count:1:x|closed");
  EXPECT_EQ(decode("12x abc", small(100)), "!bad_octet_count:3:12x|closed");
  EXPECT_EQ(decode("0 abc", small(100)), "!bad_octet_count:1:0|closed");
  EXPECT_EQ(decode("3 abc03 xyz", small(100)), "abc,!bad_octet_count:1:0|closed");
  // Ten digits: not a large frame but a broken count.
  EXPECT_EQ(decode("1234567890 x", small(100)), "!bad_octet_count:10:1234|closed");
  // Nine digits is a count; larger than the limit, so skipped.
  EXPECT_EQ(decodeChunks({"999999999 abc"}, small(100), false), "");
  // A second space is the message's first byte; a space after a complete
  // frame, where a count belongs, is broken.
  EXPECT_EQ(decode("1  2 ab", small(100)), " ,ab");
  EXPECT_EQ(decode("1 a 2 ab", small(100)), "a,!bad_octet_count:1: |closed");
}

TEST(FrameDecoder, BytesAfterFailureAreIgnored) {
  FrameDecoder d(small(100));
  std::vector<Frame> out;
  d.feed("x1 a", out);  // newline framing: not a failure
  EXPECT_FALSE(d.failed());
  FrameDecoder o(small(100));
  o.feed("1 a?", out);
  EXPECT_TRUE(o.failed());
  size_t n = out.size();
  o.feed("1 b", out);
  EXPECT_EQ(out.size(), n);
  EXPECT_FALSE(o.hasPartial());
}

TEST(FrameDecoder, FinishDeliversAnUnterminatedLineAndTruncatesAnOctetFrame) {
  EXPECT_EQ(decode("<1>a\n<1>tail", {}, true), "<1>a,<1>tail");
  EXPECT_EQ(decode("5 ab", small(100), true), "!truncated:2:ab");
  EXPECT_EQ(decode("12", small(100), true), "!truncated:2:12");
  EXPECT_EQ(decode("9 abcdefg", small(5), true), "!too_large:9:abcd");
  // A line being discarded was reported already.
  EXPECT_EQ(decodeChunks({"<1>abcdefgh"}, small(5), true), "!too_large:11:<1>a");
}

TEST(FrameDecoder, AbandonReportsAnyPartialFrameAsTruncated) {
  FrameDecoder d(small(100));
  std::vector<Frame> out;
  d.feed("<1>done\n<1>half", out);
  EXPECT_TRUE(d.hasPartial());
  d.abandon(out);
  EXPECT_EQ(show(out, false), "<1>done,!truncated:7:<1>h");
  EXPECT_FALSE(d.hasPartial());
}

TEST(FrameDecoder, HasPartialTracksUnfinishedFrames) {
  FrameDecoder d;
  std::vector<Frame> out;
  EXPECT_FALSE(d.hasPartial());
  d.feed("3", out);
  EXPECT_TRUE(d.hasPartial());
  d.feed(" ab", out);
  EXPECT_TRUE(d.hasPartial());
  d.feed("c", out);
  EXPECT_FALSE(d.hasPartial());
  EXPECT_EQ(show(out, false), "abc");
}

TEST(FrameDecoder, AFrameOfExactlyTheLimitFits) {
  EXPECT_EQ(decode("5 abcde", small(5)), "abcde");
  EXPECT_EQ(decode("abcde\n", small(5)), "abcde");
}

TEST(DatagramFrame, OneDatagramIsOneFrameWithOneTrailerRemoved) {
  auto f = datagramFrame("<13>a\nb\n", 8);
  ASSERT_TRUE(f);
  EXPECT_EQ(f->message, "<13>a\nb");
  EXPECT_EQ(datagramFrame("<13>x\0"s, 6)->message, "<13>x");
  EXPECT_EQ(datagramFrame("<13>x\n\n", 7)->message, "<13>x\n");
  EXPECT_FALSE(datagramFrame("", 0));
  EXPECT_FALSE(datagramFrame("\n", 1));
}

TEST(DatagramFrame, LargerThanTheLimitIsRejected) {
  DecoderOptions o = small(5);
  EXPECT_TRUE(datagramFrame("abcde\n", 6, o)->ok());
  auto big = datagramFrame("abcdef", 6, o);
  EXPECT_EQ(big->error, FrameError::kTooLarge);
  EXPECT_EQ(big->message, "abcd");
  // Cut by the read buffer: the trailer is not seen, the sent size counts.
  auto cut = datagramFrame("abc", 70000, o);
  EXPECT_EQ(cut->error, FrameError::kTooLarge);
  EXPECT_EQ(cut->bytes, 70000u);
}

}  // namespace
}  // namespace shoal::syslog_input
