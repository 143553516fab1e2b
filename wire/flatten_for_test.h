#ifndef PARAM_SERVER_WIRE_FLATTEN_FOR_TEST_H_
#define PARAM_SERVER_WIRE_FLATTEN_FOR_TEST_H_

// For tests of the hand-written encoders: a message's bytes in one string,
// to compare with what generated code serializes.

#include <grpcpp/grpcpp.h>

#include <string>
#include <vector>

#include "gtest/gtest.h"

namespace paramserver {

inline std::string Flatten(const grpc::ByteBuffer& buffer) {
  std::vector<grpc::Slice> slices;
  EXPECT_TRUE(buffer.Dump(&slices).ok());
  std::string out;
  for (const grpc::Slice& slice : slices) {
    out.append(reinterpret_cast<const char*>(slice.begin()), slice.size());
  }
  return out;
}

}  // namespace paramserver

#endif  // PARAM_SERVER_WIRE_FLATTEN_FOR_TEST_H_
