#pragma once
// Built-in operations (ping, facter, service, execute, copy, fetch) on top of any
// Transport. Each is one class behind this interface, listed by name in
// builtin.cpp; deploy, install and tasks are registered at start-up.
#include <boost/asio/awaitable.hpp>
#include <boost/json/object.hpp>

#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "core/cancel.hpp"
#include "core/model.hpp"
#include "core/result.hpp"
#include "transport/transport.hpp"

namespace steward::ops {

struct OpContext {
  transport::Transport& transport;
  const Target& target;
  transport::ChunkSink sink;
  CancelToken cancel;
};

// One run for many targets: the targets of a job that wait together, and
// where each target's result goes as soon as the run knows it.
struct BatchContext {
  std::vector<Target> targets;
  std::function<void(const std::string& target, OpResult result)> on_result;
  CancelToken cancel;
};

// An operation that runs once for many targets (one ansible-playbook for a
// job's hosts, so plays see every host at once).
class BatchRunner {
 public:
  virtual ~BatchRunner() = default;

  // Reports each target's result through on_result at most once, as soon as
  // it is known; a target not reported by the time it returns is failed by the
  // caller. Never fails as a call.
  virtual boost::asio::awaitable<void> run_batch(BatchContext context, const boost::json::object& args) const = 0;
};

class Operation {
 public:
  virtual ~Operation() = default;

  // Non-null when these arguments run once for all of a job's targets
  // (run_batch instead of one run() per target).
  virtual const BatchRunner* batched(const boost::json::object& /*args*/) const { return nullptr; }

  // True when a second job of this operation may not join a host where one is
  // queued or running (EXEd's mutex runners): it is refused, or queued behind
  // the first when the request asks for it.
  virtual bool exclusive_per_host() const { return false; }

  // Set when the operation's result is the exit status of the one command it
  // runs: what exit 0 means (execute: Changed). After a crash, a command
  // that finished while the server was down then gives the operation's result.
  virtual std::optional<OpState> state_after_clean_exit() const { return std::nullopt; }

  // Called when a request is accepted: InvalidArgument naming the bad field.
  // Only arguments that pass are ever given to run().
  virtual Status validate(const boost::json::object& args) const = 0;

  // Never fails as a call: every failure is an OpResult state (Failed,
  // Unreachable) with an error message.
  virtual boost::asio::awaitable<OpResult> run(OpContext context, const boost::json::object& args) const = 0;
};

class OpRegistry {
 public:
  // Conflict if `name` is taken: a second operation never replaces the first.
  Status add(const std::string& name, std::unique_ptr<Operation> op);
  // NotFound naming the known operations.
  Result<const Operation*> find(const std::string& name) const;

 private:
  std::map<std::string, std::unique_ptr<Operation>> ops_;
};

struct OpsOptions {
  // copy reads from and fetch writes to this server directory only.
  std::string files_root = "./files";
};

Status register_builtin_ops(OpRegistry& registry, const OpsOptions& options = {});

}  // namespace steward::ops
