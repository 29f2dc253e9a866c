// The body decoders and the JSON scanner under them: every accepted shape
// keeps each object byte for byte, every refused body names where it went
// wrong, and the answer does not depend on how the input is cut.
#include <gtest/gtest.h>

#include "shoal/receiver/decode.h"
#include "shoal/receiver/json_scan.h"

namespace shoal::receiver {
namespace {

std::vector<std::string> jsons(const DecodedEvents& d) {
  std::vector<std::string> out;
  for (auto& e : d.entries) out.emplace_back(e.json);
  return out;
}

TEST(ScanValue, AcceptsTheGrammarAndStopsJustPastTheValue) {
  for (std::string_view ok : {R"({})", R"([])", R"("a\"\\\/\b\f\n\r\tä\u00e9")", "0", "-0.5e+10", "1E3", "true",
                              "false", "null", R"({"a":[1,{"b":null}],"c":"\ud83d\ude00"})"}) {
    size_t pos = 0;
    EXPECT_FALSE(scanValue(ok, pos).has_value()) << ok;
    EXPECT_EQ(pos, ok.size()) << ok;
  }
}

TEST(ScanValue, RefusesWhatIsNotJsonAndSaysWhere) {
  struct Case {
    std::string text;
    size_t byte;
  };
  for (const Case& c : std::vector<Case>{{R"({"a" 1})", 5},
                                         {R"({"a":01})", 6},
                                         {R"({"a":1,})", 7},
                                         {R"([1 2])", 3},
                                         {R"("abc)", 0},
                                         {"\"a\tb\"", 2},
                                         {R"("\x")", 1},
                                         {R"("\u12G4")", 1},
                                         {"tru", 0},
                                         {"-", 0},
                                         {"1.", 0},
                                         {"{\"a\":\"\xC3\x28\"}", 6}}) {
    size_t pos = 0;
    auto e = scanValue(c.text, pos);
    ASSERT_TRUE(e.has_value()) << c.text;
    EXPECT_EQ(e->byte, c.byte) << c.text << ": " << e->message;
  }
}

TEST(ScanValue, NestingIsBounded) {
  std::string deep(kMaxJsonDepth + 1, '[');
  deep += std::string(kMaxJsonDepth + 1, ']');
  size_t pos = 0;
  auto e = scanValue(deep, pos);
  ASSERT_TRUE(e.has_value());
  EXPECT_NE(e->message.find("nested"), std::string::npos);
  std::string fine(kMaxJsonDepth, '[');
  fine += std::string(kMaxJsonDepth, ']');
  pos = 0;
  EXPECT_FALSE(scanValue(fine, pos).has_value());
}

TEST(ValidUtf8, RefusesOverlongsSurrogatesAndPastTheLastCodePoint) {
  EXPECT_TRUE(validUtf8("plain ä € 😀"));
  for (std::string bad : {"\xC0\xAF", "\xE0\x80\xAF", "\xED\xA0\x80", "\xF4\x90\x80\x80", "\xF8", "\xE2\x82",
                          "\x80"}) {
    size_t at = 99;
    EXPECT_FALSE(validUtf8("ok" + bad, &at)) << bad;
    EXPECT_EQ(at, 2u);
  }
}

TEST(DecodeEvents, OneObjectAnArrayAndNdjsonKeepEachObjectAsSent) {
  EXPECT_EQ(jsons(decodeEvents(R"({"a": 1})")), (std::vector<std::string>{R"({"a": 1})"}));
  EXPECT_EQ(jsons(decodeEvents(" [ {\"a\":1} , {\"b\":[2]} ]\n")),
            (std::vector<std::string>{R"({"a":1})", R"({"b":[2]})"}));
  auto nd = decodeEvents("{\"a\":1}\n{\"b\":2}\r\n\n{\"c\":3}\n");
  EXPECT_EQ(jsons(nd), (std::vector<std::string>{R"({"a":1})", R"({"b":2})", R"({"c":3})"}));
  EXPECT_EQ(nd.entries[2].line, 4u);
  // A pretty-printed object is one entry.
  EXPECT_EQ(decodeEvents("{\n  \"a\": 1,\n  \"b\": 2\n}\n").entries.size(), 1u);
  // An empty array is no entries, not an error.
  auto empty = decodeEvents("[]");
  EXPECT_FALSE(empty.error.has_value());
  EXPECT_TRUE(empty.entries.empty());
}

TEST(DecodeEvents, MalformedJsonNamesLineColumnAndByte) {
  auto d = decodeEvents("{\"a\":1}\n{\"b\":2}\n{\"c\" 3}\n");
  ASSERT_TRUE(d.error.has_value());
  EXPECT_EQ(d.error->line, 3u);
  EXPECT_EQ(d.error->column, 6u);
  EXPECT_EQ(d.error->byte, 21u);
  EXPECT_FALSE(d.error->utf8);
  EXPECT_EQ(d.error->describe(), "invalid JSON at line 3, column 6 (byte 21): unexpected character, expected ':'");
}

TEST(DecodeEvents, EachRefusedShapeIsAnError) {
  for (std::string bad : {"", "  \n", "[1]", "\"text\"", "[{\"a\":1},]", "[{\"a\":1}", "[{\"a\":1}] x", "{\"a\":1} 2",
                          "{\"a\":1}\n{"}) {
    EXPECT_TRUE(decodeEvents(bad).error.has_value()) << "'" << bad << "'";
  }
}

TEST(DecodeEvents, InvalidUtf8IsNamedAsSuch) {
  auto inString = decodeEvents("{\"a\":\"ok\"}\n{\"a\":\"\xFF\"}\n");
  ASSERT_TRUE(inString.error.has_value());
  EXPECT_TRUE(inString.error->utf8);
  EXPECT_EQ(inString.error->line, 2u);
  auto outside = decodeEvents("\xC3\x28");
  ASSERT_TRUE(outside.error.has_value());
  EXPECT_TRUE(outside.error->utf8);
}

TEST(DecodeEvents, TheShardKeyIsTheTopLevelMembersValue) {
  auto d = decodeEvents(R"({"x":{"host":"inner"},"host":"web-1","n":2}
{"host":7}
{"other":1})",
                        "host");
  ASSERT_EQ(d.entries.size(), 3u);
  EXPECT_TRUE(d.entries[0].hasKey);
  EXPECT_EQ(d.entries[0].key, "web-1");
  EXPECT_EQ(d.entries[1].key, "7");
  EXPECT_FALSE(d.entries[2].hasKey);
}

TEST(DecodeEvents, TheOutcomeIsTheSameWhereverTheInputIsCut) {
  // Every prefix of a valid body either decodes to a prefix of its entries
  // or is refused; never a crash, never an entry that was not sent.
  const std::string body = "{\"a\":\"x\"}\n{\"b\":[1,2,{\"c\":null}]}\n{\"d\":\"é\"}\n";
  const auto all = jsons(decodeEvents(body));
  for (size_t cut = 0; cut <= body.size(); ++cut) {
    auto d = decodeEvents(std::string_view(body).substr(0, cut));
    if (d.error) continue;
    auto got = jsons(d);
    ASSERT_LE(got.size(), all.size());
    for (size_t i = 0; i < got.size(); ++i) EXPECT_EQ(got[i], all[i]) << cut;
  }
}

TEST(DecodeBulk, IndexAndCreatePairsBecomeItemsWithTheirIndexAndId) {
  auto d = decodeBulk("{\"index\":{\"_index\":\"a\",\"_id\":\"1\"}}\n{\"m\":1}\n"
                      "{\"create\":{}}\r\n  {\"m\":2} \r\n\n",
                      "from-path");
  ASSERT_FALSE(d.error.has_value());
  ASSERT_EQ(d.items.size(), 2u);
  EXPECT_EQ(d.items[0].op, "index");
  EXPECT_EQ(d.items[0].index, "a");
  EXPECT_EQ(d.items[0].id, "1");
  EXPECT_EQ(d.items[0].source, "{\"m\":1}");
  EXPECT_EQ(d.items[1].op, "create");
  EXPECT_EQ(d.items[1].index, "from-path");
  EXPECT_EQ(d.items[1].source, "{\"m\":2}");
  EXPECT_EQ(d.items[1].line, 3u);
  EXPECT_FALSE(d.items[1].error.has_value());
}

TEST(DecodeBulk, ABadSourceOrAnUnsupportedOpIsThatItemsErrorOnly) {
  auto d = decodeBulk("{\"delete\":{\"_id\":\"9\"}}\n"
                      "{\"update\":{\"_id\":\"9\"}}\n{\"doc\":{}}\n"
                      "{\"index\":{}}\n{\"broken\n"
                      "{\"index\":{}}\n{\"fine\":true}\n");
  ASSERT_FALSE(d.error.has_value());
  ASSERT_EQ(d.items.size(), 4u);
  EXPECT_EQ(d.items[0].errorType, "illegal_argument_exception");
  EXPECT_EQ(d.items[1].errorType, "illegal_argument_exception");
  EXPECT_EQ(d.items[2].errorType, "mapper_parsing_exception");
  EXPECT_NE(d.items[2].error->find("line 5"), std::string::npos) << *d.items[2].error;
  EXPECT_FALSE(d.items[3].error.has_value());
}

TEST(DecodeBulk, ABadActionLineOrAMissingSourceRefusesTheBody) {
  for (std::string bad : {"{\"index\":{}}\n", "not json\n{}\n", "{\"index\":{}} x\n{}\n", "{\"upsert\":{}}\n{}\n",
                          "{\"index\":{},\"create\":{}}\n{}\n", "{\"index\":1}\n{}\n", "[]\n{}\n"}) {
    auto d = decodeBulk(bad);
    EXPECT_TRUE(d.error.has_value()) << bad;
  }
  auto d = decodeBulk("{\"index\":{}}\n{}\n{\"index\" {}}\n{}\n");
  ASSERT_TRUE(d.error.has_value());
  EXPECT_EQ(d.error->line, 3u);
}

}  // namespace
}  // namespace shoal::receiver
