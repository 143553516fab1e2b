// libFuzzer target: the hand-written wire decoders, fed bytes as gRPC hands
// them over (a ByteBuffer of several slices), and the session stream's
// requests as the server parses and serves them.
//
// Input: a selector byte (which message), a byte that picks where the bytes
// are cut into slices, then the message's bytes. Checks, besides "no crash
// and no sanitizer report":
//  - every span a decoder returns lies inside the buffer (CopySpan reads it
//    under ASan);
//  - what the decoder accepts, protobuf's generated parser reads the same
//    way, and the decoder accepts whatever protobuf itself serializes (the
//    header promises "anything a conformant protobuf writer may send").

#include <grpcpp/grpcpp.h>

#include <algorithm>
#include <cstdint>
#include <string>
#include <vector>

#include "fuzz/fuzz_util.h"
#include "google/protobuf/stubs/logging.h"
#include "google/protobuf/util/field_comparator.h"
#include "google/protobuf/util/message_differencer.h"
#include "proto/parameter_server.pb.h"
#include "server/variable_service.h"
#include "server/variable_store.h"
#include "wire/zero_copy_reader.h"
#include "wire/zero_copy_writer.h"

namespace paramserver {
namespace {

// `bytes` cut into slices at positions drawn from `pattern` (empty slices
// included), as gRPC may deliver one message in several.
grpc::ByteBuffer Sliced(const std::string& bytes, uint8_t pattern) {
  std::vector<grpc::Slice> slices;
  size_t at = 0;
  uint32_t state = pattern;
  while (at < bytes.size() && slices.size() < 16) {
    state = state * 1103515245 + 12345;
    const size_t step = pattern == 0 ? bytes.size() : (state >> 16) % 9;
    const size_t length = std::min(step, bytes.size() - at);
    slices.emplace_back(bytes.data() + at, length);
    at += length;
  }
  if (at < bytes.size())
    slices.emplace_back(bytes.data() + at, bytes.size() - at);
  return grpc::ByteBuffer(slices.data(), slices.size());
}

std::string SpanBytes(const WireReader& reader, const WireSpan& span) {
  std::string appended;
  reader.AppendSpan(span, &appended);
  Check(appended == reader.SpanToString(span));
  return appended;
}

// Each Decode* runs one decoder over `buffer` and puts what it decoded into
// *out, as the generated message; false when the decoder refused.
bool DecodePull(const grpc::ByteBuffer& buffer, rpc::PullResponse* out) {
  absl::StatusOr<WireReader> reader = WireReader::Create(buffer);
  Check(reader.ok());
  absl::StatusOr<std::vector<PulledVariableView>> views =
      DecodePullResponse(*reader);
  if (!views.ok()) {
    Check(absl::IsDataLoss(views.status()));
    return false;
  }
  for (const PulledVariableView& view : *views) {
    rpc::PulledVariable* variable = out->add_variables();
    if (view.variable.ByteSizeLong() > 0)
      *variable->mutable_variable() = view.variable;
    variable->set_unchanged(view.unchanged);
    variable->set_streamed(view.streamed);
    variable->set_value(SpanBytes(*reader, view.value));
  }
  return true;
}

bool DecodeValue(const grpc::ByteBuffer& buffer, rpc::ValueChunk* out) {
  absl::StatusOr<WireReader> reader = WireReader::Create(buffer);
  Check(reader.ok());
  absl::StatusOr<ValueChunkView> chunk = DecodeValueChunk(*reader);
  if (!chunk.ok()) {
    Check(absl::IsDataLoss(chunk.status()));
    return false;
  }
  if (chunk->has_variable) *out->mutable_variable() = chunk->variable;
  out->set_unchanged(chunk->unchanged);
  out->set_offset(chunk->offset);
  out->set_data(SpanBytes(*reader, chunk->data));
  return true;
}

bool DecodePush(const grpc::ByteBuffer& buffer, rpc::PushChunk* out) {
  absl::StatusOr<WireReader> reader = WireReader::Create(buffer);
  Check(reader.ok());
  absl::StatusOr<PushChunkView> chunk = DecodePushChunk(*reader);
  if (!chunk.ok()) {
    Check(absl::IsDataLoss(chunk.status()));
    return false;
  }
  // The server parses the request bytes later; here, if they parse at all.
  if (chunk->has_request &&
      !out->mutable_request()->ParseFromString(chunk->request)) {
    return false;
  }
  out->set_index(chunk->index);
  out->set_offset(chunk->offset);
  out->set_data(SpanBytes(*reader, chunk->data));
  return true;
}

// Equal as protobuf's Equivalent() has it (an unset field equals its
// default), with a NaN equal to a NaN: a NaN read by both parsers is
// agreement, not a difference.
bool SameMessage(const google::protobuf::Message& a,
                 const google::protobuf::Message& b) {
  google::protobuf::util::DefaultFieldComparator comparator;
  comparator.set_treat_nan_as_equal(true);
  google::protobuf::util::MessageDifferencer differencer;
  differencer.set_message_field_comparison(
      google::protobuf::util::MessageDifferencer::EQUIVALENT);
  differencer.set_field_comparator(&comparator);
  return differencer.Compare(a, b);
}

// Protobuf's reading of `bytes` as Message, next to the decoder's: when both
// accept, they agree; protobuf's own serialization the decoder must accept.
template <typename Message>
void Differential(const std::string& bytes, uint8_t pattern,
                  bool (*decode)(const grpc::ByteBuffer&, Message*)) {
  Message decoded;
  const bool accepted = decode(Sliced(bytes, pattern), &decoded);
  Message parsed;
  if (!parsed.ParseFromString(bytes)) return;
  // Unknown fields are skipped by the decoder but kept inside the nested
  // messages it hands to protobuf: compare the known ones.
  parsed.DiscardUnknownFields();
  decoded.DiscardUnknownFields();
  // Protobuf skips a known field of the wrong wire type as unknown, where the
  // decoder refuses it (no conformant writer sends one): compare only when
  // both accepted.
  if (accepted) {
    Check(SameMessage(decoded, parsed));
  }
  const std::string canonical = parsed.SerializeAsString();
  Message again;
  Check(decode(Sliced(canonical, pattern), &again));
  again.DiscardUnknownFields();
  Check(SameMessage(again, parsed));
}

// One frame of a session stream, as the session reactor handles it (the
// reactor itself needs a live call: its parse and handler are run here).
void SessionFrame(const std::string& bytes, uint8_t pattern) {
  rpc::SessionRequest request;
  absl::Status status = ParseRequest(Sliced(bytes, pattern), &request);
  if (!status.ok()) {
    Check(absl::IsInvalidArgument(status));
    return;
  }
  if (request.call_case() != rpc::SessionRequest::kGetVariable) return;
  rpc::SessionResponse response;
  VariableService service(&SmallStore());
  status = service.GetVariable(Caller(), request.get_variable(),
                               response.mutable_get_variable());
  grpc::ByteBuffer raw;
  if (status.ok()) Check(SerializeMessage(response, &raw).ok());
}

}  // namespace
}  // namespace paramserver

extern "C" int LLVMFuzzerInitialize(int* /*argc*/, char*** /*argv*/) {
  google::protobuf::SetLogHandler(nullptr);
  return 0;
}

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  using namespace paramserver;
  if (size < 2) return 0;
  const std::string bytes(reinterpret_cast<const char*>(data) + 2, size - 2);
  switch (data[0] % 4) {
    case 0:
      Differential<rpc::PullResponse>(bytes, data[1], DecodePull);
      break;
    case 1:
      Differential<rpc::ValueChunk>(bytes, data[1], DecodeValue);
      break;
    case 2:
      Differential<rpc::PushChunk>(bytes, data[1], DecodePush);
      break;
    case 3:
      SessionFrame(bytes, data[1]);
      break;
  }
  return 0;
}
