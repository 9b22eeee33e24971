#pragma once
// The audit trail (README "Audit trail"): every state-changing REST and gRPC
// request appends one entry to the store and, unless turned off, one JSON
// line to a file.
//
// The file is written on the event loop by a small buffered writer: entries
// of one loop turn are gathered and written with one write(2) to a file
// opened O_APPEND, posted after the request's handler, not fsynced. A write
// to a local file lands in the page cache in microseconds, so the loop is not
// held; a queue to a thread would add a hand-off and a second owner of the
// order for no gain. If writes fail or stall so that more than kMaxPending
// bytes wait, further entries are dropped from the file (never from the
// store) and the drop is logged.
#include <boost/asio/any_io_executor.hpp>
#include <boost/asio/awaitable.hpp>

#include <chrono>
#include <memory>
#include <string>
#include <vector>

#include "core/result.hpp"
#include "store/store.hpp"

namespace steward::api::audit {

class AuditLog {
 public:
  static constexpr std::size_t kMaxPending = 4u << 20;
  static constexpr std::size_t kPruneBatch = 5000;

  // `file` empty: the store alone. The store is used on `loop` only.
  AuditLog(boost::asio::any_io_executor loop, store::Store& store, std::string file);
  ~AuditLog();
  AuditLog(const AuditLog&) = delete;
  AuditLog& operator=(const AuditLog&) = delete;

  // Opens (creates, mode 0600) the file for appending; InvalidArgument naming it when it cannot.
  Status open();
  // Any thread: the entry goes to the store and the file from the loop.
  void record(store::AuditEntry entry);
  // Loop only.
  boost::asio::awaitable<Result<std::vector<store::AuditEntry>>> list(store::AuditFilter filter);
  // Loop only. Deletes the store's entries older than `keep`, every
  // `period`, until cancelled. The file is left whole: it is the operator's
  // to rotate (logrotate with copytruncate).
  boost::asio::awaitable<void> prune_periodically(std::chrono::seconds keep, std::chrono::seconds period);
  // Loop only. Deletes the store's entries recorded before `before` (Unix
  // seconds), kPruneBatch at a time; returns how many.
  boost::asio::awaitable<Result<std::size_t>> prune_once(double before);
  const std::string& file() const { return file_; }

  struct State;

 private:
  boost::asio::any_io_executor loop_;
  store::Store& store_;
  std::string file_;
  std::shared_ptr<State> state_;
};

}  // namespace steward::api::audit
