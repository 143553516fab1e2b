#ifndef PARAM_SERVER_TESTS_HTTP_SCRAPE_H_
#define PARAM_SERVER_TESTS_HTTP_SCRAPE_H_
// For end-to-end tests of ps_server's HTTP port: where it listens, and
// samples read out of a /metrics scrape.

#include <string>

#include "tests/server_process.h"

namespace paramserver {

// The port in the server's "HTTP on HOST:PORT" log line, or -1.
int HttpPortOf(const ServerProcess& server);

// The value of the sample whose name and labels are `series` exactly
// (`name{labels}`) in a scrape that starts with "\n", or -1.
double Sample(const std::string& metrics, const std::string& series);

}  // namespace paramserver

#endif  // PARAM_SERVER_TESTS_HTTP_SCRAPE_H_
