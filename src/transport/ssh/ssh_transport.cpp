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
#include <map>
#include <utility>
#include <vector>

#include "transport/ssh/file_transfer.hpp"
#include "transport/ssh/host_key.hpp"
#include "transport/ssh/pool.hpp"
#include "transport/ssh/remote_command.hpp"
#include "transport/ssh/remote_run.hpp"
#include "transport/supervision.hpp"

namespace steward::transport {
namespace {

using boost::asio::awaitable;
using namespace ssh;

std::string first_var(const Target& target, std::initializer_list<const char*> names) {
  for (const char* name : names)
    if (auto value = target.var(name); !value.empty()) return value;
  return {};
}

// A callback target's default key is the controller key, and its host key,
// kept in the callback known_hosts, is trusted on first use at most (never off).
void use_callback_keys(Endpoint& endpoint, const std::string& controller_key) {
  endpoint.callback_host_keys = true;
  if (endpoint.key_file.empty() && endpoint.key_material.empty() && endpoint.password.empty())
    endpoint.key_file = controller_key;
  if (endpoint.host_key_policy == HostKeyPolicy::Off) endpoint.host_key_policy = HostKeyPolicy::AcceptNew;
}

Result<Endpoint> endpoint_for(const Target& target, const std::string& callback_key) {
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
  // steward_callback=NAME: reached through NAME's callback session.
  if (auto callback = target.var("steward_callback"); !callback.empty()) {
    endpoint.callback = callback;
    endpoint.host = callback;
    endpoint.port = 22;
    use_callback_keys(endpoint, callback_key);
  }
  // steward_callback_sshd=NAME: NAME calls back to the controller's own sshd
  // and is reached at its ansible_host:ansible_port like any host.
  if (!target.var("steward_callback_sshd").empty() && !callback_key.empty()) use_callback_keys(endpoint, callback_key);
  return endpoint;
}

class SshTransport final : public Transport {
 public:
  SshTransport(ConnectOptions options, std::chrono::milliseconds idle_timeout, std::string callback_key)
      : pool_(std::make_shared<Pool>(std::move(options), idle_timeout)), callback_key_(std::move(callback_key)) {}

  awaitable<Result<ExecOutcome>> run(const Target& target, ExecRequest request, ChunkSink sink,
                                     CancelToken cancel) override {
    auto endpoint = endpoint_for(target, callback_key_);
    if (!endpoint) co_return endpoint.error();
    std::string status_path;
    std::vector<std::string> stale;
    if (request.journal) {
      status_path = new_status_path();
      stale = std::exchange(stale_status_[endpoint_key(*endpoint)], {});
    }
    auto script = request.journal ? wrap_supervised_command(request, status_path, stale) : wrap_remote_command(request);
    if (!script) co_return script.error();
    // A pooled connection may have died while idle; one fresh retry hides that.
    for (int attempt = 0;; ++attempt) {
      auto lease = co_await pool_->acquire(*endpoint);
      if (!lease) {
        keep_stale(*endpoint, std::move(stale));
        co_return lease.error();
      }
      auto run = co_await run_remote(lease->connection(), *script, request, sink, cancel, status_path);
      if (!run.outcome && !run.started) pool_->discard(lease->connection());
      if (run.outcome || run.started || !lease->reused() || attempt > 0) {
        if (!run.started) keep_stale(*endpoint, std::move(stale));
        co_return std::move(run.outcome);
      }
    }
  }

  awaitable<OrphanOutcome> settle_orphan(const Target& target, RunProcess process) override {
    auto endpoint = endpoint_for(target, callback_key_);
    if (!endpoint) co_return OrphanOutcome{OrphanOutcome::Kind::Unknown, -1, 0, endpoint.error().message};
    auto lease = co_await pool_->acquire(*endpoint);
    if (!lease) {
      co_return OrphanOutcome{OrphanOutcome::Kind::Unknown, -1, 0,
                              "cannot reach the target to look: " + lease.error().message,
                              lease.error().code == ErrorCode::Unreachable};
    }
    ExecRequest request;
    request.timeout = kSettleTimeout;
    auto run = co_await run_remote(lease->connection(), settle_command(process, kSettleGrace), request, nullptr,
                                   nullptr);
    if (!run.outcome) {
      co_return OrphanOutcome{OrphanOutcome::Kind::Unknown, -1, 0, "cannot look on the target: " +
                              run.outcome.error().message, run.outcome.error().code == ErrorCode::Unreachable};
    }
    co_return parse_settle_report(run.outcome->stdout_data);
  }

  // Removed by the endpoint's next supervised command, in the same request:
  // no round trip of its own.
  void forget_status(const Target& target, const std::string& status_path) override {
    if (auto endpoint = endpoint_for(target, callback_key_)) stale_status_[endpoint_key(*endpoint)].push_back(status_path);
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
  ConnectionStats connection_stats() const override { return {pool_->open_connections(), pool_->pooled_endpoints()}; }

 private:
  // Transfers are idempotent (temporary name, then rename), so one that
  // failed because a pooled connection had died is simply run again.
  template <typename Transfer>
  awaitable<Result<FileOutcome>> transfer(const Target& target, Transfer run_transfer) {
    auto endpoint = endpoint_for(target, callback_key_);
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

  static std::string endpoint_key(const Endpoint& endpoint) {
    if (!endpoint.callback.empty()) return endpoint.user + "@callback:" + endpoint.callback;
    return endpoint.user + "@" + endpoint.host + ":" + std::to_string(endpoint.port);
  }

  void keep_stale(const Endpoint& endpoint, std::vector<std::string> paths) {
    auto& kept = stale_status_[endpoint_key(endpoint)];
    kept.insert(kept.end(), std::make_move_iterator(paths.begin()), std::make_move_iterator(paths.end()));
  }

  static constexpr std::chrono::milliseconds kSettleGrace{2000};
  static constexpr std::chrono::milliseconds kSettleTimeout{10000};

  std::shared_ptr<Pool> pool_;
  std::string callback_key_;  // the controller key, for callback targets
  // Status files of commands whose outcome is recorded, by endpoint, until
  // the endpoint's next supervised command removes them.
  std::map<std::string, std::vector<std::string>> stale_status_;
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
  connect.dial_callback = options.callback_dial;
  connect.callback_known_hosts = options.callback_known_hosts;
  return std::make_shared<SshTransport>(std::move(connect), options.ssh_idle_timeout, options.callback_key_file);
}

}  // namespace steward::transport
