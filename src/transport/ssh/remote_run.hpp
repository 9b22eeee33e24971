#pragma once
// One command on one channel of an open connection: streams its output,
// collects its exit status, and on timeout or cancel ends its remote
// process group from a second channel.
#include <boost/asio/awaitable.hpp>

#include <string>

#include "core/cancel.hpp"
#include "core/result.hpp"
#include "transport/ssh/connection.hpp"
#include "transport/transport.hpp"

namespace steward::transport::ssh {

struct RemoteRun {
  Result<ExecOutcome> outcome;
  // False when the command never reached the target (the channel could not
  // be opened): safe to retry on a fresh connection.
  bool started = false;
};

// With request.journal, `script` is a supervised command
// (wrap_supervised_command) whose status file is `status_path`: it gets its
// go-ahead once the journal has recorded its process group.
boost::asio::awaitable<RemoteRun> run_remote(Connection& connection, const std::string& script,
                                             const ExecRequest& request, ChunkSink sink, CancelToken cancel,
                                             const std::string& status_path = {});

}  // namespace steward::transport::ssh
