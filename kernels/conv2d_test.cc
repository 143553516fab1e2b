#include "kernels/conv2d.h"

#include <memory>
#include <utility>
#include <vector>

#include "absl/status/status.h"
#include "gtest/gtest.h"
#include "kernels/dnnl_util.h"
#include "kernels/reference_conv.h"
#include "kernels/test_util.h"

namespace paramserver {
namespace kernels {
namespace {

// float accumulation over at most a few thousand terms, compared with a
// double reference: errors are ~1e-7 of the output's scale.
constexpr double kRtol = 1e-5;

std::unique_ptr<Conv2D> MustCreate(const Conv2DParams& p) {
  absl::StatusOr<std::unique_ptr<Conv2D>> conv = Conv2D::Create(p);
  EXPECT_TRUE(conv.ok()) << conv.status();
  return conv.ok() ? *std::move(conv) : nullptr;
}

// Random input, weights and bias for a case, and the reference output.
struct Problem {
  std::vector<float> input, weights, bias;
  std::vector<double> expected;
};

Problem MakeProblem(const Conv2DParams& p, const Conv2DGeometry& g,
                    uint32_t seed) {
  Problem x;
  x.input = RandomFloats(g.input_size, seed);
  x.weights = RandomFloats(g.weights_size, seed + 1);
  x.bias = RandomFloats(p.out_c, seed + 2);
  x.expected = ReferenceConv2D(p, ToDouble(x.input), ToDouble(x.weights),
                               ToDouble(x.bias));
  return x;
}

class Conv2DCaseTest : public testing::TestWithParam<Conv2DParams> {};

TEST_P(Conv2DCaseTest, ForwardMatchesReference) {
  for (int threads : {1, 2}) {
    Conv2DParams p = GetParam();
    p.num_threads = threads;
    std::unique_ptr<Conv2D> conv = MustCreate(p);
    ASSERT_NE(conv, nullptr);
    const Conv2DGeometry& g = conv->geometry();
    EXPECT_EQ(g.out_h, ComputeReferenceGeometry(p).out_h);
    EXPECT_EQ(g.out_w, ComputeReferenceGeometry(p).out_w);
    const Problem x = MakeProblem(p, g, 17);
    ASSERT_TRUE(conv->SetWeights(x.weights, x.bias, 1).ok());
    std::vector<float> output(g.output_size);
    ASSERT_TRUE(conv->Forward(x.input, absl::MakeSpan(output)).ok());
    EXPECT_TRUE(AllCloseNormwise(output, x.expected, kRtol))
        << "threads=" << threads;
  }
}

// A second convolution that reads `first`'s output.
Conv2DParams NextLayer(const Conv2DParams& first, const Conv2DGeometry& g) {
  Conv2DParams p;
  p.batch = first.batch;
  p.in_h = g.out_h;
  p.in_w = g.out_w;
  p.in_c = first.out_c;
  p.kernel_h = 3;
  p.kernel_w = 3;
  p.out_c = 4;
  p.fuse_relu = true;
  return p;
}

// Copies a blocked activation out to NHWC.
std::vector<float> ToNhwc(const dnnl::memory& blocked, int64_t size) {
  const dnnl::memory::dims nchw = blocked.get_desc().dims();
  std::vector<float> out(size);
  dnnl::memory plain(
      {nchw, dnnl::memory::data_type::f32, dnnl::memory::format_tag::nhwc},
      CpuEngine(), out.data());
  dnnl::stream stream(CpuEngine());
  dnnl::memory src = blocked;  // execute() takes non-const references.
  dnnl::reorder(src, plain).execute(stream, src, plain);
  stream.wait();
  return out;
}

TEST_P(Conv2DCaseTest, ChainThroughBlockedLayoutMatchesReference) {
  const Conv2DParams p1 = GetParam();
  std::unique_ptr<Conv2D> conv1 = MustCreate(p1);
  ASSERT_NE(conv1, nullptr);
  const Conv2DParams p2 = NextLayer(p1, conv1->geometry());
  absl::StatusOr<std::unique_ptr<Conv2D>> conv2 =
      Conv2D::CreateWithInputLayout(p2, conv1->blocked_output_desc());
  ASSERT_TRUE(conv2.ok()) << conv2.status();
  const Conv2DGeometry& g2 = (*conv2)->geometry();
  const Problem x1 = MakeProblem(p1, conv1->geometry(), 3);
  const std::vector<float> w2 = RandomFloats(g2.weights_size, 8);
  const std::vector<float> b2 = RandomFloats(p2.out_c, 9);
  ASSERT_TRUE(conv1->SetWeights(x1.weights, x1.bias, 1).ok());
  ASSERT_TRUE((*conv2)->SetWeights(w2, b2, 1).ok());
  const std::vector<double> expected =
      ReferenceConv2D(p2, x1.expected, ToDouble(w2), ToDouble(b2));

  dnnl::memory middle(conv1->blocked_output_desc(), CpuEngine());
  ASSERT_TRUE(conv1->ForwardToBlocked(x1.input, middle).ok());
  std::vector<float> output(g2.output_size);
  ASSERT_TRUE(
      (*conv2)->ForwardFromBlocked(middle, absl::MakeSpan(output)).ok());
  EXPECT_TRUE(AllCloseNormwise(output, expected, kRtol));

  dnnl::memory blocked_out((*conv2)->blocked_output_desc(), CpuEngine());
  ASSERT_TRUE((*conv2)->ForwardBlocked(middle, blocked_out).ok());
  EXPECT_EQ(ToNhwc(blocked_out, g2.output_size), output);
}

// oneDNN may pick NHWC itself on this CPU; force a channel-blocked input
// layout so the blocked path is exercised on every machine.
TEST_P(Conv2DCaseTest, ReadsChannelBlockedInput) {
  const Conv2DParams p = GetParam();
  const dnnl::memory::desc blocked_desc({p.batch, p.in_c, p.in_h, p.in_w},
                                        dnnl::memory::data_type::f32,
                                        dnnl::memory::format_tag::nChw16c);
  absl::StatusOr<std::unique_ptr<Conv2D>> conv =
      Conv2D::CreateWithInputLayout(p, blocked_desc);
  ASSERT_TRUE(conv.ok()) << conv.status();
  EXPECT_EQ((*conv)->blocked_input_desc(), blocked_desc);
  const Problem x = MakeProblem(p, (*conv)->geometry(), 21);
  ASSERT_TRUE((*conv)->SetWeights(x.weights, x.bias, 1).ok());

  std::vector<float> input = x.input;
  dnnl::memory plain({{p.batch, p.in_c, p.in_h, p.in_w},
                      dnnl::memory::data_type::f32,
                      dnnl::memory::format_tag::nhwc},
                     CpuEngine(), input.data());
  dnnl::memory blocked(blocked_desc, CpuEngine());
  dnnl::stream stream(CpuEngine());
  dnnl::reorder(plain, blocked).execute(stream, plain, blocked);
  stream.wait();
  std::vector<float> output((*conv)->geometry().output_size);
  ASSERT_TRUE(
      (*conv)->ForwardFromBlocked(blocked, absl::MakeSpan(output)).ok());
  EXPECT_TRUE(AllCloseNormwise(output, x.expected, kRtol));
}

INSTANTIATE_TEST_SUITE_P(Shapes, Conv2DCaseTest,
                         testing::ValuesIn(TestConvCases()),
                         [](const testing::TestParamInfo<Conv2DParams>& info) {
                           return CaseName(info.param);
                         });

Conv2DParams SmallParams() {
  Conv2DParams p;
  p.batch = 2;
  p.in_h = 6;
  p.in_w = 5;
  p.in_c = 3;
  p.kernel_h = 3;
  p.kernel_w = 3;
  p.out_c = 4;
  return p;
}

TEST(Conv2DTest, CreateRejectsBadParams) {
  std::vector<Conv2DParams> bad(7, SmallParams());
  bad[0].batch = 0;
  bad[1].in_c = -1;
  bad[2].out_c = 0;
  bad[3].stride_h = 0;
  bad[4].kernel_w = 0;
  bad[5].padding = Padding::kValid;
  bad[5].kernel_h = 7;  // Larger than in_h with VALID padding.
  bad[6].num_threads = -1;
  for (const Conv2DParams& p : bad) {
    EXPECT_EQ(Conv2D::Create(p).status().code(),
              absl::StatusCode::kInvalidArgument)
        << CaseName(p);
  }
}

TEST(Conv2DTest, CreateWithInputLayoutRejectsWrongShape) {
  const Conv2DParams p = SmallParams();
  const dnnl::memory::desc wrong({p.batch, p.in_c + 1, p.in_h, p.in_w},
                                 dnnl::memory::data_type::f32,
                                 dnnl::memory::format_tag::nChw16c);
  EXPECT_EQ(Conv2D::CreateWithInputLayout(p, wrong).status().code(),
            absl::StatusCode::kInvalidArgument);
}

TEST(Conv2DTest, RejectsBadCalls) {
  std::unique_ptr<Conv2D> conv = MustCreate(SmallParams());
  ASSERT_NE(conv, nullptr);
  const Conv2DGeometry& g = conv->geometry();
  std::vector<float> input(g.input_size), output(g.output_size);
  std::vector<float> weights(g.weights_size), bias(4);
  EXPECT_EQ(conv->Forward(input, absl::MakeSpan(output)).code(),
            absl::StatusCode::kFailedPrecondition);
  EXPECT_EQ(
      conv->SetWeights(absl::MakeSpan(weights).subspan(1), bias, 1).code(),
      absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(conv->SetWeights(weights, {}, 1).code(),
            absl::StatusCode::kInvalidArgument);
  ASSERT_TRUE(conv->SetWeights(weights, bias, 1).ok());
  EXPECT_EQ(
      conv->Forward(absl::MakeSpan(input).subspan(1), absl::MakeSpan(output))
          .code(),
      absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(conv->Forward(input, absl::MakeSpan(output).subspan(0, 3)).code(),
            absl::StatusCode::kInvalidArgument);
  EXPECT_TRUE(conv->Forward(input, absl::MakeSpan(output)).ok());
}

TEST(Conv2DTest, BlockedCallsRejectWrongMemory) {
  std::unique_ptr<Conv2D> conv = MustCreate(SmallParams());
  ASSERT_NE(conv, nullptr);
  const Conv2DGeometry& g = conv->geometry();
  std::vector<float> input(g.input_size), output(g.output_size);
  ASSERT_TRUE(conv->SetWeights(std::vector<float>(g.weights_size),
                               std::vector<float>(4), 1)
                  .ok());
  const dnnl::memory empty;
  const dnnl::memory wrong(
      dnnl::memory::desc({1, 1, 1, 1}, dnnl::memory::data_type::f32,
                         dnnl::memory::format_tag::nchw),
      CpuEngine());
  for (const dnnl::memory* m : {&empty, &wrong}) {
    EXPECT_EQ(conv->ForwardToBlocked(input, *m).code(),
              absl::StatusCode::kInvalidArgument);
    EXPECT_EQ(conv->ForwardFromBlocked(*m, absl::MakeSpan(output)).code(),
              absl::StatusCode::kInvalidArgument);
    EXPECT_EQ(conv->ForwardBlocked(*m, *m).code(),
              absl::StatusCode::kInvalidArgument);
  }
}

TEST(Conv2DTest, SetWeightsReordersOnlyWhenVersionChanges) {
  Conv2DParams p = SmallParams();
  std::unique_ptr<Conv2D> conv = MustCreate(p);
  ASSERT_NE(conv, nullptr);
  const Conv2DGeometry& g = conv->geometry();
  const std::vector<float> input = RandomFloats(g.input_size, 1);
  std::vector<float> weights = RandomFloats(g.weights_size, 2);
  const std::vector<float> bias = RandomFloats(p.out_c, 3);
  std::vector<float> first(g.output_size), second(g.output_size);

  ASSERT_TRUE(conv->SetWeights(weights, bias, 7).ok());
  ASSERT_TRUE(conv->Forward(input, absl::MakeSpan(first)).ok());
  for (float& w : weights) w *= 2;
  // Same version: the changed buffer is not read again.
  ASSERT_TRUE(conv->SetWeights(weights, bias, 7).ok());
  ASSERT_TRUE(conv->Forward(input, absl::MakeSpan(second)).ok());
  EXPECT_EQ(first, second);
  // New version: the doubled weights are picked up.
  ASSERT_TRUE(conv->SetWeights(weights, bias, 8).ok());
  ASSERT_TRUE(conv->Forward(input, absl::MakeSpan(second)).ok());
  EXPECT_TRUE(AllCloseNormwise(
      second,
      ReferenceConv2D(p, ToDouble(input), ToDouble(weights), ToDouble(bias)),
      kRtol));
}

}  // namespace
}  // namespace kernels
}  // namespace paramserver
