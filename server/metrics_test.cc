#include "server/metrics.h"

#include <thread>
#include <vector>

#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "server/rpc_metrics.h"

namespace paramserver {
namespace {

using ::testing::HasSubstr;
using ::testing::Not;

TEST(HistogramTest, CountsEachValueInItsBucketAndCumulates) {
  Histogram histogram({0.1, 1, 10});
  for (double value : {0.05, 0.1, 0.5, 1.0, 5.0, 100.0}) {
    histogram.Observe(value);
  }
  const Histogram::Snapshot snapshot = histogram.Read();
  // le=0.1 holds 0.05 and 0.1 (bounds are inclusive), le=1 adds 0.5 and 1.
  EXPECT_THAT(snapshot.cumulative, ::testing::ElementsAre(2, 4, 5, 6));
  EXPECT_EQ(snapshot.count, 6);
  EXPECT_DOUBLE_EQ(snapshot.sum, 106.65);
}

TEST(HistogramTest, ConcurrentObservationsAreAllCounted) {
  Histogram histogram(LatencyBucketsSeconds());
  std::vector<std::thread> threads;
  for (int t = 0; t < 4; ++t) {
    threads.emplace_back([&histogram] {
      for (int i = 0; i < 10000; ++i) histogram.Observe(0.001);
    });
  }
  for (std::thread& thread : threads) thread.join();
  const Histogram::Snapshot snapshot = histogram.Read();
  EXPECT_EQ(snapshot.count, 40000);
  EXPECT_NEAR(snapshot.sum, 40.0, 1e-9);
}

TEST(PrometheusTextTest, WritesTheExpositionFormat) {
  PrometheusText text;
  text.Family("ps_things_total", "counter", "Things.\nWith a \\ newline.");
  text.Sample("ps_things_total", {{"scope", "a\"b\\c\nd"}}, 3);
  text.Sample("ps_things_total", {}, 0.25);
  EXPECT_EQ(text.text(),
            "# HELP ps_things_total Things.\\nWith a \\\\ newline.\n"
            "# TYPE ps_things_total counter\n"
            "ps_things_total{scope=\"a\\\"b\\\\c\\nd\"} 3\n"
            "ps_things_total 0.25\n");
}

TEST(PrometheusTextTest, WritesHistogramBucketsSumAndCount) {
  Histogram histogram({0.0001, 2.5});
  histogram.Observe(1);
  PrometheusText text;
  text.HistogramSamples("ps_seconds", {{"m", "x"}}, histogram);
  EXPECT_EQ(text.text(),
            "ps_seconds_bucket{m=\"x\",le=\"0.0001\"} 0\n"
            "ps_seconds_bucket{m=\"x\",le=\"2.5\"} 1\n"
            "ps_seconds_bucket{m=\"x\",le=\"+Inf\"} 1\n"
            "ps_seconds_sum{m=\"x\"} 1\n"
            "ps_seconds_count{m=\"x\"} 1\n");
}

TEST(RpcMetricsTest, CountsByMethodAndCodeAndFoldsUnknownNames) {
  RpcMetrics metrics({"/pkg.S/Pull", "/pkg.S/Push", "not a method"});
  RpcMetrics::Method* pull = metrics.Find("/pkg.S/Pull");
  for (int i = 0; i < 3; ++i) {
    pull->Started();
    pull->Handled(0, 0.002);
  }
  pull->Handled(5, 0.001);  // NOT_FOUND.
  metrics.Find("/pkg.S/Nope")->Handled(12, 0.001);
  metrics.Find("/other.Service/Anything")->Handled(12, 0.001);
  PrometheusText text;
  metrics.AppendTo(text);
  EXPECT_THAT(text.text(),
              HasSubstr("grpc_server_started_total{grpc_service=\"pkg.S\","
                        "grpc_method=\"Pull\"} 3\n"));
  EXPECT_THAT(text.text(),
              HasSubstr("grpc_server_handled_total{grpc_service=\"pkg.S\","
                        "grpc_method=\"Pull\",grpc_code=\"OK\"} 3\n"));
  EXPECT_THAT(text.text(),
              HasSubstr("grpc_server_handled_total{grpc_service=\"pkg.S\","
                        "grpc_method=\"Pull\",grpc_code=\"NotFound\"} 1\n"));
  EXPECT_THAT(text.text(),
              HasSubstr("grpc_server_handling_seconds_count{grpc_service="
                        "\"pkg.S\",grpc_method=\"Pull\"} 4\n"));
  // Push was never called: OK at zero, no other code.
  EXPECT_THAT(text.text(),
              HasSubstr("grpc_method=\"Push\",grpc_code=\"OK\"} 0\n"));
  EXPECT_THAT(text.text(), Not(HasSubstr("grpc_method=\"Push\",grpc_code="
                                         "\"NotFound\"")));
  // Names not served add no label values.
  EXPECT_THAT(text.text(),
              HasSubstr("grpc_service=\"unknown\",grpc_method=\"unknown\","
                        "grpc_code=\"Unimplemented\"} 2\n"));
  EXPECT_THAT(text.text(), Not(HasSubstr("Nope")));
  EXPECT_THAT(text.text(), Not(HasSubstr("not a method")));
}

TEST(RpcMetricsTest, FindsTheMethodsOfLinkedServices) {
  // This test links no generated service: unknown services are skipped.
  EXPECT_THAT(MethodsOfServices({"no.such.Service"}), ::testing::IsEmpty());
}

}  // namespace
}  // namespace paramserver
