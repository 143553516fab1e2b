// Measures this core's fp32 FMA throughput: the ceiling a convolution's
// GFLOP/s is judged against.

#ifndef PARAMSERVER_KERNELS_FMA_PEAK_H_
#define PARAMSERVER_KERNELS_FMA_PEAK_H_

namespace paramserver {
namespace kernels {

enum class FmaIsa { kAvx2, kAvx512 };

// True if the CPU (and OS) support `isa`.
bool CpuSupports(FmaIsa isa);

// Best of `repeats` runs of a loop of independent FMAs (enough accumulators
// to cover FMA latency on every FMA port) on the calling thread, in GFLOP/s
// (an FMA is 2 FLOPs per lane). 0 if the CPU lacks `isa`.
double MeasureFmaPeakGflops(FmaIsa isa, int repeats = 5);

}  // namespace kernels
}  // namespace paramserver

#endif  // PARAMSERVER_KERNELS_FMA_PEAK_H_
