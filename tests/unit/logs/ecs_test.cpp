// Mapping stream entries (JSON, syslog, plain fields) to ECS documents.
#include "shoal/logs/ecs.h"

#include <gtest/gtest.h>

#include <nlohmann/json.hpp>

using namespace shoal;
using namespace shoal::logs;
using nlohmann::json;

namespace {

constexpr EpochNanos kIngest = 1'700'000'000LL * 1'000'000'000;  // 2023-11-14T22:13:20Z

StreamEntry entry(std::vector<std::pair<std::string, std::string>> fields) {
  StreamEntry e;
  e.id = "1700000000000-0";
  e.fields = std::move(fields);
  return e;
}

json mapOk(const StreamEntry& e, const LogsTransformConfig& cfg = {}) {
  auto doc = mapToEcs(e, cfg, kIngest);
  EXPECT_TRUE(doc) << (doc ? "" : doc.error().message);
  if (!doc) return json();
  return json::parse(doc->json());
}

std::string mapError(const StreamEntry& e, const LogsTransformConfig& cfg = {}) {
  auto doc = mapToEcs(e, cfg, kIngest);
  EXPECT_FALSE(doc);
  return doc ? std::string() : doc.error().message;
}

}  // namespace

TEST(EcsJson, MapsCommonAliasesToEcsFields) {
  json d = mapOk(entry({{"message",
                         R"({"ts":"2024-01-02T03:04:05.678Z","level":"WARN","msg":"disk low",)"
                         R"("service":"api","hostname":"web-1","trace_id":"abc","spanId":"def",)"
                         R"("user":{"id":42},"bytes":1234})"}}));
  EXPECT_EQ(d["@timestamp"], "2024-01-02T03:04:05.678Z");
  EXPECT_EQ(d["log"]["level"], "warn");
  EXPECT_EQ(d["message"], "disk low");
  EXPECT_EQ(d["service"]["name"], "api");
  EXPECT_EQ(d["host"]["name"], "web-1");
  EXPECT_EQ(d["trace"]["id"], "abc");
  EXPECT_EQ(d["span"]["id"], "def");
  EXPECT_EQ(d["event"]["dataset"], "generic");
  EXPECT_EQ(d["event"]["ingested"], "2023-11-14T22:13:20.000Z");
  EXPECT_EQ(d["ecs"]["version"], "8.11.0");
  // Other fields are kept as they were; consumed aliases are gone.
  EXPECT_EQ(d["user"]["id"], 42);
  EXPECT_EQ(d["bytes"], 1234);
  for (const char* gone : {"ts", "level", "msg", "hostname", "trace_id", "spanId"})
    EXPECT_FALSE(d.contains(gone)) << gone;
}

TEST(EcsJson, NestedEcsObjectsMergeWithOurFields) {
  json d = mapOk(entry({{"message",
                         R"({"@timestamp":1700000000123,"message":"m","log":{"level":"info","logger":"x"},)"
                         R"("service":{"name":"svc","version":"2"},"event":{"dataset":"app.access","kind":"event"}})"}}));
  EXPECT_EQ(d["@timestamp"], "2023-11-14T22:13:20.123Z");
  EXPECT_EQ(d["log"]["level"], "info");
  EXPECT_EQ(d["log"]["logger"], "x");
  EXPECT_EQ(d["service"]["name"], "svc");
  EXPECT_EQ(d["service"]["version"], "2");
  EXPECT_EQ(d["event"]["dataset"], "app.access");
  EXPECT_EQ(d["event"]["kind"], "event");
}

TEST(EcsJson, DottedKeysAndNumericPinoLevels) {
  json d = mapOk(entry({{"message", R"({"log.level":"error","service.name":"a","time":1700000000})"}}));
  EXPECT_EQ(d["log"]["level"], "error");
  EXPECT_EQ(d["service"]["name"], "a");
  EXPECT_EQ(d["@timestamp"], "2023-11-14T22:13:20.000Z");
  EXPECT_FALSE(d.contains("log.level"));
  d = mapOk(entry({{"message", R"({"level":50,"msg":"boom"})"}}));
  EXPECT_EQ(d["log"]["level"], "error");
}

TEST(EcsJson, MissingTimestampUsesTheEntryIdTimeThenIngestTime) {
  StreamEntry e = entry({{"message", R"({"msg":"x"})"}});
  e.id = "1600000000123-4";
  auto doc = mapToEcs(e, {}, kIngest);
  ASSERT_TRUE(doc);
  EXPECT_TRUE(doc->timestampInferred);
  EXPECT_EQ(json::parse(doc->json())["@timestamp"], "2020-09-13T12:26:40.123Z");
  EXPECT_EQ(json::parse(doc->json())["event"]["ingested"], "2023-11-14T22:13:20.000Z");
  e.id = "not-an-id";
  doc = mapToEcs(e, {}, kIngest);
  ASSERT_TRUE(doc);
  EXPECT_EQ(json::parse(doc->json())["@timestamp"], "2023-11-14T22:13:20.000Z");
  EXPECT_EQ(entryIdTime("1700000000000-0"), kIngest);
  EXPECT_FALSE(entryIdTime("-1"));
  EXPECT_FALSE(entryIdTime(""));
}

TEST(EcsJson, UnparseableTimestampIsAnError) {
  EXPECT_NE(mapError(entry({{"message", R"({"timestamp":"yesterday"})"}})).find("timestamp"),
            std::string::npos);
  EXPECT_NE(mapError(entry({{"message", R"({"@timestamp":true})"}})).find("timestamp"),
            std::string::npos);
}

TEST(EcsJson, MalformedJsonAndNonObjectsAreErrorsWithReasons) {
  for (const char* bad : {R"({"a":)", R"({"a":1,})", R"({'a':1})", "{", R"({"a":1} x)"}) {
    std::string why = mapError(entry({{"message", bad}}));
    EXPECT_EQ(why.rfind("parse: json:", 0), 0u) << bad << " -> " << why;
  }
  LogsTransformConfig json;
  json.format = LogFormat::kJson;
  EXPECT_NE(mapError(entry({{"message", "[1,2]"}}), json).find("not a JSON object"),
            std::string::npos);
  EXPECT_NE(mapError(entry({{"other", "{}"}}), json).find("no field"), std::string::npos);
}

TEST(EcsJson, InvalidUtf8IsDeadLetteredNotReplaced) {
  std::string bad = "{\"msg\":\"caf\xC3\x28\"}";
  EXPECT_NE(mapError(entry({{"message", bad}})).find("UTF-8"), std::string::npos);
  LogsTransformConfig plain;
  plain.format = LogFormat::kFields;
  EXPECT_NE(mapError(entry({{"level", "info"}, {"msg", "\xFF"}}), plain).find("UTF-8"),
            std::string::npos);
  EXPECT_NE(mapError(entry({{"message", "<13>Nov 14 22:13:20 h a: \xFE"}})).find("UTF-8"),
            std::string::npos);
}

TEST(EcsJson, EscapesAndUnicodeSurviveRoundTrip) {
  json d = mapOk(entry({{"message", R"({"msg":"tab\there \"q\" \u00e9 \ud83d\ude00","k\"ey":"v"})"}}));
  EXPECT_EQ(d["message"], "tab\there \"q\" \xC3\xA9 \xF0\x9F\x98\x80");
  EXPECT_EQ(d["k\"ey"], "v");
}

TEST(EcsJson, ScalarAtAnEcsObjectKeyMovesToOriginal) {
  json d = mapOk(entry({{"message", R"({"msg":"a","event":"login","log":"raw text"})"}}));
  EXPECT_EQ(d["event"]["original"], "login");
  EXPECT_EQ(d["event"]["dataset"], "generic");
  EXPECT_EQ(d["log"]["original"], "raw text");
}

TEST(EcsJson, DockerStyleLogFieldIsTheMessage) {
  json d = mapOk(entry({{"message", R"({"log":"hello\n","stream":"stdout"})"}}));
  EXPECT_EQ(d["message"], "hello\n");
  EXPECT_EQ(d["stream"], "stdout");
}

TEST(EcsEnrichment, AddsConfiguredFieldsWithoutOverwritingTheLog) {
  LogsTransformConfig cfg;
  cfg.enrich = {{"service.environment", "prod"}, {"service.version", "1.2"},
                {"service.name", "fallback"}, {"labels.team", "core"}};
  json d = mapOk(entry({{"message", R"({"msg":"x","service":{"version":"9"}})"}}), cfg);
  EXPECT_EQ(d["service"]["environment"], "prod");
  EXPECT_EQ(d["service"]["version"], "9");  // the log's own value wins
  EXPECT_EQ(d["service"]["name"], "fallback");
  EXPECT_EQ(d["labels"]["team"], "core");
}

TEST(EcsEntryFields, OtherEntryFieldsBecomeLabels) {
  json d = mapOk(entry({{"message", R"({"msg":"x"})"}, {"source", "edge-7"}}));
  EXPECT_EQ(d["labels"]["source"], "edge-7");
  LogsTransformConfig off;
  off.entryFieldsAsLabels = false;
  d = mapOk(entry({{"message", R"({"msg":"x"})"}, {"source", "edge-7"}}), off);
  EXPECT_FALSE(d.contains("labels"));
}

TEST(EcsFields, PlainTextAndFieldEntriesAreTheLogItself) {
  json d = mapOk(entry({{"message", "plain words"}, {"level", "INFO"}, {"service", "api"}}));
  EXPECT_EQ(d["message"], "plain words");
  EXPECT_EQ(d["log"]["level"], "info");
  EXPECT_EQ(d["service"]["name"], "api");
  LogsTransformConfig plain;
  plain.format = LogFormat::kFields;
  d = mapOk(entry({{"msg", "no payload field"}, {"timestamp", "1700000000"}}), plain);
  EXPECT_EQ(d["message"], "no payload field");
  EXPECT_EQ(d["@timestamp"], "2023-11-14T22:13:20.000Z");
  LogsTransformConfig cfg;
  cfg.payloadField = "line";
  d = mapOk(entry({{"line", "text in another field"}}), cfg);
  EXPECT_EQ(d["message"], "text in another field");
}

TEST(EcsSyslog, Rfc5424MapsToEcsAndSyslogFields) {
  json d = mapOk(entry({{"message",
                         "<165>1 2003-10-11T22:14:15.003Z mymachine evntslog 99 ID47 "
                         "[ex@1 a=\"1\" a=\"2\" b=\"x\"] hello"}}));
  EXPECT_EQ(d["@timestamp"], "2003-10-11T22:14:15.003Z");
  EXPECT_EQ(d["message"], "hello");
  EXPECT_EQ(d["log"]["level"], "notice");
  EXPECT_EQ(d["host"]["name"], "mymachine");
  EXPECT_EQ(d["service"]["name"], "evntslog");
  EXPECT_EQ(d["process"]["pid"], 99);
  EXPECT_EQ(d["process"]["name"], "evntslog");
  const json& s = d["log"]["syslog"];
  EXPECT_EQ(s["priority"], 165);
  EXPECT_EQ(s["facility"]["code"], 20);
  EXPECT_EQ(s["facility"]["name"], "local4");
  EXPECT_EQ(s["severity"]["code"], 5);
  EXPECT_EQ(s["msgid"], "ID47");
  EXPECT_EQ(s["structured_data"]["ex@1"]["a"], json::array({"1", "2"}));
  EXPECT_EQ(s["structured_data"]["ex@1"]["b"], "x");
}

TEST(EcsSyslog, Rfc3164AndMalformedSyslog) {
  json d = mapOk(entry({{"message", "<11>Nov 14 22:13:20 web-1 nginx[42]: upstream timed out"}}));
  EXPECT_EQ(d["@timestamp"], "2023-11-14T22:13:20.000Z");
  EXPECT_EQ(d["log"]["level"], "error");
  EXPECT_EQ(d["host"]["name"], "web-1");
  EXPECT_EQ(d["service"]["name"], "nginx");
  EXPECT_EQ(d["process"]["pid"], 42);
  EXPECT_EQ(d["message"], "upstream timed out");
  EXPECT_NE(mapError(entry({{"message", "<13>1 - h a p m [broken"}})).find("rfc5424"),
            std::string::npos);
}

// The year of an RFC 3164 line comes from when the entry was received (its
// id's time, stable across redeliveries), not from the machine's clock.
TEST(EcsSyslog, Rfc3164YearFollowsTheEntryTime) {
  StreamEntry e = entry({{"message", "<13>Dec 31 10:00:00 web-1 app: m"}});
  e.id = "1796212800000-0";  // 2026-12-02T12:00:00Z
  EXPECT_EQ(mapOk(e)["@timestamp"], "2025-12-31T10:00:00.000Z");
  e.id = "1798761540000-0";  // 2026-12-31T23:59:00Z
  e.fields[0].second = "<13>Jan  1 00:00:30 web-1 app: m";
  EXPECT_EQ(mapOk(e)["@timestamp"], "2027-01-01T00:00:30.000Z");
}

TEST(EcsFormat, ExplicitFormatsDoNotGuess) {
  LogsTransformConfig cfg;
  cfg.format = LogFormat::kRfc5424;
  EXPECT_NE(mapError(entry({{"message", "<13>Nov 14 22:13:20 h a: m"}}), cfg).find("rfc5424"),
            std::string::npos);
  cfg.format = LogFormat::kFields;
  json d = mapOk(entry({{"message", R"({"looks":"like json"})"}}), cfg);
  EXPECT_EQ(d["message"], R"({"looks":"like json"})");
}

// Every format but plain reads the payload field; without it the entry is
// dead-lettered with the same reason (auto too: it would otherwise be
// indexed without a message). plain indexes the entry's fields.
TEST(EcsFormat, MissingPayloadFieldIsDeadLetteredByEveryFormatButPlain) {
  const StreamEntry noPayload = entry({{"msg", "wrong field"}, {"level", "info"}});
  for (LogFormat f :
       {LogFormat::kAuto, LogFormat::kJson, LogFormat::kRfc5424, LogFormat::kRfc3164}) {
    LogsTransformConfig cfg;
    cfg.format = f;
    EXPECT_EQ(mapError(noPayload, cfg), "parse: entry has no field \"message\"")
        << static_cast<int>(f);
    cfg.payloadField = "line";
    EXPECT_EQ(mapError(noPayload, cfg), "parse: entry has no field \"line\"")
        << static_cast<int>(f);
  }
  LogsTransformConfig plain;
  plain.format = LogFormat::kFields;
  json d = mapOk(noPayload, plain);
  EXPECT_EQ(d["message"], "wrong field");
  EXPECT_EQ(d["log"]["level"], "info");
}

TEST(EcsFormat, KeepOriginalStoresThePayload) {
  LogsTransformConfig cfg;
  cfg.keepOriginal = true;
  json d = mapOk(entry({{"message", R"({"msg":"x"})"}}), cfg);
  EXPECT_EQ(d["event"]["original"], R"({"msg":"x"})");
}

namespace {

// {"f0":0,"f1":1,...}: n top-level fields.
std::string wideJson(size_t n, size_t from = 0) {
  std::string s = "{";
  for (size_t i = from; i < from + n; ++i) {
    if (i > from) s += ',';
    s += "\"f" + std::to_string(i) + "\":" + std::to_string(i);
  }
  return s + "}";
}

}  // namespace

TEST(EcsWideEntries, AnEntryAtMaxFieldsIsMappedInFull) {
  // The payload's 999 fields and one other entry field (a label): 1000.
  json d = mapOk(entry({{"message", wideJson(999)}, {"source", "edge"}}));
  for (size_t i = 0; i < 999; ++i) ASSERT_EQ(d["f" + std::to_string(i)], i) << i;
  EXPECT_EQ(d["labels"]["source"], "edge");
}

TEST(EcsWideEntries, MoreFieldsThanMaxFieldsIsDeadLetteredNamingCountAndLimit) {
  EXPECT_EQ(mapError(entry({{"message", wideJson(1000)}, {"source", "edge"}})),
            "too many fields: 1001, more than maxFields 1000");
  // Members of top-level objects count, duplicates too (reading them costs the same).
  LogsTransformConfig cfg;
  cfg.maxFields = 5;
  EXPECT_EQ(mapError(entry({{"message", R"({"a":1,"b":{"c":1,"d":2,"e":3},"a":2})"}}), cfg),
            "too many fields: 6, more than maxFields 5");
  EXPECT_TRUE(mapToEcs(entry({{"message", R"({"a":1,"b":{"c":1,"d":2,"e":3}})"}}), cfg, kIngest));
  // plain: the entry's fields; syslog: structured-data parameters and the other fields.
  cfg.format = LogFormat::kFields;
  std::vector<std::pair<std::string, std::string>> many;
  for (int i = 0; i < 6; ++i) many.emplace_back("k" + std::to_string(i), "v");
  EXPECT_EQ(mapError(entry(many), cfg), "too many fields: 6, more than maxFields 5");
  cfg.format = LogFormat::kAuto;
  const std::string sd =
      "<13>1 2024-01-01T00:00:00Z h a - - [x@1 a=\"1\" b=\"2\" c=\"3\"][y@1 d=\"4\"] m";
  EXPECT_TRUE(mapToEcs(entry({{"message", sd}, {"source", "edge"}}), cfg, kIngest));
  EXPECT_EQ(mapError(entry({{"message", sd}, {"source", "edge"}, {"zone", "z"}}), cfg),
            "too many fields: 6, more than maxFields 5");
}

TEST(EcsWideEntries, DuplicatesAmongManyKeysKeepTheFirstValue) {
  // Past the few keys a linear scan handles: the hash-set path must keep the
  // same first-wins rule, at the top level, inside objects and for labels.
  LogsTransformConfig cfg;
  cfg.maxFields = 100000;
  std::string payload = wideJson(20000);  // f0..f19999 = their index
  payload.pop_back();
  for (int i = 10000; i < 30000; ++i) payload += ",\"f" + std::to_string(i) + "\":\"again\"";
  payload += ",\"f5\":\"again\",\"obj\":{";
  for (int i = 0; i < 3000; ++i)
    payload += (i ? ",\"m" : "\"m") + std::to_string(i % 2000) + "\":" + std::to_string(i);
  payload += "}}";
  std::vector<std::pair<std::string, std::string>> fields{{"message", payload}};
  for (int i = 0; i < 3000; ++i)
    fields.emplace_back("l" + std::to_string(i % 2000), std::to_string(i));
  json d = mapOk(entry(fields), cfg);
  EXPECT_EQ(d["f5"], 5);
  EXPECT_EQ(d["f10000"], 10000);
  EXPECT_EQ(d["f19999"], 19999);
  EXPECT_EQ(d["f29999"], "again");
  EXPECT_EQ(d["obj"].size(), 2000u);
  EXPECT_EQ(d["obj"]["m1999"], 1999);  // not 3999
  EXPECT_EQ(d["labels"].size(), 2000u);
  EXPECT_EQ(d["labels"]["l1999"], "1999");
}

TEST(EcsEntryFields, LabelsKeepFlatKeysExistingLabelsAndSkipEmptyNames) {
  json d =
      mapOk(entry({{"message", R"({"msg":"x","labels.zone":"from-log","labels":{"team":"a"}})"},
                   {"zone", "entry"},
                   {"team", "entry"},
                   {"", "nameless"},
                   {"rack", "r1"}}));
  EXPECT_EQ(d["labels.zone"], "from-log");
  EXPECT_FALSE(d["labels"].contains("zone"));
  EXPECT_EQ(d["labels"]["team"], "a");
  EXPECT_EQ(d["labels"]["rack"], "r1");
  EXPECT_EQ(d["labels"].size(), 2u);
}

// simdjson calls a number beyond the double range a structural error; the
// reason names the field and the number instead.
TEST(EcsJson, NumberOutOfRangeNamesTheField) {
  EXPECT_EQ(mapError(entry({{"message", R"({"message":"x","bytes":1e400})"}})),
            "parse: json: bytes: number 1e400 is out of range");
  EXPECT_EQ(mapError(entry({{"message", R"({"@timestamp":-1e400,"message":"x"})"}})),
            "parse: json: @timestamp: number -1e400 is out of range");
  EXPECT_EQ(mapError(entry({{"message", R"({"http":{"sizes":[1,2,1e999]}})"}})),
            "parse: json: http.sizes[2]: number 1e999 is out of range");
  // simdjson also rejects integers wider than 64 bits.
  EXPECT_EQ(mapError(entry({{"message", R"({"id":99999999999999999999999})"}})),
            "parse: json: id: number 99999999999999999999999 is out of range (integers are limited "
            "to 64 bits)");
  // A timestamp that is a valid double but no time is still worded as such.
  EXPECT_NE(mapError(entry({{"message", R"({"@timestamp":1e300,"message":"x"})"}}))
                .find("timestamp: cannot parse"),
            std::string::npos);
}

TEST(EcsRobustness, ArbitraryBytesNeverThrow) {
  // A cheap, deterministic fuzz: every prefix of some tricky inputs.
  const std::string inputs[] = {
      R"({"a":{"b":[1,2,{"c":"\u0000"}]},"@timestamp":"2024-01-01T00:00:00Z","level":3})",
      "<13>1 2024-01-01T00:00:00Z h a p m [x@1 k=\"v\\\"\"] \xEF\xBB\xBFmsg",
      "<13>Jan  1 00:00:00 h t[1]: m", std::string("\0\x01{\"\\", 5)};
  for (const auto& in : inputs) {
    for (size_t n = 0; n <= in.size(); ++n) {
      StreamEntry e = entry({{"message", in.substr(0, n)}});
      EXPECT_NO_THROW({
        auto r = mapToEcs(e, {}, kIngest);
        if (r) {
          EXPECT_TRUE(json::accept(r->json()));  // and what we emit is valid JSON
        }
      }) << in.substr(0, n);
    }
  }
}
