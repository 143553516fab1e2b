#include "fuzz/fuzz_util.h"

namespace paramserver {

StoreOptions SmallStoreOptions() {
  StoreOptions options;
  options.max_variable_bytes = 1 << 16;
  options.max_total_bytes = 1 << 20;
  return options;
}

VariableStore& SmallStore() {
  static VariableStore* store =
      VariableStore::Create(SmallStoreOptions())->release();
  return *store;
}

}  // namespace paramserver
