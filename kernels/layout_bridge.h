// Moves one tensor between the caller's plain layout (NHWC, HWIO) and the
// layout a oneDNN primitive chose for it. The reorder primitive and the
// buffer in the chosen layout are created once, so steady-state calls
// allocate nothing.
//
// Thread-compatible: a LayoutBridge holds per-call state (the bound caller
// buffer), so concurrent use of one object needs external synchronization.

#ifndef PARAMSERVER_KERNELS_LAYOUT_BRIDGE_H_
#define PARAMSERVER_KERNELS_LAYOUT_BRIDGE_H_

#include "oneapi/dnnl/dnnl.hpp"

namespace paramserver {
namespace kernels {

class LayoutBridge {
 public:
  enum class Direction {
    // Caller data feeds the primitive. When the layouts match the primitive
    // reads the caller's buffer in place.
    kIn,
    // Like kIn, but always copies into the owned buffer, which therefore
    // keeps the values after the caller's buffer goes away (cached weights).
    kInCopy,
    // The primitive produces data for the caller. When the layouts match the
    // primitive writes the caller's buffer in place.
    kOut,
  };

  LayoutBridge() = default;  // Unusable placeholder; assign a real one.

  // Throws dnnl::error.
  LayoutBridge(const dnnl::memory::desc& plain,
               const dnnl::memory::desc& chosen, Direction direction);

  // kIn / kInCopy: binds `data` (plain layout, not modified) and reorders it
  // if needed. Returns the memory, in the chosen layout, to pass to the
  // primitive; it stays valid until the next call. Throws dnnl::error.
  const dnnl::memory& Import(const float* data, dnnl::stream& stream);

  // kOut: binds `data` (plain layout) and returns the memory the primitive
  // should write. After executing the primitive call Export().
  const dnnl::memory& BindOutput(float* data);
  // kOut: reorders the primitive's result into the bound buffer, if needed.
  void Export(dnnl::stream& stream);

  // The memory in the chosen layout as last bound or imported.
  const dnnl::memory& chosen() const { return reorder_ ? owned_ : plain_; }
  bool reorders() const { return reorder_; }

 private:
  Direction direction_ = Direction::kIn;
  bool reorder_ = false;
  dnnl::memory plain_;  // Wraps the caller's buffer; no storage of its own.
  dnnl::memory owned_;  // Owned buffer in the chosen layout, if reordering.
  dnnl::reorder reorder_primitive_;
};

}  // namespace kernels
}  // namespace paramserver

#endif  // PARAMSERVER_KERNELS_LAYOUT_BRIDGE_H_
