#pragma once
// Reading a job's events for a streaming reply (follow, SSE) while watching
// the client: a reader whose client went away is released within seconds,
// even while the job prints nothing.
#include <boost/asio/awaitable.hpp>

#include <optional>

#include "jobs/subscription.hpp"

namespace steward::api::http {

class Exchange;

enum class Heartbeat { None, SseComment };

// The next event; nullopt once the stream has ended or the client closed the
// connection (checked each second while the job is quiet). With
// Heartbeat::SseComment a quiet stream also gets a comment line every few
// seconds, which detects clients that vanished without closing.
boost::asio::awaitable<std::optional<jobs::JobEvent>> next_while_connected(jobs::Subscription& subscription,
                                                                           Exchange& exchange, Heartbeat heartbeat);

}  // namespace steward::api::http
