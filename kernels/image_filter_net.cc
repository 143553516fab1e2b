#include "kernels/image_filter_net.h"

#include <utility>

#include "kernels/dnnl_util.h"

namespace paramserver {
namespace kernels {
namespace {

Conv2DParams ConvParams(const ImageFilterParams& p) {
  Conv2DParams c;
  c.batch = p.batch;
  c.in_h = p.height;
  c.in_w = p.width;
  c.in_c = p.channels;
  c.kernel_h = p.kernel;
  c.kernel_w = p.kernel;
  c.out_c = p.channels;
  c.padding = Padding::kSame;
  c.fuse_relu = true;
  c.num_threads = p.num_threads;
  return c;
}

}  // namespace

ImageFilterNet::ImageFilterNet(std::unique_ptr<Conv2D> conv1,
                               std::unique_ptr<Conv2D> conv2,
                               dnnl::memory intermediate)
    : conv1_(std::move(conv1)),
      conv2_(std::move(conv2)),
      intermediate_(std::move(intermediate)) {}

absl::StatusOr<std::unique_ptr<ImageFilterNet>> ImageFilterNet::Create(
    const ImageFilterParams& params) {
  const Conv2DParams conv_params = ConvParams(params);
  absl::StatusOr<std::unique_ptr<Conv2D>> conv1 = Conv2D::Create(conv_params);
  if (!conv1.ok()) return conv1.status();
  const dnnl::memory::desc& middle = (*conv1)->blocked_output_desc();
  absl::StatusOr<std::unique_ptr<Conv2D>> conv2 =
      Conv2D::CreateWithInputLayout(conv_params, middle);
  if (!conv2.ok()) return conv2.status();
  absl::StatusOr<dnnl::memory> intermediate =
      CallDnnl("ImageFilterNet::Create", [&]() -> absl::StatusOr<dnnl::memory> {
        return dnnl::memory(middle, CpuEngine());
      });
  if (!intermediate.ok()) return intermediate.status();
  return std::unique_ptr<ImageFilterNet>(new ImageFilterNet(
      *std::move(conv1), *std::move(conv2), *std::move(intermediate)));
}

absl::Status ImageFilterNet::SetWeights(absl::Span<const float> weights1,
                                        absl::Span<const float> bias1,
                                        absl::Span<const float> weights2,
                                        absl::Span<const float> bias2,
                                        int64_t version) {
  absl::Status s = conv1_->SetWeights(weights1, bias1, version);
  if (!s.ok()) return s;
  return conv2_->SetWeights(weights2, bias2, version);
}

absl::Status ImageFilterNet::Forward(absl::Span<const float> input,
                                     absl::Span<float> output) {
  absl::Status s = conv1_->ForwardToBlocked(input, intermediate_);
  if (!s.ok()) return s;
  return conv2_->ForwardFromBlocked(intermediate_, output);
}

double ImageFilterNet::Flops() const {
  return Conv2DFlops(conv1_->params(), conv1_->geometry()) +
         Conv2DFlops(conv2_->params(), conv2_->geometry());
}

}  // namespace kernels
}  // namespace paramserver
