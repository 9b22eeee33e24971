#include "transport/local/local_transport.hpp"

#include <boost/asio/post.hpp>
#include <boost/asio/thread_pool.hpp>
#include <boost/asio/this_coro.hpp>
#include <boost/asio/use_awaitable.hpp>

#include <sys/stat.h>

#include <atomic>

#include "transport/files.hpp"

namespace steward::transport {
namespace {

namespace asio = boost::asio;

class LocalTransport final : public Transport {
 public:
  asio::awaitable<Result<ExecOutcome>> run(const Target& target, ExecRequest request, ChunkSink sink,
                                           CancelToken cancel) override {
    exec::ProcessSpec spec =
        request.argv.empty() ? exec::shell_spec(std::move(request.command)) : exec::ProcessSpec{};
    if (!request.argv.empty()) spec.argv = std::move(request.argv);
    spec.env = std::move(request.env);
    spec.cwd = std::move(request.cwd);
    spec.stdin_data = std::move(request.stdin_data);
    spec.timeout = request.timeout;
    spec.output_cap = request.output_cap;
    spec.keep_tail = request.keep_tail;
    co_return co_await exec::run_process(std::move(spec), std::move(sink), std::move(cancel));
  }

  asio::awaitable<Result<FileOutcome>> put_file(const Target&, FileRequest request, CancelToken cancel) override {
    co_return co_await copy_off_loop(std::move(request), kDefaultFileMode, std::move(cancel));
  }

  asio::awaitable<Result<FileOutcome>> get_file(const Target&, FileRequest request, CancelToken cancel) override {
    if (!request.mode) {
      struct stat info {};
      if (::stat(request.source.c_str(), &info) == 0) request.mode = info.st_mode & 07777;
    }
    co_return co_await copy_off_loop(std::move(request), kDefaultFileMode, std::move(cancel));
  }

  ~LocalTransport() override { copier_.join(); }

 private:
  // Disk I/O blocks, so copies run on a small pool and the loop waits.
  asio::awaitable<Result<FileOutcome>> copy_off_loop(FileRequest request, std::uint32_t default_mode,
                                                     CancelToken cancel) {
    auto loop = co_await asio::this_coro::executor;
    auto cancelled = std::make_shared<std::atomic<bool>>(false);
    CancelState::Registration on_cancel;
    if (cancel) on_cancel = cancel->on_cancel([cancelled] { *cancelled = true; });
    co_await asio::post(copier_, asio::use_awaitable);
    auto outcome = copy_file(request, default_mode, *cancelled);
    co_await asio::post(loop, asio::use_awaitable);
    if (!outcome && cancel && cancel->cancelled()) co_return make_error(ErrorCode::Cancelled, "cancelled: " + cancel->reason());
    co_return outcome;
  }

  asio::thread_pool copier_{2};
};

}  // namespace

std::shared_ptr<Transport> make_local_transport() { return std::make_shared<LocalTransport>(); }

}  // namespace steward::transport
