// Naming a JSON number beyond the double range (json_numbers.h).
#include "shoal/common/json_numbers.h"

#include <gtest/gtest.h>

namespace shoal {
namespace {

TEST(OutOfRangeNumber, NamesThePathToTheNumber) {
  EXPECT_EQ(outOfRangeNumber(R"({"value":1e400})"), "value: number 1e400 is out of range");
  EXPECT_EQ(outOfRangeNumber(R"({"a":{"b":[0, 1, -2E+999]}})"),
            "a.b[2]: number -2E+999 is out of range");
  EXPECT_EQ(outOfRangeNumber(R"({"a":"1e400","b":{"c":1},"d":-1e400})"),
            "d: number -1e400 is out of range");
  EXPECT_EQ(outOfRangeNumber(R"({"id":18446744073709551616})"),
            "id: number 18446744073709551616 is out of range (integers are limited to 64 bits)");
  EXPECT_EQ(outOfRangeNumber(R"({"id":-9223372036854775809})"),
            "id: number -9223372036854775809 is out of range (integers are limited to 64 bits)");
  EXPECT_EQ(outOfRangeNumber(R"([1e400])"), "[0]: number 1e400 is out of range");
  EXPECT_EQ(outOfRangeNumber("1e400"), "document: number 1e400 is out of range");
  const std::string longNumber = "1" + std::string(400, '0');
  EXPECT_EQ(outOfRangeNumber(R"({"n":)" + longNumber + "}"),
            "n: number " + longNumber.substr(0, 40) + "... is out of range");
}

TEST(OutOfRangeNumber, NothingToSayAboutNumbersInRange) {
  EXPECT_EQ(outOfRangeNumber(R"({"v":1e300,"w":-1.5,"x":1e-400,"y":"1e400","z":[1,2]})"),
            std::nullopt);
  EXPECT_EQ(outOfRangeNumber(R"({"max":18446744073709551615,"min":-9223372036854775808})"),
            std::nullopt);
  EXPECT_EQ(outOfRangeNumber(R"({"a":1,,})"), std::nullopt);
  EXPECT_EQ(outOfRangeNumber(R"({"k\"1e400":2})"), std::nullopt);  // escaped quote inside a key
}

TEST(OutOfRangeNumber, MalformedInputNeverCrashes) {
  const std::string inputs[] = {"",          "{", "}", "]]]", "\"", "{\"a\":", "{\"a\":1e400",
                                std::string(5000, '['), "-", "1e"};
  for (const auto& s : inputs) (void)outOfRangeNumber(s);
  EXPECT_TRUE(isOutOfRangeNumber("1e400"));
  EXPECT_FALSE(isOutOfRangeNumber("1e400x"));
  EXPECT_FALSE(isOutOfRangeNumber("12"));
}

}  // namespace
}  // namespace shoal
