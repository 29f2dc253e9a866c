// Unit tests of the watch-event decoder: the same stream cut at every
// position into two and three chunks, byte by byte, and with CRLF, blank
// lines, malformed lines and over-long lines.
#include <gtest/gtest.h>

#include <string>
#include <vector>

#include "shoal/kube/watch_decoder.h"

namespace shoal::kube {
namespace {

const std::string kStream =
    "{\"type\":\"ADDED\",\"object\":{\"metadata\":{\"name\":\"a\",\"resourceVersion\":\"10\"}}}\n"
    "{\"type\":\"MODIFIED\",\"object\":{\"metadata\":{\"name\":\"a\",\"resourceVersion\":\"11\"},"
    "\"data\":{\"k\":\"multi\\nline \\u00e9\"}}}\n"
    "\n"
    "{\"type\":\"BOOKMARK\",\"object\":{\"metadata\":{\"resourceVersion\":\"12\"}}}\r\n"
    "{\"type\":\"DELETED\",\"object\":{\"metadata\":{\"name\":\"a\",\"resourceVersion\":\"13\"}}}\n"
    "{\"type\":\"ERROR\",\"object\":{\"kind\":\"Status\",\"code\":410,\"reason\":\"Expired\","
    "\"message\":\"too old resource version: 1 (5)\"}}\n";

void expectFullStream(const std::vector<WatchEvent>& evs) {
  ASSERT_EQ(evs.size(), 5u);
  EXPECT_EQ(evs[0].type, WatchEvent::Type::kAdded);
  EXPECT_EQ(resourceVersionOf(evs[0].object), "10");
  EXPECT_EQ(evs[1].type, WatchEvent::Type::kModified);
  EXPECT_EQ(evs[1].object["data"]["k"], "multi\nline \xc3\xa9");
  EXPECT_EQ(evs[2].type, WatchEvent::Type::kBookmark);
  EXPECT_EQ(resourceVersionOf(evs[2].object), "12");
  EXPECT_EQ(evs[3].type, WatchEvent::Type::kDeleted);
  EXPECT_EQ(evs[4].type, WatchEvent::Type::kError);
  ApiError e = evs[4].statusError();
  EXPECT_EQ(e.code, 410);
  EXPECT_TRUE(e.isGone());
  EXPECT_EQ(e.reason, "Expired");
}

TEST(WatchDecoder, WholeStreamInOneChunk) {
  WatchEventDecoder d;
  std::vector<WatchEvent> evs;
  ASSERT_TRUE(d.feed(kStream, evs).ok());
  expectFullStream(evs);
  EXPECT_EQ(d.pendingBytes(), 0u);
}

TEST(WatchDecoder, EverySplitIntoTwoChunks) {
  for (size_t i = 0; i <= kStream.size(); ++i) {
    WatchEventDecoder d;
    std::vector<WatchEvent> evs;
    ASSERT_TRUE(d.feed(std::string_view(kStream).substr(0, i), evs).ok()) << i;
    ASSERT_TRUE(d.feed(std::string_view(kStream).substr(i), evs).ok()) << i;
    expectFullStream(evs);
    EXPECT_EQ(d.pendingBytes(), 0u);
  }
}

TEST(WatchDecoder, EverySplitIntoThreeChunks) {
  // Every pair of cut points (O(n^2) feeds of a ~600-byte stream: fast).
  for (size_t i = 0; i <= kStream.size(); i += 1) {
    for (size_t j = i; j <= kStream.size(); j += 3) {
      WatchEventDecoder d;
      std::vector<WatchEvent> evs;
      std::string_view s(kStream);
      ASSERT_TRUE(d.feed(s.substr(0, i), evs).ok());
      ASSERT_TRUE(d.feed(s.substr(i, j - i), evs).ok());
      ASSERT_TRUE(d.feed(s.substr(j), evs).ok());
      expectFullStream(evs);
    }
  }
}

TEST(WatchDecoder, ByteByByte) {
  WatchEventDecoder d;
  std::vector<WatchEvent> evs;
  size_t emittedBeforeLastNewline = 0;
  for (size_t i = 0; i < kStream.size(); ++i) {
    ASSERT_TRUE(d.feed(std::string_view(&kStream[i], 1), evs).ok());
    if (i + 1 < kStream.size()) emittedBeforeLastNewline = evs.size();
  }
  expectFullStream(evs);
  // The last event is only emitted once its newline arrives.
  EXPECT_EQ(emittedBeforeLastNewline, 4u);
}

TEST(WatchDecoder, IncompleteTailIsKeptNotEmitted) {
  WatchEventDecoder d;
  std::vector<WatchEvent> evs;
  std::string partial = "{\"type\":\"ADDED\",\"object\":{\"metadata\":{\"name\":\"x\"}}}";
  ASSERT_TRUE(d.feed(partial, evs).ok());
  EXPECT_TRUE(evs.empty());
  EXPECT_EQ(d.pendingBytes(), partial.size());
  ASSERT_TRUE(d.feed("\n", evs).ok());
  ASSERT_EQ(evs.size(), 1u);
  EXPECT_EQ(nameOf(evs[0].object), "x");
}

TEST(WatchDecoder, MalformedLinesAreErrorsAndDecodingContinues) {
  const std::vector<std::string> bad = {
      "not json\n",
      "[1,2]\n",
      "{\"type\":\"ADDED\"}\n",                           // no object
      "{\"object\":{}}\n",                                // no type
      "{\"type\":\"EXPLODED\",\"object\":{}}\n",          // unknown type
      "{\"type\":5,\"object\":{}}\n",                     // type not a string
      "{\"type\":\"ADDED\",\"object\":\"str\"}\n",        // object not an object
      "{\"type\":\"ADDED\",\"object\":{\"a\":\n",         // cut mid-object then newline
  };
  for (const auto& line : bad) {
    WatchEventDecoder d;
    std::vector<WatchEvent> evs;
    auto r = d.feed(line + "{\"type\":\"ADDED\",\"object\":{\"metadata\":{\"name\":\"ok\"}}}\n", evs);
    EXPECT_FALSE(r.ok()) << line;
    EXPECT_EQ(r.error().code, Errc::kProtocol);
    ASSERT_EQ(evs.size(), 1u) << line;
    EXPECT_EQ(nameOf(evs[0].object), "ok");
  }
}

TEST(WatchDecoder, OverLongLineIsRejectedAndSkipped) {
  WatchEventDecoder d(64);
  std::vector<WatchEvent> evs;
  std::string big = "{\"type\":\"ADDED\",\"object\":{\"pad\":\"" + std::string(200, 'x') + "\"}}";
  // Arrives in pieces; the limit trips before the newline.
  auto r1 = d.feed(big.substr(0, 50), evs);
  EXPECT_TRUE(r1.ok());
  auto r2 = d.feed(big.substr(50), evs);
  EXPECT_FALSE(r2.ok());
  EXPECT_LE(d.pendingBytes(), 64u);
  auto r3 = d.feed("\n{\"type\":\"DELETED\",\"object\":{}}\n", evs);
  EXPECT_TRUE(r3.ok());
  ASSERT_EQ(evs.size(), 1u);
  EXPECT_EQ(evs[0].type, WatchEvent::Type::kDeleted);
}

TEST(WatchDecoder, ErrorEventWithoutCodeIsAServerError) {
  WatchEvent ev{WatchEvent::Type::kError, Json{{"kind", "Status"}, {"message", "boom"}}};
  ApiError e = ev.statusError();
  EXPECT_EQ(e.code, 500);
  EXPECT_TRUE(e.isRetryable());
  EXPECT_FALSE(e.isGone());
}

TEST(ApiErrors, DecodedFromStatusBodies) {
  auto e = decodeApiError(
      409, R"({"kind":"Status","apiVersion":"v1","status":"Failure","message":"the object has been modified","reason":"Conflict","code":409})");
  EXPECT_TRUE(e.isConflict());
  EXPECT_FALSE(e.isAlreadyExists());
  EXPECT_FALSE(e.isRetryable());
  EXPECT_EQ(e.toError().code, Errc::kConflict);

  auto a = decodeApiError(409, R"({"kind":"Status","reason":"AlreadyExists","code":409})");
  EXPECT_TRUE(a.isAlreadyExists());
  EXPECT_FALSE(a.isConflict());

  auto nf = decodeApiError(404, R"({"kind":"Status","reason":"NotFound","message":"x not found"})");
  EXPECT_TRUE(nf.isNotFound());
  EXPECT_EQ(nf.toError().code, Errc::kNotFound);

  auto inv = decodeApiError(422, R"({"kind":"Status","reason":"Invalid","details":{"causes":[{"field":"spec.replicas"}]}})");
  EXPECT_TRUE(inv.isInvalid());
  EXPECT_EQ(inv.details["causes"][0]["field"], "spec.replicas");

  auto tm = decodeApiError(429, R"({"kind":"Status","reason":"TooManyRequests","details":{"retryAfterSeconds":3}})");
  EXPECT_TRUE(tm.isRetryable());
  ASSERT_TRUE(tm.retryAfter.has_value());
  EXPECT_EQ(tm.retryAfter->count(), 3);

  auto gone = decodeApiError(410, "");
  EXPECT_TRUE(gone.isGone());
  EXPECT_EQ(gone.reason, "Gone");

  auto html = decodeApiError(503, "<html>upstream down</html>");
  EXPECT_TRUE(html.isRetryable());
  EXPECT_EQ(html.reason, "ServiceUnavailable");
  EXPECT_NE(html.describe().find("upstream down"), std::string::npos);

  ApiError transport;
  EXPECT_TRUE(transport.isRetryable());
  EXPECT_EQ(transport.toError().code, Errc::kIo);
}

TEST(ResourcePaths, CoreGroupsNamespacesAndSubresources) {
  EXPECT_EQ(resourcePath(Resource::pods(), "ns", "p"), "/api/v1/namespaces/ns/pods/p");
  EXPECT_EQ(resourcePath(Resource::deployments(), "ns", "d", "scale"),
            "/apis/apps/v1/namespaces/ns/deployments/d/scale");
  EXPECT_EQ(resourcePath(Resource::deployments(), ""), "/apis/apps/v1/deployments");
  EXPECT_EQ(resourcePath(Resource::namespaces(), "ignored", "x"), "/api/v1/namespaces/x");
  Resource wp{"shoal.dev", "v1alpha1", "workerpools", true, "WorkerPool"};
  EXPECT_EQ(resourcePath(wp, "a", "b", "status"),
            "/apis/shoal.dev/v1alpha1/namespaces/a/workerpools/b/status");
  EXPECT_EQ(urlEncode("app=x,tier!=y"), "app%3Dx%2Ctier%21%3Dy");
}

TEST(ObjectHelpers, KeysAndOwners) {
  Json o = {{"metadata",
             {{"name", "d"},
              {"namespace", "ns"},
              {"ownerReferences",
               {{{"kind", "Other"}, {"name", "o"}},
                {{"kind", "WorkerPool"}, {"name", "wp"}, {"controller", true}}}}}}};
  EXPECT_EQ(keyOf(o), "ns/d");
  auto owner = controllerOwnerOf(o);
  ASSERT_TRUE(owner);
  EXPECT_EQ((*owner)["name"], "wp");
  EXPECT_EQ(splitKey("ns/d"), std::make_pair(std::string("ns"), std::string("d")));
  EXPECT_EQ(splitKey("cluster"), std::make_pair(std::string(""), std::string("cluster")));
  EXPECT_FALSE(controllerOwnerOf(Json{{"metadata", {{"name", "x"}}}}));
  EXPECT_EQ(nameOf(Json("garbage")), "");
}

}  // namespace
}  // namespace shoal::kube
