// The qga transport against the real qemu-ga, listening on a unix socket in
// a temporary directory. The "guest" is this machine, so what a command
// did can be checked directly.
#include <gtest/gtest.h>
#include <signal.h>
#include <sys/stat.h>

#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/use_awaitable.hpp>

#include <random>

#include "core/sha256.hpp"
#include "support/process_probe.hpp"
#include "support/run_sync.hpp"
#include "transport/qemu_ga.hpp"
#include "transport/qga/qga_transport.hpp"

namespace steward::transport {
namespace {

namespace asio = boost::asio;
using namespace qga_testing;
using steward::testing::process_gone;
using steward::testing::run_sync;

std::string sha256_of(const fs::path& path) {
  Sha256 hash;
  hash.update(read_file(path));
  return hash.hex_digest();
}

std::optional<pid_t> read_pid(const fs::path& path) {
  std::string text = read_file(path);
  if (text.empty() || text.back() != '\n') return std::nullopt;  // not completely written yet
  return static_cast<pid_t>(std::stol(text));
}

class QgaTest : public ::testing::Test {
 protected:
  void SetUp() override {
    ASSERT_TRUE(fs::exists(kQemuGa)) << "install qemu-guest-agent";
    static int counter = 0;
    dir_ = fs::temp_directory_path() / ("steward-qga-" + std::to_string(::getpid()) + "-" + std::to_string(++counter));
    fs::create_directories(dir_);
    agent_ = std::make_unique<QemuGa>(dir_);
    agent_->start();
    target_.name = "vm1";
    target_.connection = "qga";
    target_.vars["steward_qga_socket"] = agent_->socket();
    transport_ = make_qga_transport(TransportOptions{});
  }

  void TearDown() override {
    transport_->shutdown();
    agent_.reset();
    fs::remove_all(dir_);
  }

  Result<ExecOutcome> run(ExecRequest request, CancelToken cancel = nullptr) {
    return run_sync(io_, transport_->run(target_, std::move(request), record_, std::move(cancel)));
  }

  static ExecRequest shell(std::string command) {
    ExecRequest request;
    request.command = std::move(command);
    return request;
  }

  fs::path path(const std::string& name) const { return dir_ / name; }

  asio::io_context io_;
  fs::path dir_;
  std::unique_ptr<QemuGa> agent_;
  Target target_;
  std::shared_ptr<Transport> transport_;
  std::string sunk_stdout, sunk_stderr;
  ChunkSink record_ = [this](Stream stream, std::string_view bytes) {
    (stream == Stream::Stdout ? sunk_stdout : sunk_stderr).append(bytes);
  };
};

TEST_F(QgaTest, RunsACommandWithItsOutputAndExitCode) {
  auto outcome = run(shell("echo out; echo err >&2; exit 3"));
  ASSERT_TRUE(outcome.ok()) << outcome.error().message;
  EXPECT_EQ(outcome->exit_code, 3);
  EXPECT_EQ(outcome->signal, 0);
  EXPECT_EQ(outcome->stdout_data, "out\n");
  EXPECT_EQ(outcome->stderr_data, "err\n");
  EXPECT_FALSE(outcome->timed_out || outcome->cancelled || outcome->stdout_truncated);
  EXPECT_EQ(sunk_stdout, "out\n");
  EXPECT_EQ(sunk_stderr, "err\n");
}

TEST_F(QgaTest, EnvironmentGoesOnTopOfTheAgentsWithStdinAndCwd) {
  ExecRequest request = shell(R"(echo "$GREETING"; [ -n "$PATH" ] && echo path-kept; pwd; cat)");
  request.env = {{"GREETING", "hi 'there' $HOME"}};
  request.cwd = dir_.string();
  request.stdin_data = std::string("from stdin\n\0binary\xff", 19);
  auto outcome = run(std::move(request));
  ASSERT_TRUE(outcome.ok()) << outcome.error().message;
  EXPECT_EQ(outcome->exit_code, 0) << outcome->stderr_data;
  EXPECT_EQ(outcome->stdout_data, "hi 'there' $HOME\npath-kept\n" + dir_.string() + "\n" +
                                      std::string("from stdin\n\0binary\xff", 19));
}

TEST_F(QgaTest, ArgvRunsWithoutAShell) {
  ExecRequest request;
  request.argv = {"printf", "%s|", "a b", "$HOME;x", "it's"};
  auto outcome = run(std::move(request));
  ASSERT_TRUE(outcome.ok()) << outcome.error().message;
  EXPECT_EQ(outcome->stdout_data, "a b|$HOME;x|it's|");
}

TEST_F(QgaTest, ASignalIsReportedAsSuch) {
  auto outcome = run(shell("kill -KILL $$"));
  ASSERT_TRUE(outcome.ok()) << outcome.error().message;
  EXPECT_EQ(outcome->signal, SIGKILL);
  EXPECT_EQ(outcome->exit_code, -1);
}

TEST_F(QgaTest, AMissingProgramOrDirectoryIsNotFound) {
  ExecRequest missing;
  missing.argv = {"steward-no-such-program", "x"};
  auto outcome = run(std::move(missing));
  ASSERT_FALSE(outcome.ok());
  EXPECT_EQ(outcome.error().code, ErrorCode::NotFound);
  EXPECT_NE(outcome.error().message.find("steward-no-such-program"), std::string::npos) << outcome.error().message;
  EXPECT_NE(outcome.error().message.find("vm1"), std::string::npos) << outcome.error().message;

  std::ofstream(path("data.txt")) << "not a program\n";
  ::chmod(path("data.txt").c_str(), 0644);
  ExecRequest not_executable;
  not_executable.argv = {path("data.txt").string()};
  outcome = run(std::move(not_executable));
  ASSERT_FALSE(outcome.ok());
  EXPECT_EQ(outcome.error().code, ErrorCode::NotFound);

  ExecRequest no_cwd = shell("true");
  no_cwd.cwd = "/nonexistent/steward";
  outcome = run(std::move(no_cwd));
  ASSERT_FALSE(outcome.ok());
  EXPECT_EQ(outcome.error().code, ErrorCode::NotFound);

  // Through a shell, as on every transport, it is the shell's exit status.
  outcome = run(shell("steward-no-such-program"));
  ASSERT_TRUE(outcome.ok()) << outcome.error().message;
  EXPECT_EQ(outcome->exit_code, 127);
  // And a program of our own that exits 127 is just that.
  ExecRequest own;
  own.argv = {"sh", "-c", "exit 127"};
  outcome = run(std::move(own));
  ASSERT_TRUE(outcome.ok()) << outcome.error().message;
  EXPECT_EQ(outcome->exit_code, 127);
}

TEST_F(QgaTest, OutputBeyondTheCapIsCutAndFlagged) {
  ExecRequest request = shell("head -c 5000 /dev/zero | tr '\\0' x; printf e >&2");
  request.output_cap = 1000;
  auto outcome = run(std::move(request));
  ASSERT_TRUE(outcome.ok()) << outcome.error().message;
  EXPECT_EQ(outcome->stdout_data, std::string(1000, 'x'));
  EXPECT_TRUE(outcome->stdout_truncated);
  EXPECT_EQ(outcome->stderr_data, "e");
  EXPECT_FALSE(outcome->stderr_truncated);
  EXPECT_EQ(sunk_stdout.size(), 1000u);
}

// A leader that starts a background child and waits: both pids on disk.
std::string group_command(const fs::path& leader_file, const fs::path& child_file) {
  return "sh -c 'echo $$ > " + child_file.string() + ".tmp; mv " + child_file.string() + ".tmp " +
         child_file.string() + "; sleep 100' & echo $$ > " + leader_file.string() + "; sleep 101; echo never";
}

TEST_F(QgaTest, TimeoutEndsTheWholeProcessGroup) {
  ExecRequest request = shell(group_command(path("leader"), path("child")));
  request.timeout = 1s;
  const auto started = std::chrono::steady_clock::now();
  auto outcome = run(std::move(request));
  ASSERT_TRUE(outcome.ok()) << outcome.error().message;
  EXPECT_LT(std::chrono::steady_clock::now() - started, 6s);
  EXPECT_TRUE(outcome->timed_out);
  EXPECT_FALSE(outcome->cancelled);
  EXPECT_EQ(outcome->stdout_data.find("never"), std::string::npos);
  auto leader = read_pid(path("leader"));
  auto child = read_pid(path("child"));
  ASSERT_TRUE(leader && child) << "the command did not start";
  EXPECT_TRUE(wait_until([&] { return process_gone(*leader) && process_gone(*child); }, 5s));
}

TEST_F(QgaTest, CancelEndsTheWholeProcessGroup) {
  auto cancel = make_cancel_token();
  std::optional<Result<ExecOutcome>> outcome;
  asio::co_spawn(io_, transport_->run(target_, shell(group_command(path("leader"), path("child"))), nullptr, cancel),
                 [&](std::exception_ptr, Result<ExecOutcome> result) { outcome = std::move(result); });
  // Cancels once the command is known to be running.
  asio::co_spawn(
      io_,
      [&]() -> asio::awaitable<void> {
        asio::steady_timer timer(io_);
        while (!read_pid(path("child"))) {
          timer.expires_after(20ms);
          co_await timer.async_wait(asio::use_awaitable);
        }
        cancel->cancel("test");
      },
      asio::detached);
  io_.run_for(20s);
  ASSERT_TRUE(outcome.has_value()) << "run did not end after cancel";
  ASSERT_TRUE(outcome->ok()) << outcome->error().message;
  EXPECT_TRUE((*outcome)->cancelled);
  EXPECT_FALSE((*outcome)->timed_out);
  auto leader = read_pid(path("leader"));
  auto child = read_pid(path("child"));
  ASSERT_TRUE(leader && child);
  EXPECT_TRUE(wait_until([&] { return process_gone(*leader) && process_gone(*child); }, 5s));
}

TEST_F(QgaTest, PutAndGetRoundTripAFileWithItsMode) {
  std::string bytes(3 * 1024 * 1024 + 17, '\0');
  std::mt19937_64 random(42);
  for (auto& byte : bytes) byte = static_cast<char>(random());
  std::ofstream(path("source.bin"), std::ios::binary) << bytes;
  const std::string expected = sha256_of(path("source.bin"));
  fs::create_directories(path("remote"));

  FileRequest put{path("source.bin").string(), path("remote/copy.bin").string(), 0640, ""};
  auto sent = run_sync(io_, transport_->put_file(target_, put, nullptr));
  ASSERT_TRUE(sent.ok()) << sent.error().message;
  EXPECT_EQ(sent->bytes, bytes.size());
  EXPECT_EQ(sent->sha256, expected);
  EXPECT_EQ(sha256_of(path("remote/copy.bin")), expected);
  EXPECT_EQ(fs::status(path("remote/copy.bin")).permissions() & fs::perms::mask,
            fs::perms::owner_read | fs::perms::owner_write | fs::perms::group_read);
  EXPECT_EQ(std::distance(fs::directory_iterator(path("remote")), fs::directory_iterator()), 1)
      << "a temporary file was left behind";

  FileRequest get{path("remote/copy.bin").string(), path("back.bin").string(), std::nullopt, ""};
  auto received = run_sync(io_, transport_->get_file(target_, get, nullptr));
  ASSERT_TRUE(received.ok()) << received.error().message;
  EXPECT_EQ(received->bytes, bytes.size());
  EXPECT_EQ(received->sha256, expected);
  EXPECT_EQ(sha256_of(path("back.bin")), expected);
  EXPECT_EQ(fs::status(path("back.bin")).permissions() & fs::perms::mask,
            fs::perms::owner_read | fs::perms::owner_write | fs::perms::group_read)
      << "get keeps the source's mode";
}

TEST_F(QgaTest, ACancelledPutLeavesNothingBehind) {
  std::ofstream(path("small.txt")) << "small\n";
  fs::create_directories(path("remote"));
  auto cancel = make_cancel_token();
  cancel->cancel("test");
  FileRequest put{path("small.txt").string(), path("remote/small.txt").string(), std::nullopt, ""};
  auto sent = run_sync(io_, transport_->put_file(target_, put, cancel));
  ASSERT_FALSE(sent.ok());
  EXPECT_EQ(sent.error().code, ErrorCode::Cancelled) << sent.error().message;
  EXPECT_TRUE(fs::is_empty(path("remote"))) << "the temporary file was left behind";
}

TEST_F(QgaTest, FileErrorsNameWhatIsMissing) {
  std::ofstream(path("small.txt")) << "small\n";
  FileRequest put{path("small.txt").string(), "/nonexistent-dir/x", std::nullopt, ""};
  auto sent = run_sync(io_, transport_->put_file(target_, put, nullptr));
  ASSERT_FALSE(sent.ok());
  EXPECT_EQ(sent.error().code, ErrorCode::NotFound) << sent.error().message;

  FileRequest get{"/nonexistent/file", path("never").string(), std::nullopt, ""};
  auto received = run_sync(io_, transport_->get_file(target_, get, nullptr));
  ASSERT_FALSE(received.ok());
  EXPECT_EQ(received.error().code, ErrorCode::NotFound) << received.error().message;
  EXPECT_FALSE(fs::exists(path("never")));
}

TEST_F(QgaTest, AMissingSocketIsUnreachableAndAMissingVariableInvalid) {
  target_.vars["steward_qga_socket"] = path("absent.sock").string();
  auto outcome = run(shell("true"));
  ASSERT_FALSE(outcome.ok());
  EXPECT_EQ(outcome.error().code, ErrorCode::Unreachable);
  EXPECT_NE(outcome.error().message.find(path("absent.sock").string()), std::string::npos) << outcome.error().message;
  EXPECT_NE(outcome.error().message.find("vm1"), std::string::npos) << outcome.error().message;

  agent_->stop();  // the socket file stays behind: refused
  target_.vars["steward_qga_socket"] = agent_->socket();
  outcome = run(shell("true"));
  ASSERT_FALSE(outcome.ok());
  EXPECT_EQ(outcome.error().code, ErrorCode::Unreachable);

  target_.vars.erase("steward_qga_socket");
  outcome = run(shell("true"));
  ASSERT_FALSE(outcome.ok());
  EXPECT_EQ(outcome.error().code, ErrorCode::InvalidArgument);
}

TEST_F(QgaTest, ARestartedAgentIsReconnectedTransparently) {
  auto first = run(shell("echo one"));
  ASSERT_TRUE(first.ok()) << first.error().message;
  EXPECT_EQ(first->stdout_data, "one\n");
  agent_->stop(SIGKILL);
  agent_->start();
  auto second = run(shell("echo two"));
  ASSERT_TRUE(second.ok()) << second.error().message;
  EXPECT_EQ(second->stdout_data, "two\n");
}

TEST_F(QgaTest, ConnectionLostMidCommandIsUnreachable) {
  std::optional<Result<ExecOutcome>> outcome;
  const auto leader_file = path("leader");
  asio::co_spawn(io_, transport_->run(target_, shell("echo $$ > " + leader_file.string() + "; sleep 30"), nullptr, nullptr),
                 [&](std::exception_ptr, Result<ExecOutcome> result) { outcome = std::move(result); });
  asio::co_spawn(
      io_,
      [&]() -> asio::awaitable<void> {
        asio::steady_timer timer(io_);
        while (!read_pid(leader_file)) {
          timer.expires_after(20ms);
          co_await timer.async_wait(asio::use_awaitable);
        }
        agent_->stop(SIGKILL);
      },
      asio::detached);
  io_.run_for(15s);
  if (auto leader = read_pid(leader_file)) ::kill(-*leader, SIGKILL);  // orphaned by the agent's death
  ASSERT_TRUE(outcome.has_value()) << "the lost connection went unnoticed";
  ASSERT_FALSE(outcome->ok());
  EXPECT_EQ(outcome->error().code, ErrorCode::Unreachable);
  EXPECT_NE(outcome->error().message.find("connection lost"), std::string::npos) << outcome->error().message;
}

TEST_F(QgaTest, ConcurrentRunsShareTheOneConnection) {
  constexpr int kRuns = 8;
  std::vector<std::optional<Result<ExecOutcome>>> outcomes(kRuns);
  const auto started = std::chrono::steady_clock::now();
  for (int i = 0; i < kRuns; ++i) {
    asio::co_spawn(io_, transport_->run(target_, shell("sleep 0.5; echo " + std::to_string(i)), nullptr, nullptr),
                   [&, i](std::exception_ptr, Result<ExecOutcome> result) { outcomes[i] = std::move(result); });
  }
  io_.run_for(30s);
  for (int i = 0; i < kRuns; ++i) {
    ASSERT_TRUE(outcomes[i].has_value()) << i;
    ASSERT_TRUE(outcomes[i]->ok()) << outcomes[i]->error().message;
    EXPECT_EQ((*outcomes[i])->stdout_data, std::to_string(i) + "\n");
  }
  // The commands overlapped on the guest: only requests take turns.
  EXPECT_LT(std::chrono::steady_clock::now() - started, 3s);
}

TEST_F(QgaTest, AfterShutdownRequestsAreRefused) {
  ASSERT_TRUE(run(shell("true")).ok());
  transport_->shutdown();
  auto outcome = run(shell("true"));
  ASSERT_FALSE(outcome.ok());
  EXPECT_EQ(outcome.error().code, ErrorCode::Unavailable);
}

}  // namespace
}  // namespace steward::transport
