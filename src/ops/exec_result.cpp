#include "ops/exec_result.hpp"

#include <fmt/format.h>
#include <string.h>

namespace steward::ops {

OpResult to_op_result(const Result<transport::ExecOutcome>& outcome, OpState success_state,
                      std::chrono::milliseconds timeout) {
  OpResult result;
  if (!outcome) {
    const Error& error = outcome.error();
    result.state = error.code == ErrorCode::Unreachable ? OpState::Unreachable : OpState::Failed;
    if (error.code == ErrorCode::NotFound) result.rtc = 127;  // what a shell says for "not found"
    result.error = error.message;
    return result;
  }
  const auto& out = *outcome;
  result.stdout_data = out.stdout_data;
  result.stderr_data = out.stderr_data;
  result.stdout_truncated = out.stdout_truncated;
  result.stderr_truncated = out.stderr_truncated;
  if (out.signal != 0) result.signal = out.signal;
  if (out.exit_code >= 0) result.rtc = out.exit_code;

  if (out.cancelled) {
    result.state = OpState::Failed;
    result.error = "cancelled";
  } else if (out.timed_out) {
    result.state = OpState::Failed;
    result.error = fmt::format("timed out after {:g} s", timeout.count() / 1000.0);
  } else if (out.signal != 0) {
    result.state = OpState::Failed;
    result.error = std::string("killed by signal ") + sigabbrev_np(out.signal);
  } else if (out.exit_code != 0) {
    result.state = OpState::Failed;
    result.error = "exit status " + std::to_string(out.exit_code);
  } else {
    result.state = success_state;
  }
  return result;
}

}  // namespace steward::ops

namespace steward::ops {

boost::asio::awaitable<OpResult> run_request(OpContext& context, transport::ExecRequest request,
                                             OpState success_state) {
  auto timeout = request.timeout;
  auto outcome = co_await context.transport.run(context.target, std::move(request), context.sink, context.cancel);
  co_return to_op_result(context, outcome, success_state, timeout);
}

OpResult to_op_result(const OpContext& context, const Result<transport::ExecOutcome>& outcome, OpState success_state,
                      std::chrono::milliseconds timeout) {
  OpResult result = to_op_result(outcome, success_state, timeout);
  if (context.cancel && context.cancel->cancelled() && result.state == OpState::Failed) {
    result.error = "cancelled: " + context.cancel->reason();
  }
  return result;
}

}  // namespace steward::ops
