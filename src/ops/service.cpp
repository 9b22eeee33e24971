#include <algorithm>

#include "ops/args.hpp"
#include "ops/builtin_ops.hpp"
#include "ops/exec_result.hpp"

namespace steward::ops {
namespace {

constexpr std::chrono::seconds kServiceTimeout{120};

// systemctl where systemd runs, else the SysV `service` wrapper.
constexpr const char* kServiceScript =
    "if command -v systemctl >/dev/null 2>&1 && [ -d /run/systemd/system ]; then "
    "exec systemctl \"$1\" \"$2\"; else exec service \"$2\" \"$1\"; fi";

bool valid_unit_name(const std::string& name) {
  // systemd unit name characters; also keeps the name from ever being an option.
  return !name.empty() && name.size() <= 256 && name[0] != '-' &&
         std::all_of(name.begin(), name.end(), [](unsigned char c) {
           return std::isalnum(c) || c == '@' || c == '.' || c == '_' || c == ':' || c == '-' || c == '+' ||
                  c == '\\';
         });
}

class Service final : public Operation {
 public:
  Status validate(const boost::json::object& args) const override {
    auto action = parse(args);
    if (!action) return action.error();
    return {};
  }

  boost::asio::awaitable<OpResult> run(OpContext context, const boost::json::object& args) const override {
    auto [name, verb] = parse(args).value();
    transport::ExecRequest request;
    // The name travels as an argument, never spliced into the script.
    request.argv = {"/bin/sh", "-c", kServiceScript, "steward-service", verb, name};
    request.timeout = kServiceTimeout;
    co_return co_await run_request(context, std::move(request), OpState::Changed);
  }

 private:
  static Result<std::pair<std::string, std::string>> parse(const boost::json::object& args) {
    auto name = required_string(args, "name");
    if (!name) return name.error();
    if (!valid_unit_name(*name))
      return make_error(ErrorCode::InvalidArgument, "'name' is not a valid service name: " + *name);
    auto state = required_int(args, "state");
    if (!state) return state.error();
    auto graceful = optional_bool(args, "graceful", false);
    if (!graceful) return graceful.error();
    switch (*state) {
      case 0: return std::pair{*name, std::string("start")};
      case 1: return std::pair{*name, std::string("stop")};
      case 2: return std::pair{*name, std::string(*graceful ? "reload" : "restart")};
      default:
        return make_error(ErrorCode::InvalidArgument,
                          "'state' must be 0 (started), 1 (stopped) or 2 (restarted)");
    }
  }
};

}  // namespace

std::unique_ptr<Operation> make_service() { return std::make_unique<Service>(); }

}  // namespace steward::ops
