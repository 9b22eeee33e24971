#include "store/sqlite/sqlite_worker.hpp"

#include <spdlog/spdlog.h>

#include "store/sqlite/statement.hpp"

namespace steward::store {

Status exec_sql(sqlite3* db, const char* sql) {
  char* message = nullptr;
  if (sqlite3_exec(db, sql, nullptr, nullptr, &message) == SQLITE_OK) return {};
  std::string text = message ? message : sqlite3_errmsg(db);
  sqlite3_free(message);
  return make_error(ErrorCode::Internal, "sqlite: " + text);
}

SqliteWorker::SqliteWorker(sqlite3* db, Mode mode, std::string name)
    : db_(db), mode_(mode), name_(std::move(name)), thread_([this] { loop(); }) {}

SqliteWorker::~SqliteWorker() {
  {
    std::lock_guard lock(mutex_);
    stopping_ = true;
  }
  wake_.notify_one();
  thread_.join();
  sqlite3_close_v2(db_);
}

void SqliteWorker::enqueue(Job job, bool urgent) {
  {
    std::lock_guard lock(mutex_);
    if (queue_.empty()) first_queued_at_ = std::chrono::steady_clock::now();
    queue_.push_back(std::move(job));
    if (urgent || mode_ == Mode::Reader) ++urgent_waiting_;
  }
  wake_.notify_one();
}

void SqliteWorker::loop() {
  StatementCache statements(db_);
  StatementCache::Installed installed(statements);
  for (;;) {
    std::deque<Job> batch;
    {
      std::unique_lock lock(mutex_);
      while (!stopping_ && urgent_waiting_ == 0) {
        if (queue_.empty()) {
          wake_.wait(lock);
        } else if (wake_.wait_until(lock, first_queued_at_ + kLazyDelay) == std::cv_status::timeout) {
          break;  // lazy work is due
        }
      }
      if (queue_.empty()) {
        if (stopping_) return;
        continue;
      }
      batch.swap(queue_);
      urgent_waiting_ = 0;
    }
    run_batch(batch);
  }
}

void SqliteWorker::run_batch(std::deque<Job>& batch) {
  const bool transactional = mode_ == Mode::Writer;
  if (transactional) {
    if (auto begun = exec_sql(db_, "BEGIN IMMEDIATE"); !begun) {
      spdlog::error("{}: {}", name_, begun.error().message);
    }
  }
  std::vector<Notifier> notifiers;
  notifiers.reserve(batch.size());
  for (auto& job : batch) {
    if (auto notify = job(db_)) notifiers.push_back(std::move(notify));
  }
  // Callers are told only after COMMIT returned: their "durable" holds.
  Status committed;
  if (transactional) {
    committed = exec_sql(db_, "COMMIT");
    if (!committed) {
      spdlog::error("{}: {}", name_, committed.error().message);
      (void)exec_sql(db_, "ROLLBACK");
    }
  }
  for (auto& notify : notifiers) notify(committed);
}

}  // namespace steward::store
