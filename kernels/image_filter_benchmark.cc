// Forward pass of the two-convolution image filter (5x5, 32->32, SAME,
// stride 1, bias + ReLU fused) and its training step (forward, MSE loss and
// all gradients), 1 thread and all cores, in GFLOP/s, plus this
// core's measured fp32 FMA peak and the fraction of it achieved.
//
//   bazel --output_base=... run //kernels:image_filter_benchmark --
//       --benchmark_format=json
//
// Threads: Debian's libdnnl uses GNU OpenMP; each case sets the count with
// ImageFilterParams::num_threads (omp_set_num_threads around create/run).
// Counters: GFLOP/s (FLOPs = 2*N*OH*OW*KH*KW*IC*OC per convolution; two per
// forward pass, five per training step) and
// peak_fraction = GFLOP/s / (threads * measured single-core FMA peak).

#include <time.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <memory>
#include <random>
#include <thread>
#include <utility>
#include <vector>

#include "absl/strings/str_cat.h"
#include "benchmark/benchmark.h"
#include "kernels/fma_peak.h"
#include "kernels/image_filter_net.h"
#include "kernels/image_filter_training.h"

namespace paramserver {
namespace kernels {
namespace {

double g_core_peak_gflops = 0;  // Set in main before any benchmark runs.

// CPU seconds used by the whole process. On a shared machine, FLOPs per
// CPU second (the *_cpu counters) still show a 1-thread kernel's
// efficiency when other processes take turns on its core; wall-clock
// figures do not.
double ProcessCpuSeconds() {
  timespec t;
  clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &t);
  return t.tv_sec + 1e-9 * t.tv_nsec;
}

std::vector<float> Random(int64_t n, uint32_t seed) {
  std::mt19937 rng(seed);
  std::uniform_real_distribution<float> dist(-0.1f, 0.1f);
  std::vector<float> v(n);
  for (float& x : v) x = dist(rng);
  return v;
}

// Args: batch, height (= width), threads.
void BM_ImageFilterForward(benchmark::State& state) {
  ImageFilterParams f;
  f.batch = state.range(0);
  f.height = f.width = state.range(1);
  f.num_threads = static_cast<int>(state.range(2));
  absl::StatusOr<std::unique_ptr<ImageFilterNet>> net =
      ImageFilterNet::Create(f);
  if (!net.ok()) return state.SkipWithError(net.status().ToString().c_str());
  const int64_t size = f.batch * f.height * f.width * f.channels;
  const int64_t weights = f.kernel * f.kernel * f.channels * f.channels;
  const std::vector<float> input = Random(size, 1);
  std::vector<float> output(size);
  absl::Status s = (*net)->SetWeights(Random(weights, 2), Random(32, 3),
                                      Random(weights, 4), Random(32, 5), 1);
  if (s.ok()) s = (*net)->Forward(input, absl::MakeSpan(output));  // Warm-up.
  if (!s.ok()) return state.SkipWithError(s.ToString().c_str());

  const auto start = std::chrono::steady_clock::now();
  const double cpu_start = ProcessCpuSeconds();
  for (auto _ : state) {
    s = (*net)->Forward(input, absl::MakeSpan(output));
    if (!s.ok()) return state.SkipWithError(s.ToString().c_str());
    benchmark::ClobberMemory();
  }
  const double cpu = ProcessCpuSeconds() - cpu_start;
  const std::chrono::duration<double> elapsed =
      std::chrono::steady_clock::now() - start;
  const double flops = (*net)->Flops() * state.iterations();
  const double gflops = flops / elapsed.count() * 1e-9;
  state.counters["GFLOP/s"] = gflops;
  state.counters["GFLOP/s_cpu"] = flops / cpu * 1e-9;
  state.counters["threads"] = f.num_threads;
  state.counters["peak_fraction"] =
      gflops / (f.num_threads * g_core_peak_gflops);
}

// Args: batch, height (= width), threads. One training step: forward, loss
// and the gradients of all four tensors (five convolutions' FLOPs).
void BM_ImageFilterTrainingStep(benchmark::State& state) {
  ImageFilterParams f;
  f.batch = state.range(0);
  f.height = f.width = state.range(1);
  f.num_threads = static_cast<int>(state.range(2));
  absl::StatusOr<std::unique_ptr<ImageFilterTraining>> training =
      ImageFilterTraining::Create(f);
  if (!training.ok()) {
    return state.SkipWithError(training.status().ToString().c_str());
  }
  const int64_t size = (*training)->image_elements();
  const int64_t weights = (*training)->weights_elements();
  const std::vector<float> input = Random(size, 1), targets = Random(size, 6);
  std::vector<float> g[4] = {
      std::vector<float>(weights), std::vector<float>(f.channels),
      std::vector<float>(weights), std::vector<float>(f.channels)};
  const FilterGradients gradients = {absl::MakeSpan(g[0]), absl::MakeSpan(g[1]),
                                     absl::MakeSpan(g[2]),
                                     absl::MakeSpan(g[3])};
  absl::Status s = (*training)->SetWeights(
      Random(weights, 2), Random(32, 3), Random(weights, 4), Random(32, 5), 1);
  if (s.ok())
    s = (*training)->LossAndGradients(input, targets, gradients).status();
  if (!s.ok()) return state.SkipWithError(s.ToString().c_str());

  const auto start = std::chrono::steady_clock::now();
  const double cpu_start = ProcessCpuSeconds();
  for (auto _ : state) {
    s = (*training)->LossAndGradients(input, targets, gradients).status();
    if (!s.ok()) return state.SkipWithError(s.ToString().c_str());
    benchmark::ClobberMemory();
  }
  const double cpu = ProcessCpuSeconds() - cpu_start;
  const std::chrono::duration<double> elapsed =
      std::chrono::steady_clock::now() - start;
  const double flops = (*training)->StepFlops() * state.iterations();
  const double gflops = flops / elapsed.count() * 1e-9;
  state.counters["GFLOP/s"] = gflops;
  state.counters["GFLOP/s_cpu"] = flops / cpu * 1e-9;
  state.counters["threads"] = f.num_threads;
  state.counters["peak_fraction"] =
      gflops / (f.num_threads * g_core_peak_gflops);
}

// The FMA loop itself, so the peak shows in the same report.
void BM_FmaPeak(benchmark::State& state) {
  const FmaIsa isa = state.range(0) == 512 ? FmaIsa::kAvx512 : FmaIsa::kAvx2;
  if (!CpuSupports(isa)) return state.SkipWithError("ISA not supported");
  double gflops = 0, gflops_cpu = 0;
  for (auto _ : state) {
    const auto start = std::chrono::steady_clock::now();
    const double cpu_start = ProcessCpuSeconds();
    gflops = MeasureFmaPeakGflops(isa, /*repeats=*/1);
    const double cpu = ProcessCpuSeconds() - cpu_start;
    const std::chrono::duration<double> wall =
        std::chrono::steady_clock::now() - start;
    // The loop's FLOPs, recovered from its wall-clock rate.
    gflops_cpu = std::max(gflops_cpu, gflops * wall.count() / cpu);
  }
  state.counters["GFLOP/s"] = gflops;
  state.counters["GFLOP/s_cpu"] = gflops_cpu;
}

void RegisterBenchmarks() {
  const int cores = std::max(1u, std::thread::hardware_concurrency());
  for (const auto& [batch, size] : {std::pair{1, 224}, std::pair{8, 64}}) {
    for (int threads : {1, cores}) {
      for (const auto& [name, fn] :
           {std::pair{"BM_ImageFilterForward", BM_ImageFilterForward},
            std::pair{"BM_ImageFilterTrainingStep",
                      BM_ImageFilterTrainingStep}}) {
        benchmark::RegisterBenchmark(name, fn)
            ->Args({batch, size, threads})
            ->ArgNames({"batch", "hw", "threads"})
            ->Unit(benchmark::kMillisecond)
            ->UseRealTime();
      }
      if (cores == 1) break;
    }
  }
  benchmark::RegisterBenchmark("BM_FmaPeak", BM_FmaPeak)
      ->Arg(256)
      ->Arg(512)
      ->Iterations(3)
      ->UseRealTime()
      ->Unit(benchmark::kMillisecond);
}

}  // namespace
}  // namespace kernels
}  // namespace paramserver

int main(int argc, char** argv) {
  using namespace paramserver::kernels;
  benchmark::Initialize(&argc, argv);
  const double avx512 = MeasureFmaPeakGflops(FmaIsa::kAvx512);
  const double avx2 = MeasureFmaPeakGflops(FmaIsa::kAvx2);
  g_core_peak_gflops = std::max(avx512, avx2);
  std::fprintf(stderr,
               "single-core fp32 FMA peak: %.1f GFLOP/s (AVX-512 %.1f, "
               "AVX2 %.1f)\n",
               g_core_peak_gflops, avx512, avx2);
  benchmark::AddCustomContext("fma_peak_gflops",
                              absl::StrCat(g_core_peak_gflops));
  benchmark::AddCustomContext("fma_peak_avx512_gflops", absl::StrCat(avx512));
  benchmark::AddCustomContext("fma_peak_avx2_gflops", absl::StrCat(avx2));
  RegisterBenchmarks();
  benchmark::RunSpecifiedBenchmarks();
  benchmark::Shutdown();
  return 0;
}
