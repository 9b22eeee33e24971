// The ssh transport: libssh driven non-blocking from the event loop.
//
// Why not a bounded pool of threads making blocking libssh calls: measured
// by bench/ssh_fanout.py against bench/ssh_blocking_pool.cpp (hostname on
// 100 loopback targets, bench/RESULTS.md), a cold fan-out through the whole
// service takes as long as a blocking pool with one thread per target and
// 1.7x less than a pool of 8 threads; a bounded pool caps how many
// handshakes are in flight, and an unbounded one costs a thread per target.
// On the loop an idle pooled connection costs a socket and ~50 KiB, a
// command's wait is a socket wait, and cancel and timeout are loop events.
// Warm, a bare blocking pool is ~0.06 s faster at 100 targets; that gap is
// the service's own HTTP, store and scheduling work, not the transport.
#include "transport/ssh/ssh_transport.hpp"

#include <libssh/libssh.h>
#include <unistd.h>

#include <cstdlib>

#include "transport/ssh/file_transfer.hpp"
#include "transport/ssh/host_key.hpp"
#include "transport/ssh/pool.hpp"
#include "transport/ssh/remote_command.hpp"
#include "transport/ssh/remote_run.hpp"

namespace steward::transport {
namespace {

using boost::asio::awaitable;
using namespace ssh;

std::string first_var(const Target& target, std::initializer_list<const char*> names) {
  for (const char* name : names)
    if (auto value = target.var(name); !value.empty()) return value;
  return {};
}

Result<Endpoint> endpoint_for(const Target& target) {
  Endpoint endpoint;
  endpoint.target = target.name;
  endpoint.host = first_var(target, {"ansible_host", "ansible_ssh_host"});
  if (endpoint.host.empty()) endpoint.host = target.name;
  if (auto port = first_var(target, {"ansible_port", "ansible_ssh_port"}); !port.empty()) {
    char* end = nullptr;
    long number = std::strtol(port.c_str(), &end, 10);
    if (*end != '\0' || number < 1 || number > 65535) {
      return make_error(ErrorCode::InvalidArgument, target.name + ": ansible_port is not a port number: " + port);
    }
    endpoint.port = static_cast<int>(number);
  }
  endpoint.user = first_var(target, {"ansible_user", "ansible_ssh_user"});
  endpoint.key_file = first_var(target, {"ansible_ssh_private_key_file", "ansible_private_key_file"});
  endpoint.key_material = target.var("steward_ssh_private_key");
  endpoint.password = first_var(target, {"ansible_password", "ansible_ssh_pass", "ansible_ssh_password"});
  auto policy = parse_host_key_policy(target.var("steward_host_key_checking"));
  if (!policy) return make_error(ErrorCode::InvalidArgument, target.name + ": " + policy.error().message);
  endpoint.host_key_policy = *policy;
  return endpoint;
}

class SshTransport final : public Transport {
 public:
  explicit SshTransport(ConnectOptions options, std::chrono::milliseconds idle_timeout)
      : pool_(std::make_shared<Pool>(std::move(options), idle_timeout)) {}

  awaitable<Result<ExecOutcome>> run(const Target& target, ExecRequest request, ChunkSink sink,
                                     CancelToken cancel) override {
    auto endpoint = endpoint_for(target);
    if (!endpoint) co_return endpoint.error();
    auto script = wrap_remote_command(request);
    if (!script) co_return script.error();
    // A pooled connection may have died while idle; one fresh retry hides that.
    for (int attempt = 0;; ++attempt) {
      auto lease = co_await pool_->acquire(*endpoint);
      if (!lease) co_return lease.error();
      auto run = co_await run_remote(lease->connection(), *script, request, sink, cancel);
      if (!run.outcome && !run.started) pool_->discard(lease->connection());
      if (run.outcome || run.started || !lease->reused() || attempt > 0) co_return std::move(run.outcome);
    }
  }

  awaitable<Result<FileOutcome>> put_file(const Target& target, FileRequest request, CancelToken cancel) override {
    co_return co_await transfer(target, [&](Connection& connection) {
      return put_over_sftp(connection, request, cancel);
    });
  }

  awaitable<Result<FileOutcome>> get_file(const Target& target, FileRequest request, CancelToken cancel) override {
    co_return co_await transfer(target, [&](Connection& connection) {
      return get_over_sftp(connection, request, cancel);
    });
  }

  void shutdown() override { pool_->close_all(); }

 private:
  // Transfers are idempotent (temporary name, then rename), so one that
  // failed because a pooled connection had died is simply run again.
  template <typename Transfer>
  awaitable<Result<FileOutcome>> transfer(const Target& target, Transfer run_transfer) {
    auto endpoint = endpoint_for(target);
    if (!endpoint) co_return endpoint.error();
    for (int attempt = 0;; ++attempt) {
      auto lease = co_await pool_->acquire(*endpoint);
      if (!lease) co_return lease.error();
      auto outcome = co_await run_transfer(lease->connection());
      if (outcome || lease->connection().alive()) co_return outcome;
      pool_->discard(lease->connection());
      if (!lease->reused() || attempt > 0) co_return outcome;
    }
  }

  std::shared_ptr<Pool> pool_;
};

std::string user_known_hosts() {
  const char* home = std::getenv("HOME");
  return std::string(home ? home : "/nonexistent") + "/.ssh/known_hosts";
}

}  // namespace

std::shared_ptr<Transport> make_ssh_transport(const TransportOptions& options) {
  ssh_init();
  ConnectOptions connect;
  connect.known_hosts = options.data_dir + "/known_hosts";
  connect.user_known_hosts = user_known_hosts();
  connect.keepalive_interval = options.ssh_keepalive;
  return std::make_shared<SshTransport>(std::move(connect), options.ssh_idle_timeout);
}

}  // namespace steward::transport
