#ifndef PARAM_SERVER_COMMON_NUMBER_H_
#define PARAM_SERVER_COMMON_NUMBER_H_

#include <cstdint>
#include <ostream>
#include <string>
#include <type_traits>

namespace paramserver {

// An initializer parameter as the caller wrote it: an integer, kept exact over
// all of int64 (a double holds integers exactly only up to 2^53), or a
// floating point value. numpy, and so TensorFlow, make the same distinction:
// [1, 2] is an int64 array, [1.0, 2] a float64 one.
//
// Implicit from any integer type that int64 holds (not bool, not uint64) and
// from double, so `spec.values = {1, 2, 3}` and `spec.maxval = 0.5` read as
// they would in Python. A plain value; thread-compatible.
class Number {
 public:
  constexpr Number() = default;  // The integer 0.
  constexpr Number(double value) : is_integer_(false), floating_(value) {}
  template <typename T, std::enable_if_t<
                            std::is_integral_v<T> && !std::is_same_v<T, bool> &&
                                (std::is_signed_v<T> || sizeof(T) < 8),
                            int> = 0>
  constexpr Number(T value)
      : is_integer_(true), integer_(static_cast<int64_t>(value)) {}

  bool is_integer() const { return is_integer_; }

  // The integer; meaningful only when is_integer().
  int64_t integer() const { return integer_; }

  // The value as a double: the integer rounded to the nearest double.
  double ToDouble() const {
    return is_integer_ ? static_cast<double>(integer_) : floating_;
  }

  // Whether the value is a whole number in [lowest, highest] (both within
  // int64): an integer in range, or an integral double in range.
  bool IsIntegerIn(int64_t lowest, int64_t highest) const;

  // The whole number; precondition: IsIntegerIn(INT64_MIN, INT64_MAX).
  int64_t ToInt64() const;

  // Shortest text that reads back as the same value: "9007199254740993",
  // "0.1", "1e+39", "nan".
  std::string ToString() const;

  // Equal as numbers, exactly: 3 == 3.0, but 2^53 + 1 != 2^53 (as double).
  friend bool operator==(const Number& a, const Number& b);
  friend bool operator!=(const Number& a, const Number& b) { return !(a == b); }

  friend std::ostream& operator<<(std::ostream& os, const Number& n) {
    return os << n.ToString();
  }

 private:
  bool is_integer_ = true;
  int64_t integer_ = 0;
  double floating_ = 0;
};

}  // namespace paramserver

#endif  // PARAM_SERVER_COMMON_NUMBER_H_
