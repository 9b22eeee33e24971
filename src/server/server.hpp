#pragma once
// One steward server: the store, the services and the listeners that
// `steward serve` runs, as an object, so a test process can run several
// (each on its own data dir) on one event loop. Loop-thread only: start()
// and stop() are coroutines to co_spawn on the executor given at construction.
#include <boost/asio/any_io_executor.hpp>
#include <boost/asio/awaitable.hpp>

#include <memory>
#include <optional>
#include <string>

#include "core/result.hpp"
#include "settings.hpp"

namespace steward {

class Clock;
namespace jobs { class JobService; }

class Server {
 public:
  // Builds nothing yet. `clock` must outlive the server; `executor` is a
  // single-threaded loop (an io_context run by one thread).
  Server(ServeSettings settings, const Clock& clock, boost::asio::any_io_executor executor);
  // Destroy it once stop() has finished, or with its loop no longer running:
  // its members go in the reverse order of their dependencies, the store last.
  ~Server();
  Server(const Server&) = delete;
  Server& operator=(const Server&) = delete;

  // Opens the data dir and the store, builds the services, binds the
  // listeners (REST, gRPC, agents, callback), repairs the actions and jobs a
  // previous run left unfinished, then accepts requests. An error says what
  // could not start (a port in use, a bad inventory, an unreadable key...) and
  // leaves nothing listening. Once only.
  boost::asio::awaitable<Status> start();

  // Graceful drain, as at SIGTERM: no new requests, conditions and actions
  // end, running operations get `grace_seconds` and are then cancelled, the
  // periodic tasks end, connections close, the published address files are
  // removed. A no-op unless start() succeeded; once only.
  boost::asio::awaitable<void> stop();

  // Resolved by start(): --server-id, STEWARD_SERVER_ID or <data-dir>/server-id.
  const std::string& server_id() const;
  // Ports bound by start() (useful with port 0); nullopt for a listener that is off.
  int http_port() const;
  std::optional<int> grpc_port() const;
  std::optional<int> agent_port() const;
  std::optional<int> callback_port() const;
  // The REST API's scheme://HOST:PORT once started.
  std::string http_url() const;

  // The job service (after a successful start()), for in-process callers such as tests.
  jobs::JobService& jobs();

  struct Parts;  // server/server_parts.hpp

 private:
  enum class Phase { Created, Starting, Serving, Stopping, Stopped, Failed };
  boost::asio::awaitable<Status> start_serving();
  boost::asio::awaitable<void> close_listeners();

  std::unique_ptr<Parts> parts_;
  Phase phase_ = Phase::Created;
};

}  // namespace steward
