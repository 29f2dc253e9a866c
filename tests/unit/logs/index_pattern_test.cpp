// Index pattern compilation and rendering from document fields and time.
#include "shoal/logs/index_pattern.h"

#include <gtest/gtest.h>

using namespace shoal;
using namespace shoal::logs;

namespace {

LogDocument docWith(std::vector<std::pair<std::string, std::string>> raw, EpochNanos ts) {
  LogDocument d;
  for (auto& [path, value] : raw) d.set(path, value);
  d.timestamp = ts;
  return d;
}

IndexPattern compileOk(const std::string& p, const std::string& fallback = "unknown") {
  std::string err;
  auto c = IndexPattern::compile(p, fallback, err);
  EXPECT_TRUE(c) << p << ": " << err;
  return c ? *c : *IndexPattern::compile("x", "unknown", err);
}

constexpr EpochNanos kTs = 1'700'000'000LL * 1'000'000'000;  // 2023-11-14T22:13:20Z

}  // namespace

TEST(IndexPattern, RendersFieldsAndJodaDates) {
  auto p = compileOk("logs-{service.name}-{yyyy.MM.dd}");
  EXPECT_EQ(p.render(docWith({{"service.name", "\"Checkout API\""}}, kTs)),
            "logs-checkout_api-2023.11.14");
  EXPECT_EQ(compileOk("x-{yy}{MM}{dd}-{HH}.{mm}.{ss}").render(docWith({}, kTs)),
            "x-231114-22.13.20");
}

TEST(IndexPattern, RendersStrftimeEscapesFromTheCrd) {
  EXPECT_EQ(compileOk("shoal-logs-%Y.%m.%d").render(docWith({}, kTs)), "shoal-logs-2023.11.14");
  EXPECT_EQ(compileOk("a-%H%M%S-%%").render(docWith({}, kTs)), "a-221320-%");
}

TEST(IndexPattern, MissingFieldUsesFallbacks) {
  auto p = compileOk("logs-{service.name}-{event.dataset|nodataset}", "unknown");
  EXPECT_EQ(p.render(docWith({}, kTs)), "logs-unknown-nodataset");
  // Objects and empty strings count as missing; numbers render as text.
  EXPECT_EQ(p.render(docWith({{"service.name", "\"\""}, {"event.dataset", "7"}}, kTs)),
            "logs-unknown-7");
  EXPECT_EQ(compileOk("logs-{service}").render(docWith({{"service.name", "\"a\""}}, kTs)),
            "logs-unknown");
}

TEST(IndexPattern, SanitizesFieldValues) {
  auto p = compileOk("logs-{host.name}");
  EXPECT_EQ(p.render(docWith({{"host.name", R"("A/b*c?d\"e<f>g|h,i#j:k l")"}}, kTs)),
            "logs-a_b_c_d_e_f_g_h_i_j_k_l");
  std::string longName(200, 'x');
  EXPECT_EQ(p.render(docWith({{"host.name", "\"" + longName + "\""}}, kTs)).size(), 5u + 64u);
  // A multi-byte character straddling the limit is kept whole.
  std::string utf8 = std::string(63, 'x') + "\xC3\xA9" + "yyy";
  std::string r = sanitizeIndexComponent(utf8);
  EXPECT_EQ(r, std::string(63, 'x') + "\xC3\xA9");
}

TEST(IndexPattern, RejectsInvalidPatterns) {
  std::string err;
  for (const char* bad : {"", "logs-{service.name", "logs-}", "logs-{}", "Logs", "a b",
                          "logs-%Q", "logs-%", "_logs", "a/b", "{|x}"}) {
    err.clear();
    EXPECT_FALSE(IndexPattern::compile(bad, "unknown", err)) << bad;
    EXPECT_FALSE(err.empty()) << bad;
  }
}

// The cache answers exactly what rendering would, over repeats, values that
// differ only in their raw JSON, date-bucket edges (also before 1970) and
// more distinct keys than it has slots.
TEST(IndexCache, AnswersExactlyWhatRenderingWould) {
  constexpr EpochNanos kSec = 1'000'000'000;
  const std::vector<EpochNanos> times = {kTs, kTs + 1, kTs + 59 * kSec, kTs + 60 * kSec, kTs + 3600 * kSec,
                                         kTs - (kTs % (86400 * kSec)) - 1, kTs - (kTs % (86400 * kSec)),
                                         -1, 0, -86400 * kSec, -86400 * kSec - 1};
  // raw JSON scalars of `service.name` (nullopt: absent) and of `host`
  const std::vector<std::optional<std::string>> services = {
      "\"checkout\"", "\"Checkout\"", "\"check out\"", "12", "true", std::nullopt, "\"\"", "\"a\\u0041\""};
  for (const char* source : {"logs-{service.name}-{yyyy.MM.dd}", "{service.name}-{host|h}-%Y.%m.%d-%H",
                             "m-{yyyy.MM.dd.HH.mm}", "s-{ss}-{service.name}", "plain", "y-{yyyy}-{service.name}"}) {
    const IndexPattern p = compileOk(source);
    IndexCache cache(p);
    for (int round = 0; round < 2; ++round) {
      for (EpochNanos ts : times) {
        for (size_t s = 0; s < services.size(); ++s) {
          for (const auto& host : std::vector<std::optional<std::string>>{"\"n1\"", std::nullopt}) {
            auto raw = [&](std::string_view path) -> std::optional<std::string_view> {
              const auto& v = path == "service.name" ? services[s] : path == "host" ? host : std::nullopt;
              if (!v) return std::nullopt;
              return std::string_view(*v);
            };
            // text() as a function of the raw scalar (what the fast mapper does)
            auto text = [&](std::string_view path) -> std::optional<std::string> {
              auto r = raw(path);
              if (!r) return std::nullopt;
              std::string t(*r);
              if (!t.empty() && t[0] == '"') t = t.substr(1, t.size() - 2);
              return t;
            };
            EXPECT_EQ(cache.render(ts, raw, text), p.render(ts, text))
                << source << " ts " << ts << " service " << s << " round " << round;
          }
        }
      }
    }
  }
}

TEST(IndexPattern, DateBucketIsTheFinestUnitRendered) {
  constexpr EpochNanos kSec = 1'000'000'000;
  EXPECT_EQ(compileOk("logs-{yyyy.MM.dd}").dateBucketNanos(), 86400 * kSec);
  EXPECT_EQ(compileOk("logs-%Y").dateBucketNanos(), 86400 * kSec);
  EXPECT_EQ(compileOk("logs-%Y.%m.%d-%H").dateBucketNanos(), 3600 * kSec);
  EXPECT_EQ(compileOk("logs-{HH}-{yyyy.MM.dd.HH.mm}").dateBucketNanos(), 60 * kSec);
  EXPECT_EQ(compileOk("logs-%S").dateBucketNanos(), kSec);
  EXPECT_EQ(compileOk("logs-{service.name}").dateBucketNanos(), 0);
  EXPECT_EQ(compileOk("logs-{service.name}-{host|x}").fieldPaths(),
            (std::vector<std::string_view>{"service.name", "host"}));
}
