#include "client/variable_client.h"

#include <cstring>

#include "absl/strings/str_cat.h"
#include "client/value_sink.h"

namespace paramserver {

absl::StatusOr<std::vector<PulledInto>> VariableClient::PullInto(
    absl::Span<const PullIntoItem> items) {
  std::vector<PullItemSpec> specs;
  specs.reserve(items.size());
  for (const PullIntoItem& item : items) {
    specs.push_back({item.name, item.known_version});
  }
  absl::StatusOr<std::vector<PulledValue>> pulled = Pull(specs);
  if (!pulled.ok()) return pulled.status();
  if (pulled->size() != items.size()) {
    return absl::DataLossError(absl::StrCat("Pulled ", pulled->size(),
                                            " values for ", items.size(),
                                            " variables."));
  }
  std::vector<PulledInto> results;
  results.reserve(items.size());
  for (size_t i = 0; i < items.size(); ++i) {
    PulledValue& value = (*pulled)[i];
    if (!value.unchanged) {
      // Begin checks the buffer against the value's description.
      ValueSink sink = ValueSink::IntoBuffer(items[i].buffer);
      if (absl::Status s = sink.Begin(value.info); !s.ok()) return s;
      if (value.value.size() != sink.size()) {
        return absl::DataLossError(absl::StrCat(
            "Value of ", value.info.name, " has ", value.value.size(),
            " bytes; its shape and dtype need ", sink.size(), "."));
      }
      if (!value.value.empty()) {
        std::memcpy(items[i].buffer.data(), value.value.data(),
                    value.value.size());
      }
    }
    results.push_back({std::move(value.info), value.unchanged});
  }
  return results;
}

}  // namespace paramserver
