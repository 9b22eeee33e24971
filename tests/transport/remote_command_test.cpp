#include "transport/ssh/remote_command.hpp"
#include "transport/shell.hpp"

#include <gtest/gtest.h>
#include <signal.h>
#include <stdio.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cstdlib>

#include <string>

namespace steward::transport::ssh {
namespace {

// What /bin/sh makes of `script` (stdout only).
std::string run_shell(const std::string& script) {
  FILE* pipe = ::popen(script.c_str(), "r");
  std::string out;
  char buffer[256];
  for (size_t got; (got = fread(buffer, 1, sizeof buffer, pipe)) > 0;) out.append(buffer, got);
  ::pclose(pipe);
  return out;
}

TEST(ShellQuote, EveryByteStringIsOneWordForTheShell) {
  for (std::string text : {"plain", "two words", "it's", "'", "''", "$HOME", "`id`", "a\"b", "back\\slash",
                           "new\nline", "*", "-n", ""}) {
    EXPECT_EQ(run_shell("printf '%s|' " + shell_quote(text)), text + "|") << text;
  }
}

TEST(WrapRemoteCommand, RunsArgvWithEnvAndCwdAfterTheMarker) {
  ExecRequest request;
  request.argv = {"sh", "-c", "printf '%s:%s' \"$GREETING\" \"$(pwd)\""};
  request.env = {{"GREETING", "hi 'there'"}};
  request.cwd = "/";
  auto script = wrap_remote_command(request);
  ASSERT_TRUE(script.ok());
  MarkerReader reader;
  std::string out = reader.feed(run_shell(*script));
  EXPECT_TRUE(reader.seen());
  EXPECT_TRUE(reader.pgid().has_value());
  EXPECT_EQ(out, "hi 'there':/");
}

TEST(WrapRemoteCommand, RejectsEnvironmentNamesThatAreNotIdentifiers) {
  ExecRequest request;
  request.command = "true";
  request.env = {{"A;rm -rf /", "x"}};
  auto script = wrap_remote_command(request);
  ASSERT_FALSE(script.ok());
  EXPECT_EQ(script.error().code, ErrorCode::InvalidArgument);
}

TEST(MarkerReader, DropsChatterBeforeTheMarkerAndHandlesSplitChunks) {
  MarkerReader reader;
  EXPECT_EQ(reader.feed("motd line\nanother\n@steward-"), "");
  EXPECT_FALSE(reader.seen());
  EXPECT_EQ(reader.feed("pgid:4242\nout"), "out");
  EXPECT_TRUE(reader.seen());
  EXPECT_EQ(reader.pgid(), 4242);
  EXPECT_EQ(reader.feed("put\n"), "put\n");
}

// Run by dash, Debian's /bin/sh, which refuses `kill -TERM -- -PGID`.
TEST(KillGroupCommand, EndsTheWholeGroupUnderDash) {
  pid_t leader = ::fork();
  if (leader == 0) {
    ::setsid();
    ::execlp("sleep", "sleep", "30", nullptr);
    ::_exit(127);
  }
  ASSERT_GT(leader, 0);
  for (int i = 0; i < 200 && ::getpgid(leader) != leader; ++i) ::usleep(5000);
  ASSERT_EQ(::getpgid(leader), leader);
  std::string command = "dash -c " + shell_quote(kill_group_command(leader, std::chrono::milliseconds(300)));
  int rc = std::system(command.c_str());
  EXPECT_EQ(WEXITSTATUS(rc), 0);
  int status = 0;
  pid_t reaped = 0;
  for (int i = 0; i < 200 && reaped == 0; ++i, ::usleep(5000)) reaped = ::waitpid(leader, &status, WNOHANG);
  if (reaped == 0) {
    ::kill(leader, SIGKILL);
    ::waitpid(leader, &status, 0);
    FAIL() << "the command left the group running";
  }
  ASSERT_TRUE(WIFSIGNALED(status)) << "the group leader was not killed";
  EXPECT_EQ(WTERMSIG(status), SIGTERM);
}

}  // namespace
}  // namespace steward::transport::ssh
