#pragma once
// How a server hears, without polling, that others placed work with it or
// asked for a cancel: the scripts that do so push a token onto
// "P news:<server>" (a list kept at one element), and this listener holds a
// BLPOP on it over a connection of its own, so the store's pipelined
// connection is never blocked. A token that arrives while nobody waits is
// kept until the next wait.
//
// Loop-thread only. Opened by the first wait; destroying it closes the
// connection and ends the listening.
#include <boost/asio/any_io_executor.hpp>
#include <boost/asio/awaitable.hpp>

#include <chrono>
#include <memory>
#include <string>

#include "store/redis/redis_url.hpp"

namespace steward::store::redis {

class NewsListener {
 public:
  NewsListener(boost::asio::any_io_executor executor, Endpoint endpoint, std::string key);
  ~NewsListener();
  NewsListener(const NewsListener&) = delete;
  NewsListener& operator=(const NewsListener&) = delete;

  // True when told since the last wait returned true; false after `at_most`.
  boost::asio::awaitable<bool> wait(std::chrono::milliseconds at_most);

  struct State;  // redis_news.cpp

 private:
  std::shared_ptr<State> state_;
};

}  // namespace steward::store::redis
