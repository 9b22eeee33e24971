#pragma once
// The local process runner: spawns a child in its own process group, streams
// its output as it arrives, enforces a timeout and an output cap, and ends the
// whole group on timeout or cancel. Runs on the caller's executor; never blocks it.
#include <boost/asio/awaitable.hpp>
#include <sys/types.h>

#include <chrono>
#include <cstddef>
#include <functional>
#include <map>
#include <string>
#include <string_view>
#include <vector>

#include "core/cancel.hpp"
#include "core/result.hpp"

namespace steward::exec {

enum class Stream { Stdout, Stderr };

constexpr std::size_t kDefaultOutputCap = 1 << 20;

struct ProcessSpec {
  std::vector<std::string> argv;  // argv[0] is searched in PATH
  std::map<std::string, std::string> env;  // set on top of the server's environment
  bool clear_env = false;                  // start from an empty environment instead
  std::string cwd;
  std::string stdin_data;
  std::chrono::milliseconds timeout{0};  // 0: none
  std::chrono::milliseconds kill_grace{2000};  // SIGTERM to SIGKILL
  std::size_t output_cap = kDefaultOutputCap;  // per stream
  bool keep_tail = false;  // over the cap, keep the newest bytes instead of the first
  // Awaited once the child exists, before any of stdin_data is written: a
  // child that waits for its input waits for this. An error ends the child's
  // group and becomes run_process's error.
  std::function<boost::asio::awaitable<Status>(pid_t pid)> before_stdin;
};

// `/bin/sh -c COMMAND`.
ProcessSpec shell_spec(std::string command);

struct ProcessOutcome {
  int exit_code = -1;  // -1 when ended by a signal
  int signal = 0;
  bool timed_out = false;
  bool cancelled = false;
  std::string stdout_data;
  std::string stderr_data;
  bool stdout_truncated = false;
  bool stderr_truncated = false;
};

// Receives each chunk as it arrives, only the part within the cap (all of it
// with keep_tail).
using ChunkSink = std::function<void(Stream, std::string_view)>;

// Adds a chunk to what is kept of one stream within `cap` bytes: the first
// bytes, or the newest with `keep_tail`; sets `truncated` when any are
// dropped. Returns what a ChunkSink gets. Every transport caps output this way.
std::string_view keep_within_cap(std::string& kept, bool& truncated, std::string_view chunk, std::size_t cap,
                                 bool keep_tail);

// Errors: NotFound when argv[0] cannot be run, InvalidArgument for an empty
// argv, Internal when the kernel refuses pipes or a process. A timeout or a
// cancel is not an error: the outcome says so.
boost::asio::awaitable<Result<ProcessOutcome>> run_process(ProcessSpec spec, ChunkSink sink,
                                                           CancelToken cancel);

}  // namespace steward::exec
