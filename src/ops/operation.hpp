#pragma once
// Built-in operations (ping, facter, service, execute, copy, fetch) on top of any
// Transport. Each is one class behind this interface, listed by name in
// builtin.cpp.
#include <boost/asio/awaitable.hpp>
#include <boost/json/object.hpp>

#include <map>
#include <memory>
#include <string>

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

class Operation {
 public:
  virtual ~Operation() = default;

  // Called when a request is accepted: InvalidArgument naming the bad field.
  // Only arguments that pass are ever given to run().
  virtual Status validate(const boost::json::object& args) const = 0;

  // Never fails as a call: every failure is an OpResult state (Failed,
  // Unreachable) with an error message.
  virtual boost::asio::awaitable<OpResult> run(OpContext context, const boost::json::object& args) const = 0;
};

class OpRegistry {
 public:
  void add(const std::string& name, std::unique_ptr<Operation> op);
  // NotFound naming the known operations.
  Result<const Operation*> find(const std::string& name) const;

 private:
  std::map<std::string, std::unique_ptr<Operation>> ops_;
};

struct OpsOptions {
  // copy reads from and fetch writes to this server directory only.
  std::string files_root = "./files";
};

void register_builtin_ops(OpRegistry& registry, const OpsOptions& options = {});

}  // namespace steward::ops
