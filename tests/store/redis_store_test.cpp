// What only the Redis store has: its URL, its password, a Redis that dies
// and comes back, key prefixes, and a loop stopped with commands in flight.
#include <gtest/gtest.h>
#include <stdlib.h>

#include <algorithm>

#include "store/placement.hpp"
#include "store/redis/redis_url.hpp"
#include "store/store_fixture.hpp"

namespace steward::store {
namespace {

using redis::parse_redis_url;

class RedisStoreTest : public StoreFixture {
 protected:
  RedisStoreTest() : StoreFixture("redis") {}
  void SetUp() override { prepare("redis-store"); }
  std::unique_ptr<Store> open_url(const std::string& url) {
    auto opened = open_store({url, dir_.string(), io_.get_executor()});
    EXPECT_TRUE(opened.ok()) << opened.error().message;
    return opened.ok() ? std::move(opened).value() : nullptr;
  }
  static Job job(const std::string& jid) {
    Job job;
    job.jid = jid;
    job.operate = "execute";
    job.targets = {"web1"};
    job.startat = 100;
    job.runs["web1"] = TargetRun{};
    return job;
  }
};

void expect_unavailable(const Status& status) {
  ASSERT_FALSE(status.ok());
  EXPECT_EQ(status.error().code, ErrorCode::Unavailable) << status.error().message;
  EXPECT_EQ(status.error().message.rfind("store unavailable: ", 0), 0u) << status.error().message;
}

TEST_F(RedisStoreTest, AKilledRedisIsUnavailableAndAfterARestartKeepsWhatWasAcknowledged) {
  auto store = open();
  ASSERT_TRUE(sync(store->create_job(job("kept"))).ok());
  TargetRun done;
  done.phase = RunPhase::Finished;
  done.result.state = OpState::Changed;
  done.result.stdout_data = "acknowledged output";
  store->save_result("kept", "web1", done);
  ASSERT_TRUE(sync(store->flush()).ok());

  redis_->kill();
  auto loaded = sync(store->load_job("kept", {}));
  expect_unavailable(loaded.ok() ? Status{} : Status(loaded.error()));
  expect_unavailable(sync(store->create_job(job("lost"))));  // reconnecting fails as fast
  store->append_output("kept", {1, "web1", OutputStream::Stdout, "while down", 1});  // logged, no crash

  ASSERT_TRUE(redis_->start()) << "redis-server did not restart on its AOF";
  auto again = sync(store->load_job("kept", {}));
  ASSERT_TRUE(again.ok()) << again.error().message;
  ASSERT_TRUE(again->has_value());
  EXPECT_EQ((*again)->runs.at("web1").phase, RunPhase::Finished);
  EXPECT_EQ((*again)->runs.at("web1").result.stdout_data, "acknowledged output");
  EXPECT_TRUE(sync(store->create_job(job("new"))).ok());
  EXPECT_FALSE(sync(store->load_job("lost", {}))->has_value());
}

TEST_F(RedisStoreTest, RunWritesMadeWhileRedisIsAwayAreRecordedInOrderOnceItIsBack) {
  auto store = open();
  ASSERT_TRUE(sync(store->create_job(job("through"))).ok());
  TargetRun running;
  running.phase = RunPhase::Running;
  ASSERT_TRUE(sync(store->mark_started("through", "web1", running)).ok());

  redis_->kill();
  store->append_output("through", {1, "web1", OutputStream::Stdout, "one\n", 1});
  store->append_output("through", {2, "web1", OutputStream::Stdout, "two\n", 2});
  TargetRun done;
  done.phase = RunPhase::Finished;
  done.result.state = OpState::Changed;
  done.result.stdout_data = "one\ntwo\n";
  store->save_result("through", "web1", done);
  Job ended = job("through");
  ended.state = JobState::Done;
  expect_unavailable(sync(store->finish_job(ended)));
  expect_unavailable(sync(store->flush()));

  ASSERT_TRUE(redis_->start()) << "redis-server did not restart on its AOF";
  ASSERT_TRUE(sync(store->flush()).ok()) << "the held writes are written first";
  auto chunks = sync(store->load_output("through", 0));
  ASSERT_TRUE(chunks.ok());
  ASSERT_EQ(chunks->size(), 2u);
  EXPECT_EQ((*chunks)[0].data, "one\n");
  EXPECT_EQ((*chunks)[1].data, "two\n");
  auto loaded = sync(store->load_job("through", {}));
  ASSERT_TRUE(loaded.ok() && loaded->has_value());
  EXPECT_EQ((*loaded)->runs.at("web1").phase, RunPhase::Finished);
  EXPECT_EQ((*loaded)->runs.at("web1").result.stdout_data, "one\ntwo\n");
  EXPECT_TRUE(sync(store->finish_job(ended)).ok());
}

TEST_F(RedisStoreTest, ARedisThatStopsAnsweringIsUnavailableAfterTheReplyTimeout) {
  auto store = open_url(url() + "?timeout=1");
  ASSERT_TRUE(sync(store->create_job(job("j1"))).ok());
  redis_->pause();
  auto listed = sync(store->list_job_ids({}));
  redis_->resume();
  ASSERT_FALSE(listed.ok());
  EXPECT_EQ(listed.error().code, ErrorCode::Unavailable);
  EXPECT_NE(listed.error().message.find("no reply within 1 s"), std::string::npos) << listed.error().message;
  auto again = sync(store->list_job_ids({}));  // on a new connection
  ASSERT_TRUE(again.ok()) << again.error().message;
  EXPECT_EQ(again->size(), 1u);
}

// After SCRIPT FLUSH, EVALSHA finds nothing: awaited and fire-and-forget
// writes fall back to EVAL.
TEST_F(RedisStoreTest, ScriptsFlushedFromRedisAreSentWhole) {
  auto store = open();
  ASSERT_TRUE(sync(store->create_job(job("before"))).ok());
  ASSERT_EQ(redis_->inline_command("SCRIPT FLUSH").rfind("+OK", 0), 0u);
  ASSERT_TRUE(sync(store->create_job(job("after"))).ok());
  TargetRun done;
  done.phase = RunPhase::Finished;
  done.result.state = OpState::Ok;
  store->save_result("after", "web1", done);
  ASSERT_TRUE(sync(store->flush()).ok());
  auto loaded = sync(store->load_job("after", {}));
  ASSERT_TRUE(loaded.ok() && loaded->has_value());
  EXPECT_EQ((*loaded)->runs.at("web1").phase, RunPhase::Finished);
}

TEST_F(RedisStoreTest, AStoreThatCannotReachRedisIsUnavailableNamingTheUrl) {
  redis_->stop();
  auto store = open();
  auto listed = sync(store->list_job_ids({}));
  ASSERT_FALSE(listed.ok());
  EXPECT_EQ(listed.error().code, ErrorCode::Unavailable);
  EXPECT_NE(listed.error().message.find(redis_->socket_path()), std::string::npos) << listed.error().message;
}

TEST_F(RedisStoreTest, PrefixesKeepStoresOnOneRedisApart) {
  auto first = open_url(url() + "?prefix=one:");
  auto second = open_url(url() + "?prefix=two:");
  ASSERT_TRUE(sync(first->create_job(job("j1"))).ok());
  EXPECT_EQ(sync(first->list_job_ids({}))->size(), 1u);
  EXPECT_TRUE(sync(second->list_job_ids({}))->empty());
  EXPECT_TRUE(sync(second->create_job(job("j1"))).ok()) << "the same id under another prefix";
}

TEST_F(RedisStoreTest, APasswordFromTheEnvironmentIsUsedAndAWrongOneIsNeverShown) {
  redis_->stop();
  auto secured = std::make_unique<steward::testing::RedisServer>(dir_ / "secured");
  secured->set_extra_config("requirepass s3cret-pass");
  ASSERT_TRUE(secured->start());
  {
    ::setenv("STEWARD_REDIS_PASSWORD", "wrong-pass", 1);
    auto store = open_url(secured->url());
    ::unsetenv("STEWARD_REDIS_PASSWORD");
    auto refused = sync(store->create_job(job("j1")));
    expect_unavailable(refused);
    EXPECT_EQ(refused.error().message.find("wrong-pass"), std::string::npos) << refused.error().message;
  }
  ::setenv("STEWARD_REDIS_PASSWORD", "s3cret-pass", 1);
  auto store = open_url(secured->url());
  ::unsetenv("STEWARD_REDIS_PASSWORD");
  EXPECT_TRUE(sync(store->create_job(job("j1"))).ok());
}

// Calls in flight when the store goes: each completes once, Unavailable,
// when the loop runs again; nothing is used after it was freed (ASan).
TEST_F(RedisStoreTest, CallsInFlightWhenTheStoreGoesCompleteUnavailable) {
  auto store = open();
  ASSERT_TRUE(sync(store->create_job(job("j1"))).ok());
  const std::string jid = "j1";
  int unavailable = 0, completed = 0;
  redis_->pause();  // no reply comes back
  for (int i = 0; i < 20; ++i) {
    boost::asio::co_spawn(io_, store->load_job(jid, {}), [&](std::exception_ptr, Result<std::optional<Job>> r) {
      ++completed;
      if (!r.ok() && r.error().code == ErrorCode::Unavailable) ++unavailable;
    });
    store->append_output(jid, {static_cast<std::uint64_t>(i + 1), "web1", OutputStream::Stdout, "x", 1});
  }
  io_.poll();  // every call is written, none answered
  EXPECT_EQ(completed, 0);
  store.reset();
  io_.restart();
  io_.run();  // ends: the closed connection leaves nothing to wait for
  redis_->resume();
  EXPECT_EQ(completed, 20);
  EXPECT_EQ(unavailable, 20);
}

// The loop stops for good with calls in flight: the store goes, then the
// loop with the calls' coroutines, each freed once (ASan, LeakSanitizer).
TEST_F(RedisStoreTest, TheLoopStoppingWithCallsInFlightFreesEverythingOnce) {
  auto store = open();
  ASSERT_TRUE(sync(store->create_job(job("j1"))).ok());
  const std::string jid = "j1";
  int completed = 0;
  redis_->pause();
  for (int i = 0; i < 20; ++i) {
    boost::asio::co_spawn(io_, store->load_job(jid, {}), [&](std::exception_ptr, Result<std::optional<Job>>) {
      ++completed;
    });
  }
  io_.poll();
  io_.stop();
  store.reset();
  redis_->resume();
  EXPECT_EQ(completed, 0) << "nothing runs on a stopped loop";
}

// Placement across servers: what the Redis store keeps for it beyond the
// contract (lease_store_test.cpp).
class RedisPlacementTest : public RedisStoreTest {
 protected:
  static constexpr double kNow = 1000;
  static constexpr double kTtl = 10;
  std::unique_ptr<Store> server(const std::string& id) {
    auto store = open();
    EXPECT_TRUE(sync(store->acquire_lease(id, kNow, kTtl)).ok());
    return store;
  }
  static Job job_on(const std::string& jid, std::vector<std::string> targets) {
    Job job;
    job.jid = jid;
    job.operate = "execute";
    job.startat = kNow;
    for (const auto& t : targets) job.runs[t] = TargetRun{};
    job.targets = std::move(targets);
    return job;
  }
  static std::vector<std::string> numbered(const std::string& stem, int count) {
    std::vector<std::string> names;
    for (int i = 0; i < count; ++i) names.push_back(stem + std::to_string(i));
    return names;
  }
};

// Inbox entries are length-prefixed like the owned-set members: names that
// look like the format (digits, colons, newlines, NULs) come back whole.
TEST_F(RedisPlacementTest, NamesWithAnyBytesComeBackWholeFromTheInbox) {
  const std::string dead("a\0:1\n", 5);
  auto a = server(dead);
  auto b = server("b");
  auto c = server("c");
  std::vector<std::string> targets;
  for (int i = 0; i < 40; ++i) targets.push_back(std::to_string(i) + ":x\n" + std::string(1, '\0') + "12:");
  const std::string jid("7:j\0b\n", 6);
  auto owners = sync(a->create_job_by_target(job_on(jid, targets)));
  ASSERT_TRUE(owners.ok()) << owners.error().message;
  auto announced = sync(c->take_inbox());
  ASSERT_TRUE(announced.ok()) << announced.error().message;
  ASSERT_EQ(announced->size(), 1u);
  EXPECT_EQ(announced->front().jid, jid);
  EXPECT_EQ(announced->front().target, "");
  EXPECT_EQ(announced->front().from, "");

  ASSERT_TRUE(sync(b->renew_lease(kNow + kTtl, kTtl)).ok());
  ASSERT_TRUE(sync(c->renew_lease(kNow + kTtl, kTtl)).ok());
  ASSERT_TRUE(sync(b->take_over(kNow + kTtl + 1)).ok());
  auto told = sync(c->take_inbox());
  ASSERT_TRUE(told.ok()) << told.error().message;
  std::size_t expected = 0;
  for (std::size_t i = 0; i < targets.size(); ++i)
    expected += (*owners)[i] == dead && slot_owner(slot_of(targets[i]), {"b", "c"}) == "c" ? 1 : 0;
  ASSERT_GT(expected, 0u) << "some of the dead server's runs go to c";
  ASSERT_EQ(told->size(), expected);
  for (const auto& run : *told) {
    EXPECT_EQ(run.jid, jid);
    EXPECT_NE(std::find(targets.begin(), targets.end(), run.target), targets.end()) << run.target;
    EXPECT_EQ(run.from, dead);
  }
}

TEST_F(RedisPlacementTest, ADeletedJobLeavesNoClaimOnItsTargets) {
  auto a = server("a");
  auto b = server("b");
  const auto targets = numbered("web", 16);
  ASSERT_TRUE(sync(a->create_job(job_on("gone", targets))).ok());  // every run a's
  ASSERT_EQ(redis_->inline_command("EXISTS steward:unfinished:web0"), ":1\r\n");
  ASSERT_TRUE(sync(a->delete_job("gone")).ok());
  EXPECT_EQ(redis_->inline_command("EXISTS steward:unfinished:web0"), ":0\r\n");
  auto owners = sync(b->create_job_by_target(job_on("next", targets)));
  ASSERT_TRUE(owners.ok()) << owners.error().message;
  for (std::size_t i = 0; i < targets.size(); ++i)
    EXPECT_EQ((*owners)[i], slot_owner(slot_of(targets[i]), {"a", "b"})) << targets[i];
}

// The store places by the live servers it read last; a lease released, or a
// server joining, since then makes it read them again.
TEST_F(RedisPlacementTest, LiveServersReadBeforeALeaseChangedAreReadAgain) {
  auto a = server("a");
  auto b = server("b");
  ASSERT_TRUE(sync(a->create_job_by_target(job_on("first", numbered("db", 16)))).ok());
  ASSERT_TRUE(sync(b->release_lease()).ok());
  auto owners = sync(a->create_job_by_target(job_on("second", numbered("vm", 16))));
  ASSERT_TRUE(owners.ok()) << owners.error().message;
  for (const auto& owner : *owners) EXPECT_EQ(owner, "a") << "b has released its lease";

  auto c = server("c");
  const auto targets = numbered("mq", 16);
  auto joined = sync(a->create_job_by_target(job_on("third", targets)));
  ASSERT_TRUE(joined.ok()) << joined.error().message;
  std::size_t on_c = 0;
  for (std::size_t i = 0; i < targets.size(); ++i) {
    EXPECT_EQ((*joined)[i], slot_owner(slot_of(targets[i]), {"a", "c"})) << targets[i];
    on_c += (*joined)[i] == "c" ? 1 : 0;
  }
  EXPECT_GT(on_c, 0u);
}

TEST(RedisUrl, ForwardsEveryPartAndMasksThePassword) {
  auto endpoint = parse_redis_url("redis://:p%40ss@127.0.0.1:6380/3?prefix=x:&timeout=2", "");
  ASSERT_TRUE(endpoint.ok()) << endpoint.error().message;
  EXPECT_EQ(endpoint->host, "127.0.0.1");
  EXPECT_EQ(endpoint->port, 6380);
  EXPECT_EQ(endpoint->db, 3);
  EXPECT_EQ(endpoint->password, "p@ss");
  EXPECT_EQ(endpoint->prefix, "x:");
  EXPECT_EQ(endpoint->reply_timeout, std::chrono::seconds(2));
  EXPECT_EQ(endpoint->shown.find("p%40ss"), std::string::npos) << endpoint->shown;
  EXPECT_NE(endpoint->shown.find(":***@"), std::string::npos) << endpoint->shown;

  auto unix_socket = parse_redis_url("unix:///run/redis/redis.sock?db=2", "from-env");
  ASSERT_TRUE(unix_socket.ok()) << unix_socket.error().message;
  EXPECT_EQ(unix_socket->unix_path, "/run/redis/redis.sock");
  EXPECT_EQ(unix_socket->db, 2);
  EXPECT_EQ(unix_socket->password, "from-env");
  EXPECT_EQ(parse_redis_url("redis://:url-wins@h:1/0", "env")->password, "url-wins");
  EXPECT_EQ(parse_redis_url("redis://localhost", "")->port, 6379);
}

TEST(RedisUrl, BadUrlsAreClearErrorsWithoutThePassword) {
  for (const char* bad : {"redis://:secret@h:99999/0", "redis://:secret@h:1/x", "redis://:secret@h:1/0?colour=red",
                          "unix://relative.sock", "redis://:secret@/0"}) {
    auto endpoint = parse_redis_url(bad, "");
    ASSERT_FALSE(endpoint.ok()) << bad;
    EXPECT_EQ(endpoint.error().code, ErrorCode::InvalidArgument) << bad;
    EXPECT_EQ(endpoint.error().message.find("secret"), std::string::npos) << endpoint.error().message;
  }
  auto tls = parse_redis_url("rediss://:secret@h:6380/0", "");
  ASSERT_FALSE(tls.ok());
  EXPECT_NE(tls.error().message.find("not supported yet"), std::string::npos) << tls.error().message;
  EXPECT_EQ(tls.error().message.find("secret"), std::string::npos);
}

TEST(RedisUrl, TheRegistryNeedsALoopForRedis) {
  auto opened = open_store({"redis://127.0.0.1:6379/0", "/tmp"});
  ASSERT_FALSE(opened.ok());
  EXPECT_EQ(opened.error().code, ErrorCode::InvalidArgument);
}

}  // namespace
}  // namespace steward::store
