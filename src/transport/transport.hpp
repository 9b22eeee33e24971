#pragma once
// How steward reaches a machine. One implementation per folder (local/, ssh/,
// agent/, qga/), each exposing only a factory listed in registry.cpp.
//
// Contract for every implementation:
// - Methods run on the server's event loop and must never block it.
// - run() streams output chunks to the sink as they arrive (within the output
//   cap), and ends with the outcome. A command that runs and exits non-zero is
//   a success of run(); the outcome carries the exit code.
// - Errors: Unreachable when the target cannot be reached (refused, timeout,
//   DNS, authentication, host key); NotFound when the program cannot be run;
//   Internal for the rest. Messages name the target and never hold secrets.
// - Cancel and timeout end every process the request started on the target.
#include <boost/asio/awaitable.hpp>

#include <chrono>
#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "core/cancel.hpp"
#include "core/model.hpp"
#include "core/result.hpp"
#include "exec/process.hpp"

namespace steward::transport {

using exec::ChunkSink;
using exec::Stream;
using ExecOutcome = exec::ProcessOutcome;

// Told about each command a transport runs under supervision (local, ssh, agent):
// the command waits for started() to complete, so a server killed at any
// moment later finds it recorded. An error from started() stops the command
// before it runs, and run() returns that error.
class CommandJournal {
 public:
  virtual ~CommandJournal() = default;
  virtual boost::asio::awaitable<Status> started(RunProcess process) = 0;
};

struct ExecRequest {
  std::vector<std::string> argv;  // run without a shell when non-empty
  std::string command;            // otherwise run by /bin/sh -c
  std::map<std::string, std::string> env;
  std::string cwd;
  std::string stdin_data;
  std::chrono::milliseconds timeout{0};  // 0: none
  std::size_t output_cap = exec::kDefaultOutputCap;
  bool keep_tail = false;  // over the cap, keep the newest output (conditions read the last line)
  // Set by the job service: report the command to the journal first, and run
  // it so that its end can be found after a crash (local, ssh: a wrapper that
  // writes a status file; agent: the agent's own journal).
  std::shared_ptr<CommandJournal> journal;
};

// What became of a supervised command whose server died while it ran.
struct OrphanOutcome {
  enum class Kind {
    Finished,  // its status file was there: exit_code or signal
    Stopped,   // its process group was still running and has been ended (reason: how, when not by pgid)
    Unknown,   // neither (reason says why)
  };
  Kind kind = Kind::Unknown;
  int exit_code = -1;
  int signal = 0;
  std::string reason;
  bool unreachable = false;  // Unknown because the target could not be reached
};

// A file copied between the server and a target. The bytes go to a
// temporary name beside the destination, are checked against the source's
// SHA-256, and only then renamed over the destination.
struct FileRequest {
  std::string source;       // put: a server path; get: a target path
  std::string destination;  // put: a target path; get: a server path
  std::optional<std::uint32_t> mode;  // default: 0644 for put, the source's mode for get
  std::string owner;                  // put only: "user" or "user:group"; empty keeps the default
};

struct FileOutcome {
  std::uint64_t bytes = 0;
  std::string sha256;
};

// What a transport holds open now (for /metrics).
struct ConnectionStats {
  std::size_t open = 0;       // connections open: ssh sessions, agent streams, qemu-ga sockets
  std::size_t pool_size = 0;  // targets (ssh: user@host:port, qga: socket) it keeps connections to for reuse
};

class Transport {
 public:
  virtual ~Transport() = default;

  // Streams: memory does not grow with the file's size.
  virtual boost::asio::awaitable<Result<FileOutcome>> put_file(const Target& target, FileRequest request,
                                                               CancelToken cancel) = 0;
  virtual boost::asio::awaitable<Result<FileOutcome>> get_file(const Target& target, FileRequest request,
                                                               CancelToken cancel) = 0;

  virtual boost::asio::awaitable<Result<ExecOutcome>> run(const Target& target, ExecRequest request,
                                                          ChunkSink sink, CancelToken cancel) = 0;

  // The ping operation: proves the target answers and would run work now.
  // The default runs `true`; a transport that talks to a program of its own
  // on the target (the agent) asks that program instead, as Salt's
  // test.ping does, so pinging thousands of targets spawns nothing.
  virtual boost::asio::awaitable<Result<ExecOutcome>> ping(const Target& target, std::chrono::milliseconds timeout,
                                                           CancelToken cancel);

  // After a restart: reads the status file of a command a crashed server
  // left behind, or else ends its process group if it still runs (its
  // leader's start time must match, so a reused pid is never signalled);
  // an agent is asked about the operation once it connects.
  // Bounded in time; an unreachable target gives Unknown with the reason.
  virtual boost::asio::awaitable<OrphanOutcome> settle_orphan(const Target& target, RunProcess process);

  // Once the outcome of a supervised command is recorded: its status file
  // is no longer needed (removed now, or with the target's next command).
  virtual void forget_status(const Target& /*target*/, const std::string& /*status_path*/) {}

  // Closes pooled connections; called once at server shutdown.
  virtual void shutdown() {}

  // Loop-thread only; cheap (read on every /metrics scrape). None by default (local).
  virtual ConnectionStats connection_stats() const { return {}; }
};

// Counted by the registry for each transport, around every call of run(),
// ping(), put_file() and get_file(). Loop-thread only.
struct TransportCounts {
  std::size_t in_flight = 0;
  std::uint64_t operations = 0;                 // ended
  std::map<ErrorCode, std::uint64_t> errors;    // ended with an error, by its code
};

struct TransportMetrics {
  std::string transport;  // the registered name: local, ssh, qga, agent
  ConnectionStats connections;
  TransportCounts counts;
};

class TransportRegistry {
 public:
  // Conflict if `name` is taken: a second transport never replaces the first
  // (tests register their fakes under names of their own). The registry hands
  // out the transport wrapped so that its calls are counted.
  Status add(const std::string& name, std::shared_ptr<Transport> transport);
  // NotFound naming the known transports when `name` is not one of them.
  Result<std::shared_ptr<Transport>> get(const std::string& name) const;
  void shutdown_all();
  // One entry per registered transport, in name order.
  std::vector<TransportMetrics> metrics() const;

 private:
  struct Entry {
    std::shared_ptr<Transport> counted;
    std::shared_ptr<TransportCounts> counts;
  };
  std::map<std::string, Entry> transports_;
};

namespace agent { class AgentHub; }

struct TransportOptions {
  std::string data_dir = ".";  // where transports keep state (known_hosts)
  std::chrono::milliseconds ssh_idle_timeout{60000};  // a pooled connection unused this long is closed
  std::chrono::milliseconds ssh_keepalive{15000};     // how often a pooled connection sends a keepalive
  std::shared_ptr<agent::AgentHub> agents;            // the agent listener's hub; null without --agent-listen
  // SSH callback targets (issue 14), set with --callback: a connected socket
  // to the named target's sshd (waits for it to call back), the controller
  // key steward logs in with and the known_hosts of the targets' keys.
  std::function<boost::asio::awaitable<Result<int>>(const std::string& name)> callback_dial;
  std::string callback_key_file;
  std::string callback_known_hosts;
};

// Every built-in transport, by its ansible_connection name.
Status register_builtin_transports(TransportRegistry& registry, const TransportOptions& options);

}  // namespace steward::transport
