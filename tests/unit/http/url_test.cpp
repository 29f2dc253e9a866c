// parseUrl's parts, defaults and reasons, and the Basic authorization value.
#include <gtest/gtest.h>

#include "shoal/http/transport.h"
#include "shoal/http/url.h"

namespace shoal::http {
namespace {

TEST(ParseUrl, SchemeHostPortAndPathAsWritten) {
  auto u = parseUrl("https://es.example:9243/prefix/");
  ASSERT_TRUE(u.ok()) << u.error().message;
  EXPECT_EQ(u->scheme, "https");
  EXPECT_EQ(u->host, "es.example");
  EXPECT_EQ(u->port, 9243);
  EXPECT_EQ(u->path, "/prefix/");  // the trailing slash is the caller's business
  EXPECT_EQ(u->origin(), "https://es.example:9243");

  auto q = parseUrl("http://127.0.0.1:9090/api/v1/write?tenant=a");
  ASSERT_TRUE(q.ok());
  EXPECT_EQ(q->path, "/api/v1/write?tenant=a");
}

TEST(ParseUrl, PortDefaultsToTheSchemesAndPathToEmpty) {
  auto h = parseUrl("http://prometheus");
  ASSERT_TRUE(h.ok());
  EXPECT_EQ(h->port, 80);
  EXPECT_EQ(h->path, "");
  EXPECT_EQ(h->origin(), "http://prometheus:80");
  auto s = parseUrl("https://es/");
  ASSERT_TRUE(s.ok());
  EXPECT_EQ(s->port, 443);
  EXPECT_EQ(s->path, "/");
}

TEST(ParseUrl, Ipv6HostsKeepTheirBrackets) {
  auto u = parseUrl("http://[::1]:9200/x");
  ASSERT_TRUE(u.ok()) << u.error().message;
  EXPECT_EQ(u->host, "[::1]");
  EXPECT_EQ(u->port, 9200);
  EXPECT_EQ(u->origin(), "http://[::1]:9200");
  auto d = parseUrl("https://[fe80::1]");
  ASSERT_TRUE(d.ok());
  EXPECT_EQ(d->host, "[fe80::1]");
  EXPECT_EQ(d->port, 443);
}

TEST(ParseUrl, RejectsWhatCouldNeverConnectWithAReason) {
  struct Case {
    const char* url;
    const char* reason;
  };
  for (const Case& c :
       {Case{"ftp://x", "must start with http:// or https://"},
        Case{"HTTP://x", "must start with http:// or https://"},
        Case{"x:9200", "must start with http:// or https://"}, Case{"http://", "missing host"},
        Case{"http://:9200/a", "missing host"}, Case{"http://x:", "invalid port \"\""},
        Case{"http://x:0", "invalid port \"0\""}, Case{"http://x:99999", "invalid port \"99999\""},
        Case{"http://x:80a", "invalid port \"80a\""},
        Case{"http://[::1", "unterminated IPv6 address"},
        Case{"http://u:p@x", "credentials in the URL are not supported"}}) {
    auto u = parseUrl(c.url);
    ASSERT_FALSE(u.ok()) << c.url;
    EXPECT_EQ(u.error().code, Errc::kInvalidInput) << c.url;
    EXPECT_NE(u.error().message.find(c.reason), std::string::npos)
        << c.url << ": " << u.error().message;
  }
}

TEST(BasicAuthorization, IsBase64OfUserColonPassword) {
  // RFC 7617, section 2.
  EXPECT_EQ(basicAuthorization("Aladdin", "open sesame"), "Basic QWxhZGRpbjpvcGVuIHNlc2FtZQ==");
  EXPECT_EQ(basicAuthorization("user", ""), "Basic dXNlcjo=");
  EXPECT_EQ(basicAuthorization("a:b", "c"), "Basic YTpiOmM=");
}

}  // namespace
}  // namespace shoal::http
