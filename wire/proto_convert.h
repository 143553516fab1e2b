#ifndef PARAM_SERVER_WIRE_PROTO_CONVERT_H_
#define PARAM_SERVER_WIRE_PROTO_CONVERT_H_

// Conversions between the wire messages (namespace rpc) and the store's plain
// C++ types. Shared by the server's gRPC adapter and the client library. A
// wire enum may hold any number a peer sent, so every FromProto checks them.

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "common/table_spec.h"
#include "common/update_spec.h"
#include "common/variable_spec.h"
#include "proto/parameter_server.pb.h"

namespace paramserver {

// INVALID_ARGUMENT for unknown enum values anywhere in the message.
absl::StatusOr<VariableRequest> FromProto(const rpc::GetVariableRequest& proto);
absl::StatusOr<InitializerSpec> FromProto(const rpc::Initializer& proto);
absl::StatusOr<VariableInfo> FromProto(const rpc::VariableInfo& proto);

void ToProto(const VariableRequest& request, rpc::GetVariableRequest* proto);
void ToProto(const InitializerSpec& spec, rpc::Initializer* proto);
void ToProto(const VariableInfo& info, rpc::VariableInfo* proto);

// The update values point into `proto`, which must outlive the result.
absl::StatusOr<PushSpec> FromProto(const rpc::PushRequest& proto);
absl::StatusOr<OptimizerSpec> FromProto(const rpc::Optimizer& proto);
void ToProto(const OptimizerSpec& spec, rpc::Optimizer* proto);
void ToProto(const PushSpec& push, rpc::PushRequest* proto);

// The offsets and weights point into `proto`, which must outlive the result.
absl::StatusOr<BagSpec> FromProto(const rpc::Bags& proto);
void ToProto(const BagSpec& bags, rpc::Bags* proto);

// The ids and rows point into `proto`, which must outlive the result.
absl::StatusOr<RowUpdateSpec> FromProto(const rpc::PushRowsRequest& proto);
// Dynamic tables. TableStats has no FromProto: clients read it as is.
absl::StatusOr<TableRequest> FromProto(const rpc::GetTableRequest& proto);
absl::StatusOr<TableSpec> FromProto(const rpc::TableSpec& proto);
void ToProto(const TableSpec& spec, rpc::TableSpec* proto);
void ToProto(const TableCounters& counters, rpc::TableStats* proto);
absl::StatusOr<TableStatus> FromProto(const rpc::GetTableResponse& proto);
void ToProto(const RowUpdateSpec& push, rpc::PushRowsRequest* proto);

// absl and gRPC share their status codes one for one.
absl::Status InvalidEnum(absl::string_view field, int value);

}  // namespace paramserver

#endif  // PARAM_SERVER_WIRE_PROTO_CONVERT_H_
