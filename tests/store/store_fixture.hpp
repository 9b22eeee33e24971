#pragma once
// One store test, on SQLite (a temp file) or on Redis (a redis-server of the
// test's own, support/redis_server.hpp): the contract tests run on both
// (INSTANTIATE_STORE_CONTRACT). Coroutines run on one io_context that
// outlives every store the test opened, as the server's loop does.
#include <gtest/gtest.h>
#include <signal.h>

#include <boost/asio/awaitable.hpp>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/io_context.hpp>

#include <exception>
#include <filesystem>
#include <memory>
#include <optional>
#include <string>

#include "store/store.hpp"
#include "support/redis_server.hpp"
#include "support/test_dir.hpp"

namespace steward::store {

class StoreFixture : public ::testing::Test {
 protected:
  explicit StoreFixture(std::string backend = "sqlite") : backend_(std::move(backend)) {}

  // Call first in SetUp; skips the test when Redis is asked for and not installed.
  void prepare(const std::string& name) {
    ::signal(SIGPIPE, SIG_IGN);  // as `steward serve` does: a write to a dead Redis is an error, not a signal
    dir_ = steward::testing::fresh_test_dir(name + "-" + backend_);
    if (backend_ != "redis") return;
    if (!steward::testing::RedisServer::installed())
      GTEST_SKIP() << "redis-server is not installed (Debian package redis-server; scripts/install-deps.sh)";
    redis_ = std::make_unique<steward::testing::RedisServer>(dir_ / "redis");
    ASSERT_TRUE(redis_->start()) << "redis-server did not start; see " << (dir_ / "redis" / "redis.log");
  }
  void TearDown() override {
    stores_closed();
    redis_.reset();
    std::filesystem::remove_all(dir_);
  }
  // Derived fixtures reset the stores they hold here, before the loop goes.
  virtual void stores_closed() {}

  std::string url() const { return backend_ == "redis" ? redis_->url() : ""; }

  std::unique_ptr<Store> open() {
    auto opened = open_store({url(), dir_.string(), io_.get_executor()});
    EXPECT_TRUE(opened.ok()) << opened.error().message;
    return opened.ok() ? std::move(opened).value() : nullptr;
  }

  // Runs `task` on the test's loop until it completes; the loop keeps
  // whatever else is pending (a store's idle connection) for the next call.
  template <typename T>
  T sync(boost::asio::awaitable<T> task) {
    std::optional<T> out;
    std::exception_ptr failure;
    bool done = false;
    boost::asio::co_spawn(io_, std::move(task), [&](std::exception_ptr e, T value) {
      failure = e;
      if (!e) out.emplace(std::move(value));
      done = true;
    });
    io_.restart();
    while (!done && io_.run_one() > 0) {
    }
    if (failure) std::rethrow_exception(failure);
    if (!done) throw std::runtime_error("the loop ran out of work before the task completed");
    return std::move(*out);
  }

  std::string backend_;
  std::filesystem::path dir_;
  std::unique_ptr<steward::testing::RedisServer> redis_;
  boost::asio::io_context io_;  // declared before any store a derived fixture holds
};

// The backends a contract test runs on.
inline std::string backend_name(const ::testing::TestParamInfo<std::string>& info) { return info.param; }
#define INSTANTIATE_STORE_CONTRACT(fixture)                                                               \
  INSTANTIATE_TEST_SUITE_P(Backends, fixture, ::testing::Values(std::string("sqlite"), std::string("redis")), \
                           ::steward::store::backend_name)

}  // namespace steward::store
