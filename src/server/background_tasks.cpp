#include "server/background_tasks.hpp"

#include <boost/asio/bind_cancellation_slot.hpp>
#include <boost/asio/co_spawn.hpp>
#include <boost/system/system_error.hpp>

#include "core/spawn.hpp"

namespace steward {

namespace asio = boost::asio;

namespace {

bool was_cancelled(std::exception_ptr failure) {
  try {
    std::rethrow_exception(failure);
  } catch (const boost::system::system_error& error) {
    return error.code() == asio::error::operation_aborted;
  } catch (...) {
    return false;
  }
}

}  // namespace

void BackgroundTasks::spawn(std::string what, asio::awaitable<void> task) {
  tasks_.remove_if([](const Task& task) { return task.ended; });
  auto entry = tasks_.emplace(tasks_.end());
  ++running_;
  asio::co_spawn(executor_, std::move(task),
                 asio::bind_cancellation_slot(entry->signal.slot(), [this, entry, what = std::move(what)](
                                                                        std::exception_ptr failure) {
                   if (failure && !was_cancelled(failure)) report_spawn_failure(what, failure);
                   entry->ended = true;
                   --running_;
                   ended_.notify_all();
                 }));
}

asio::awaitable<void> BackgroundTasks::cancel_all() {
  for (auto& task : tasks_) {
    if (!task.ended) task.signal.emit(asio::cancellation_type::terminal);
  }
  while (running_ > 0) co_await ended_.wait_until(asio::steady_timer::time_point::max());
}

}  // namespace steward
