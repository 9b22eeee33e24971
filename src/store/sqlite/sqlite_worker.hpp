#pragma once
// One SQLite connection owned by one thread. Requests queue up; a writer
// worker runs everything waiting in a single transaction (group commit), so
// many small durable writes share one fsync.
#include <sqlite3.h>

#include <boost/asio/any_io_executor.hpp>
#include <boost/asio/async_result.hpp>
#include <boost/asio/executor_work_guard.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/use_awaitable.hpp>

#include <chrono>
#include <condition_variable>
#include <deque>
#include <functional>
#include <memory>
#include <mutex>
#include <string>
#include <thread>

#include "core/result.hpp"

namespace steward::store {

class SqliteWorker {
 public:
  enum class Mode { Reader, Writer };

  SqliteWorker(sqlite3* db, Mode mode, std::string name);
  ~SqliteWorker();  // finishes what is queued, then closes the connection
  SqliteWorker(const SqliteWorker&) = delete;
  SqliteWorker& operator=(const SqliteWorker&) = delete;

  // Work runs on the worker thread (inside the batch transaction for a
  // writer) and may return a notifier, run after the batch ended with how the
  // commit went.
  using Notifier = std::function<void(const Status& commit)>;
  using Job = std::function<Notifier(sqlite3*)>;
  // Urgent work runs at once. Lazy work (progress, output) waits up to
  // kLazyDelay for company, so a busy server does not pay one fsync per
  // output chunk; it always commits before any urgent work queued after it.
  void enqueue(Job job, bool urgent = true);
  static constexpr std::chrono::milliseconds kLazyDelay{20};

  // Runs `fn` on the worker and resumes the caller on its executor with the
  // result, or with the commit's error. T is a Result<...>.
  template <typename T>
  boost::asio::awaitable<T> call(std::function<T(sqlite3*)> fn) {
    return boost::asio::async_initiate<const boost::asio::use_awaitable_t<>, void(T)>(
        [this, fn = std::move(fn)](auto handler) mutable {
          auto executor = boost::asio::get_associated_executor(handler);
          auto shared = std::make_shared<decltype(handler)>(std::move(handler));
          auto guard = std::make_shared<boost::asio::executor_work_guard<decltype(executor)>>(executor);
          enqueue([shared, guard, executor, fn = std::move(fn)](sqlite3* db) -> Notifier {
            auto result = std::make_shared<T>(fn(db));
            return [shared, guard, executor, result](const Status& commit) {
              if (!commit) *result = T(commit.error());
              boost::asio::post(executor, [shared, guard, result]() mutable { (*shared)(std::move(*result)); });
            };
          });
        },
        boost::asio::use_awaitable);
  }

 private:
  void loop();
  void run_batch(std::deque<Job>& batch);

  sqlite3* db_;
  Mode mode_;
  std::string name_;
  std::mutex mutex_;
  std::condition_variable wake_;
  std::deque<Job> queue_;
  std::size_t urgent_waiting_ = 0;
  std::chrono::steady_clock::time_point first_queued_at_{};
  bool stopping_ = false;
  std::thread thread_;
};

// Runs one statement with no result rows; Internal error with SQLite's message.
Status exec_sql(sqlite3* db, const char* sql);

}  // namespace steward::store
