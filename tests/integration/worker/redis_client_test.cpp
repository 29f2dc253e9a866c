// shoal::redis::Client against a real redis-server: stream commands and their
// typed replies, pipelining, AUTH, TLS verification, timeouts and reconnects.
#include <gtest/gtest.h>

#include "shoal/redis/client.h"
#include "shoal/testing/servers.h"

namespace shoal::redis {
namespace {

using shoal::testing::RedisServer;
using shoal::testing::Process;

ConnectionOptions optionsFor(const RedisServer& s) {
  auto o = parseUrl(s.url());
  EXPECT_TRUE(o.ok());
  auto opts = *o;
  opts.tls.caFile = s.caFile();
  return opts;
}

class RedisClientTest : public ::testing::Test {
 protected:
  static void SetUpTestSuite() { server_ = new RedisServer(); }
  static void TearDownTestSuite() {
    delete server_;
    server_ = nullptr;
  }
  void SetUp() override { server_->cli("FLUSHALL"); }
  static RedisServer* server_;
  SystemClock& clock_ = SystemClock::instance();
};
RedisServer* RedisClientTest::server_ = nullptr;

TEST_F(RedisClientTest, StreamRoundTrip) {
  Client c(optionsFor(*server_), clock_);
  ASSERT_TRUE(c.ping().ok());
  auto created = c.createGroup("s", "g", "0");
  ASSERT_TRUE(created.ok()) << created.error().message;
  EXPECT_TRUE(*created);
  auto again = c.createGroup("s", "g", "0");
  ASSERT_TRUE(again.ok()) << again.error().message;
  EXPECT_FALSE(*again);  // BUSYGROUP is fine

  for (int i = 0; i < 5; ++i) ASSERT_TRUE(c.add("s", {{"n", std::to_string(i)}, {"msg", "hello\r\nworld"}}).ok());
  auto read = c.readGroup("s", "g", "c1", ">", 3, -1);
  ASSERT_TRUE(read.ok()) << read.error().message;
  ASSERT_EQ(read->size(), 3u);
  EXPECT_EQ(*(*read)[0].field("n"), "0");
  EXPECT_EQ(*(*read)[2].field("msg"), "hello\r\nworld");
  EXPECT_EQ((*read)[0].deliveries, 1);

  auto own = c.readGroup("s", "g", "c1", "0", 10, -1);
  ASSERT_TRUE(own.ok());
  EXPECT_EQ(own->size(), 3u);
  auto rows = c.pendingRange("s", "g", "-", "+", 10, "c1");
  ASSERT_TRUE(rows.ok()) << rows.error().message;
  ASSERT_EQ(rows->size(), 3u);
  EXPECT_EQ((*rows)[0].deliveries, 2);  // Redis 7 counts history re-reads
  EXPECT_EQ((*rows)[0].consumer, "c1");

  auto summary = c.pendingSummary("s", "g");
  ASSERT_TRUE(summary.ok()) << summary.error().message;
  EXPECT_EQ(summary->count, 3);
  ASSERT_EQ(summary->consumers.size(), 1u);
  EXPECT_EQ(summary->consumers[0], (std::pair<std::string, int64_t>{"c1", 3}));

  auto groups = c.groups("s");
  ASSERT_TRUE(groups.ok()) << groups.error().message;
  ASSERT_EQ(groups->size(), 1u);
  EXPECT_EQ((*groups)[0].pending, 3);
  EXPECT_EQ((*groups)[0].lag, 2);
  EXPECT_EQ((*groups)[0].entriesRead, 3);

  auto info = c.streamInfo("s");
  ASSERT_TRUE(info.ok()) << info.error().message;
  EXPECT_EQ(info->length, 5);
  EXPECT_EQ(info->entriesAdded, 5);
  auto last = c.command({"XREVRANGE", "s", "+", "-", "COUNT", "1"});
  ASSERT_TRUE(last.ok());
  EXPECT_EQ(info->lastGeneratedId, last->elements[0].elements[0].str);

  std::vector<std::string> ids;
  for (auto& e : *read) ids.push_back(e.id);
  auto acked = c.ack("s", "g", ids);
  ASSERT_TRUE(acked.ok());
  EXPECT_EQ(*acked, 3);
  summary = c.pendingSummary("s", "g");
  EXPECT_EQ(summary->count, 0);
}

TEST_F(RedisClientTest, AutoClaimReportsDeliveryCounts) {
  Client c(optionsFor(*server_), clock_);
  ASSERT_TRUE(c.createGroup("s", "g", "0").ok());
  ASSERT_TRUE(c.add("s", {{"k", "v"}}).ok());
  ASSERT_TRUE(c.add("s", {{"k", "w"}}).ok());
  ASSERT_EQ(c.readGroup("s", "g", "dead", ">", 10, -1)->size(), 2u);
  ASSERT_TRUE(c.command({"XDEL", "s", c.pendingRange("s", "g", "-", "+", 10)->back().id}).ok());
  auto claim = c.autoClaim("s", "g", "alive", 0, "0-0", 10);
  ASSERT_TRUE(claim.ok()) << claim.error().message;
  EXPECT_EQ(claim->nextCursor, "0-0");
  ASSERT_EQ(claim->entries.size(), 1u);
  EXPECT_EQ(claim->entries[0].deliveries, 2);
  EXPECT_EQ(*claim->entries[0].field("k"), "v");
  EXPECT_EQ(claim->deletedIds.size(), 1u);
  auto rows = c.pendingRange("s", "g", "-", "+", 10);
  ASSERT_EQ(rows->size(), 1u);
  EXPECT_EQ((*rows)[0].consumer, "alive");
}

TEST_F(RedisClientTest, NilLagAfterSetIdAndMissingStream) {
  Client c(optionsFor(*server_), clock_);
  auto missing = c.groups("nope");
  ASSERT_FALSE(missing.ok());
  EXPECT_EQ(missing.error().code, Errc::kNotFound);
  EXPECT_EQ(c.streamInfo("nope").error().code, Errc::kNotFound);
  ASSERT_TRUE(c.add("s", {{"a", "1"}}).ok());
  auto middle = c.add("s", {{"a", "2"}});
  ASSERT_TRUE(middle.ok());
  ASSERT_TRUE(c.add("s", {{"a", "3"}}).ok());
  ASSERT_TRUE(c.createGroup("s", "g", *middle).ok());  // an arbitrary start id: Redis cannot tell the lag
  auto groups = c.groups("s");
  ASSERT_TRUE(groups.ok());
  EXPECT_FALSE((*groups)[0].lag.has_value());
}

TEST_F(RedisClientTest, PipelineReturnsOneReplyPerCommandInOrder) {
  Client c(optionsFor(*server_), clock_);
  std::vector<Command> cmds;
  for (int i = 0; i < 2000; ++i) cmds.push_back({"XADD", "p", "*", "i", std::to_string(i)});
  cmds.push_back({"XLEN", "p"});
  cmds.push_back({"NOSUCHCOMMAND"});
  auto r = c.pipeline(cmds);
  ASSERT_TRUE(r.ok()) << r.error().message;
  ASSERT_EQ(r->size(), 2002u);
  EXPECT_EQ((*r)[2000].integer, 2000);
  EXPECT_TRUE((*r)[2001].isError());
  EXPECT_TRUE(c.ping().ok());  // still usable after an error reply
  EXPECT_EQ(*c.del({"p", "nothing"}), 1);
}

TEST_F(RedisClientTest, BlockingReadTimesOutEmpty) {
  Client c(optionsFor(*server_), clock_);
  ASSERT_TRUE(c.createGroup("s", "g", "$").ok());
  auto r = c.readGroup("s", "g", "c", ">", 10, 50);
  ASSERT_TRUE(r.ok()) << r.error().message;
  EXPECT_TRUE(r->empty());
}

TEST_F(RedisClientTest, SelectsTheDatabase) {
  auto o = optionsFor(*server_);
  o.db = 3;
  Client c(o, clock_);
  ASSERT_TRUE(c.add("in3", {{"a", "b"}}).ok());
  EXPECT_NE(server_->cli("-n 3 XLEN in3").find("1"), std::string::npos);
  EXPECT_NE(server_->cli("-n 0 XLEN in3").find("0"), std::string::npos);
}

TEST(RedisClientAuth, PasswordRequiredAndChecked) {
  RedisServer s(RedisServer::Options{.password = "s3cret"});
  auto o = optionsFor(s);
  EXPECT_EQ(o.password, "s3cret");
  Client good(o, SystemClock::instance());
  EXPECT_TRUE(good.ping().ok());
  o.password = "wrong";
  Client bad(o, SystemClock::instance());
  auto r = bad.ping();
  ASSERT_FALSE(r.ok());
  EXPECT_NE(r.error().message.find("AUTH"), std::string::npos);
  o.password.clear();
  Client none(o, SystemClock::instance());
  auto n = none.command({"XLEN", "x"});
  ASSERT_TRUE(n.ok());
  EXPECT_TRUE(n->isError());  // NOAUTH comes back as an error reply
}

TEST(RedisClientTls, VerifiesTheServerAgainstTheCa) {
  RedisServer s(RedisServer::Options{.tls = true, .password = "pw"});
  auto o = optionsFor(s);
  ASSERT_TRUE(o.tls.enabled);
  Client ok(o, SystemClock::instance());
  auto p = ok.ping();
  EXPECT_TRUE(p.ok()) << p.error().message;
  ASSERT_TRUE(ok.createGroup("t", "g", "0").ok());
  ASSERT_TRUE(ok.add("t", {{"big", std::string(200000, 'z')}}).ok());
  auto r = ok.readGroup("t", "g", "c", ">", 10, 100);
  ASSERT_TRUE(r.ok()) << r.error().message;
  ASSERT_EQ(r->size(), 1u);
  EXPECT_EQ(r->front().field("big")->size(), 200000u);

  auto noCa = o;
  noCa.tls.caFile.clear();  // system CAs do not know the test CA
  Client untrusted(noCa, SystemClock::instance());
  EXPECT_FALSE(untrusted.ping().ok());

  auto wrongName = o;
  wrongName.tls.serverName = "not-the-server.example";
  Client mismatched(wrongName, SystemClock::instance());
  EXPECT_FALSE(mismatched.ping().ok());

  auto insecure = noCa;
  insecure.tls.insecureSkipVerify = true;
  Client skip(insecure, SystemClock::instance());
  EXPECT_TRUE(skip.ping().ok());

  auto plain = o;
  plain.tls.enabled = false;
  plain.readTimeout = std::chrono::milliseconds(300);
  Client wrongProtocol(plain, SystemClock::instance());
  EXPECT_FALSE(wrongProtocol.ping().ok());
}

// The operator has no writable disk: it hands the CA bundle and the client
// certificate and key (read from Secrets) to the client as PEM text.
TEST(RedisClientTls, PemTextInPlaceOfFilesIncludingAClientCertificate) {
  RedisServer s(RedisServer::Options{.tls = true, .requireClientCert = true});
  auto o = optionsFor(s);
  ASSERT_TRUE(o.tls.enabled);
  o.tls.caFile.clear();
  o.tls.caPem = Process::readFile(s.caFile());
  o.tls.certPem = Process::readFile(s.clientCertFile());
  o.tls.keyPem = Process::readFile(s.clientKeyFile());
  ASSERT_NE(o.tls.caPem.find("BEGIN CERTIFICATE"), std::string::npos);
  Client withCert(o, SystemClock::instance());
  auto p = withCert.ping();
  EXPECT_TRUE(p.ok()) << p.error().message;

  auto noCert = o;
  noCert.tls.certPem.clear();
  noCert.tls.keyPem.clear();
  noCert.readTimeout = std::chrono::milliseconds(500);
  Client anonymous(noCert, SystemClock::instance());
  EXPECT_FALSE(anonymous.ping().ok()) << "the server requires a client certificate";

  auto badCa = o;
  badCa.tls.caPem = "not a certificate";
  Client broken(badCa, SystemClock::instance());
  auto b = broken.ping();
  ASSERT_FALSE(b.ok());
  EXPECT_NE(b.error().message.find("CA PEM holds no certificate"), std::string::npos)
      << b.error().message;
}

TEST(RedisClientReconnect, BacksOffOnTheInjectedClockAndRecovers) {
  RedisServer s;
  ManualClock clock;
  auto o = optionsFor(s);
  o.reconnectInitial = std::chrono::seconds(1);
  o.reconnectMax = std::chrono::seconds(8);
  Client c(o, clock);
  ASSERT_TRUE(c.ping().ok());
  s.stop();
  EXPECT_FALSE(c.ping().ok());  // the broken connection
  EXPECT_FALSE(c.ping().ok());  // a failed reconnect: backoff starts
  EXPECT_GT(c.retryDelay(), Duration::zero());
  s.restart();
  auto fast = c.ping();
  ASSERT_FALSE(fast.ok());  // still inside the backoff window: fails fast
  EXPECT_NE(fast.error().message.find("waiting to reconnect"), std::string::npos);
  clock.advance(c.retryDelay());
  EXPECT_TRUE(c.ping().ok());
  EXPECT_EQ(c.retryDelay(), Duration::zero());
}

TEST(RedisClientConnect, RefusedAndTimeoutAreErrors) {
  ConnectionOptions o;
  o.port = shoal::testing::freePort();
  auto r = Connection::open(o);
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.error().code, Errc::kIo);
  o.host = "no-such-host.invalid";
  EXPECT_FALSE(Connection::open(o).ok());
}

}  // namespace
}  // namespace shoal::redis
