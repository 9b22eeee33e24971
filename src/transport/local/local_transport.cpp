#include "transport/local/local_transport.hpp"

#include <boost/asio/post.hpp>
#include <boost/asio/thread_pool.hpp>
#include <boost/asio/this_coro.hpp>
#include <boost/asio/use_awaitable.hpp>

#include <sys/stat.h>
#include <unistd.h>

#include <atomic>
#include <cerrno>
#include <cstring>
#include <filesystem>

#include "core/ids.hpp"
#include "transport/files.hpp"
#include "transport/supervision.hpp"

namespace steward::transport {
namespace {

namespace asio = boost::asio;

// Recorded before the wrapper gets its go-ahead; the wrapper is the group leader.
asio::awaitable<Status> report_start(std::shared_ptr<CommandJournal> journal, std::string status_path, pid_t pid) {
  RunProcess process;
  process.pgid = pid;
  process.start_time = process_start_time(pid);
  process.status_path = std::move(status_path);
  auto starting = journal->started(std::move(process));
  auto recorded = co_await std::move(starting);
  co_return recorded;
}

class LocalTransport final : public Transport {
 public:
  explicit LocalTransport(std::string status_dir) : status_dir_(std::move(status_dir)) {}

  asio::awaitable<Result<ExecOutcome>> run(const Target&, ExecRequest request, ChunkSink sink,
                                           CancelToken cancel) override {
    exec::ProcessSpec spec;
    if (request.journal) {
      if (auto made = make_status_dir(); !made) co_return made.error();
      std::string status_path = status_dir_ + "/" + new_jid();
      spec.argv = {"/bin/sh", "-c", wrapper_script({}), "steward-run", status_path};
      for (auto& word : command_argv(request)) spec.argv.push_back(std::move(word));
      spec.stdin_data = std::string(kGoAhead) + request.stdin_data;
      spec.before_stdin = [journal = request.journal, status_path](pid_t pid) {
        return report_start(journal, status_path, pid);
      };
    } else {
      spec.argv = command_argv(request);
      spec.stdin_data = std::move(request.stdin_data);
    }
    spec.env = std::move(request.env);
    spec.cwd = std::move(request.cwd);
    spec.timeout = request.timeout;
    spec.output_cap = request.output_cap;
    spec.keep_tail = request.keep_tail;
    co_return co_await exec::run_process(std::move(spec), std::move(sink), std::move(cancel));
  }

  asio::awaitable<OrphanOutcome> settle_orphan(const Target&, RunProcess process) override {
    exec::ProcessSpec spec;
    spec.argv = {"/bin/sh", "-c", settle_script(kSettleGraceTenths), "steward-settle", process.status_path,
                 std::to_string(process.pgid), process.start_time};
    spec.timeout = kSettleTimeout;
    auto ran = co_await exec::run_process(std::move(spec), nullptr, nullptr);
    if (!ran) co_return OrphanOutcome{OrphanOutcome::Kind::Unknown, -1, 0, ran.error().message};
    co_return parse_settle_report(ran->stdout_data);
  }

  void forget_status(const Target&, const std::string& status_path) override {
    ::unlink(status_path.c_str());
    ::unlink((status_path + ".tmp").c_str());
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

  // Owner-only: the status files say what ran and how it ended.
  Status make_status_dir() {
    if (status_dir_ready_) return {};
    if (::mkdir(status_dir_.c_str(), 0700) != 0 && errno != EEXIST)
      return make_error(ErrorCode::Internal, "cannot create " + status_dir_ + ": " + std::strerror(errno));
    ::chmod(status_dir_.c_str(), 0700);
    status_dir_ready_ = true;
    return {};
  }

  static constexpr int kSettleGraceTenths = 20;
  static constexpr std::chrono::seconds kSettleTimeout{10};

  std::string status_dir_;
  bool status_dir_ready_ = false;
  asio::thread_pool copier_{2};
};

}  // namespace

std::shared_ptr<Transport> make_local_transport(const std::string& state_dir) {
  // Absolute: the wrapper runs in the command's working directory.
  std::error_code ignored;
  auto absolute = std::filesystem::absolute(state_dir, ignored).lexically_normal();
  return std::make_shared<LocalTransport>((absolute.empty() ? std::filesystem::path(state_dir) : absolute) / "runs");
}

}  // namespace steward::transport
