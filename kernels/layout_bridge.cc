#include "kernels/layout_bridge.h"

#include "kernels/dnnl_util.h"

namespace paramserver {
namespace kernels {

LayoutBridge::LayoutBridge(const dnnl::memory::desc& plain,
                           const dnnl::memory::desc& chosen,
                           Direction direction)
    : direction_(direction),
      reorder_(direction == Direction::kInCopy || plain != chosen),
      plain_(plain, CpuEngine(), DNNL_MEMORY_NONE) {
  if (!reorder_) return;
  owned_ = dnnl::memory(chosen, CpuEngine());
  reorder_primitive_ = direction == Direction::kOut
                           ? dnnl::reorder(owned_, plain_)
                           : dnnl::reorder(plain_, owned_);
}

const dnnl::memory& LayoutBridge::Import(const float* data,
                                         dnnl::stream& stream) {
  // oneDNN has no const memory; the reorder (or primitive) only reads it.
  plain_.set_data_handle(const_cast<float*>(data));
  if (reorder_) {
    reorder_primitive_.execute(stream, plain_, owned_);
  }
  return chosen();
}

const dnnl::memory& LayoutBridge::BindOutput(float* data) {
  plain_.set_data_handle(data);
  return chosen();
}

void LayoutBridge::Export(dnnl::stream& stream) {
  if (reorder_) {
    reorder_primitive_.execute(stream, owned_, plain_);
  }
}

}  // namespace kernels
}  // namespace paramserver
