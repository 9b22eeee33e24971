#pragma once
// The model every layer shares: targets, operation results, jobs.
#include <boost/json/object.hpp>
#include <boost/json/value.hpp>

#include <map>
#include <optional>
#include <string>
#include <vector>

namespace steward {

// Wire values are the EXEd enums; never renumber.
enum class JobState { Done = 0, Running = 1, Failure = 2 };
enum class OpState { Announce = 0, Ok = 1, Skipped = 2, Failed = 3, Unreachable = 4, Changed = 5 };

// Whether a target's operation has not started, is running, or has ended.
enum class RunPhase { Pending = 0, Running = 1, Finished = 2 };

bool op_state_is_failure(OpState state);

struct Target {
  std::string name;
  std::string connection = "ssh";  // ansible_connection: local, ssh, agent, qga
  std::map<std::string, std::string> vars;
  int max_sessions = 1;

  std::string var(const std::string& key, const std::string& fallback = "") const;
};

struct OpResult {
  OpState state = OpState::Announce;
  std::optional<int> rtc;
  std::optional<int> signal;
  std::string stdout_data;
  std::string stderr_data;
  bool stdout_truncated = false;
  bool stderr_truncated = false;
  // Set when a reader loaded only the tail of a stream (store::OutputLimit):
  // the stream's whole size in bytes.
  std::optional<std::size_t> stdout_size;
  std::optional<std::size_t> stderr_size;
  boost::json::value facts;  // null unless the operation gathers facts
  std::string error;
};

// A Failed result with `error` and nothing else.
OpResult failed_result(std::string error);

// Keeps at most the last `tail` bytes of stdout and stderr, starting on a
// UTF-8 character boundary, and records the whole size of a stream that is
// now shorter than it was (stdout_size, stderr_size).
void keep_output_tail(OpResult& result, std::size_t tail);

struct TargetRun {
  RunPhase phase = RunPhase::Pending;
  OpResult result;
  double startat = 0;
  double finishat = 0;
  double queue_wait = 0;  // seconds between submission and start
  std::string owner;      // the server whose lease runs it ("" before leases); as stored
};

// A command a target run started through a transport that supervises it
// (local, ssh, agent), recorded before the command may do anything so that a
// restarted server can find out what became of it (README "After a crash").
// An agent target's command is known by its operation id alone (status_path).
struct RunProcess {
  std::string transport;    // the target's connection when it started
  long pgid = 0;            // its process group, on the target
  std::string start_time;   // /proc/PGID/stat field 22 of the group leader, to tell a reused pid apart
  std::string status_path;  // where its wrapper writes "exit N" or "signal N"; "~/" is the target user's home
};

struct Job {
  std::string jid;
  JobState state = JobState::Running;
  std::string error;
  double startat = 0;
  double finishat = 0;
  std::string operate;                 // ping, facter, service, execute, ...
  boost::json::object operate_args;    // what the caller asked for, secret values sealed (core/secret_args.hpp)
  std::vector<std::string> targets;    // resolved host names, in order
  std::map<std::string, TargetRun> runs;

  std::size_t finished_count() const;
};

}  // namespace steward
