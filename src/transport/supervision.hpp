#pragma once
// The shell text behind supervised commands (README "After a crash"), shared
// by the local and ssh transports.
//
// A supervised command runs under a small POSIX sh wrapper that
// - waits for one line "go" on its stdin before it runs anything, so the
//   server can record the process group first (EOF instead: the server died,
//   nothing runs, exit 125);
// - runs the command as its child, with the rest of stdin;
// - writes "exit N" or "signal N" to the status file (a temporary name, then
//   mv), and ends the way the command ended (exit N, or the same signal).
// A shell cannot tell "exit 130" from "killed by SIGINT": an exit status
// between 129 and 192 reads as a signal.
#include <string>
#include <vector>

#include "core/model.hpp"
#include "transport/transport.hpp"

namespace steward::transport {

// What the wrapper waits for on stdin before it runs the command.
inline constexpr std::string_view kGoAhead = "go\n";

struct WrapperOptions {
  bool print_marker = false;     // first print "@steward-pgid:PID START" (ssh: the pid is not known otherwise)
  bool stdin_from_null = false;  // the command reads /dev/null instead of the rest of stdin
};

// The wrapper program, for `/bin/sh -c WRAPPER steward-run STATUS_PATH COMMAND...`.
std::string wrapper_script(WrapperOptions options);

// The argv a command runs with, without the wrapper: its own argv, or
// /bin/sh -c COMMAND.
std::vector<std::string> command_argv(const ExecRequest& request);

// A program for `/bin/sh -c SETTLE steward-settle STATUS_PATH PGID START_TIME`
// that reports, on one line, what became of a command a crashed server left
// behind: "finished exit N" / "finished signal N" (its status file, now
// removed), "stopped" (its group was running and has been ended: SIGTERM,
// then SIGKILL after `grace_tenths` tenths of a second), or "unknown REASON".
std::string settle_script(int grace_tenths);

// Reads settle_script's report; Unknown naming the output when it is not one.
OrphanOutcome parse_settle_report(const std::string& report);

// Reads a status file's line ("exit 3", "signal 9") into `outcome`; false when it is neither.
bool parse_status_line(const std::string& line, OrphanOutcome& outcome);

// /proc/PID/stat field 22 (the start time in clock ticks since boot), empty
// when the process is gone or the system has no /proc.
std::string process_start_time(long pid);

}  // namespace steward::transport
