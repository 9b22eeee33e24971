#pragma once
// The agent's side of the protocol (proto/agent.proto), on the agent's event
// loop: runs what the server sends (exactly once, through the journal),
// streams output, answers file transfers under credit, and keeps results
// the server has not acknowledged. Knows nothing of the link: a Send function
// carries its messages while a stream is up.
#include <boost/asio/any_io_executor.hpp>

#include <functional>
#include <map>
#include <memory>
#include <string>

#include "agent.pb.h"
#include "agent/journal.hpp"
#include "core/cancel.hpp"

namespace steward::agent {

constexpr std::size_t kFileChunk = 256 * 1024;
constexpr std::uint32_t kFileWindow = 8;  // chunks in flight per transfer

struct FileTransfer;

class Worker {
 public:
  using Send = std::function<void(v1::AgentMessage)>;

  Worker(boost::asio::any_io_executor loop, Journal& journal);
  ~Worker();

  // A stream is up: `send` carries messages until disconnected(). Fills in
  // the hello's operations; the caller sends it, then calls resend_results().
  void connected(Send send, v1::Hello& hello);
  void resend_results();
  // Output produced until the next connected() is not sent (the server
  // takes it from the Exit); file transfers end.
  void disconnected();

  void handle(const v1::ServerMessage& message);
  std::size_t running() const { return running_.size(); }
  std::size_t transfers() const { return transfers_.size(); }

 private:
  void send(v1::AgentMessage message) const;
  void start_run(const v1::Run& run);
  void finish_run(v1::Exit exit);
  void start_put(const v1::FilePut& put);
  void start_get(const v1::FileGet& get);
  void take_file_data(const v1::FileData& data);
  void add_credit(const v1::Credit& credit);
  void pump(const std::string& id);
  void end_transfer(const std::string& id, const std::string& error, ErrorCode code);

  boost::asio::any_io_executor loop_;
  Journal& journal_;
  Send send_;
  std::map<std::string, CancelToken> running_;
  std::map<std::string, std::unique_ptr<FileTransfer>> transfers_;
  std::shared_ptr<bool> alive_ = std::make_shared<bool>(true);
};

}  // namespace steward::agent
