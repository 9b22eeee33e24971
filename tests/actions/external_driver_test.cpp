#include "actions/external_driver.hpp"

#include <gtest/gtest.h>
#include <sys/stat.h>
#include <unistd.h>

#include <boost/asio/co_spawn.hpp>
#include <boost/asio/io_context.hpp>

#include <filesystem>
#include <fstream>

#include "support/test_dir.hpp"

namespace steward::actions {
namespace {

namespace fs = std::filesystem;

// The shell script a user would drop into --drivers DIR.
constexpr const char* kNova = R"(#!/bin/sh
if [ "$1" = --describe ]; then
  echo '{"service": "nova", "description": "cloud servers", "concurrency": 2,
         "actions": [{"name": "disconnectNetwork", "args": ["server"], "options": ["port"]}]}'
  exit 0
fi
request=$(cat)
case "$request" in
  *'"web1"'*) printf '{"disconnected": "web1", "request": %s}\n' "$request" ;;
  *) echo "no such server" >&2; exit 4 ;;
esac
)";

class ExternalDriverTest : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = steward::testing::fresh_test_dir("drivers");
  }
  void TearDown() override { fs::remove_all(dir_); }

  void write(const std::string& name, const std::string& text, bool executable = true) {
    std::ofstream(dir_ / name) << text;
    ::chmod((dir_ / name).c_str(), executable ? 0755 : 0644);
  }

  template <typename T>
  T run(boost::asio::awaitable<T> task) {
    T out;
    boost::asio::co_spawn(io_, std::move(task), [&out](std::exception_ptr e, T value) {
      if (e) std::rethrow_exception(e);
      out = std::move(value);
    });
    io_.run();
    io_.restart();
    return out;
  }

  boost::asio::io_context io_;
  fs::path dir_;
};

TEST_F(ExternalDriverTest, DescribesAndRunsAnExecutable) {
  write("nova", kNova);
  write("README", "not a driver", /*executable=*/false);
  auto drivers = run(load_external_drivers(dir_.string()));
  ASSERT_TRUE(drivers.ok()) << drivers.error().message;
  ASSERT_EQ(drivers->size(), 1u);
  Driver& nova = *drivers->front();
  EXPECT_EQ(nova.description().service, "nova");
  EXPECT_EQ(nova.description().concurrency, 2);
  EXPECT_EQ(nova.description().actions.at(0).args, std::vector<std::string>{"server"});

  ActionCall call{"disconnectNetwork", {"web1"}, {{"port", "eth0"}}};
  ASSERT_TRUE(nova.validate(call).ok());
  auto result = run(nova.execute(call, make_cancel_token()));
  ASSERT_TRUE(result.ok()) << result.error().message;
  const auto& reply = result->as_object();
  EXPECT_EQ(reply.at("disconnected").as_string(), "web1");
  EXPECT_EQ(reply.at("request").at("action").as_string(), "disconnectNetwork");
  EXPECT_EQ(reply.at("request").at("options").at("port").as_string(), "eth0");

  auto failed = run(nova.execute({"disconnectNetwork", {"db9"}, {}}, make_cancel_token()));
  ASSERT_FALSE(failed.ok());
  EXPECT_NE(failed.error().message.find("exited with 4: no such server"), std::string::npos)
      << failed.error().message;
  EXPECT_FALSE(nova.validate({"reboot", {}, {}}).ok());
}

TEST_F(ExternalDriverTest, ABadDescriptionNamesTheExecutable) {
  write("broken", "#!/bin/sh\necho '{\"service\": \"x\"}'\n");
  auto drivers = run(load_external_drivers(dir_.string()));
  ASSERT_FALSE(drivers.ok());
  EXPECT_EQ(drivers.error().code, ErrorCode::InvalidArgument);
  EXPECT_NE(drivers.error().message.find((dir_ / "broken").string()), std::string::npos);
  EXPECT_NE(drivers.error().message.find("'actions'"), std::string::npos) << drivers.error().message;

  write("broken", "#!/bin/sh\necho 'usage: broken' >&2; exit 2\n");
  drivers = run(load_external_drivers(dir_.string()));
  ASSERT_FALSE(drivers.ok());
  EXPECT_NE(drivers.error().message.find("exited with 2: usage: broken"), std::string::npos)
      << drivers.error().message;
}

TEST_F(ExternalDriverTest, AnEmptyFolderHasNoDrivers) {
  auto drivers = run(load_external_drivers(dir_.string()));
  ASSERT_TRUE(drivers.ok());
  EXPECT_TRUE(drivers->empty());
}

}  // namespace
}  // namespace steward::actions
