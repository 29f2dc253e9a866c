// Pins the JSON fast path of the ECS mapping (ecs_fast.h) to the general path
// (mapToEcs + LogDocument::appendJson + IndexPattern::render): on a corpus and
// on generated inputs, whatever the fast path handles must come out byte for
// byte the same, and it must decline everything the general path rejects.
// Also checks that the fast path does handle the everyday shapes, so that it
// cannot silently turn into a no-op.
#include <gtest/gtest.h>

#include <cstdio>
#include <iostream>
#include <random>

#include "shoal/logs/ecs.h"
#include "shoal/logs/ecs_fast.h"
#include "shoal/logs/index_pattern.h"

namespace shoal::logs {
namespace {

constexpr EpochNanos kIngest = 1'763'700'000'123'000'000LL;

struct Outcome {
  bool handled = false;
  std::string json, index1, index2;
};

IndexPattern pattern(const std::string& p) {
  std::string err;
  auto c = IndexPattern::compile(p, "unknown", err);
  EXPECT_TRUE(c) << err;
  return *c;
}

const IndexPattern& serviceDaily() {
  static const IndexPattern p = pattern("logs-{service.name}-{yyyy.MM.dd}");
  return p;
}
const IndexPattern& mixed() {
  static const IndexPattern p = pattern("x-{host.name|nohost}-{log.level}-{message}-{labels.k}-%Y.%m.%d.%H");
  return p;
}

StreamEntry entryOf(std::string payload, std::vector<std::pair<std::string, std::string>> extra = {},
                    std::string id = "1763700000000-0") {
  StreamEntry e;
  e.id = std::move(id);
  e.fields.emplace_back("message", std::move(payload));
  for (auto& kv : extra) e.fields.push_back(std::move(kv));
  return e;
}

// Returns a failure message, or empty when both paths agree.
std::string compare(const StreamEntry& e, const LogsTransformConfig& cfg, bool& handled) {
  auto general = mapToEcs(e, cfg, kIngest);
  FastJsonEcsMapper fast;
  handled = fast.map(e, cfg, kIngest);
  if (!handled) return {};
  if (!general) return "fast path handled an entry the general path rejects: " + general.error().message;
  const std::string want = general->json();
  std::string got;
  fast.appendJson(got);
  if (got != want) return "document differs\n general: " + want + "\n fast:    " + got;
  const IndexCache::TextFn text = [&](std::string_view p) { return fast.text(p); };
  const IndexCache::RawFn raw = [&](std::string_view p) { return fast.rawScalar(p); };
  // The handler's caches live across entries: so do these (one per pattern).
  static IndexCache serviceDailyCache(serviceDaily()), mixedCache(mixed());
  for (auto [p, cache] : {std::pair{&serviceDaily(), &serviceDailyCache}, std::pair{&mixed(), &mixedCache}}) {
    const std::string wi = p->render(*general), gi = p->render(fast.timestamp(), text);
    if (wi != gi) return "index differs: " + wi + " vs " + gi;
    const std::string ci = cache->render(fast.timestamp(), raw, text);
    if (wi != ci) return "cached index differs: " + wi + " vs " + ci;
  }
  for (auto path : {"message", "log.level", "service.name", "host.name", "trace.id", "labels.k", "http.status",
                    "event.dataset", "a.b", "log", "nested"}) {
    if (general->text(path) != fast.text(path)) return std::string("text differs at ") + path;
    if (fast.rawScalar(path).has_value() != fast.text(path).has_value())
      return std::string("rawScalar and text disagree at ") + path;
  }
  return {};
}

std::vector<LogsTransformConfig> configs() {
  std::vector<LogsTransformConfig> out;
  out.emplace_back();  // defaults: auto format, labels on
  LogsTransformConfig json;
  json.format = LogFormat::kJson;
  json.keepOriginal = true;
  json.enrich = {{"service.environment", "prod"}, {"service.version", "1.2.3"}, {"labels.team", "a\"b"},
                 {"service.name", "from-config"}, {"cloud", "x"}};
  json.defaultDataset = "app.logs";
  out.push_back(json);
  LogsTransformConfig noLabels;
  noLabels.entryFieldsAsLabels = false;
  noLabels.payloadField = "log";
  out.push_back(noLabels);
  return out;
}

const char* const kCorpus[] = {
    // what the benchmark sends
    R"({"@timestamp":"2026-11-21T05:01:02.003Z","level":"info","message":"GET /api/v1/items/7 returned 200 in 3 ms for user 5","service":{"name":"checkout"},"host":{"name":"node-3"},"trace":{"id":"00f067aa0ba902b700f067aa0ba902b7"},"http":{"method":"GET","status":200},"bytes":512})",
    // ECS loggers: flat dotted keys
    R"({"@timestamp":"2024-01-02T03:04:05.678Z","log.level":"WARN","message":"disk low","ecs.version":"1.6.0","service.name":"api","event.dataset":"api.log","process.thread.name":"main"})",
    // pino
    R"({"level":30,"time":1700000000123,"pid":42,"hostname":"web-1","msg":"request completed","req":{"id":1,"method":"GET"},"responseTime":12})",
    R"({"level":50,"time":1700000000,"msg":"boom","err":{"type":"Error","stack":"x"}})",
    R"({"level":35,"time":"1700000000","msg":"odd"})",
    // whitespace between members, but not inside nested values
    " \t{ \"message\" : \"hi\" ,\n \"service\" : { \"name\" : \"svc\" } , \"n\" : [1,2,3] }\r\n",
    R"({"message":"no timestamp, no level"})",
    R"({})",
    R"({"log":{}})",
    R"({"log":"text as message","level":"Error"})",
    R"({"log":{"level":"info"},"message":"only level in log"})",
    R"({"log":{"level":"info","logger":"x"},"message":"m"})",
    R"({"log":5,"msg":"m"})",
    R"({"service":"plain-service","host":"h","trace":"t","span":"s","event":"login","labels":"x"})",
    R"({"service":{"name":{"deep":1}},"app":"fallback-app"})",
    R"({"service":{"version":"1"},"service_name":"sn"})",
    R"({"message":123,"level":true,"host":{"name":7}})",
    R"({"message":null,"msg":"from msg"})",
    R"({"message":{"text":"object message"},"msg":"from msg"})",
    R"({"message":{"text":"object message"}})",
    R"({"@timestamp":{"nested":"ts"},"timestamp":"2024-02-03T04:05:06Z"})",
    R"({"@timestamp":"not a time","message":"bad ts"})",
    R"({"ts":1.5e9,"message":"float ts"})",
    R"({"ts":1700000000.25,"message":"float ts"})",
    R"({"time":"2024-01-02 03:04:05","message":"space separated"})",
    R"({"datetime":"2024-01-02T03:04:05.123456789+02:00","message":"nanos"})",
    R"({"a":1,"a":2,"b":{"c":1,"c":2}})",
    R"({"a.b":"flat","a":{"b":"nested"}})",
    R"({"trace_id":"abc","traceId":"def","span_id":"s1","spanID":"s2","dataset":"d"})",
    R"({"message":"unicode: é ü 日本 🎉","level":"ИНФО"})",
    R"({"message":"escaped \u00e9 \" \\ \/ \n","level":"info"})",
    R"({"message":"surrogates \ud83c\udf89 and lone \ud800 x"})",
    R"({"k\u0065y":"escaped key"})",
    R"({"nested":{"deep":{"deeper":{"deepest":[1,{"x":null}]}}},"arr":[true,false,null,"s",-1,0]})",
    R"({"nested":{"deep":{ "with":"space"}}})",
    R"({"arr":[1, 2]})",
    R"({"n":-0})",
    R"({"n":0})",
    R"({"n":-12})",
    R"({"n":012})",
    R"({"n":1.0})",
    R"({"n":1e3})",
    R"({"n":123456789012345678})",
    R"({"n":1234567890123456789})",
    R"({"n":99999999999999999999999})",
    R"({"level":"10","message":"numeric text level"})",
    R"({"level":60})",
    R"({"level":45})",
    R"({"labels":{"k":"from payload"},"message":"m"})",
    R"({"event":{"original":"already"},"message":"m"})",
    R"({"labels.zone":"flat","labels":{"team":"a"},"message":"m"})",
    R"({"labels.k":"flat","labels":"scalar","message":"m"})",
    // invalid: every one of these must be declined (the general path words the error)
    R"({"message":"unterminated)",
    R"({"message":"x",})",
    R"({"message":"x"} trailing)",
    R"([1,2,3])",
    R"("just a string")",
    R"({"message":"ctrl)"
    "\x01"
    R"("})",
    R"({"message":"x" "level":"y"})",
    R"({message:"x"})",
    R"({"n":tru})",
    R"({"n":nul})",
    "{\"message\":\"bad utf8 \xff\"}",
    "{\"message\":\"overlong \xc0\xaf\"}",
    R"({"n":-})",
    R"({"n":[1,]})",
    R"({"a":{"b":1,}})",
    R"({"a":{"b" 1}})",
    "{\"a\":1}\n\n",
    "{\"a\":\"\t\"}",
    "not json at all",
    "<34>1 2003-10-11T22:14:15.003Z mymachine su - ID47 - a syslog line",
    "<34>Oct 11 22:14:15 mymachine su: a bsd syslog line",
    "",
};

TEST(EcsFastPath, MatchesGeneralPathOnCorpus) {
  const std::vector<std::vector<std::pair<std::string, std::string>>> extras = {
      {},
      {{"k", "v"}, {"source", "app-7"}},
      {{"k", "line\nbreak \"quoted\""}, {"message", "dup payload field"}},
      {{"log", "payload in log"}},
      {{"", "nameless"}, {"zone", "z"}, {"team", "t"}, {"zone", "again"}}};
  int handled = 0, total = 0;
  for (const auto& cfg : configs()) {
    for (const char* payload : kCorpus) {
      for (const auto& extra : extras) {
        for (const char* id : {"1763700000000-0", "weird-id"}) {
          bool h = false;
          StreamEntry e = entryOf(payload, extra, id);
          const std::string failure = compare(e, cfg, h);
          EXPECT_TRUE(failure.empty()) << "payload: " << payload << "\n" << failure;
          handled += h;
          ++total;
        }
      }
    }
  }
  EXPECT_GT(handled, total / 3) << "the fast path should handle most of the corpus";
  std::cout << "fast path handled " << handled << " of " << total << " corpus cases\n";
}

// Wide entries take the hash-set side of duplicate detection and the labels
// pass in one go; both paths must still agree, and over maxFields the fast
// path declines so that the general path words the reason.
TEST(EcsFastPath, MatchesGeneralPathOnWideEntries) {
  std::string payload = "{";
  for (int i = 0; i < 3000; ++i)
    payload += "\"k" + std::to_string(i % 2500) + "\":" + std::to_string(i) + ",";
  payload += "\"labels.l7\":\"flat\",\"obj\":{";
  for (int i = 0; i < 600; ++i)
    payload += (i ? ",\"m" : "\"m") + std::to_string(i % 500) + "\":" + std::to_string(i);
  payload += "},\"message\":\"wide\",\"level\":\"info\"}";
  std::vector<std::pair<std::string, std::string>> extra;
  for (int i = 0; i < 400; ++i)
    extra.emplace_back("l" + std::to_string(i % 300), "v" + std::to_string(i));
  const StreamEntry e = entryOf(payload, extra);
  const size_t fields = 3000 + 1 + 1 + 600 + 2 + 400;
  for (auto cfg : configs()) {
    if (cfg.payloadField != "message") continue;
    cfg.maxFields = fields;
    bool handled = false;
    std::string failure = compare(e, cfg, handled);
    EXPECT_TRUE(failure.empty()) << failure;
    EXPECT_TRUE(handled);
    cfg.maxFields = fields - 1;
    FastJsonEcsMapper fast;
    EXPECT_FALSE(fast.map(e, cfg, kIngest));
    auto general = mapToEcs(e, cfg, kIngest);
    ASSERT_FALSE(general);
    EXPECT_EQ(general.error().message, "too many fields: " + std::to_string(fields) +
                                           ", more than maxFields " + std::to_string(fields - 1));
  }
}

TEST(EcsFastPath, HandlesEverydayShapes) {
  LogsTransformConfig cfg;
  for (const char* payload : {kCorpus[0], kCorpus[1], kCorpus[2], kCorpus[5], kCorpus[29]}) {
    FastJsonEcsMapper fast;
    EXPECT_TRUE(fast.map(entryOf(payload, {{"k", "v"}}), cfg, kIngest)) << payload;
  }
}

TEST(EcsFastPath, DeclinesWhatItCannotReproduce) {
  LogsTransformConfig cfg;
  for (const char* payload : {R"({"message":"a\nb"})", R"({"n":1.5})", R"({"a":{"b":{ "c":1}}})",
                              R"({"k\"":1})", R"({"@timestamp":"yesterday"})", "{\"m\":\"\xff\"}"}) {
    FastJsonEcsMapper fast;
    EXPECT_FALSE(fast.map(entryOf(payload), cfg, kIngest)) << payload;
  }
  FastJsonEcsMapper fast;
  StreamEntry noPayload;
  noPayload.id = "1-0";
  noPayload.fields = {{"other", "x"}};
  EXPECT_FALSE(fast.map(noPayload, cfg, kIngest));
  cfg.format = LogFormat::kRfc5424;
  EXPECT_FALSE(fast.map(entryOf(kCorpus[0]), cfg, kIngest));
}

// appendJsonString skips clean text 8 bytes at a time: escapes at every
// offset and every length must come out as with a byte-by-byte encoder.
TEST(EcsFastPath, JsonStringEscapesAtEveryOffset) {
  auto reference = [](std::string_view s) {
    std::string out = "\"";
    for (unsigned char c : s) {
      if (c == '"') out += "\\\"";
      else if (c == '\\') out += "\\\\";
      else if (c == '\n') out += "\\n";
      else if (c == '\r') out += "\\r";
      else if (c == '\t') out += "\\t";
      else if (c < 0x20) {
        char buf[8];
        std::snprintf(buf, sizeof buf, "\\u%04x", c);
        out += buf;
      } else out.push_back(static_cast<char>(c));
    }
    return out + "\"";
  };
  const std::string specials = std::string("\"\\\n\r\t\x01\x1f", 7) + std::string(1, '\0') + "\x7f\xc3\xa9 ";
  for (size_t len = 0; len < 40; ++len) {
    for (size_t at = 0; at < std::max<size_t>(len, 1); ++at) {
      for (char sc : specials) {
        std::string s(len, 'a');
        if (len) s[at] = sc;
        EXPECT_EQ(jsonString(s), reference(s)) << "len " << len << " at " << at << " char " << int(sc);
      }
    }
  }
}

TEST(EcsFastPath, ReusedMapperKeepsNoStateBetweenEntries) {
  LogsTransformConfig cfg;
  FastJsonEcsMapper fast;
  ASSERT_TRUE(fast.map(entryOf(kCorpus[0]), cfg, kIngest));
  ASSERT_FALSE(fast.map(entryOf(R"({"n":1.5})"), cfg, kIngest));
  const StreamEntry second = entryOf(R"({"message":"second"})");  // views point into it
  ASSERT_TRUE(fast.map(second, cfg, kIngest + 1'000'000'000));
  std::string got;
  fast.appendJson(got);
  auto general = mapToEcs(entryOf(R"({"message":"second"})"), cfg, kIngest + 1'000'000'000);
  ASSERT_TRUE(general);
  EXPECT_EQ(got, general->json());
}

// Random objects built from the keys the mapping cares about and values of
// every kind, including escapes, floats, whitespace and broken syntax.
class Generator {
 public:
  explicit Generator(uint64_t seed) : rng_(seed) {}

  std::string object(int depth) {
    std::string s = maybeSpace() + "{";
    const int n = static_cast<int>(pick(7));
    for (int i = 0; i < n; ++i) {
      if (i) s += maybeSpace() + ",";
      s += maybeSpace() + key() + maybeSpace() + ":" + maybeSpace() + value(depth + 1);
    }
    s += maybeSpace() + "}" + maybeSpace();
    if (pick(40) == 0) s = mutate(s);
    return s;
  }

 private:
  size_t pick(size_t n) { return std::uniform_int_distribution<size_t>(0, n - 1)(rng_); }

  std::string maybeSpace() {
    switch (pick(12)) {
      case 0: return " ";
      case 1: return "\n\t";
      default: return "";
    }
  }

  std::string key() {
    static const char* keys[] = {
        "@timestamp", "timestamp", "time", "ts", "datetime", "message", "msg", "log", "log.level", "level",
        "severity", "lvl", "service", "service.name", "service_name", "app", "host", "host.name", "hostname",
        "trace", "trace.id", "trace_id", "traceId", "span", "span.id", "spanId", "event", "event.dataset",
        "dataset", "ecs", "process", "labels", "labels.k", "name", "id", "original", "http", "a", "a.b", "b",
        "k\\u0065y", "", "UPPER", "ünï", "name.with.dots"};
    return std::string("\"") + keys[pick(std::size(keys))] + "\"";
  }

  std::string value(int depth) {
    switch (pick(depth > 3 ? 9 : 11)) {
      case 0: return stringValue();
      case 1: return stringValue();
      case 2: return number();
      case 3: return pick(2) ? "true" : "false";
      case 4: return "null";
      case 5: return timestampValue();
      case 6: return levelValue();
      case 7: return stringValue();
      case 8: return number();
      case 9: return object(depth);
      default: {
        std::string s = "[";
        const int n = static_cast<int>(pick(4));
        for (int i = 0; i < n; ++i) s += (i ? "," + maybeSpace() : "") + value(depth + 1);
        return s + "]";
      }
    }
  }

  std::string stringValue() {
    static const char* texts[] = {"plain",          "With Upper",  "é ü 日本 🎉",     "esc \\\" q",  "nl \\n",
                                  "uni \\u00e9",    "slash \\/",   "",               "a.b",         "checkout",
                                  "2024-01-02T03:04:05Z", "ERROR", "1700000000",      "tab\\tx",     "\\ud83c\\udf89"};
    return std::string("\"") + texts[pick(std::size(texts))] + "\"";
  }

  std::string number() {
    static const char* nums[] = {"0", "-1", "42", "1700000000123", "1.5", "-0", "1e3", "123456789012345678",
                                 "12345678901234567890", "30", "50", "0.000001", "-2.5E-3"};
    return nums[pick(std::size(nums))];
  }

  std::string timestampValue() {
    static const char* ts[] = {"\"2026-11-21T05:01:02.003Z\"", "\"2024-01-02 03:04:05\"", "1700000000",
                               "1700000000123", "\"bogus\"", "1.7e9", "\"1700000000.5\""};
    return ts[pick(std::size(ts))];
  }

  std::string levelValue() {
    static const char* lv[] = {"\"info\"", "\"WARN\"", "20", "60", "33", "\"Débug\""};
    return lv[pick(std::size(lv))];
  }

  std::string mutate(std::string s) {
    if (s.empty()) return s;
    const size_t at = pick(s.size());
    switch (pick(4)) {
      case 0: return s.substr(0, at);
      case 1: return s.insert(at, 1, "\"{}[],:\\x\x01"[pick(11)]);
      case 2: s[at] = static_cast<char>(0x80 + pick(0x80)); return s;
      default: return s.erase(at, 1);
    }
  }

  std::mt19937_64 rng_;
};

TEST(EcsFastPath, MatchesGeneralPathOnGeneratedInputs) {
  Generator gen(20261121);
  const auto cfgs = configs();
  int handled = 0;
  const int kCases = 6000;
  for (int i = 0; i < kCases; ++i) {
    const std::string payload = gen.object(0);
    bool h = false;
    const std::string failure = compare(entryOf(payload, {{"k", "v"}}), cfgs[static_cast<size_t>(i) % cfgs.size()], h);
    ASSERT_TRUE(failure.empty()) << "case " << i << " payload: " << payload << "\n" << failure;
    handled += h;
  }
  EXPECT_GT(handled, kCases / 20) << "generated inputs should exercise the fast path";
  std::cout << "fast path handled " << handled << " of " << kCases << " generated inputs\n";
}

}  // namespace
}  // namespace shoal::logs
