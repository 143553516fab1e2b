#include "server/durability/coding.h"

#include "gtest/gtest.h"

namespace paramserver {
namespace {

TEST(CodingTest, EncodingRoundTrip) {
  std::string out;
  PutFixed32(&out, 0xDEADBEEF);
  PutFixed64(&out, 0x0123456789ABCDEFull);
  PutLengthPrefixed(&out, "name");
  ByteReader reader(out);
  uint32_t a;
  uint64_t b;
  absl::string_view c;
  ASSERT_TRUE(reader.ReadFixed32(&a));
  ASSERT_TRUE(reader.ReadFixed64(&b));
  ASSERT_TRUE(reader.ReadLengthPrefixed(&c));
  EXPECT_EQ(a, 0xDEADBEEFu);
  EXPECT_EQ(b, 0x0123456789ABCDEFull);
  EXPECT_EQ(c, "name");
  EXPECT_EQ(reader.remaining(), 0u);
  EXPECT_FALSE(reader.ReadFixed32(&a));
  EXPECT_EQ(static_cast<unsigned char>(out[0]), 0xEF);  // Little-endian.
}

}  // namespace
}  // namespace paramserver
