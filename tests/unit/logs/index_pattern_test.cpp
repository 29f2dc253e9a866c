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
