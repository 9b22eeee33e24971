#include "ops/args.hpp"
#include "ops/builtin_ops.hpp"
#include "ops/exec_result.hpp"

namespace steward::ops {
namespace {

// `cmd` runs through /bin/sh -c; `argv` runs one program with no shell.
// `secret_env` adds to (and wins over) `env`.
class Execute final : public Operation {
 public:
  static constexpr OpState kSuccess = OpState::Changed;

  Status validate(const boost::json::object& args) const override {
    auto request = parse(args);
    if (!request) return request.error();
    return {};
  }

  boost::asio::awaitable<OpResult> run(OpContext context, const boost::json::object& args) const override {
    auto request = parse(args);  // validated at submission; cannot fail here
    co_return co_await run_request(context, std::move(request).value(), kSuccess);
  }

  std::optional<OpState> state_after_clean_exit() const override { return kSuccess; }

 private:
  static Result<transport::ExecRequest> parse(const boost::json::object& args) {
    transport::ExecRequest request;
    auto cmd = optional_string(args, "cmd");
    if (!cmd) return cmd.error();
    auto argv = optional_string_list(args, "argv");
    if (!argv) return argv.error();
    if (cmd->has_value() == argv->has_value())
      return make_error(ErrorCode::InvalidArgument, "give exactly one of 'cmd' (a shell command) and 'argv' (a list)");
    if (cmd->has_value()) {
      if ((*cmd)->empty()) return make_error(ErrorCode::InvalidArgument, "'cmd' is empty");
      request.command = **cmd;
    } else {
      if ((*argv)->empty() || (*argv)->front().empty())
        return make_error(ErrorCode::InvalidArgument, "'argv' needs a program name");
      request.argv = **argv;
    }
    auto env = string_map(args, "env");
    if (!env) return env.error();
    request.env = std::move(*env);
    // Stored sealed and shown as "***" (core/secret_args.hpp); here it is plain.
    auto secret_env = string_map(args, "secret_env");
    if (!secret_env) return secret_env.error();
    for (auto& [name, value] : *secret_env) request.env.insert_or_assign(name, std::move(value));
    if (const auto* secret_stdin = args.if_contains("secret_stdin"); secret_stdin && !secret_stdin->is_bool())
      return make_error(ErrorCode::InvalidArgument, "'secret_stdin' must be true or false");
    auto cwd = optional_string(args, "cwd");
    if (!cwd) return cwd.error();
    request.cwd = cwd->value_or("");
    auto stdin_data = optional_string(args, "stdin");
    if (!stdin_data) return stdin_data.error();
    request.stdin_data = stdin_data->value_or("");
    auto timeout = optional_seconds(args, "timeout", std::chrono::milliseconds(0));
    if (!timeout) return timeout.error();
    request.timeout = *timeout;
    return request;
  }
};

}  // namespace

std::unique_ptr<Operation> make_execute() { return std::make_unique<Execute>(); }

}  // namespace steward::ops
