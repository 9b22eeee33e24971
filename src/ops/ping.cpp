#include "ops/builtin_ops.hpp"
#include "ops/exec_result.hpp"

namespace steward::ops {
namespace {

constexpr std::chrono::seconds kPingTimeout{30};

// Reaching the target and running the most trivial command (or, on an
// agent, a round trip through the agent) proves it would run work now.
class Ping final : public Operation {
 public:
  Status validate(const boost::json::object&) const override { return {}; }

  boost::asio::awaitable<OpResult> run(OpContext context, const boost::json::object&) const override {
    auto pinging = context.transport.ping(context.target, kPingTimeout, context.cancel);
    auto outcome = co_await std::move(pinging);
    OpResult result = to_op_result(context, outcome, OpState::Ok, kPingTimeout);
    if (result.state == OpState::Ok) result.rtc.reset();  // EXEd answers a ping with its status alone
    co_return result;
  }
};

}  // namespace

std::unique_ptr<Operation> make_ping() { return std::make_unique<Ping>(); }

}  // namespace steward::ops
