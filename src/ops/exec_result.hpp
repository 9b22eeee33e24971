#pragma once
// Running a request through the transport and turning what it reports into an
// operation's result, the same way for every operation.
#include <boost/asio/awaitable.hpp>

#include "core/model.hpp"
#include "core/result.hpp"
#include "ops/operation.hpp"

namespace steward::ops {

// `success_state` is what a zero exit means for this operation (Ok, Changed).
OpResult to_op_result(const Result<transport::ExecOutcome>& outcome, OpState success_state,
                      std::chrono::milliseconds timeout);

// The same, saying who cancelled it when the job was cancelled.
OpResult to_op_result(const OpContext& context, const Result<transport::ExecOutcome>& outcome, OpState success_state,
                      std::chrono::milliseconds timeout);

boost::asio::awaitable<OpResult> run_request(OpContext& context, transport::ExecRequest request,
                                             OpState success_state);

}  // namespace steward::ops
