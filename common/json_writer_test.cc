#include "common/json_writer.h"

#include <cstdlib>
#include <limits>
#include <string>

#include "gtest/gtest.h"

namespace paramserver {
namespace {

TEST(JsonWriterTest, NestsObjectsAndArraysWithCommas) {
  JsonWriter json;
  json.BeginObject()
      .Key("a")
      .Int(1)
      .Key("b")
      .BeginArray()
      .Bool(true)
      .Null()
      .BeginObject()
      .EndObject()
      .BeginArray()
      .EndArray()
      .EndArray()
      .Key("c")
      .String("x")
      .EndObject();
  EXPECT_EQ(json.text(), R"({"a":1,"b":[true,null,{},[]],"c":"x"})");
}

TEST(JsonWriterTest, TopLevelScalar) {
  JsonWriter json;
  json.Bool(false);
  EXPECT_EQ(json.text(), "false");
}

TEST(JsonWriterTest, EscapesQuotesBackslashesAndControlCharacters) {
  EXPECT_EQ(JsonString("a\"b\\c\n\x01"), "\"a\\\"b\\\\c\\n\\u0001\"");
  EXPECT_EQ(JsonString(std::string("\0\t\r\x1f", 4)),
            "\"\\u0000\\u0009\\u000d\\u001f\"");
  JsonWriter json;
  json.BeginObject().Key("k\"ey").String("v\\").EndObject();
  EXPECT_EQ(json.text(), R"({"k\"ey":"v\\"})");
}

TEST(JsonWriterTest, PassesUtf8AndDeleteThrough) {
  EXPECT_EQ(JsonString("caf\xc3\xa9 \xe2\x82\xac \xf0\x9f\x98\x80 \x7f"),
            "\"caf\xc3\xa9 \xe2\x82\xac \xf0\x9f\x98\x80 \x7f\"");
}

TEST(JsonWriterTest, IntegersAreExact) {
  JsonWriter json;
  json.BeginArray()
      .Int(std::numeric_limits<int64_t>::min())
      .Int(std::numeric_limits<int64_t>::max())
      .Uint(std::numeric_limits<uint64_t>::max())
      .Int(0)
      .EndArray();
  EXPECT_EQ(
      json.text(),
      "[-9223372036854775808,9223372036854775807,18446744073709551615,0]");
}

TEST(JsonWriterTest, DoublesRoundTrip) {
  for (double value : {0.1, 1.0 / 3, -2.5e-300, 1e300, 5e-324,
                       std::numeric_limits<double>::max(), 0.0, -0.0}) {
    JsonWriter json;
    json.Double(value);
    EXPECT_EQ(std::strtod(json.text().c_str(), nullptr), value) << json.text();
  }
  JsonWriter json;
  json.Double(0.1);
  EXPECT_EQ(json.text(), "0.10000000000000001");
}

TEST(JsonWriterTest, FloatsRoundTripWithNineDigits) {
  for (float value : {0.1f, 1.0f / 3, -2.0f, 3.4e38f, 1e-45f}) {
    JsonWriter json;
    json.Float(value);
    EXPECT_EQ(std::strtof(json.text().c_str(), nullptr), value) << json.text();
  }
  JsonWriter json;
  json.BeginArray().Float(0.1f).Float(-2).EndArray();
  EXPECT_EQ(json.text(), "[0.100000001,-2]");
}

TEST(JsonWriterTest, NonFiniteNumbersAreNull) {
  JsonWriter json;
  json.BeginArray()
      .Double(std::numeric_limits<double>::quiet_NaN())
      .Double(-std::numeric_limits<double>::infinity())
      .Float(std::numeric_limits<float>::infinity())
      .EndArray();
  EXPECT_EQ(json.text(), "[null,null,null]");
}

}  // namespace
}  // namespace paramserver
