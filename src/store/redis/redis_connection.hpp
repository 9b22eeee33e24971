#pragma once
// One hiredis connection driven by the caller's Asio event loop: hiredis's
// async API with its read/write hooks mapped onto a stream_descriptor, so
// there is no thread per request and nothing blocks the loop. Commands go out
// in call order on the one connection (pipelined), so their effects apply in
// that order.
//
// When the connection drops it is opened again by the next command. While
// Redis cannot be reached, or a reply does not come within the endpoint's
// reply timeout, commands fail at once with Unavailable, "store unavailable:
// ...". Error replies become errors too: Unavailable for the ones that mean
// "not now" (LOADING, NOAUTH, ...), Internal "redis: ..." for the rest.
//
// Loop-thread only. Destroy it before its loop's io_context: in-flight
// commands then complete (posted) with Unavailable, and if the loop is
// stopped by then their coroutines are destroyed with the io_context.
#include <boost/asio/any_io_executor.hpp>
#include <boost/asio/awaitable.hpp>

#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "core/result.hpp"
#include "store/redis/redis_reply.hpp"
#include "store/redis/redis_url.hpp"

namespace steward::store::redis {

class RedisConnection {
 public:
  RedisConnection(boost::asio::any_io_executor executor, Endpoint endpoint);
  ~RedisConnection();
  RedisConnection(const RedisConnection&) = delete;
  RedisConnection& operator=(const RedisConnection&) = delete;

  // Sent first on every new connection, after AUTH and SELECT (the store
  // loads its scripts so that EVALSHA finds them); failures are logged.
  void set_greeting(std::vector<Command> commands);

  boost::asio::awaitable<Result<Reply>> run(Command command);
  // Every argument is a string or converts to one: command("GET", key).
  // Arguments are copied before the awaitable is returned.
  template <typename... Args>
  boost::asio::awaitable<Result<Reply>> command(const Args&... args) {
    return run(Command{std::string(args)...});
  }
  // Sends every command before the first reply is awaited (one round trip);
  // one result per command, in order.
  boost::asio::awaitable<std::vector<Result<Reply>>> run_all(std::vector<Command> commands);
  // Fire-and-forget: `done` is posted on the loop with the outcome.
  using Done = std::function<void(Result<Reply>)>;
  void send(Command command, Done done);

  // send() for a completion that may run after this connection is gone
  // (a retry): then `done` gets Unavailable at once.
  std::function<void(Command, Done)> sender() const;

  const std::string& shown_url() const;

  struct State;  // redis_connection.cpp

 private:
  std::shared_ptr<State> state_;
};

}  // namespace steward::store::redis
