#include "kernels/fma_peak.h"

#include <immintrin.h>

#include <algorithm>
#include <chrono>
#include <cstdint>

namespace paramserver {
namespace kernels {
namespace {

// Iterations per timed run: ~0.1-0.3 s at typical peaks.
constexpr int64_t kIterations = 50'000'000;
// Independent accumulators: at least FMA latency x FMA ports (4 x 2 on Zen
// 4/5 and recent Intel cores), and few enough to stay in registers (32 zmm;
// 16 ymm without AVX-512VL, two of which hold the constants).
constexpr int kAccumulators512 = 16;
constexpr int kAccumulators256 = 12;

// The body of both loops (intrinsics need a function compiled for their
// ISA, so a template shared by the two cannot use them). acc = acc * a + b
// converges to b / (1 - a) = 1: no overflow, no denormals. A lane of the
// sum is returned so the loop cannot be dropped.
#define FMA_LOOP(N, VEC, SET1, FMADD, ADD, FIRST_LANE)      \
  VEC acc[N];                                               \
  for (int k = 0; k < N; ++k) acc[k] = SET1(0.01f * k);     \
  const VEC a = SET1(0.999f), b = SET1(0.001f);             \
  for (int64_t i = 0; i < iterations; ++i) {                \
    _Pragma("GCC unroll 16") for (int k = 0; k < N; ++k) {  \
      acc[k] = FMADD(acc[k], a, b);                         \
    }                                                       \
  }                                                         \
  for (int k = 1; k < N; ++k) acc[0] = ADD(acc[0], acc[k]); \
  return FIRST_LANE(acc[0]);

__attribute__((target("avx512f"))) float FmaLoopAvx512(int64_t iterations) {
  FMA_LOOP(kAccumulators512, __m512, _mm512_set1_ps, _mm512_fmadd_ps,
           _mm512_add_ps, _mm512_cvtss_f32)
}

__attribute__((target("avx2,fma"))) float FmaLoopAvx2(int64_t iterations) {
  FMA_LOOP(kAccumulators256, __m256, _mm256_set1_ps, _mm256_fmadd_ps,
           _mm256_add_ps, _mm256_cvtss_f32)
}

#undef FMA_LOOP

volatile float sink;  // Keeps the loops' results observable.

}  // namespace

bool CpuSupports(FmaIsa isa) {
  __builtin_cpu_init();
  return isa == FmaIsa::kAvx512
             ? __builtin_cpu_supports("avx512f")
             : __builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma");
}

double MeasureFmaPeakGflops(FmaIsa isa, int repeats) {
  if (!CpuSupports(isa)) return 0;
  const bool avx512 = isa == FmaIsa::kAvx512;
  const double flops_per_iteration =
      avx512 ? 2.0 * 16 * kAccumulators512 : 2.0 * 8 * kAccumulators256;
  const double flops = flops_per_iteration * kIterations;
  double best = 0;
  for (int r = 0; r < repeats; ++r) {
    const auto start = std::chrono::steady_clock::now();
    sink = avx512 ? FmaLoopAvx512(kIterations) : FmaLoopAvx2(kIterations);
    const std::chrono::duration<double> elapsed =
        std::chrono::steady_clock::now() - start;
    best = std::max(best, flops / elapsed.count() * 1e-9);
  }
  return best;
}

}  // namespace kernels
}  // namespace paramserver
