#ifndef PARAM_SERVER_SERVER_OPERATOR_PAGE_H_
#define PARAM_SERVER_SERVER_OPERATOR_PAGE_H_
// The operator page ps_server's HTTP port serves at "/": one self-contained
// HTML document (styles and script inline, nothing fetched from elsewhere)
// that reads /api/scope, /api/variable and /api/stats and shows
//   - the scope tree, expanded level by level, with variables, bytes and
//     the last update of each scope;
//   - a variable's details and a histogram of its values;
//   - request rates, errors and latency percentiles by method (the
//     server's rates over its last 10 s, read every two seconds), the
//     store's figures, and the server's flags and uptime.
// With tokens on, the page asks for a reader token and keeps it in the
// tab's sessionStorage only; "#token=..." in the address does the same (and
// is removed from the address). "#variable=NAME" opens the tree down to a
// variable and shows it.

#include "absl/strings/string_view.h"

namespace paramserver {

absl::string_view OperatorPageHtml();

}  // namespace paramserver

#endif  // PARAM_SERVER_SERVER_OPERATOR_PAGE_H_
