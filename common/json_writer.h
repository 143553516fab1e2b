#ifndef PARAM_SERVER_COMMON_JSON_WRITER_H_
#define PARAM_SERVER_COMMON_JSON_WRITER_H_

// Compact JSON (no spaces) built value by value: psctl prints every line it
// writes with one, and ps_server's HTTP port answers with it, so quoting
// and number formats are decided in one place.
//
//   JsonWriter json;
//   json.BeginObject().Key("deleted").BeginArray();
//   for (const std::string& name : names) json.String(name);
//   json.EndArray().EndObject();
//   std::printf("%s\n", json.text().c_str());
//
// Commas and colons are inserted by the writer. The caller nests Begin/End
// calls properly and gives every object member a Key first; the writer does
// not check this (a mistake gives malformed text, never undefined behaviour).
// Not thread-safe.

#include <cstdint>
#include <string>
#include <vector>

#include "absl/strings/string_view.h"

namespace paramserver {

class JsonWriter {
 public:
  JsonWriter& BeginObject();
  JsonWriter& EndObject();
  JsonWriter& BeginArray();
  JsonWriter& EndArray();
  // The name of the next member of the innermost object.
  JsonWriter& Key(absl::string_view name);

  // Bytes pass through unchanged (UTF-8 stays UTF-8); quotes, backslashes
  // and control characters are escaped: "\n" as \n, the others as \u00XX.
  JsonWriter& String(absl::string_view text);
  JsonWriter& Int(int64_t value);
  JsonWriter& Uint(uint64_t value);
  // With 17 significant digits, so the text parses back to the same double;
  // null for NaN and infinities, which JSON cannot express.
  JsonWriter& Double(double value);
  // With 9 significant digits, enough for a float to round-trip; null for
  // NaN and infinities.
  JsonWriter& Float(float value);
  JsonWriter& Bool(bool value);
  JsonWriter& Null();

  // The text so far; a complete JSON value once every Begin has its End.
  const std::string& text() const { return out_; }

 private:
  // Writes the comma that separates this value from the previous one.
  void BeforeValue();
  void AppendFloating(double value, int digits);

  std::string out_;
  // One entry per open object or array: whether it has a value yet.
  std::vector<bool> has_value_;
  bool after_key_ = false;
};

// `text` as a JSON string literal, quotes included (JsonWriter::String).
std::string JsonString(absl::string_view text);

}  // namespace paramserver

#endif  // PARAM_SERVER_COMMON_JSON_WRITER_H_
