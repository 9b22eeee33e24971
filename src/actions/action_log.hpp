#pragma once
// Action records kept in the store (kind "action"), so a call accepted with
// 202 is never silently lost: readable after the router forgot it or the
// server restarted, and a call a restart interrupted says so.
#include <boost/asio/any_io_executor.hpp>
#include <boost/asio/awaitable.hpp>
#include <boost/json/object.hpp>

#include "actions/router.hpp"
#include "store/store.hpp"

namespace steward::actions {

class ActionLog {
 public:
  ActionLog(boost::asio::any_io_executor executor, store::Store& store) : executor_(std::move(executor)), store_(store) {}

  // Fire-and-forget; durable once flush() completes.
  void save(const ActionRecord& record);
  boost::asio::awaitable<Status> flush() { return store_.flush(); }
  // NotFound when no action has that id.
  boost::asio::awaitable<Result<boost::json::object>> load(const std::string& id);
  // At start: calls left pending or running are marked failed.
  boost::asio::awaitable<Status> repair_interrupted();

 private:
  boost::asio::any_io_executor executor_;
  store::Store& store_;
};

}  // namespace steward::actions
