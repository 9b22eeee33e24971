// The wrapper and the settle script of supervised commands, run by the real
// /bin/sh (transport/supervision.hpp), and the ssh side's command text.
#include "transport/supervision.hpp"

#include <gtest/gtest.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <string>
#include <vector>

#include "support/test_dir.hpp"
#include "transport/shell.hpp"
#include "transport/ssh/remote_command.hpp"

namespace steward::transport {
namespace {

namespace fs = std::filesystem;

struct ShellRun {
  std::string out;
  int status = 0;  // as waitpid reports it
};

// `script` run by /bin/sh with `input` on stdin (written to a file first).
ShellRun run_shell(const std::string& script, const std::string& input, const fs::path& dir) {
  const fs::path in = dir / "stdin", out = dir / "stdout";
  std::ofstream(in, std::ios::binary) << input;
  ShellRun run;
  pid_t pid = ::fork();
  if (pid == 0) {
    std::string line = "(" + script + ") <" + shell_quote(in.string()) + " >" + shell_quote(out.string());
    ::execl("/bin/sh", "sh", "-c", line.c_str(), static_cast<char*>(nullptr));
    ::_exit(127);
  }
  ::waitpid(pid, &run.status, 0);
  std::ifstream file(out, std::ios::binary);
  run.out.assign(std::istreambuf_iterator<char>(file), {});
  return run;
}

std::string read_file(const fs::path& path) {
  std::ifstream file(path, std::ios::binary);
  return std::string(std::istreambuf_iterator<char>(file), {});
}

std::string wrapped(const fs::path& status, const std::vector<std::string>& command,
                    WrapperOptions options = {}) {
  std::string line = "/bin/sh -c " + shell_quote(wrapper_script(options)) + " steward-run " +
                     shell_quote(status.string());
  for (const auto& word : command) line += " " + shell_quote(word);
  return line;
}

class SupervisionTest : public ::testing::Test {
 protected:
  void SetUp() override { dir_ = steward::testing::fresh_test_dir("supervision"); }
  void TearDown() override { fs::remove_all(dir_); }
  fs::path dir_;
};

TEST_F(SupervisionTest, WrapperRunsTheCommandAfterTheGoAheadWithTheRestOfStdin) {
  const fs::path status = dir_ / "runs" / "s1";
  auto run = run_shell(wrapped(status, {"/bin/sh", "-c", "cat; echo \"it's\n\"'quoted'; exit 3"}),
                       std::string(kGoAhead) + "line one\nline two", dir_);
  EXPECT_EQ(run.out, "line one\nline twoit's\nquoted\n");  // dash echo reads \\n
  ASSERT_TRUE(WIFEXITED(run.status));
  EXPECT_EQ(WEXITSTATUS(run.status), 3);
  EXPECT_EQ(read_file(status), "exit 3\n");
  EXPECT_FALSE(fs::exists(status.string() + ".tmp"));
  EXPECT_EQ(fs::status(dir_ / "runs").permissions() & fs::perms::all, fs::perms::owner_all);
}

TEST_F(SupervisionTest, WrapperEndsByTheCommandsSignalAndSaysSo) {
  const fs::path status = dir_ / "s2";
  auto run = run_shell(wrapped(status, {"/bin/sh", "-c", "echo own >&2; kill -s KILL $$"}) + " 2>&1",
                       std::string(kGoAhead), dir_);
  EXPECT_EQ(run.out, "own\n") << "the wrapper added to the command's stderr";
  // Killed by the same signal (a shell around it reports that as 128+N).
  if (WIFSIGNALED(run.status)) EXPECT_EQ(WTERMSIG(run.status), SIGKILL);
  else EXPECT_EQ(WEXITSTATUS(run.status), 128 + SIGKILL);
  EXPECT_EQ(read_file(status), "signal 9\n");
}

TEST_F(SupervisionTest, WithoutTheGoAheadNothingRuns) {
  const fs::path status = dir_ / "s3", touched = dir_ / "ran";
  for (std::string input : {"", "stop\n"}) {
    auto run = run_shell(wrapped(status, {"touch", touched.string()}), input, dir_);
    ASSERT_TRUE(WIFEXITED(run.status));
    EXPECT_EQ(WEXITSTATUS(run.status), 125);
    EXPECT_FALSE(fs::exists(touched)) << "the command ran without the go-ahead";
    EXPECT_FALSE(fs::exists(status));
  }
}

TEST_F(SupervisionTest, MarkerCarriesTheWrappersPidAndStartTime) {
  auto run = run_shell(wrapped(dir_ / "s4", {"true"}, {.print_marker = true}) + "; echo", std::string(kGoAhead),
                       dir_);
  ASSERT_TRUE(run.out.starts_with("@steward-pgid:")) << run.out;
  ssh::MarkerReader reader;
  reader.feed(run.out);
  ASSERT_TRUE(reader.pgid().has_value()) << run.out;
  EXPECT_GT(*reader.pgid(), 1);
  EXPECT_FALSE(reader.start_time().empty()) << run.out;
  EXPECT_EQ(reader.start_time().find_first_not_of("0123456789"), std::string::npos) << run.out;
}

TEST(ParseSupervision, StatusLinesAndSettleReports) {
  OrphanOutcome outcome;
  EXPECT_TRUE(parse_status_line("exit 3\n", outcome));
  EXPECT_EQ(outcome.exit_code, 3);
  OrphanOutcome killed;
  EXPECT_TRUE(parse_status_line("signal 15", killed));
  EXPECT_EQ(killed.signal, 15);
  for (std::string bad : {"", "exit", "exit x", "signal 0", "exit 3 4", "done"}) {
    OrphanOutcome ignored;
    EXPECT_FALSE(parse_status_line(bad, ignored)) << bad;
  }
  EXPECT_EQ(parse_settle_report("finished exit 0\n").kind, OrphanOutcome::Kind::Finished);
  EXPECT_EQ(parse_settle_report("stopped\n").kind, OrphanOutcome::Kind::Stopped);
  auto unknown = parse_settle_report("unknown neither its status file nor its process group was left\n");
  EXPECT_EQ(unknown.kind, OrphanOutcome::Kind::Unknown);
  EXPECT_EQ(unknown.reason, "neither its status file nor its process group was left");
  EXPECT_EQ(parse_settle_report("finished garbage").kind, OrphanOutcome::Kind::Unknown);
  EXPECT_EQ(parse_settle_report("").kind, OrphanOutcome::Kind::Unknown);
}

// A process group of its own, as a wrapper has: a sleeping child of this test.
pid_t sleeping_group() {
  pid_t pid = ::fork();
  if (pid == 0) {
    ::setpgid(0, 0);
    ::execl("/bin/sleep", "sleep", "300", static_cast<char*>(nullptr));
    ::_exit(127);
  }
  ::setpgid(pid, pid);
  return pid;
}

std::string settle(const fs::path& status, long pgid, const std::string& start_time, const fs::path& dir) {
  std::string line = "/bin/sh -c " + shell_quote(settle_script(3)) + " steward-settle " +
                     shell_quote(status.string()) + " " + std::to_string(pgid) + " " + shell_quote(start_time);
  return run_shell(line, "", dir).out;
}

TEST_F(SupervisionTest, SettleReadsAndRemovesTheStatusFile) {
  const fs::path status = dir_ / "s5";
  std::ofstream(status) << "exit 4\n";
  EXPECT_EQ(settle(status, 999999, "1", dir_), "finished exit 4\n");
  EXPECT_FALSE(fs::exists(status));
}

TEST_F(SupervisionTest, SettleStopsAGroupWhoseLeaderIsTheSameProcess) {
  pid_t pid = sleeping_group();
  std::string start = process_start_time(pid);
  ASSERT_FALSE(start.empty());
  EXPECT_EQ(settle(dir_ / "none", pid, start, dir_), "stopped\n");
  int status = 0;
  ASSERT_EQ(::waitpid(pid, &status, 0), pid);
  ASSERT_TRUE(WIFSIGNALED(status));
  EXPECT_TRUE(WTERMSIG(status) == SIGTERM || WTERMSIG(status) == SIGKILL);
}

TEST_F(SupervisionTest, SettleNeverSignalsAReusedPid) {
  pid_t pid = sleeping_group();
  std::string start = process_start_time(pid);
  ASSERT_FALSE(start.empty());
  std::string other_start = std::to_string(std::stoll(start) + 1);
  EXPECT_EQ(settle(dir_ / "none", pid, other_start, dir_),
            "unknown pid " + std::to_string(pid) + " now belongs to another process, which is left alone\n");
  int status = 0;
  EXPECT_EQ(::waitpid(pid, &status, WNOHANG), 0) << "the unrelated process was killed";
  ::kill(pid, SIGKILL);
  ::waitpid(pid, &status, 0);
}

TEST_F(SupervisionTest, SettleSaysSoWhenNothingIsLeft) {
  pid_t pid = sleeping_group();
  std::string start = process_start_time(pid);
  ::kill(pid, SIGKILL);
  int status = 0;
  ::waitpid(pid, &status, 0);
  EXPECT_EQ(settle(dir_ / "none", pid, start, dir_), "unknown neither its status file nor its process group was left\n");
}

TEST_F(SupervisionTest, SupervisedSshCommandRunsUnderTheWrapperInHome) {
  ExecRequest request;
  request.command = "printf '%s|%s' \"$GREETING\" \"$(pwd)\"; exit 5";
  request.env = {{"GREETING", "hi 'there'\nnext"}};
  request.cwd = "/";
  request.stdin_data = "x";
  const std::string status_path = "~/.cache/steward/one";
  auto script = ssh::wrap_supervised_command(request, status_path, {"~/.cache/steward/old"});
  ASSERT_TRUE(script.ok()) << script.error().message;
  fs::create_directories(dir_ / ".cache/steward");
  std::ofstream(dir_ / ".cache/steward/old") << "exit 0\n";
  auto run = run_shell("HOME=" + shell_quote(dir_.string()) + "; export HOME; " + *script,
                       std::string(kGoAhead) + "x", dir_);
  ssh::MarkerReader reader;
  EXPECT_EQ(reader.feed(run.out), "hi 'there'\nnext|/");
  EXPECT_TRUE(reader.pgid().has_value());
  EXPECT_FALSE(reader.start_time().empty());
  EXPECT_EQ(read_file(dir_ / ".cache/steward/one"), "exit 5\n");
  EXPECT_FALSE(fs::exists(dir_ / ".cache/steward/old")) << "the stale status file was not removed";
  EXPECT_EQ(ssh::status_path_word("~/a b"), "\"$HOME\"/'a b'");
}

}  // namespace
}  // namespace steward::transport
