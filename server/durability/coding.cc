#include "server/durability/coding.h"

namespace paramserver {

void PutFixed32(std::string* out, uint32_t value) {
  for (int i = 0; i < 4; ++i)
    out->push_back(static_cast<char>(value >> (8 * i)));
}

void PutFixed64(std::string* out, uint64_t value) {
  for (int i = 0; i < 8; ++i)
    out->push_back(static_cast<char>(value >> (8 * i)));
}

void PutLengthPrefixed(std::string* out, absl::string_view bytes) {
  PutFixed32(out, static_cast<uint32_t>(bytes.size()));
  out->append(bytes.data(), bytes.size());
}

uint32_t DecodeFixed32(const char* p) {
  const auto* u = reinterpret_cast<const unsigned char*>(p);
  return uint32_t{u[0]} | (uint32_t{u[1]} << 8) | (uint32_t{u[2]} << 16) |
         (uint32_t{u[3]} << 24);
}

uint64_t DecodeFixed64(const char* p) {
  return DecodeFixed32(p) | (uint64_t{DecodeFixed32(p + 4)} << 32);
}

bool ByteReader::ReadFixed8(uint8_t* value) {
  if (data_.empty()) return false;
  *value = static_cast<uint8_t>(data_[0]);
  data_.remove_prefix(1);
  return true;
}

bool ByteReader::ReadFixed32(uint32_t* value) {
  if (data_.size() < 4) return false;
  *value = DecodeFixed32(data_.data());
  data_.remove_prefix(4);
  return true;
}

bool ByteReader::ReadFixed64(uint64_t* value) {
  if (data_.size() < 8) return false;
  *value = DecodeFixed64(data_.data());
  data_.remove_prefix(8);
  return true;
}

bool ByteReader::ReadBytes(size_t n, absl::string_view* bytes) {
  if (data_.size() < n) return false;
  *bytes = data_.substr(0, n);
  data_.remove_prefix(n);
  return true;
}

bool ByteReader::ReadLengthPrefixed(absl::string_view* bytes) {
  ByteReader copy = *this;
  uint32_t n;
  if (!copy.ReadFixed32(&n) || !copy.ReadBytes(n, bytes)) return false;
  *this = copy;
  return true;
}

}  // namespace paramserver
