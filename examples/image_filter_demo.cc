// The seed's image filter against a running server, both ways:
//
//   * tf.Variable style: my_image_filter(image1); my_image_filter(image2)
//     creates two sets of four variables (eight in all);
//   * tf.get_variable style: result1 = my_image_filter(image1);
//     tf.get_variable_scope().reuse_variables();
//     result2 = my_image_filter(image2) shares one set of four.
//
// Usage: image_filter_demo --server=HOST:PORT [--size=64]

#include <cmath>
#include <cstdio>
#include <string>
#include <vector>

#include "absl/flags/flag.h"
#include "absl/flags/parse.h"
#include "absl/strings/match.h"
#include "client/client.h"
#include "client/variable_scope.h"
#include "examples/image_filter.h"

ABSL_FLAG(std::string, server, "127.0.0.1:2222", "Parameter server HOST:PORT.");
ABSL_FLAG(int, size, 64, "Image height and width (32 channels, batch 1).");

namespace paramserver {
namespace {

double Checksum(const std::vector<float>& values) {
  double sum = 0;
  for (float v : values) sum += v;
  return sum;
}

// The filter's variables: conv1*, conv2* at the top level (other programs
// may share the server).
absl::StatusOr<std::vector<VariableInfo>> FilterVariables(
    ParameterServerClient& client) {
  absl::StatusOr<std::vector<VariableInfo>> listed = client.ListVariables("");
  if (!listed.ok()) return listed.status();
  std::vector<VariableInfo> mine;
  for (VariableInfo& info : *listed) {
    if (absl::StartsWith(info.name, "conv1") ||
        absl::StartsWith(info.name, "conv2")) {
      mine.push_back(std::move(info));
    }
  }
  return mine;
}

absl::Status PrintVariables(ParameterServerClient& client, const char* title) {
  absl::StatusOr<std::vector<VariableInfo>> listed = FilterVariables(client);
  if (!listed.ok()) return listed.status();
  std::printf("%s: %zu filter variables on the server\n", title,
              listed->size());
  for (const VariableInfo& info : *listed) {
    std::printf("    %-16s %s\n", info.name.c_str(),
                ShapeToString(info.shape).c_str());
  }
  return absl::OkStatus();
}

absl::Status Run() {
  auto client = ParameterServerClient::Connect(absl::GetFlag(FLAGS_server));
  if (!client.ok()) return client.status();
  const int size = absl::GetFlag(FLAGS_size);
  auto filter =
      ImageFilter::Create({.batch = 1, .height = size, .width = size});
  if (!filter.ok()) return filter.status();
  const int64_t elements = int64_t{size} * size * 32;
  const std::vector<float> image1 = RandomImage(elements, 1),
                           image2 = RandomImage(elements, 2);
  std::vector<float> result1(elements), result2(elements);
  ImageFilterOptions options;
  options.seed = 42;

  // tf.Variable: each call makes its own four variables.
  for (const auto* image : {&image1, &image2}) {
    absl::StatusOr<ImageFilterVariables> v =
        CreateUnsharedImageFilterVariables(**client, options);
    if (!v.ok()) return v.status();
    if (absl::Status s = (*filter)->Apply(*v, *image, absl::MakeSpan(result1));
        !s.ok()) {
      return s;
    }
  }
  if (absl::Status s = PrintVariables(**client, "tf.Variable style"); !s.ok())
    return s;
  absl::StatusOr<std::vector<VariableInfo>> unshared =
      FilterVariables(**client);
  if (!unshared.ok()) return unshared.status();
  for (const VariableInfo& info : *unshared) {
    if (absl::Status s = (*client)->DeleteVariable(info.name).status(); !s.ok())
      return s;
  }

  // tf.get_variable: the second call reuses the first call's variables.
  FreshScopeStore graph;
  absl::StatusOr<ImageFilterVariables> first =
      GetImageFilterVariables(**client, options);
  if (!first.ok()) return first.status();
  ReuseVariables();
  absl::StatusOr<ImageFilterVariables> second =
      GetImageFilterVariables(**client, options);
  if (!second.ok()) return second.status();
  if (absl::Status s =
          (*filter)->Apply(*first, image1, absl::MakeSpan(result1));
      !s.ok())
    return s;
  if (absl::Status s =
          (*filter)->Apply(*second, image2, absl::MakeSpan(result2));
      !s.ok())
    return s;
  if (absl::Status s = PrintVariables(**client, "tf.get_variable style");
      !s.ok())
    return s;
  std::printf(
      "result1 checksum %.6g, result2 checksum %.6g; the second call %s\n",
      Checksum(result1), Checksum(result2),
      second->conv1_weights.created ? "created new weights (wrong!)"
                                    : "reused the first call's weights");
  return absl::OkStatus();
}

}  // namespace
}  // namespace paramserver

int main(int argc, char** argv) {
  absl::ParseCommandLine(argc, argv);
  absl::Status status = paramserver::Run();
  if (!status.ok()) {
    std::fprintf(stderr, "%s\n", status.ToString().c_str());
    return 1;
  }
  return 0;
}
