#include "common/number.h"

#include <cmath>
#include <cstdlib>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"

namespace paramserver {
namespace {

// -2^63 and 2^63, exactly representable as doubles; int64 is [-2^63, 2^63).
constexpr double kInt64Lowest = -0x1p63;
constexpr double kInt64Limit = 0x1p63;

bool IsInt64Double(double value) {
  return std::trunc(value) == value && value >= kInt64Lowest &&
         value < kInt64Limit;
}

}  // namespace

bool Number::IsIntegerIn(int64_t lowest, int64_t highest) const {
  if (!is_integer_ && !IsInt64Double(floating_)) return false;
  const int64_t value = ToInt64();
  return value >= lowest && value <= highest;
}

int64_t Number::ToInt64() const {
  return is_integer_ ? integer_ : static_cast<int64_t>(floating_);
}

std::string Number::ToString() const {
  if (is_integer_) return absl::StrCat(integer_);
  // Python-like shortest round trip ("0.1", not "0.10000000000000001").
  for (int precision = 15; precision < 17; ++precision) {
    std::string text = absl::StrFormat("%.*g", precision, floating_);
    if (std::strtod(text.c_str(), nullptr) == floating_) return text;
  }
  return absl::StrFormat("%.17g", floating_);
}

bool operator==(const Number& a, const Number& b) {
  if (a.is_integer_ && b.is_integer_) return a.integer_ == b.integer_;
  if (!a.is_integer_ && !b.is_integer_) return a.floating_ == b.floating_;
  const Number& integer = a.is_integer_ ? a : b;
  const double floating = a.is_integer_ ? b.floating_ : a.floating_;
  return IsInt64Double(floating) &&
         static_cast<int64_t>(floating) == integer.integer_;
}

}  // namespace paramserver
