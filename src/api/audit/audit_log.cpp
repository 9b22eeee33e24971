#include "api/audit/audit_log.hpp"

#include <fcntl.h>
#include <unistd.h>

#include <spdlog/spdlog.h>

#include <boost/asio/as_tuple.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/json/serialize.hpp>

#include <cerrno>
#include <cstring>
#include <mutex>

#include "core/clock.hpp"
#include "store/audit_json.hpp"

namespace steward::api::audit {

// What posted work touches: it may still run after the AuditLog is gone (the
// loop drains at shutdown), so the store is reached through here and cleared.
struct AuditLog::State {
  std::mutex mutex;  // guards store against the destructor
  store::Store* store = nullptr;
  int fd = -1;
  std::string pending;  // lines not yet written; loop only
  bool flush_posted = false;
  std::size_t dropped = 0;

  void write_pending() {
    flush_posted = false;
    std::size_t written = 0;
    while (written < pending.size()) {
      ssize_t n = ::write(fd, pending.data() + written, pending.size() - written);
      if (n < 0 && errno == EINTR) continue;
      if (n <= 0) {
        spdlog::error("audit file: write failed: {} ({} bytes kept for the next try)", std::strerror(errno),
                      pending.size() - written);
        break;
      }
      written += static_cast<std::size_t>(n);
    }
    pending.erase(0, written);
  }
};

AuditLog::AuditLog(boost::asio::any_io_executor loop, store::Store& store, std::string file)
    : loop_(std::move(loop)), store_(store), file_(std::move(file)), state_(std::make_shared<State>()) {
  state_->store = &store_;
}

AuditLog::~AuditLog() {
  std::lock_guard lock(state_->mutex);
  state_->store = nullptr;
  if (state_->fd >= 0) {
    if (!state_->pending.empty()) state_->write_pending();
    ::close(state_->fd);
    state_->fd = -1;
  }
}

Status AuditLog::open() {
  if (file_.empty()) return {};
  int fd = ::open(file_.c_str(), O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC, 0600);
  if (fd < 0)
    return make_error(ErrorCode::InvalidArgument, "cannot open the audit log " + file_ + ": " + std::strerror(errno));
  state_->fd = fd;
  return {};
}

void AuditLog::record(store::AuditEntry entry) {
  boost::asio::post(loop_, [loop = loop_, state = state_, entry = std::move(entry)] {
    std::lock_guard lock(state->mutex);
    if (!state->store) return;
    state->store->append_audit(entry);
    if (state->fd < 0) return;
    std::string line = boost::json::serialize(store::audit_to_json(entry));
    line.push_back('\n');
    if (state->pending.size() + line.size() > kMaxPending) {
      if (state->dropped++ % 1000 == 0)
        spdlog::error("audit file: {} bytes waiting to be written; dropped {} entries from the file (the store "
                      "keeps them)", state->pending.size(), state->dropped);
      return;
    }
    state->pending += line;
    if (state->flush_posted) return;
    state->flush_posted = true;
    // After whatever else this loop turn queued: one write for a burst.
    boost::asio::post(loop, [state] {
      std::lock_guard lock(state->mutex);
      if (state->fd >= 0) state->write_pending();
    });
  });
}

boost::asio::awaitable<Result<std::vector<store::AuditEntry>>> AuditLog::list(store::AuditFilter filter) {
  return store_.list_audit(std::move(filter));
}

boost::asio::awaitable<Result<std::size_t>> AuditLog::prune_once(double before) {
  std::size_t total = 0;
  for (;;) {
    auto pruning = store_.prune_audit(before, kPruneBatch);
    auto pruned = co_await std::move(pruning);
    if (!pruned) co_return pruned.error();
    total += *pruned;
    if (*pruned < kPruneBatch) co_return total;
  }
}

boost::asio::awaitable<void> AuditLog::prune_periodically(std::chrono::seconds keep, std::chrono::seconds period) {
  boost::asio::steady_timer timer(loop_);
  for (;;) {
    auto pruning = prune_once(unix_now() - static_cast<double>(keep.count()));
    auto pruned = co_await std::move(pruning);
    if (!pruned) spdlog::warn("pruning the audit trail failed: {}", pruned.error().message);
    else spdlog::log(*pruned > 0 ? spdlog::level::info : spdlog::level::debug,
                     "pruned {} audit entries older than {} s", *pruned, keep.count());
    timer.expires_after(period);
    auto [ec] = co_await timer.async_wait(boost::asio::as_tuple(boost::asio::use_awaitable));
    if (ec) co_return;
  }
}

}  // namespace steward::api::audit
