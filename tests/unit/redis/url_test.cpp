// parseUrl: redis:// and rediss:// URLs into connection options.
#include <gtest/gtest.h>

#include "shoal/redis/client.h"

namespace shoal::redis {
namespace {

TEST(RedisUrl, HostOnlyUsesDefaults) {
  auto o = parseUrl("redis://cache.local");
  ASSERT_TRUE(o.ok()) << o.error().message;
  EXPECT_EQ(o->host, "cache.local");
  EXPECT_EQ(o->port, 6379);
  EXPECT_EQ(o->db, 0);
  EXPECT_FALSE(o->tls.enabled);
  EXPECT_TRUE(o->password.empty());
}

TEST(RedisUrl, FullFormWithTls) {
  auto o = parseUrl("rediss://alice:s%40cret@10.0.0.5:6380/3");
  ASSERT_TRUE(o.ok()) << o.error().message;
  EXPECT_EQ(o->host, "10.0.0.5");
  EXPECT_EQ(o->port, 6380);
  EXPECT_EQ(o->db, 3);
  EXPECT_TRUE(o->tls.enabled);
  EXPECT_EQ(o->username, "alice");
  EXPECT_EQ(o->password, "s@cret");
}

TEST(RedisUrl, PasswordOnlyForms) {
  auto a = parseUrl("redis://:pw@h:1");
  ASSERT_TRUE(a.ok());
  EXPECT_EQ(a->username, "");
  EXPECT_EQ(a->password, "pw");
  auto b = parseUrl("redis://pw@h");
  ASSERT_TRUE(b.ok());
  EXPECT_EQ(b->username, "");
  EXPECT_EQ(b->password, "pw");
}

TEST(RedisUrl, Ipv6Host) {
  auto o = parseUrl("redis://[::1]:7000/1");
  ASSERT_TRUE(o.ok()) << o.error().message;
  EXPECT_EQ(o->host, "::1");
  EXPECT_EQ(o->port, 7000);
  EXPECT_EQ(o->db, 1);
  EXPECT_EQ(o->describe(), "[::1]:7000");
}

TEST(RedisUrl, RejectsBadInput) {
  for (const char* bad : {"http://h", "redis://", "redis://h:0", "redis://h:99999", "redis://h:x",
                          "redis://h/abc", "redis://[::1", "redis://u:%zz@h", "redis://h:", "redis://u:%4@h"}) {
    auto o = parseUrl(bad);
    EXPECT_FALSE(o.ok()) << bad;
    if (!o.ok()) {
      EXPECT_EQ(o.error().code, Errc::kInvalidInput);
    }
  }
}

}  // namespace
}  // namespace shoal::redis
