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
#include <vector>

#include "core/result.hpp"
#include "transport/transport.hpp"

namespace steward::transport::ssh {

// InvalidArgument for an environment name that is not a shell identifier.
Result<std::string> wrap_remote_command(const ExecRequest& request);

// Status files of supervised commands live in the remote user's home, in a
// directory the wrapper creates 0700: not in /tmp, where another user could
// create the name first or plant a symlink, and not in $XDG_RUNTIME_DIR,
// which logind removes when the user's last session ends, as it does when a
// crashed server's connection drops. "~/" stands for the remote $HOME.
inline constexpr std::string_view kStatusDir = "~/.cache/steward";
std::string new_status_path();
// `path` as one shell word, "~/" standing for the remote $HOME.
std::string status_path_word(const std::string& path);

// A supervised command (transport/supervision.hpp): the wrapper prints the
// marker with its pid and start time, then waits for the go-ahead on stdin.
// `stale` status files, of commands whose outcome is recorded, are removed
// first, in the same request.
Result<std::string> wrap_supervised_command(const ExecRequest& request, const std::string& status_path,
                                            const std::vector<std::string>& stale);

// Settles a command a crashed server left behind (transport/supervision.hpp
// settle_script), after a marker line.
std::string settle_command(const RunProcess& process, std::chrono::milliseconds grace);

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
  // The group leader's start time, when the marker carried one.
  const std::string& start_time() const { return start_time_; }
  bool seen() const { return seen_; }

 private:
  std::string head_;
  std::optional<long> pgid_;
  std::string start_time_;
  bool seen_ = false;
};

}  // namespace steward::transport::ssh
