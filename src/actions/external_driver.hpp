#pragma once
// Drivers a user adds without recompiling: every executable in a folder
// (`--drivers DIR`). `EXE --describe` prints the description as JSON:
//
//   {"service": "nova", "description": "...", "concurrency": 1,
//    "actions": [{"name": "disconnectNetwork", "description": "...",
//                 "args": ["server"], "options": ["port"]}]}
//
// A call runs EXE with one JSON request on stdin,
// {"action": "...", "args": [...], "options": {...}}, and reads one JSON
// result from stdout. A non-zero exit fails the call with the end of stderr.
#include <boost/asio/awaitable.hpp>

#include <chrono>
#include <memory>
#include <string>
#include <vector>

#include "actions/driver.hpp"

namespace steward::actions {

struct ExternalDriverOptions {
  std::chrono::milliseconds describe_timeout{10000};
  std::chrono::milliseconds call_timeout{std::chrono::minutes(5)};
};

// One driver per executable file, in name order. An executable whose
// description is missing or malformed is an InvalidArgument naming it.
boost::asio::awaitable<Result<std::vector<std::unique_ptr<Driver>>>> load_external_drivers(
    std::string folder, ExternalDriverOptions options = {});

}  // namespace steward::actions
