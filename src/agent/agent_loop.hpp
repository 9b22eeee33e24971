#pragma once
// One agent's life on an event loop: dial, send its hello, run what the
// server sends, and dial again with backoff after any drop. `steward agent`
// runs one; `steward agent --simulate N` runs N on the same loop.
#include <boost/asio/awaitable.hpp>
#include <boost/asio/io_context.hpp>

#include <map>
#include <memory>
#include <string>

#include "agent/dial.hpp"
#include "agent/journal.hpp"
#include "agent/worker.hpp"

namespace steward::agent {

class Link;

struct AgentIdentity {
  std::string server;
  tls::LinkContext context;  // its CA, certificate and key
  std::string hostname;
  std::map<std::string, std::string> labels;
};

class AgentLoop {
 public:
  // The journal must outlive the loop.
  AgentLoop(boost::asio::io_context& io, AgentIdentity identity, Journal& journal);
  ~AgentLoop();

  boost::asio::awaitable<void> connect_forever();
  // Drops results the server never collected (--keep-results).
  void expire_results();
  bool idle() const { return worker_.running() == 0 && worker_.transfers() == 0; }
  bool connected() const { return connected_; }
  void stop();

 private:
  boost::asio::io_context& io_;
  AgentIdentity identity_;
  Worker worker_;
  Journal& journal_;
  std::shared_ptr<Link> link_;
  bool connected_ = false;
  bool stopping_ = false;
};

std::string host_name();

}  // namespace steward::agent
