#include "transport/ssh/remote_command.hpp"

#include <gtest/gtest.h>
#include <stdio.h>

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

TEST(KillGroupCommand, NamesTheGroupAndEscalates) {
  auto command = kill_group_command(77, std::chrono::milliseconds(500));
  EXPECT_NE(command.find("kill -TERM -- -77"), std::string::npos);
  EXPECT_NE(command.find("kill -KILL -- -77"), std::string::npos);
}

}  // namespace
}  // namespace steward::transport::ssh
