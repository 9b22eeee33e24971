#pragma once
// The shell text steward sends to an SSH target. The target's login shell
// (a session leader, so its pid is the process group of everything the
// request starts) first prints a marker line with its pid, then execs the
// request. The marker lets a timeout or cancel end the whole remote group
// from a second channel: closing a channel without a pty signals nothing.
#include <chrono>
#include <optional>
#include <string>
#include <string_view>

#include "core/result.hpp"
#include "transport/transport.hpp"

namespace steward::transport::ssh {

// InvalidArgument for an environment name that is not a shell identifier.
Result<std::string> wrap_remote_command(const ExecRequest& request);

// Ends the process group: SIGTERM, then SIGKILL after `grace` if any is left.
std::string kill_group_command(long pgid, std::chrono::milliseconds grace);

// Strips the marker line from the head of stdout. Feed stdout as it arrives;
// until the marker is seen nothing is passed on (the login shell's own
// chatter before it, from a noisy rc file, is dropped).
class MarkerReader {
 public:
  // The part of `chunk` that is the command's own output (may be empty).
  std::string feed(std::string_view chunk);
  std::optional<long> pgid() const { return pgid_; }
  bool seen() const { return seen_; }

 private:
  std::string head_;
  std::optional<long> pgid_;
  bool seen_ = false;
};

}  // namespace steward::transport::ssh
