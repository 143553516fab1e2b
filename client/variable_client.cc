#include "client/variable_client.h"

#include <cstring>

#include "absl/strings/str_cat.h"
#include "client/embedding_rows.h"
#include "client/value_sink.h"

namespace paramserver {

absl::StatusOr<GatheredRows> VariableClient::EmbeddingLookup(
    absl::string_view full_name, absl::Span<const int64_t> ids,
    PartitionStrategy /*strategy*/, std::optional<double> max_norm) {
  absl::StatusOr<GatheredRows> gathered = GatherRows(full_name, ids);
  if (!gathered.ok() || !max_norm || ids.empty()) return gathered;
  const size_t row_bytes = gathered->rows.size() / ids.size();
  if (absl::Status s = ClipRowsByNorm(gathered->info.dtype, row_bytes,
                                      *max_norm, full_name, gathered->rows);
      !s.ok()) {
    return s;
  }
  return gathered;
}

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
