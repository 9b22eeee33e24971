// Every co_await stands in a statement of its own, apart from the call that
// builds the awaitable: GCC 12 destroys temporaries of a full-expression
// holding a co_await twice (PR 99576).
#include "transport/qga/qga_transport.hpp"

#include <boost/asio/this_coro.hpp>

#include <map>

#include "transport/qga/guest_exec.hpp"
#include "transport/qga/qga_channel.hpp"
#include "transport/qga/qga_files.hpp"

namespace steward::transport {
namespace {

namespace asio = boost::asio;
using asio::awaitable;
using qga::Channel;

constexpr const char* kSocketVar = "steward_qga_socket";

class QgaTransport final : public Transport {
 public:
  awaitable<Result<ExecOutcome>> run(const Target& target, ExecRequest request, ChunkSink sink,
                                     CancelToken cancel) override {
    auto executor = co_await asio::this_coro::executor;
    auto channel = channel_for(target, executor);
    if (!channel) co_return channel.error();
    auto running = qga::run_on_guest(**channel, target.name, request, std::move(sink), std::move(cancel));
    co_return co_await std::move(running);
  }

  awaitable<Result<FileOutcome>> put_file(const Target& target, FileRequest request, CancelToken cancel) override {
    auto executor = co_await asio::this_coro::executor;
    auto channel = channel_for(target, executor);
    if (!channel) co_return channel.error();
    auto putting = qga::put_guest_file(**channel, target.name, request, std::move(cancel));
    co_return co_await std::move(putting);
  }

  awaitable<Result<FileOutcome>> get_file(const Target& target, FileRequest request, CancelToken cancel) override {
    auto executor = co_await asio::this_coro::executor;
    auto channel = channel_for(target, executor);
    if (!channel) co_return channel.error();
    auto getting = qga::get_guest_file(**channel, target.name, request, std::move(cancel));
    co_return co_await std::move(getting);
  }

  void shutdown() override {
    closed_ = true;
    for (auto& [path, channel] : channels_) channel->close();
    channels_.clear();  // requests in flight hold their own reference
  }

  ConnectionStats connection_stats() const override { return {channels_.size(), channels_.size()}; }

 private:
  // One channel per socket path, whichever targets name it: qemu-ga would
  // leave a second connection waiting until the first closed.
  Result<std::shared_ptr<Channel>> channel_for(const Target& target, const asio::any_io_executor& executor) {
    if (closed_) return make_error(ErrorCode::Unavailable, "the server is shutting down");
    const std::string path = target.var(kSocketVar);
    if (path.empty()) {
      return make_error(ErrorCode::InvalidArgument,
                        target.name + ": ansible_connection=qga needs " + kSocketVar + " (the qemu-ga socket path)");
    }
    auto& channel = channels_[path];
    if (!channel) channel = std::make_shared<Channel>(executor, path);
    return channel;
  }

  std::map<std::string, std::shared_ptr<Channel>> channels_;
  bool closed_ = false;
};

}  // namespace

std::shared_ptr<Transport> make_qga_transport(const TransportOptions&) { return std::make_shared<QgaTransport>(); }

}  // namespace steward::transport
