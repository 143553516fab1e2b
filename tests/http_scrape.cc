#include "tests/http_scrape.h"

#include <regex>

#include "absl/strings/numbers.h"

namespace paramserver {

int HttpPortOf(const ServerProcess& server) {
  std::smatch found;
  const std::string log = server.Log();
  if (!std::regex_search(log, found, std::regex("HTTP on [^ ]+:([0-9]+)"))) {
    return -1;
  }
  return std::stoi(found[1]);
}

double Sample(const std::string& metrics, const std::string& series) {
  const std::string line_start = "\n" + series + " ";
  const size_t at = metrics.find(line_start);
  if (at == std::string::npos) return -1;
  const size_t begin = at + line_start.size();
  double value = -1;
  if (!absl::SimpleAtod(
          metrics.substr(begin, metrics.find('\n', begin) - begin), &value)) {
    return -1;
  }
  return value;
}

}  // namespace paramserver
