// RFC 5424 and RFC 3164 parsing, including malformed lines.
#include "shoal/logs/syslog.h"

#include <gtest/gtest.h>

using namespace shoal::logs;

namespace {
constexpr EpochNanos kRef = 1'700'000'000LL * 1'000'000'000;  // 2023-11-14T22:13:20Z
}

TEST(Rfc5424, ParsesTheRfcExampleWithStructuredData) {
  auto m = parseRfc5424(
      "<165>1 2003-10-11T22:14:15.003Z mymachine.example.com evntslog - ID47 "
      "[exampleSDID@32473 iut=\"3\" eventSource=\"Application\" eventID=\"1011\"] "
      "\xEF\xBB\xBF" "An application event log entry...");
  ASSERT_TRUE(m) << m.error().message;
  EXPECT_EQ(m->priority, 165);
  EXPECT_EQ(m->facility(), 20);
  EXPECT_EQ(m->severity(), 5);
  EXPECT_EQ(facilityName(m->facility()), "local4");
  EXPECT_EQ(severityName(m->severity()), "notice");
  EXPECT_EQ(m->version, 1);
  ASSERT_TRUE(m->timestamp);
  EXPECT_EQ(formatTimestamp(*m->timestamp), "2003-10-11T22:14:15.003Z");
  EXPECT_EQ(m->hostname, "mymachine.example.com");
  EXPECT_EQ(m->appName, "evntslog");
  EXPECT_EQ(m->procId, "");
  EXPECT_EQ(m->msgId, "ID47");
  ASSERT_EQ(m->structuredData.size(), 1u);
  EXPECT_EQ(m->structuredData[0].id, "exampleSDID@32473");
  ASSERT_EQ(m->structuredData[0].params.size(), 3u);
  EXPECT_EQ(m->structuredData[0].params[1].first, "eventSource");
  EXPECT_EQ(m->structuredData[0].params[1].second, "Application");
  EXPECT_EQ(m->message, "An application event log entry...");  // BOM stripped
}

TEST(Rfc5424, AllNilValuesAndNoMessage) {
  auto m = parseRfc5424("<34>1 - - - - - -");
  ASSERT_TRUE(m) << m.error().message;
  EXPECT_FALSE(m->timestamp);
  EXPECT_EQ(m->hostname, "");
  EXPECT_EQ(m->appName, "");
  EXPECT_TRUE(m->structuredData.empty());
  EXPECT_EQ(m->message, "");
}

TEST(Rfc5424, MultipleElementsAndEscapesInValues) {
  auto m = parseRfc5424(
      R"(<13>1 2024-01-02T03:04:05+01:00 h app 123 - [a@1 x="q\"uo\\te\]"][b@2] msg)");
  ASSERT_TRUE(m) << m.error().message;
  ASSERT_EQ(m->structuredData.size(), 2u);
  EXPECT_EQ(m->structuredData[0].params[0].second, "q\"uo\\te]");
  EXPECT_EQ(m->structuredData[1].id, "b@2");
  EXPECT_EQ(m->procId, "123");
  EXPECT_EQ(formatTimestamp(*m->timestamp), "2024-01-02T02:04:05.000Z");
  EXPECT_EQ(m->message, "msg");
}

TEST(Rfc5424, MalformedLinesGiveReasons) {
  struct Case {
    const char* line;
    const char* reason;
  } cases[] = {
      {"<999>1 - - - - - -", "PRI"},
      {"<13 1 - - - - - -", "PRI"},
      {"<13>x - - - - - -", "VERSION"},
      {"<13>1 2024-01-02 h a p m -", "TIMESTAMP"},
      {"<13>1 yesterday h a p m -", "TIMESTAMP"},
      {"<13>1 - h a p", "PROCID"},
      {"<13>1 - h a p m", "MSGID"},
      {"<13>1 - h a p m ", "STRUCTURED-DATA"},
      {"<13>1 - h a p m x", "STRUCTURED-DATA"},
      {"<13>1 - h a p m [id a=\"1\"", "SD-ELEMENT"},
      {"<13>1 - h a p m [id a=\"1]", "PARAM-VALUE"},
      {"<13>1 - h a p m [id a=1]", "=\""},
      {"<13>1 - h a p m []", "SD-ID"},
      {"<13>1 - h a p m -msg", "SP before MSG"},
  };
  for (auto& c : cases) {
    auto m = parseRfc5424(c.line);
    ASSERT_FALSE(m) << c.line;
    EXPECT_NE(m.error().message.find(c.reason), std::string::npos)
        << c.line << " -> " << m.error().message;
  }
}

TEST(Rfc3164, ParsesClassicLineWithPid) {
  auto m = parseRfc3164("<34>Nov 14 22:13:20 mymachine su[123]: 'su root' failed for lonvick", kRef);
  ASSERT_TRUE(m) << m.error().message;
  EXPECT_EQ(m->priority, 34);
  EXPECT_EQ(m->facility(), 4);
  EXPECT_EQ(m->severity(), 2);
  EXPECT_EQ(*m->timestamp, kRef);
  EXPECT_EQ(m->hostname, "mymachine");
  EXPECT_EQ(m->appName, "su");
  EXPECT_EQ(m->procId, "123");
  EXPECT_EQ(m->message, "'su root' failed for lonvick");
}

TEST(Rfc3164, WithoutHostname) {
  auto m = parseRfc3164("<13>Nov 14 22:13:20 cron: job done", kRef);
  ASSERT_TRUE(m) << m.error().message;
  EXPECT_EQ(m->hostname, "");
  EXPECT_EQ(m->appName, "cron");
  EXPECT_EQ(m->message, "job done");
}

TEST(Rfc3164, WithYearAndWithIsoTimestamp) {
  auto m = parseRfc3164("<13>Oct 11 2019 22:14:15 host app: x", kRef);
  ASSERT_TRUE(m) << m.error().message;
  EXPECT_EQ(formatTimestamp(*m->timestamp), "2019-10-11T22:14:15.000Z");
  EXPECT_EQ(m->hostname, "host");
  m = parseRfc3164("<13>2024-01-02T03:04:05.123+00:00 host app[7]: y", kRef);
  ASSERT_TRUE(m) << m.error().message;
  EXPECT_EQ(formatTimestamp(*m->timestamp), "2024-01-02T03:04:05.123Z");
  EXPECT_EQ(m->procId, "7");
  EXPECT_EQ(m->message, "y");
}

TEST(Rfc3164, NoTagMeansTheRestIsTheMessage) {
  auto m = parseRfc3164("<13>Nov 14 22:13:20 host just some words", kRef);
  ASSERT_TRUE(m) << m.error().message;
  EXPECT_EQ(m->hostname, "host");
  EXPECT_EQ(m->appName, "");
  EXPECT_EQ(m->message, "just some words");
}

TEST(Rfc3164, NoTimestampKeepsEverythingAsMessageAndNoPriMeans13) {
  auto m = parseRfc3164("<13>hello world", kRef);
  ASSERT_TRUE(m);
  EXPECT_FALSE(m->timestamp);
  EXPECT_EQ(m->message, "hello world");
  m = parseRfc3164("Nov 14 22:13:20 host app: z", kRef);
  ASSERT_TRUE(m);
  EXPECT_EQ(m->priority, 13);
  EXPECT_EQ(m->appName, "app");
}

TEST(Rfc3164, MalformedPriOrTimestampIsAnError) {
  EXPECT_FALSE(parseRfc3164("<1000>Nov 14 22:13:20 host app: z", kRef));
  EXPECT_FALSE(parseRfc3164("<13>2024-13-45T03:04:05Z host app: z", kRef));
  EXPECT_FALSE(parseRfc3164("<13>Nov 14 22:13:20host", kRef));
}

TEST(SyslogDetection, DistinguishesVersions) {
  EXPECT_TRUE(looksLikeRfc5424("<13>1 - - - - - -"));
  EXPECT_FALSE(looksLikeRfc5424("<13>Nov 14 22:13:20 h a: m"));
  EXPECT_TRUE(looksLikeSyslog("<13>Nov 14 22:13:20 h a: m"));
  EXPECT_FALSE(looksLikeSyslog("{\"a\":1}"));
  EXPECT_FALSE(looksLikeSyslog("<abc>"));
}
