// gzip bodies: GzipEncoder output decodes back byte for byte (also what the
// gzip tool wrote), and gunzip gives one defined error for everything that is
// not exactly one gzip member within the size limit.
#include "shoal/http/gzip.h"

#include <gtest/gtest.h>

#include <random>

namespace shoal::http {
namespace {

std::string ndjson(size_t lines) {
  std::string s;
  for (size_t i = 0; i < lines; ++i)
    s += R"({"create":{"_index":"logs-checkout-2026.11.21","_id":"logs/1763700000000-)" + std::to_string(i) +
         "\"}}\n" + R"({"@timestamp":"2026-11-21T05:00:00.000Z","message":"GET /api/v1/items/)" +
         std::to_string(i * 7919) + "\"}\n";
  return s;
}

TEST(Gzip, EncodedBodiesDecodeBackAtEveryLevel) {
  const std::string body = ndjson(500);
  for (int level : {0, 1, 6, 9, 42}) {
    GzipEncoder enc(level);
    std::string gz;
    ASSERT_TRUE(enc.encode(body, gz)) << level;
    EXPECT_LT(gz.size(), body.size() / 4) << level;
    ASSERT_EQ(static_cast<unsigned char>(gz[0]), 0x1f);
    ASSERT_EQ(static_cast<unsigned char>(gz[1]), 0x8b);
    auto back = gunzip(gz, body.size());
    ASSERT_TRUE(back.ok()) << back.error().message;
    EXPECT_EQ(*back, body);
  }
}

TEST(Gzip, OneEncoderServesManyBodiesIncludingEmptyAndIncompressible) {
  GzipEncoder enc;
  std::mt19937_64 rng(1);
  std::string noise(100000, '\0');
  for (char& c : noise) c = static_cast<char>(rng());
  for (const std::string& body : {ndjson(3), std::string(), noise, ndjson(1000), std::string("x")}) {
    std::string gz = "stale bytes from before";
    ASSERT_TRUE(enc.encode(body, gz));
    auto back = gunzip(gz, 1u << 20);
    ASSERT_TRUE(back.ok()) << back.error().message;
    EXPECT_EQ(*back, body);
  }
}

TEST(Gzip, DecodesWhatTheGzipToolWrote) {
  // printf 'hello shoal\n' | gzip -n -9
  const unsigned char tool[] = {0x1f, 0x8b, 0x08, 0x00, 0x00, 0x00, 0x00, 0x00, 0x02, 0x03, 0xcb,
                                0x48, 0xcd, 0xc9, 0xc9, 0x57, 0x28, 0xce, 0xc8, 0x4f, 0xcc, 0xe1,
                                0x02, 0x00, 0x32, 0x33, 0xcb, 0xe4, 0x0c, 0x00, 0x00, 0x00};
  auto back = gunzip(std::string_view(reinterpret_cast<const char*>(tool), sizeof tool), 100);
  ASSERT_TRUE(back.ok()) << back.error().message;
  EXPECT_EQ(*back, "hello shoal\n");
}

TEST(Gzip, AnythingButOneWholeMemberWithinTheLimitIsAnError) {
  GzipEncoder enc;
  std::string gz;
  const std::string body = ndjson(50);
  ASSERT_TRUE(enc.encode(body, gz));
  auto fails = [](std::string_view in, size_t max) {
    auto r = gunzip(in, max);
    if (r.ok()) return false;
    EXPECT_EQ(r.error().code, Errc::kProtocol);
    EXPECT_EQ(r.error().message.rfind("gzip: ", 0), 0u) << r.error().message;
    return true;
  };
  EXPECT_TRUE(fails("not gzip at all", 1000));
  EXPECT_TRUE(fails("", 1000));
  EXPECT_TRUE(fails(std::string_view(gz).substr(0, gz.size() / 2), 1u << 20));  // truncated
  EXPECT_TRUE(fails(std::string_view(gz).substr(0, gz.size() - 1), 1u << 20));  // trailer cut
  EXPECT_TRUE(fails(gz + "trailing", 1u << 20));
  EXPECT_TRUE(fails(gz, body.size() - 1));  // one byte over the limit
  std::string flipped = gz;
  flipped[gz.size() - 6] = static_cast<char>(flipped[gz.size() - 6] ^ 0x55);  // CRC no longer matches
  EXPECT_TRUE(fails(flipped, 1u << 20));
  EXPECT_TRUE(gunzip(gz, body.size()).ok());  // exactly at the limit
}

}  // namespace
}  // namespace shoal::http
