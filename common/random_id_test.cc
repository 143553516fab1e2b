#include "common/random_id.h"

#include "absl/strings/ascii.h"
#include "gtest/gtest.h"

namespace paramserver {
namespace {

TEST(RandomIdTest, IsThirtyTwoHexDigitsAndDiffers) {
  const std::string id = NewRandomId();
  ASSERT_EQ(id.size(), 32u);
  for (char c : id) EXPECT_TRUE(absl::ascii_isxdigit(c)) << id;
  EXPECT_NE(NewRandomId(), NewRandomId());
}

}  // namespace
}  // namespace paramserver
