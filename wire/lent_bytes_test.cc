#include "wire/lent_bytes.h"

#include <string>
#include <thread>

#include "gtest/gtest.h"

namespace paramserver {
namespace {

TEST(LentBytesTest, SlicesShareTheCallersBytes) {
  const std::string value(1 << 20, 'x');
  LentBytes lender;
  grpc::Slice slice = lender.Lend(value);
  EXPECT_EQ(slice.begin(), reinterpret_cast<const uint8_t*>(value.data()));
  EXPECT_EQ(slice.size(), value.size());
}

TEST(LentBytesTest, CountsSlicesUntilEveryCopyIsReleased) {
  const std::string value(4096, 'y');
  LentBytes lender;
  {
    grpc::Slice slice = lender.Lend(value);
    grpc::Slice copy = slice;  // A reference, as gRPC's buffers take.
    grpc::ByteBuffer buffer(&copy, 1);
    EXPECT_EQ(lender.outstanding(), 1);
  }
  EXPECT_EQ(lender.outstanding(), 0);
}

TEST(LentBytesTest, WaitBlocksUntilAnotherThreadReleasesTheLastSlice) {
  const std::string value(4096, 'z');
  LentBytes lender;
  auto held = std::make_unique<grpc::ByteBuffer>();
  {
    grpc::Slice slice = lender.Lend(value);
    *held = grpc::ByteBuffer(&slice, 1);
  }
  ASSERT_EQ(lender.outstanding(), 1);
  std::thread releaser([&held] {
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
    held.reset();
  });
  lender.WaitUntilReturned();
  EXPECT_EQ(lender.outstanding(), 0);
  releaser.join();
}

}  // namespace
}  // namespace paramserver
