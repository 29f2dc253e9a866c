// Facility routing: only the PRI is read; a missing, malformed or unrouted
// facility goes to the default stream.
#include <gtest/gtest.h>

#include "shoal/syslog_input/facility.h"

namespace shoal::syslog_input {
namespace {

TEST(ParsePriority, ReadsOneToThreeDigitsUpTo191) {
  EXPECT_EQ(parsePriority("<0>x"), 0);
  EXPECT_EQ(parsePriority("<13>x"), 13);
  EXPECT_EQ(parsePriority("<191>1 2026"), 191);
  EXPECT_EQ(parsePriority("<192>x"), std::nullopt);
  EXPECT_EQ(parsePriority("<1000>x"), std::nullopt);
  EXPECT_EQ(parsePriority("<>x"), std::nullopt);
  EXPECT_EQ(parsePriority("<13x"), std::nullopt);
  EXPECT_EQ(parsePriority("<13"), std::nullopt);
  EXPECT_EQ(parsePriority("13>x"), std::nullopt);
  EXPECT_EQ(parsePriority(""), std::nullopt);
}

TEST(FacilityName, NamesAllTwentyFourAndOnlyThem) {
  EXPECT_EQ(facilityName(0), "kern");
  EXPECT_EQ(facilityName(4), "auth");
  EXPECT_EQ(facilityName(10), "authpriv");
  EXPECT_EQ(facilityName(16), "local0");
  EXPECT_EQ(facilityName(23), "local7");
  EXPECT_EQ(facilityName(24), std::nullopt);
  EXPECT_EQ(facilityName(-1), std::nullopt);
  for (int f = 0; f < kFacilityCount; ++f) EXPECT_EQ(facilityByName(*facilityName(f)), f);
  EXPECT_EQ(facilityByName("local8"), std::nullopt);
}

TEST(FacilityRoutes, RoutesByFacilityAndFallsBackToTheDefault) {
  auto r = FacilityRoutes::make("syslog:app", {{"local0", "syslog:local0"}, {"auth", "syslog:auth"}});
  ASSERT_TRUE(r.ok()) << r.error().message;
  EXPECT_EQ(r->streamFor("<134>1 - h app - - - x"), "syslog:local0");  // 134 = local0.info
  EXPECT_EQ(r->streamFor("<38>Dec  4 login"), "syslog:auth");         // 38 = auth.info
  EXPECT_EQ(r->streamFor("<14>user message"), "syslog:app");          // routed nowhere
  EXPECT_EQ(r->streamFor("no pri"), "syslog:app");
  EXPECT_EQ(r->streamFor("<999>bad pri"), "syslog:app");
  EXPECT_EQ(r->defaultStream(), "syslog:app");
}

TEST(FacilityRoutes, UnknownFacilitiesAndEmptyStreamsAreConfigurationErrors) {
  auto unknown = FacilityRoutes::make("s", {{"local9", "x"}});
  ASSERT_FALSE(unknown.ok());
  EXPECT_EQ(unknown.error().code, Errc::kInvalidInput);
  EXPECT_NE(unknown.error().message.find("local9"), std::string::npos);
  EXPECT_FALSE(FacilityRoutes::make("").ok());
  EXPECT_FALSE(FacilityRoutes::make("s", {{"kern", ""}}).ok());
}

}  // namespace
}  // namespace shoal::syslog_input
