#include "core/spawn.hpp"

#include <gtest/gtest.h>

#include <boost/asio/co_spawn.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <stdexcept>

namespace steward {
namespace {

boost::asio::awaitable<void> throws() {
  throw std::runtime_error("boom");
  co_return;
}

boost::asio::awaitable<int> returns_or_throws(bool fail) {
  if (fail) throw std::runtime_error("boom");
  co_return 7;
}

TEST(LogFailure, CountsEachCoroutineThatThrowsAndNothingElse) {
  boost::asio::io_context io;
  const auto before = spawn_failures();
  boost::asio::co_spawn(io, throws(), log_failure("a test coroutine"));
  boost::asio::co_spawn(io, returns_or_throws(true), log_failure("a test coroutine with a value"));
  boost::asio::co_spawn(io, returns_or_throws(false), log_failure("a test coroutine that succeeds"));
  io.run();
  EXPECT_EQ(spawn_failures() - before, 2u);
}

}  // namespace
}  // namespace steward
