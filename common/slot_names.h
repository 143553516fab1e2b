#ifndef PARAM_SERVER_COMMON_SLOT_NAMES_H_
#define PARAM_SERVER_COMMON_SLOT_NAMES_H_

namespace paramserver {

// TensorFlow's slot names: v/Momentum, v/Adagrad, v/Adam (m) and v/Adam_1
// (v) for Adam and LazyAdam, v/Ftrl (accum) and v/Ftrl_1 (linear).
inline constexpr char kMomentumSlot[] = "Momentum";
inline constexpr char kAdagradSlot[] = "Adagrad";
inline constexpr char kAdamMSlot[] = "Adam";
inline constexpr char kAdamVSlot[] = "Adam_1";
inline constexpr char kFtrlAccumulatorSlot[] = "Ftrl";
inline constexpr char kFtrlLinearSlot[] = "Ftrl_1";
// Every suffix any optimizer uses: for deleting a variable with its slots,
// and for placing a slot on its variable's shard.
inline constexpr const char* kAllSlotSuffixes[] = {
    kMomentumSlot, kAdagradSlot,         kAdamMSlot,
    kAdamVSlot,    kFtrlAccumulatorSlot, kFtrlLinearSlot};

}  // namespace paramserver

#endif  // PARAM_SERVER_COMMON_SLOT_NAMES_H_
