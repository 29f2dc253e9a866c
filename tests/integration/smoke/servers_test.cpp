// The test harness really starts and stops each server it provides.
#include <gtest/gtest.h>

#include "shoal/testing/servers.h"

using namespace shoal::testing;

TEST(Servers, RedisStartsAnswersAndStops) {
  int port;
  {
    RedisServer r;
    port = r.port();
    EXPECT_NE(r.cli("PING").find("PONG"), std::string::npos);
  }
  EXPECT_FALSE(portOpen(port));
}

TEST(Servers, RedisWithTlsAndPassword) {
  RedisServer r(RedisServer::Options{.tls = true, .password = "s3cret"});
  EXPECT_NE(r.cli("PING").find("PONG"), std::string::npos);
}

TEST(Servers, PostgresAnswersQueries) {
  PostgresServer pg;
  EXPECT_EQ(pg.psql("SELECT 1+1"), "2\n");
}
