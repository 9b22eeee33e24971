#include "exec/process.hpp"

#include <gtest/gtest.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <boost/asio/co_spawn.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/steady_timer.hpp>
#include <chrono>
#include <filesystem>
#include <fstream>
#include <optional>
#include <thread>

#include "support/process_probe.hpp"
#include "support/run_sync.hpp"

namespace steward::exec {
namespace {

using namespace std::chrono_literals;
using testing::process_alive;
using testing::run_sync;

ProcessOutcome must_run(ProcessSpec spec, ChunkSink sink = {}, CancelToken cancel = {}) {
  auto result = run_sync(run_process(std::move(spec), std::move(sink), std::move(cancel)));
  EXPECT_TRUE(result.ok()) << (result.ok() ? "" : result.error().message);
  return result.ok() ? std::move(result).value() : ProcessOutcome{};
}

std::vector<pid_t> read_pids(const std::string& path) {
  std::vector<pid_t> pids;
  std::ifstream in(path);
  pid_t pid;
  while (in >> pid) pids.push_back(pid);
  return pids;
}

std::string temp_path(const std::string& name) {
  return (std::filesystem::temp_directory_path() / (name + "." + std::to_string(::getpid()))).string();
}

TEST(Process, CapturesStdoutStderrAndExitCode) {
  auto outcome = must_run(shell_spec("echo out; echo err >&2; exit 3"));
  EXPECT_EQ(outcome.stdout_data, "out\n");
  EXPECT_EQ(outcome.stderr_data, "err\n");
  EXPECT_EQ(outcome.exit_code, 3);
  EXPECT_EQ(outcome.signal, 0);
}

TEST(Process, ArgvModePassesArgumentsLiterally) {
  ProcessSpec spec;
  spec.argv = {"printf", "%s|", "a b", "$HOME", ";ls"};
  auto outcome = must_run(spec);
  EXPECT_EQ(outcome.stdout_data, "a b|$HOME|;ls|");
  EXPECT_EQ(outcome.exit_code, 0);
}

TEST(Process, EnvironmentWorkingDirectoryAndStdin) {
  auto spec = shell_spec("echo \"$GREETING\"; pwd; cat");
  spec.env["GREETING"] = "hello there";
  spec.cwd = "/tmp";
  spec.stdin_data = "from stdin";
  auto outcome = must_run(spec);
  EXPECT_EQ(outcome.stdout_data, "hello there\n/tmp\nfrom stdin");
}

TEST(Process, ClearEnvStartsEmpty) {
  auto spec = shell_spec("env | grep -v '^PWD=' | grep -v '^SHLVL=' | grep -v '^_='");
  spec.clear_env = true;
  spec.env["ONLY"] = "1";
  auto outcome = must_run(spec);
  EXPECT_EQ(outcome.stdout_data, "ONLY=1\n");
}

TEST(Process, MissingProgramIsNotFound) {
  ProcessSpec spec;
  spec.argv = {"/nonexistent/steward-no-such-binary"};
  auto result = run_sync(run_process(spec, {}, {}));
  ASSERT_FALSE(result.ok());
  EXPECT_EQ(result.error().code, ErrorCode::NotFound);
  EXPECT_NE(result.error().message.find("steward-no-such-binary"), std::string::npos);
}

TEST(Process, EmptyArgvIsInvalid) {
  auto result = run_sync(run_process(ProcessSpec{}, {}, {}));
  ASSERT_FALSE(result.ok());
  EXPECT_EQ(result.error().code, ErrorCode::InvalidArgument);
}

TEST(Process, MissingWorkingDirectoryIsNotFound) {
  auto spec = shell_spec("true");
  spec.cwd = "/nonexistent-dir-for-steward";
  auto result = run_sync(run_process(spec, {}, {}));
  ASSERT_FALSE(result.ok());
  EXPECT_EQ(result.error().code, ErrorCode::NotFound);
}

TEST(Process, ReportsTerminatingSignal) {
  auto outcome = must_run(shell_spec("kill -9 $$"));
  EXPECT_EQ(outcome.signal, SIGKILL);
  EXPECT_EQ(outcome.exit_code, -1);
}

TEST(Process, TimeoutEndsTheWholeProcessGroup) {
  auto pid_file = temp_path("steward-timeout-pids");
  auto spec = shell_spec("sleep 100 & echo $! > " + pid_file + "; echo $$ >> " + pid_file + "; wait");
  spec.timeout = 300ms;
  auto started = std::chrono::steady_clock::now();
  auto outcome = must_run(spec);
  EXPECT_LT(std::chrono::steady_clock::now() - started, 5s);
  EXPECT_TRUE(outcome.timed_out);
  EXPECT_EQ(outcome.signal, SIGTERM);
  auto pids = read_pids(pid_file);
  ASSERT_EQ(pids.size(), 2u);
  for (pid_t pid : pids) EXPECT_FALSE(process_alive(pid)) << pid;
  std::filesystem::remove(pid_file);
}

TEST(Process, SigkillFollowsWhenSigtermIsIgnored) {
  auto spec = shell_spec("trap '' TERM; while :; do sleep 0.05; done");
  spec.timeout = 200ms;
  spec.kill_grace = 200ms;
  auto outcome = must_run(spec);
  EXPECT_TRUE(outcome.timed_out);
  EXPECT_EQ(outcome.signal, SIGKILL);
}

TEST(Process, CancelEndsTheProcess) {
  boost::asio::io_context io;
  auto token = make_cancel_token();
  boost::asio::steady_timer timer(io, 200ms);
  timer.async_wait([&](auto) { token->cancel("user asked"); });
  auto result = run_sync(io, run_process(shell_spec("sleep 100"), {}, token));
  ASSERT_TRUE(result.ok());
  EXPECT_TRUE(result->cancelled);
  EXPECT_EQ(result->signal, SIGTERM);
}

TEST(Process, OutputIsCappedAndFlaggedAndKeptDraining) {
  auto spec = shell_spec("head -c 10485760 /dev/zero; echo done >&2");
  spec.output_cap = 1 << 20;
  std::size_t streamed = 0;
  auto outcome = must_run(spec, [&](Stream s, std::string_view data) {
    if (s == Stream::Stdout) streamed += data.size();
  });
  EXPECT_EQ(outcome.stdout_data.size(), 1u << 20);
  EXPECT_TRUE(outcome.stdout_truncated);
  EXPECT_EQ(streamed, 1u << 20);
  EXPECT_EQ(outcome.stderr_data, "done\n");
  EXPECT_FALSE(outcome.stderr_truncated);
  EXPECT_EQ(outcome.exit_code, 0);
}

TEST(Process, StreamsChunksBeforeExit) {
  auto spec = shell_spec("echo first; sleep 0.4; echo second");
  std::vector<std::chrono::steady_clock::time_point> arrivals;
  auto outcome = must_run(spec, [&](Stream, std::string_view) {
    arrivals.push_back(std::chrono::steady_clock::now());
  });
  ASSERT_EQ(arrivals.size(), 2u);
  EXPECT_GE(arrivals[1] - arrivals[0], 300ms);
  EXPECT_EQ(outcome.stdout_data, "first\nsecond\n");
}

TEST(Process, ChildSeesOnlyStandardDescriptors) {
  // ls itself opens one descriptor for the directory it lists.
  auto outcome = must_run(shell_spec("ls /proc/$$/fd"));
  EXPECT_EQ(outcome.stdout_data, "0\n1\n2\n");
}

TEST(Process, ManyConcurrentRunsLeaveNoZombies) {
  boost::asio::io_context io;
  int finished = 0;
  for (int i = 0; i < 32; ++i) {
    boost::asio::co_spawn(io, run_process(shell_spec("echo " + std::to_string(i)), {}, {}),
                          [&, i](std::exception_ptr, Result<ProcessOutcome> r) {
                            ASSERT_TRUE(r.ok());
                            EXPECT_EQ(r->stdout_data, std::to_string(i) + "\n");
                            ++finished;
                          });
  }
  io.run();
  EXPECT_EQ(finished, 32);
  EXPECT_EQ(::waitpid(-1, nullptr, WNOHANG), -1);  // no children left, reaped or not
  EXPECT_EQ(errno, ECHILD);
}

// The sleeper keeps stdout open for a minute. The run must end long before it
// does: a watchdog fails the test (and frees the pipe) if it is still waiting
// after 20 s, a bound no working runner comes near.
TEST(Process, BackgroundedChildHoldingThePipeDoesNotBlockForever) {
  const auto pidfile = temp_path("steward-backgrounded");
  std::filesystem::remove(pidfile);
  boost::asio::io_context io;
  std::optional<Result<ProcessOutcome>> result;
  boost::asio::co_spawn(io, run_process(shell_spec("(sleep 60 & echo $! > " + pidfile + ") ; echo quick"), {}, {}),
                        [&](std::exception_ptr, Result<ProcessOutcome> done) { result.emplace(std::move(done)); });
  bool watchdog_fired = false;
  boost::asio::steady_timer watchdog(io, 20s);
  watchdog.async_wait([&](boost::system::error_code ec) {
    if (ec || result) return;
    watchdog_fired = true;
    for (pid_t pid : read_pids(pidfile)) ::kill(pid, SIGKILL);
  });
  while (!result && io.run_one() > 0) {
  }
  watchdog.cancel();
  for (pid_t pid : read_pids(pidfile)) ::kill(pid, SIGKILL);
  std::filesystem::remove(pidfile);

  EXPECT_FALSE(watchdog_fired) << "the run waited for the backgrounded child's end of the pipe";
  ASSERT_TRUE(result && result->ok()) << (result ? result->error().message : "no result");
  EXPECT_EQ((*result)->stdout_data, "quick\n");
  EXPECT_EQ((*result)->exit_code, 0);
}

}  // namespace
}  // namespace steward::exec
