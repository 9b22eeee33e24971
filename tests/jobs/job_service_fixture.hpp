#pragma once
// The JobService under test: a real SQLite store in a fresh folder, the fake
// transport under the name "fake", the built-in operations, a scheduler with
// 8 connections, and helpers that run the event loop until something holds.
#include <gtest/gtest.h>

#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/io_context.hpp>

#include <algorithm>
#include <chrono>
#include <filesystem>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "core/clock.hpp"
#include "fakes/fake_transport.hpp"
#include "jobs/job_service.hpp"
#include "ops/operation.hpp"
#include "sched/scheduler.hpp"
#include "store/store.hpp"
#include "support/test_dir.hpp"
#include "transport/transport.hpp"

namespace steward::jobs::testing {

namespace asio = boost::asio;
namespace fs = std::filesystem;
using namespace std::chrono_literals;
using steward::testing::FakeScript;
using steward::testing::FakeTransport;

inline constexpr auto kAwaitLimit = 10s;

inline Target fake_target(const std::string& name, int max_sessions = 1) {
  Target target;
  target.name = name;
  target.connection = "fake";
  target.max_sessions = max_sessions;
  return target;
}

inline JobRequest execute_request(std::vector<Target> targets, std::string cmd = "echo hello") {
  JobRequest request;
  request.operate = "execute";
  request.args = {{"cmd", cmd}};
  request.targets = std::move(targets);
  return request;
}

class JobServiceTest : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = steward::testing::fresh_test_dir("jobs");
    auto opened = store::open_store({"", dir_.string()});
    ASSERT_TRUE(opened.ok()) << opened.error().message;
    store_ = std::move(opened).value();
    fake_ = std::make_shared<FakeTransport>();
    EXPECT_TRUE(transports_.add("fake", fake_).ok());
    EXPECT_TRUE(ops::register_builtin_ops(ops_).ok());
    scheduler_ = std::make_unique<sched::Scheduler>(io_.get_executor(), clock_, /*max_connections=*/8);
    service_ = make_service();
  }

  void TearDown() override {
    // End whatever a failed test left hanging, so the loop can drain.
    if (service_) {
      for (const auto& jid : submitted_) (void)await(service_->cancel(jid, "test teardown"));
    }
    pump_until([&] { return !anything_live(); }, 5s);
    // The last writes; a Redis connection keeps the loop from running out of work.
    io_.restart();
    io_.run_for(store_keeps_loop_busy() ? 100ms : 5s);
    service_.reset();
    scheduler_.reset();
    store_.reset();
    fs::remove_all(dir_);
  }

  virtual bool store_keeps_loop_busy() const { return false; }
  virtual bool anything_live() const {
    return service_ && std::any_of(submitted_.begin(), submitted_.end(),
                                   [&](const std::string& jid) { return service_->is_live(jid); });
  }

  std::unique_ptr<JobService> make_service(TargetResolver resolver = nullptr) {
    if (!resolver) resolver = [](const std::string& name) -> Result<Target> { return fake_target(name); };
    return std::make_unique<JobService>(io_.get_executor(), *store_, *scheduler_, transports_, ops_,
                                        std::move(resolver));
  }

  // Runs the loop until `task` completes (other work makes progress meanwhile,
  // and whatever is still pending afterwards stays pending).
  template <typename T>
  T await(asio::awaitable<T> task, std::chrono::steady_clock::duration limit = kAwaitLimit) {
    struct State {
      bool done = false;
      std::optional<T> value;
      std::exception_ptr failure;
    };
    auto state = std::make_shared<State>();
    asio::co_spawn(io_, std::move(task), [state](std::exception_ptr e, T value) {
      state->failure = e;
      if (!e) state->value.emplace(std::move(value));
      state->done = true;
    });
    pump_until([&] { return state->done; }, limit);
    if (!state->done) {
      ADD_FAILURE() << "awaited operation did not complete in time";
      return T{};
    }
    if (state->failure) std::rethrow_exception(state->failure);
    return std::move(*state->value);
  }

  // For awaitable<void>; true when it completed in time.
  bool await_void(asio::awaitable<void> task, std::chrono::steady_clock::duration limit = kAwaitLimit) {
    auto done = std::make_shared<bool>(false);
    asio::co_spawn(io_, std::move(task), [done](std::exception_ptr e) {
      if (e) std::rethrow_exception(e);
      *done = true;
    });
    pump_until([&] { return *done; }, limit);
    return *done;
  }

  // Runs handlers until `pred` holds or `limit` passes; returns pred().
  bool pump_until(const std::function<bool()>& pred, std::chrono::steady_clock::duration limit = kAwaitLimit) {
    auto deadline = std::chrono::steady_clock::now() + limit;
    io_.restart();
    while (!pred() && std::chrono::steady_clock::now() < deadline) {
      if (io_.run_one_until(deadline) == 0) io_.restart();
    }
    return pred();
  }

  // Runs the loop until no work is left (nothing may be hanging).
  void drain() {
    io_.restart();
    io_.run_for(5s);
    EXPECT_TRUE(io_.stopped()) << "work still pending after drain";
  }

  std::string submit(JobRequest request) {
    auto jid = await(service_->submit(std::move(request)));
    EXPECT_TRUE(jid.ok()) << jid.error().message;
    if (!jid.ok()) return "";
    submitted_.push_back(*jid);
    return *jid;
  }

  Job wait_done(const std::string& jid) {
    auto job = await(service_->wait(jid, std::chrono::steady_clock::now() + 5s));
    EXPECT_TRUE(job.ok()) << job.error().message;
    return job.ok() ? *job : Job{};
  }

  std::optional<Job> stored(const std::string& jid) {
    EXPECT_TRUE(await(store_->flush()).ok());
    auto loaded = await(store_->load_job(jid, {}));
    EXPECT_TRUE(loaded.ok()) << loaded.error().message;
    return loaded.ok() ? *loaded : std::nullopt;
  }

  // Every event until the stream ends. A stream that does not end within
  // `limit` is a failure; it is then ended by hand so no reader is left hanging.
  std::vector<JobEvent> collect(const std::shared_ptr<Subscription>& subscription,
                                std::chrono::steady_clock::duration limit = 5s) {
    struct State {
      std::vector<JobEvent> events;
      bool done = false;
    };
    auto state = std::make_shared<State>();
    asio::co_spawn(
        io_,
        [subscription, state]() -> asio::awaitable<void> {
          while (auto event = co_await subscription->next()) state->events.push_back(std::move(*event));
          state->done = true;
        },
        asio::detached);
    if (!pump_until([&] { return state->done; }, limit)) {
      ADD_FAILURE() << "the event stream did not end within the limit (" << state->events.size()
                    << " events so far, last kind "
                    << (state->events.empty() ? -1 : static_cast<int>(state->events.back().kind)) << ")";
      subscription->push(JobEvent{JobEvent::Kind::Done, "", {}, {}, {}});
      pump_until([&] { return state->done; }, 1s);
      state->events.pop_back();
    }
    return state->events;
  }

  asio::io_context io_;
  SystemClock clock_;
  fs::path dir_;
  std::unique_ptr<store::Store> store_;
  std::shared_ptr<FakeTransport> fake_;
  transport::TransportRegistry transports_;
  ops::OpRegistry ops_;
  std::unique_ptr<sched::Scheduler> scheduler_;
  std::unique_ptr<JobService> service_;
  std::vector<std::string> submitted_;
};

}  // namespace steward::jobs::testing
