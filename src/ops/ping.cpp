#include "ops/builtin_ops.hpp"
#include "ops/exec_result.hpp"

namespace steward::ops {
namespace {

constexpr std::chrono::seconds kPingTimeout{30};

// Reaching the target and running the most trivial command proves both the
// connection and a working shell, on every transport.
class Ping final : public Operation {
 public:
  Status validate(const boost::json::object&) const override { return {}; }

  boost::asio::awaitable<OpResult> run(OpContext context, const boost::json::object&) const override {
    transport::ExecRequest request;
    request.command = "true";
    request.timeout = kPingTimeout;
    OpResult result = co_await run_request(context, std::move(request), OpState::Ok);
    if (result.state == OpState::Ok) result.rtc.reset();  // EXEd answers a ping with its status alone
    co_return result;
  }
};

}  // namespace

std::unique_ptr<Operation> make_ping() { return std::make_unique<Ping>(); }

}  // namespace steward::ops
