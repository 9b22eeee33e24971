#pragma once
// Commands on the guest through guest-exec. qemu-ga starts the program,
// buffers its output and hands everything back once it has exited, so
// steward polls guest-exec-status (quickly at first, then backing off) and
// delivers the output in one piece at the end.
//
// Every command starts under setsid: the pid qemu-ga returns is then the
// leader of a new process group, and a timeout or cancel ends the whole
// group (TERM, then KILL after a grace period) with kill run as a second
// guest-exec, exactly as the local transport ends its child's group.
#include <boost/asio/awaitable.hpp>

#include <string>
#include <string_view>
#include <vector>

#include "transport/qga/qga_channel.hpp"
#include "transport/transport.hpp"

namespace steward::transport::qga {

// What guest-exec is asked to start: `path` found in the guest's PATH.
struct GuestCommand {
  std::string path;
  std::vector<std::string> args;
};

// The setsid + /bin/sh wrapper for a request. Its environment goes in as
// exports on top of qemu-ga's own: guest-exec's "env" would replace the
// whole environment (no PATH, no HOME), unlike every other transport.
// InvalidArgument for an environment name that is not a shell identifier.
Result<GuestCommand> guest_command(const ExecRequest& request);

// Errors: NotFound when the program (or the working directory) is not
// there, Unreachable when qemu-ga cannot be reached or the connection is
// lost, Internal for the rest. Timeout and cancel are outcomes, not errors.
boost::asio::awaitable<Result<ExecOutcome>> run_on_guest(Channel& channel, const std::string& target,
                                                         const ExecRequest& request, ChunkSink sink,
                                                         CancelToken cancel);

}  // namespace steward::transport::qga
