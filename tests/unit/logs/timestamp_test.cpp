// Timestamp parsing (ISO 8601 variants, epoch units, BSD syslog) and formatting.
#include "shoal/logs/timestamp.h"

#include <gtest/gtest.h>

using namespace shoal::logs;

namespace {
constexpr EpochNanos kSec = 1'000'000'000;
// 2023-11-14T22:13:20Z
constexpr EpochNanos kRef = 1'700'000'000 * kSec;
}  // namespace

TEST(Iso8601, ParsesZuluOffsetsAndFractions) {
  EXPECT_EQ(parseIso8601("2023-11-14T22:13:20Z"), kRef);
  EXPECT_EQ(parseIso8601("2023-11-14T22:13:20.5Z"), kRef + kSec / 2);
  EXPECT_EQ(parseIso8601("2023-11-14T22:13:20.123456789Z"), kRef + 123'456'789);
  EXPECT_EQ(parseIso8601("2023-11-14T23:13:20+01:00"), kRef);
  EXPECT_EQ(parseIso8601("2023-11-14T23:13:20+0100"), kRef);
  EXPECT_EQ(parseIso8601("2023-11-14T21:13:20-01"), kRef);
  EXPECT_EQ(parseIso8601("2023-11-14 22:13:20"), kRef);  // no zone: UTC
  EXPECT_EQ(parseIso8601("2023-11-14t22:13:20,25z"), kRef + kSec / 4);
  EXPECT_EQ(parseIso8601("2023-11-14T22:13Z"), kRef - 20 * kSec);
  EXPECT_EQ(parseIso8601("2023-11-14"), kRef - (22 * 3600 + 13 * 60 + 20) * kSec);
}

TEST(Iso8601, RejectsMalformedAndOutOfRange) {
  for (const char* s : {"", "2023", "2023-13-01T00:00:00Z", "2023-02-30T00:00:00Z",
                        "2023-11-14T25:00:00Z", "2023-11-14T22:61:00Z", "2023-11-14T22:13:20Q",
                        "2023-11-14T22:13:20.Z", "2023-11-14T22:13:20+1", "yesterday",
                        "2023-11-14T22:13:20Z trailing"})
    EXPECT_FALSE(parseIso8601(s).has_value()) << s;
}

TEST(EpochNumbers, UnitFollowsMagnitude) {
  EXPECT_EQ(fromEpochInteger(1'700'000'000), kRef);
  EXPECT_EQ(fromEpochInteger(1'700'000'000'000), kRef);
  EXPECT_EQ(fromEpochInteger(1'700'000'000'000'000), kRef);
  EXPECT_EQ(fromEpochInteger(1'700'000'000'000'000'000), kRef);
  EXPECT_EQ(fromEpochNumber(1'700'000'000.25), kRef + kSec / 4);
  EXPECT_EQ(parseTimestampText("1700000000"), kRef);
  EXPECT_EQ(parseTimestampText("1700000000123"), kRef + 123'000'000);
  EXPECT_FALSE(parseTimestampText("17000000001234567890123456").has_value());
  EXPECT_FALSE(parseTimestampText("12abc").has_value());
  EXPECT_FALSE(fromEpochNumber(1e300).has_value());
}

TEST(BsdTimestamp, InfersYearAndAcceptsVariants) {
  size_t used = 0;
  // Same year as the reference (Nov 2023).
  auto t = parseBsdTimestamp("Nov 14 22:13:20 host", kRef, used);
  ASSERT_TRUE(t);
  EXPECT_EQ(*t, kRef);
  EXPECT_EQ(used, 15u);
  // A date far in the future belongs to last year.
  t = parseBsdTimestamp("Dec 31 23:59:59", kRef + 60LL * 86400 * kSec /* mid Jan 2024 */, used);
  ASSERT_TRUE(t);
  EXPECT_EQ(toCivil(*t).year, 2023);
  t = parseBsdTimestamp("Oct  1 00:00:00 x", kRef, used);
  ASSERT_TRUE(t);
  EXPECT_EQ(toCivil(*t).day, 1);
  t = parseBsdTimestamp("Oct 1 00:00:00 x", kRef, used);
  ASSERT_TRUE(t);
  EXPECT_EQ(used, 14u);
  t = parseBsdTimestamp("Oct 11 2019 22:14:15 x", kRef, used);
  ASSERT_TRUE(t);
  EXPECT_EQ(toCivil(*t).year, 2019);
  t = parseBsdTimestamp("Oct 11 22:14:15.250 x", kRef, used);
  ASSERT_TRUE(t);
  EXPECT_EQ(*t % kSec, kSec / 4);
  EXPECT_FALSE(parseBsdTimestamp("Foo 11 22:14:15 x", kRef, used));
  EXPECT_FALSE(parseBsdTimestamp("Oct 11 2214:15 x", kRef, used));
  EXPECT_FALSE(parseBsdTimestamp("Oct", kRef, used));
}

// RFC 3164 has no year: the latest year that keeps the timestamp at most a
// week (kBsdFutureSlack) after the time the line was received.
TEST(BsdTimestamp, YearIsTheLatestNotMoreThanAWeekAhead) {
  auto at = [](const char* iso) { return *parseIso8601(iso); };
  auto stamp = [](const char* line, EpochNanos received) {
    size_t used = 0;
    auto t = parseBsdTimestamp(line, received, used);
    return t ? formatTimestamp(*t) : std::string("none");
  };
  // Dec 31 seen on Dec 2 is last year's, not 29 days ahead.
  EXPECT_EQ(stamp("Dec 31 10:00:00", at("2026-12-02T12:00:00Z")), "2025-12-31T10:00:00.000Z");
  // At the year boundary, both ways.
  EXPECT_EQ(stamp("Dec 31 23:59:59", at("2027-01-01T00:00:05Z")), "2026-12-31T23:59:59.000Z");
  EXPECT_EQ(stamp("Jan  1 00:00:01", at("2026-12-31T23:59:00Z")), "2027-01-01T00:00:01.000Z");
  EXPECT_EQ(stamp("Jan  1 23:59:59", at("2026-12-31T00:00:00Z")), "2027-01-01T23:59:59.000Z");
  // Within the slack (a device in UTC+14, a skewed clock) it stays ahead...
  EXPECT_EQ(stamp("Dec  8 12:00:00", at("2026-12-02T12:00:00Z")), "2026-12-08T12:00:00.000Z");
  EXPECT_EQ(stamp("Dec  9 12:00:00", at("2026-12-02T12:00:00Z")), "2026-12-09T12:00:00.000Z");
  // ... beyond it, it is last year's.
  EXPECT_EQ(stamp("Dec  9 12:00:01", at("2026-12-02T12:00:00Z")), "2025-12-09T12:00:01.000Z");
  // Same day, earlier and later.
  EXPECT_EQ(stamp("Jun 15 08:00:00", at("2026-06-15T09:00:00Z")), "2026-06-15T08:00:00.000Z");
  EXPECT_EQ(stamp("Jun 15 10:00:00", at("2026-06-15T09:00:00Z")), "2026-06-15T10:00:00.000Z");
  // Feb 29: this year's in a leap year, otherwise the latest leap year's.
  EXPECT_EQ(stamp("Feb 29 12:00:00", at("2028-03-01T00:00:00Z")), "2028-02-29T12:00:00.000Z");
  EXPECT_EQ(stamp("Feb 29 12:00:00", at("2028-02-28T00:00:00Z")), "2028-02-29T12:00:00.000Z");
  EXPECT_EQ(stamp("Feb 29 12:00:00", at("2027-03-01T00:00:00Z")), "2024-02-29T12:00:00.000Z");
  EXPECT_EQ(stamp("Feb 29 12:00:00", at("2028-02-01T00:00:00Z")), "2024-02-29T12:00:00.000Z");
  EXPECT_EQ(stamp("Feb 28 12:00:00", at("2027-03-01T00:00:00Z")), "2027-02-28T12:00:00.000Z");
}

TEST(FormatTimestamp, MillisecondsUnlessFinerPrecision) {
  EXPECT_EQ(formatTimestamp(kRef), "2023-11-14T22:13:20.000Z");
  EXPECT_EQ(formatTimestamp(kRef + 5'000'000), "2023-11-14T22:13:20.005Z");
  EXPECT_EQ(formatTimestamp(kRef + 5'000), "2023-11-14T22:13:20.000005Z");
  EXPECT_EQ(formatTimestamp(kRef + 5), "2023-11-14T22:13:20.000000005Z");
  EXPECT_EQ(formatTimestamp(-kSec / 2), "1969-12-31T23:59:59.500Z");
}
