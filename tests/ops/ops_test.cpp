// The built-in operations against the real local transport (and, where the
// exact request matters, the FakeTransport), plus the argument helpers.
#include <gtest/gtest.h>
#include <unistd.h>

#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/json/array.hpp>
#include <boost/json/serialize.hpp>

#include <chrono>
#include <filesystem>
#include <string>
#include <vector>

#include "fakes/fake_transport.hpp"
#include "ops/args.hpp"
#include "ops/operation.hpp"
#include "support/run_sync.hpp"
#include "transport/local/local_transport.hpp"

namespace steward::ops {
namespace {

namespace asio = boost::asio;
namespace fs = std::filesystem;
using namespace std::chrono_literals;
using steward::testing::FakeScript;
using steward::testing::FakeTransport;
using steward::testing::run_sync;

Target localhost() {
  Target target;
  target.name = "localhost";
  target.connection = "local";
  return target;
}

class OpsTest : public ::testing::Test {
 protected:
  void SetUp() override { ASSERT_TRUE(register_builtin_ops(registry_).ok()); }

  const Operation& op(const std::string& name) {
    auto found = registry_.find(name);
    EXPECT_TRUE(found.ok()) << found.error().message;
    return **found;
  }

  // Validates (the job service always does first), then runs on `transport`.
  OpResult run(const std::string& name, const boost::json::object& args, transport::Transport& transport,
               CancelToken cancel = make_cancel_token()) {
    const Operation& operation = op(name);
    auto valid = operation.validate(args);
    EXPECT_TRUE(valid.ok()) << name << ": " << valid.error().message;
    Target target = localhost();
    chunks_.clear();
    OpContext context{transport, target,
                      [this](transport::Stream stream, std::string_view data) {
                        chunks_.emplace_back(stream, std::string(data));
                      },
                      cancel};
    return run_sync(io_, operation.run(context, args));
  }
  OpResult run_local(const std::string& name, const boost::json::object& args) {
    return run(name, args, *local_);
  }

  std::string sunk(transport::Stream which) const {
    std::string out;
    for (const auto& [stream, data] : chunks_)
      if (stream == which) out += data;
    return out;
  }

  asio::io_context io_;
  OpRegistry registry_;
  std::shared_ptr<transport::Transport> local_ = transport::make_local_transport();
  std::vector<std::pair<transport::Stream, std::string>> chunks_;
};

// ----------------------------------------------------------------- registry

TEST_F(OpsTest, RegistryKnowsTheBuiltinsAndNamesThemForUnknown) {
  for (const char* name : {"ping", "facter", "service", "execute"}) EXPECT_TRUE(registry_.find(name).ok()) << name;
  auto unknown = registry_.find("deploy-everything");
  ASSERT_FALSE(unknown.ok());
  EXPECT_EQ(unknown.error().code, ErrorCode::NotFound);
  EXPECT_NE(unknown.error().message.find("execute"), std::string::npos) << unknown.error().message;
}

TEST_F(OpsTest, RegistryRefusesADuplicateName) {
  const Operation* first = *registry_.find("ping");
  auto again = register_builtin_ops(registry_);
  ASSERT_FALSE(again.ok());
  EXPECT_EQ(again.error().code, ErrorCode::Conflict);
  EXPECT_EQ(again.error().message, "operation 'ping' is registered twice");
  EXPECT_EQ(*registry_.find("ping"), first);  // not replaced
}

// --------------------------------------------------------------------- ping

TEST_F(OpsTest, PingLocalIsOk) {
  OpResult result = run_local("ping", {});
  EXPECT_EQ(result.state, OpState::Ok);
  EXPECT_FALSE(result.rtc.has_value()) << "EXEd answers a ping with its status alone";
  EXPECT_TRUE(result.error.empty()) << result.error;
}

TEST_F(OpsTest, PingUnreachableTarget) {
  FakeTransport fake;
  fake.script("localhost", FakeScript::fails(ErrorCode::Unreachable, "localhost: no route to host"));
  OpResult result = run("ping", {}, fake);
  EXPECT_EQ(result.state, OpState::Unreachable);
  EXPECT_EQ(result.error, "localhost: no route to host");
  ASSERT_EQ(fake.calls().size(), 1u);
  EXPECT_EQ(fake.calls()[0].request.command, "true");
  EXPECT_GT(fake.calls()[0].request.timeout.count(), 0);
}

// ------------------------------------------------------------------ execute

TEST_F(OpsTest, ExecuteCmdRunsThroughTheShell) {
  OpResult result = run_local("execute", {{"cmd", "echo hello; echo oops >&2; echo $((6*7))"}});
  EXPECT_EQ(result.state, OpState::Changed);
  EXPECT_EQ(result.rtc, 0);
  EXPECT_EQ(result.stdout_data, "hello\n42\n");
  EXPECT_EQ(result.stderr_data, "oops\n");
  EXPECT_TRUE(result.error.empty()) << result.error;
  EXPECT_EQ(sunk(transport::Stream::Stdout), "hello\n42\n") << "chunks reach the sink";
  EXPECT_EQ(sunk(transport::Stream::Stderr), "oops\n");
}

TEST_F(OpsTest, ExecuteNonZeroExitFails) {
  OpResult result = run_local("execute", {{"cmd", "echo before; exit 3"}});
  EXPECT_EQ(result.state, OpState::Failed);
  EXPECT_EQ(result.rtc, 3);
  EXPECT_EQ(result.stdout_data, "before\n");
  EXPECT_EQ(result.error, "exit status 3");
}

TEST_F(OpsTest, ExecuteArgvPassesArgumentsLiterally) {
  OpResult result = run_local("execute", {{"argv", boost::json::array{"printf", "[%s]", "a b", "$HOME;x"}}});
  EXPECT_EQ(result.state, OpState::Changed);
  EXPECT_EQ(result.rtc, 0);
  EXPECT_EQ(result.stdout_data, "[a b][$HOME;x]");
}

TEST_F(OpsTest, ExecuteEnv) {
  OpResult result = run_local("execute", {{"cmd", "printf '%s|%s' \"$STEWARD_T1\" \"$STEWARD_T2\""},
                                          {"env", boost::json::object{{"STEWARD_T1", "v 1"}, {"STEWARD_T2", "x=y"}}}});
  EXPECT_EQ(result.state, OpState::Changed);
  EXPECT_EQ(result.stdout_data, "v 1|x=y");
}

TEST_F(OpsTest, ExecuteCwd) {
  fs::path dir = fs::temp_directory_path() / ("steward-ops-cwd-" + std::to_string(::getpid()));
  fs::create_directories(dir);
  OpResult result = run_local("execute", {{"cmd", "pwd"}, {"cwd", dir.string()}});
  EXPECT_EQ(result.state, OpState::Changed);
  EXPECT_EQ(result.stdout_data, fs::canonical(dir).string() + "\n");
  OpResult argv_result = run_local("execute", {{"argv", boost::json::array{"ls"}}, {"cwd", dir.string()}});
  EXPECT_EQ(argv_result.state, OpState::Changed);
  EXPECT_EQ(argv_result.stdout_data, "") << "the directory is empty";
  fs::remove_all(dir);
}

TEST_F(OpsTest, ExecuteStdin) {
  OpResult result = run_local("execute", {{"cmd", "tr a-z A-Z"}, {"stdin", "line one\nline two\n"}});
  EXPECT_EQ(result.state, OpState::Changed);
  EXPECT_EQ(result.stdout_data, "LINE ONE\nLINE TWO\n");
  OpResult empty = run_local("execute", {{"cmd", "wc -c"}});
  EXPECT_EQ(empty.state, OpState::Changed);
  EXPECT_EQ(std::stoi(empty.stdout_data), 0) << "no stdin: reads EOF at once";
}

TEST_F(OpsTest, ExecuteTimeoutFails) {
  auto started = std::chrono::steady_clock::now();
  OpResult result = run_local("execute", {{"cmd", "echo started; sleep 10"}, {"timeout", 0.2}});
  auto elapsed = std::chrono::steady_clock::now() - started;
  EXPECT_EQ(result.state, OpState::Failed);
  EXPECT_EQ(result.error, "timed out after 0.2 s");
  EXPECT_EQ(result.stdout_data, "started\n");
  EXPECT_LT(elapsed, 5s);
  EXPECT_GE(elapsed, 150ms);
}

TEST_F(OpsTest, ExecuteTimeoutAsQueryString) {
  OpResult result = run_local("execute", {{"cmd", "sleep 10"}, {"timeout", "0.1"}});
  EXPECT_EQ(result.state, OpState::Failed);
  EXPECT_EQ(result.error, "timed out after 0.1 s");
}

TEST_F(OpsTest, ExecuteCancelled) {
  auto cancel = make_cancel_token();
  asio::steady_timer timer(io_, 100ms);
  timer.async_wait([cancel](boost::system::error_code) { cancel->cancel("user asked"); });
  auto started = std::chrono::steady_clock::now();
  OpResult result = run("execute", {{"cmd", "sleep 10"}}, *local_, cancel);
  EXPECT_EQ(result.state, OpState::Failed);
  EXPECT_EQ(result.error, "cancelled: user asked");
  EXPECT_LT(std::chrono::steady_clock::now() - started, 5s);
}

TEST_F(OpsTest, ExecuteKilledBySignal) {
  OpResult result = run_local("execute", {{"cmd", "kill -KILL $$"}});
  EXPECT_EQ(result.state, OpState::Failed);
  EXPECT_EQ(result.signal, 9);
  EXPECT_FALSE(result.rtc.has_value());
  EXPECT_EQ(result.error, "killed by signal KILL");
}

TEST_F(OpsTest, ExecuteArgvOfMissingProgramFailsWith127) {
  OpResult result = run_local("execute", {{"argv", boost::json::array{"steward-no-such-program-xyz", "arg"}}});
  EXPECT_EQ(result.state, OpState::Failed);
  EXPECT_EQ(result.rtc, 127);
  EXPECT_FALSE(result.error.empty());

  OpResult absolute = run_local("execute", {{"argv", boost::json::array{"/nonexistent/steward-prog"}}});
  EXPECT_EQ(absolute.state, OpState::Failed);
  EXPECT_EQ(absolute.rtc, 127);
}

TEST_F(OpsTest, ExecuteCmdOfMissingProgramIsTheShells127) {
  OpResult result = run_local("execute", {{"cmd", "steward-no-such-program-xyz"}});
  EXPECT_EQ(result.state, OpState::Failed);
  EXPECT_EQ(result.rtc, 127);
  EXPECT_NE(result.stderr_data.find("not found"), std::string::npos) << result.stderr_data;
}

TEST_F(OpsTest, ExecuteValidateRejectsBadArguments) {
  const Operation& execute = op("execute");
  auto expect_invalid = [&](const boost::json::object& args, const std::string& mention) {
    auto status = execute.validate(args);
    ASSERT_FALSE(status.ok()) << boost::json::serialize(args);
    EXPECT_EQ(status.error().code, ErrorCode::InvalidArgument) << boost::json::serialize(args);
    EXPECT_NE(status.error().message.find(mention), std::string::npos)
        << boost::json::serialize(args) << " -> " << status.error().message;
  };
  expect_invalid({}, "cmd");
  expect_invalid({{"cmd", "ls"}, {"argv", boost::json::array{"ls"}}}, "cmd");
  expect_invalid({{"cmd", ""}}, "cmd");
  expect_invalid({{"cmd", 5}}, "cmd");
  expect_invalid({{"argv", boost::json::array{}}}, "argv");
  expect_invalid({{"argv", boost::json::array{""}}}, "argv");
  expect_invalid({{"argv", boost::json::array{"ls", 1}}}, "argv");
  expect_invalid({{"argv", "ls -l"}}, "argv");
  expect_invalid({{"cmd", "ls"}, {"env", "A=B"}}, "env");
  expect_invalid({{"cmd", "ls"}, {"env", boost::json::object{{"A=B", "x"}}}}, "env");
  expect_invalid({{"cmd", "ls"}, {"env", boost::json::object{{"A", 1}}}}, "env");
  expect_invalid({{"cmd", "ls"}, {"cwd", 3}}, "cwd");
  expect_invalid({{"cmd", "ls"}, {"stdin", boost::json::array{}}}, "stdin");
  expect_invalid({{"cmd", "ls"}, {"timeout", 0}}, "timeout");
  expect_invalid({{"cmd", "ls"}, {"timeout", -1}}, "timeout");
  expect_invalid({{"cmd", "ls"}, {"timeout", "soon"}}, "timeout");
  EXPECT_TRUE(execute.validate({{"cmd", "ls"}, {"timeout", nullptr}, {"env", nullptr}}).ok());
}

// ------------------------------------------------------------------- facter

TEST_F(OpsTest, FacterGathersHostFacts) {
  OpResult result = run_local("facter", {});
  ASSERT_EQ(result.state, OpState::Ok) << result.error << " / " << result.stderr_data;
  ASSERT_TRUE(result.facts.is_object());
  const auto& facts = result.facts.as_object();

  char hostname[256] = {};
  ASSERT_EQ(::gethostname(hostname, sizeof hostname - 1), 0);
  ASSERT_TRUE(facts.contains("hostname"));
  EXPECT_EQ(facts.at("hostname"), boost::json::value(hostname));

  ASSERT_TRUE(facts.contains("cpus"));
  ASSERT_TRUE(facts.at("cpus").is_int64()) << boost::json::serialize(facts.at("cpus"));
  EXPECT_EQ(facts.at("cpus").as_int64(), ::sysconf(_SC_NPROCESSORS_ONLN));

  ASSERT_TRUE(facts.contains("ip_addresses"));
  EXPECT_TRUE(facts.at("ip_addresses").is_array());
  ASSERT_TRUE(facts.contains("os"));
  EXPECT_TRUE(facts.at("os").is_object());
  ASSERT_TRUE(facts.contains("kernel"));
  EXPECT_FALSE(facts.at("kernel").as_string().empty());

  EXPECT_FALSE(result.rtc.has_value());
  EXPECT_TRUE(result.stdout_data.empty()) << "facts replace the raw lines";
  EXPECT_TRUE(chunks_.empty()) << "facter streams nothing";
}

TEST_F(OpsTest, FacterParsesScriptOutput) {
  FakeTransport fake;
  fake.script("localhost", FakeScript::exits(0, {"hostname=web1\nfqdn=web1.example\ncpus=4\nmemory_mb=abc\n",
                                                 "os_id=debian\nip=10.0.0.1\nip=::1\nnoise without equals\n"}));
  OpResult result = run("facter", {}, fake);
  ASSERT_EQ(result.state, OpState::Ok);
  const auto& facts = result.facts.as_object();
  EXPECT_EQ(facts.at("hostname"), boost::json::value("web1"));
  EXPECT_EQ(facts.at("fqdn"), boost::json::value("web1.example"));
  EXPECT_EQ(facts.at("cpus"), boost::json::value(4));
  EXPECT_EQ(facts.at("memory_mb"), boost::json::value("abc")) << "a non-number stays a string";
  EXPECT_EQ(facts.at("os").at("id"), boost::json::value("debian"));
  EXPECT_EQ(facts.at("ip_addresses"), (boost::json::value(boost::json::array{"10.0.0.1", "::1"})));
  EXPECT_TRUE(chunks_.empty());
}

TEST_F(OpsTest, FacterAddsAnsibleNames) {
  FakeTransport fake;
  fake.script("localhost",
              FakeScript::exits(0, {"hostname=web1.example.org\nfqdn=web1.example.org\nkernel=6.1.0\narch=x86_64\n"
                                    "system=Linux\nos_id=rocky\nos_id_like=rhel centos fedora\nos_version_id=9.3\n"
                                    "cpus=8\nmemory_mb=15890\nip=127.0.0.1\nip=10.0.0.5\nip=fe80::1\n"
                                    "ipv4=127.0.0.1/8 lo\nipv4=10.0.0.5/23 eth0\nipv4=172.17.0.1/16 docker0\n"
                                    "default4_interface=eth0\ndefault4_gateway=10.0.0.1\ndefault4_address=10.0.0.5\n"
                                    "default4_macaddress=52:54:00:12:34:56\ndefault4_mtu=1500\n"}));
  OpResult result = run("facter", {}, fake);
  ASSERT_EQ(result.state, OpState::Ok);
  const auto& facts = result.facts.as_object();
  EXPECT_EQ(facts.at("ansible_hostname"), boost::json::value("web1"));
  EXPECT_EQ(facts.at("ansible_fqdn"), boost::json::value("web1.example.org"));
  EXPECT_EQ(facts.at("ansible_kernel"), boost::json::value("6.1.0"));
  EXPECT_EQ(facts.at("ansible_architecture"), boost::json::value("x86_64"));
  EXPECT_EQ(facts.at("ansible_system"), boost::json::value("Linux"));
  EXPECT_EQ(facts.at("ansible_distribution"), boost::json::value("Rocky"));
  EXPECT_EQ(facts.at("ansible_distribution_version"), boost::json::value("9.3"));
  EXPECT_EQ(facts.at("ansible_os_family"), boost::json::value("RedHat"));
  EXPECT_EQ(facts.at("ansible_processor_vcpus"), boost::json::value(8));
  EXPECT_EQ(facts.at("ansible_memtotal_mb"), boost::json::value(15890));
  EXPECT_EQ(facts.at("ansible_all_ipv4_addresses"), (boost::json::value(boost::json::array{"10.0.0.5", "172.17.0.1"})));
  EXPECT_EQ(facts.at("ansible_default_ipv4"),
            (boost::json::value(boost::json::object{{"interface", "eth0"},
                                                    {"alias", "eth0"},
                                                    {"gateway", "10.0.0.1"},
                                                    {"address", "10.0.0.5"},
                                                    {"prefix", "23"},
                                                    {"netmask", "255.255.254.0"},
                                                    {"network", "10.0.0.0"},
                                                    {"broadcast", "10.0.1.255"},
                                                    {"macaddress", "52:54:00:12:34:56"},
                                                    {"mtu", 1500}})));
  EXPECT_FALSE(facts.contains("ipv4")) << "the script's raw network lines stay out of steward's keys";
  EXPECT_FALSE(facts.contains("default4_interface"));
  EXPECT_EQ(facts.at("hostname"), boost::json::value("web1.example.org")) << "steward's own keys stay";
}

TEST_F(OpsTest, FacterAnsibleNamesWithoutTheIpCommand) {
  // No `ip`: addresses from `hostname -I`, the default route from /proc/net/route.
  FakeTransport fake;
  fake.script("localhost", FakeScript::exits(0, {"hostname=h\nsystem=Linux\nos_id=debian\nip=192.0.2.2\n"
                                                 "default4_interface=eth0\ndefault4_gateway_hex=010200C0\n"}));
  OpResult result = run("facter", {}, fake);
  ASSERT_EQ(result.state, OpState::Ok);
  const auto& facts = result.facts.as_object();
  EXPECT_EQ(facts.at("ansible_distribution"), boost::json::value("Debian"));
  EXPECT_EQ(facts.at("ansible_os_family"), boost::json::value("Debian"));
  EXPECT_EQ(facts.at("ansible_all_ipv4_addresses"), (boost::json::value(boost::json::array{"192.0.2.2"})));
  EXPECT_EQ(facts.at("ansible_default_ipv4"),
            (boost::json::value(boost::json::object{{"interface", "eth0"}, {"alias", "eth0"}, {"gateway", "192.0.2.1"}})));
}

TEST_F(OpsTest, FacterAnsibleDefaultRouteIsEmptyWhenThereIsNone) {
  FakeTransport fake;
  fake.script("localhost", FakeScript::exits(0, {"hostname=h\nsystem=Linux\nipv4=127.0.0.1/8 lo\n"}));
  OpResult result = run("facter", {}, fake);
  ASSERT_EQ(result.state, OpState::Ok);
  const auto& facts = result.facts.as_object();
  EXPECT_EQ(facts.at("ansible_default_ipv4"), boost::json::value(boost::json::object{}));
  EXPECT_EQ(facts.at("ansible_all_ipv4_addresses"), boost::json::value(boost::json::array{}));
  EXPECT_EQ(facts.at("ansible_distribution"), boost::json::value("Linux")) << "no os-release: the system name";
  EXPECT_EQ(facts.at("ansible_processor_vcpus"), boost::json::value(0));
}

TEST_F(OpsTest, FacterFailureHasNoFacts) {
  FakeTransport fake;
  fake.script("localhost", FakeScript::exits(2, {"hostname=x\n"}));
  OpResult result = run("facter", {}, fake);
  EXPECT_EQ(result.state, OpState::Failed);
  EXPECT_EQ(result.rtc, 2);
  EXPECT_TRUE(result.facts.is_null());
}

// ------------------------------------------------------------------ service

TEST_F(OpsTest, ServiceValidateRejectsInjectionAndBadState) {
  const Operation& service = op("service");
  auto invalid = [&](const boost::json::object& args) {
    auto status = service.validate(args);
    EXPECT_FALSE(status.ok()) << boost::json::serialize(args);
    return status.ok() ? ErrorCode::Internal : status.error().code;
  };
  EXPECT_EQ(invalid({{"name", "x;touch /tmp/p"}, {"state", 0}}), ErrorCode::InvalidArgument);
  EXPECT_EQ(invalid({{"name", "nginx"}, {"state", 7}}), ErrorCode::InvalidArgument);
  EXPECT_EQ(invalid({{"name", "nginx"}, {"state", -1}}), ErrorCode::InvalidArgument);
  EXPECT_EQ(invalid({{"name", "-nginx"}, {"state", 0}}), ErrorCode::InvalidArgument);
  EXPECT_EQ(invalid({{"name", "$(reboot)"}, {"state", 0}}), ErrorCode::InvalidArgument);
  EXPECT_EQ(invalid({{"name", "a b"}, {"state", 0}}), ErrorCode::InvalidArgument);
  EXPECT_EQ(invalid({{"state", 0}}), ErrorCode::InvalidArgument);
  EXPECT_EQ(invalid({{"name", "nginx"}}), ErrorCode::InvalidArgument);
  EXPECT_EQ(invalid({{"name", "nginx"}, {"state", 2}, {"graceful", "maybe"}}), ErrorCode::InvalidArgument);
  EXPECT_EQ(invalid({{"name", std::string(300, 'a')}, {"state", 0}}), ErrorCode::InvalidArgument);

  EXPECT_TRUE(service.validate({{"name", "nginx"}, {"state", 2}, {"graceful", true}}).ok());
  EXPECT_TRUE(service.validate({{"name", "nginx"}, {"state", "2"}, {"graceful", "true"}}).ok()) << "query form";
  EXPECT_TRUE(service.validate({{"name", "getty@tty1.service"}, {"state", 1}}).ok());
}

TEST_F(OpsTest, ServiceSendsTheVerbAndNameAsArguments) {
  struct Case {
    boost::json::object args;
    std::string verb;
  };
  std::vector<Case> cases = {
      {{{"name", "nginx"}, {"state", 0}}, "start"},
      {{{"name", "nginx"}, {"state", 1}}, "stop"},
      {{{"name", "nginx"}, {"state", 2}}, "restart"},
      {{{"name", "nginx"}, {"state", 2}, {"graceful", true}}, "reload"},
  };
  for (const auto& c : cases) {
    FakeTransport fake;
    OpResult result = run("service", c.args, fake);
    EXPECT_EQ(result.state, OpState::Changed) << c.verb;
    ASSERT_EQ(fake.calls().size(), 1u);
    const auto& argv = fake.calls()[0].request.argv;
    ASSERT_GE(argv.size(), 3u);
    EXPECT_EQ(argv.front(), "/bin/sh");
    EXPECT_EQ(argv[argv.size() - 2], c.verb);
    EXPECT_EQ(argv.back(), "nginx");
    for (std::size_t i = 0; i + 1 < argv.size(); ++i) {
      EXPECT_EQ(argv[i].find("nginx"), std::string::npos) << "name spliced into: " << argv[i];
    }
  }
}

TEST_F(OpsTest, ServiceFailureCarriesTheExitCode) {
  FakeTransport fake;
  fake.script("localhost", FakeScript::exits(5, {}, "Unit nginx.service not found.\n"));
  OpResult result = run("service", {{"name", "nginx"}, {"state", 0}}, fake);
  EXPECT_EQ(result.state, OpState::Failed);
  EXPECT_EQ(result.rtc, 5);
  EXPECT_EQ(result.stderr_data, "Unit nginx.service not found.\n");
}

// --------------------------------------------------------------------- args

TEST(OpsArgs, OptionalString) {
  boost::json::object args{{"s", "text"}, {"n", 1}, {"z", nullptr}};
  auto s = optional_string(args, "s");
  ASSERT_TRUE(s.ok());
  EXPECT_EQ(*s, std::optional<std::string>("text"));
  auto missing = optional_string(args, "missing");
  ASSERT_TRUE(missing.ok());
  EXPECT_FALSE(missing->has_value());
  auto null = optional_string(args, "z");
  ASSERT_TRUE(null.ok());
  EXPECT_FALSE(null->has_value()) << "null reads as absent";
  auto wrong = optional_string(args, "n");
  ASSERT_FALSE(wrong.ok());
  EXPECT_EQ(wrong.error().code, ErrorCode::InvalidArgument);
  EXPECT_EQ(wrong.error().message, "'n' must be a string");
}

TEST(OpsArgs, RequiredString) {
  boost::json::object args{{"s", "x"}, {"e", ""}, {"n", true}};
  auto s = required_string(args, "s");
  ASSERT_TRUE(s.ok());
  EXPECT_EQ(*s, "x");
  auto empty = required_string(args, "e");
  ASSERT_FALSE(empty.ok());
  EXPECT_EQ(empty.error().message, "'e' is required");
  auto missing = required_string(args, "m");
  ASSERT_FALSE(missing.ok());
  EXPECT_EQ(missing.error().message, "'m' is required");
  auto wrong = required_string(args, "n");
  ASSERT_FALSE(wrong.ok());
  EXPECT_EQ(wrong.error().code, ErrorCode::InvalidArgument);
}

TEST(OpsArgs, OptionalStringList) {
  boost::json::object args{{"l", boost::json::array{"a", "b c"}}, {"mixed", boost::json::array{"a", 1}}, {"s", "a"}};
  auto list = optional_string_list(args, "l");
  ASSERT_TRUE(list.ok());
  ASSERT_TRUE(list->has_value());
  EXPECT_EQ(**list, (std::vector<std::string>{"a", "b c"}));
  auto missing = optional_string_list(args, "m");
  ASSERT_TRUE(missing.ok());
  EXPECT_FALSE(missing->has_value());
  EXPECT_FALSE(optional_string_list(args, "mixed").ok());
  auto not_list = optional_string_list(args, "s");
  ASSERT_FALSE(not_list.ok());
  EXPECT_EQ(not_list.error().message, "'s' must be a list of strings");
}

TEST(OpsArgs, StringMap) {
  boost::json::object args{{"env", boost::json::object{{"A", "1"}, {"B", ""}}},
                           {"bad_value", boost::json::object{{"A", 1}}},
                           {"bad_name", boost::json::object{{"A=B", "1"}}},
                           {"empty_name", boost::json::object{{"", "1"}}},
                           {"list", boost::json::array{}}};
  auto env = string_map(args, "env");
  ASSERT_TRUE(env.ok());
  EXPECT_EQ(*env, (std::map<std::string, std::string>{{"A", "1"}, {"B", ""}}));
  auto missing = string_map(args, "m");
  ASSERT_TRUE(missing.ok());
  EXPECT_TRUE(missing->empty());
  EXPECT_FALSE(string_map(args, "bad_value").ok());
  auto bad_name = string_map(args, "bad_name");
  ASSERT_FALSE(bad_name.ok());
  EXPECT_EQ(bad_name.error().message, "'bad_name' has an invalid variable name");
  EXPECT_FALSE(string_map(args, "empty_name").ok());
  EXPECT_FALSE(string_map(args, "list").ok());
}

TEST(OpsArgs, OptionalBool) {
  boost::json::object args{{"t", true}, {"f", false}, {"s1", "true"}, {"s2", "1"}, {"s3", "yes"},
                           {"s4", "false"}, {"s5", "0"}, {"s6", "no"}, {"s7", ""}, {"s8", "True"}, {"s9", "NO"}, {"i1", 1},
                           {"i0", 0}, {"bad", "maybe"}, {"d", 1.5}, {"z", nullptr}};
  auto value = [&](const char* key, bool fallback = false) {
    auto r = optional_bool(args, key, fallback);
    EXPECT_TRUE(r.ok()) << key;
    return r.ok() && *r;
  };
  EXPECT_TRUE(value("t"));
  EXPECT_FALSE(value("f", true));
  EXPECT_TRUE(value("s1"));
  EXPECT_TRUE(value("s2"));
  EXPECT_TRUE(value("s3"));
  EXPECT_FALSE(value("s4", true));
  EXPECT_FALSE(value("s5", true));
  EXPECT_FALSE(value("s6", true));
  EXPECT_FALSE(value("s7", true));
  EXPECT_TRUE(value("s8"));
  EXPECT_FALSE(value("s9", true));
  EXPECT_TRUE(value("i1"));
  EXPECT_FALSE(value("i0", true));
  EXPECT_TRUE(value("missing", true));
  EXPECT_FALSE(value("missing", false));
  EXPECT_TRUE(value("z", true));
  auto bad = optional_bool(args, "bad", false);
  ASSERT_FALSE(bad.ok());
  EXPECT_EQ(bad.error().message, "'bad' must be a boolean: 1/true/yes or 0/false/no (any case)");
  EXPECT_FALSE(optional_bool(args, "d", false).ok());
}

TEST(OpsArgs, OptionalSeconds) {
  boost::json::object args{{"int", 2},      {"real", 1.5},      {"str", "0.25"},  {"zero", 0},
                           {"neg", -3},     {"word", "soon"},   {"partial", "1s"}, {"huge", 1e12},
                           {"list", boost::json::array{}}, {"empty", ""}};
  auto ms = [&](const char* key) {
    auto r = optional_seconds(args, key, 99ms);
    EXPECT_TRUE(r.ok()) << key << ": " << (r.ok() ? "" : r.error().message);
    return r.ok() ? *r : std::chrono::milliseconds(-1);
  };
  EXPECT_EQ(ms("int"), 2000ms);
  EXPECT_EQ(ms("real"), 1500ms);
  EXPECT_EQ(ms("str"), 250ms);
  EXPECT_EQ(ms("missing"), 99ms);
  for (const char* key : {"zero", "neg", "word", "partial", "huge", "list", "empty"}) {
    auto r = optional_seconds(args, key, 99ms);
    ASSERT_FALSE(r.ok()) << key;
    EXPECT_EQ(r.error().code, ErrorCode::InvalidArgument) << key;
    EXPECT_EQ(r.error().message.rfind(std::string("'") + key + "'", 0), 0u) << r.error().message;
  }
}

TEST(OpsArgs, RequiredInt) {
  boost::json::object args{{"i", 42},      {"neg", -7},     {"s", "13"},      {"sneg", "-2"},
                           {"u", boost::json::value(std::uint64_t{5})}, {"bigu", boost::json::value(~std::uint64_t{0})},
                           {"d", 3.5},     {"bad", "4x"},   {"empty", ""},    {"b", true}};
  auto value = [&](const char* key) {
    auto r = required_int(args, key);
    EXPECT_TRUE(r.ok()) << key;
    return r.ok() ? *r : -999;
  };
  EXPECT_EQ(value("i"), 42);
  EXPECT_EQ(value("neg"), -7);
  EXPECT_EQ(value("s"), 13);
  EXPECT_EQ(value("sneg"), -2);
  EXPECT_EQ(value("u"), 5);
  for (const char* key : {"bigu", "d", "bad", "empty", "b"}) {
    auto r = required_int(args, key);
    ASSERT_FALSE(r.ok()) << key;
    EXPECT_EQ(r.error().message, std::string("'") + key + "' must be an integer");
  }
  auto missing = required_int(args, "missing");
  ASSERT_FALSE(missing.ok());
  EXPECT_EQ(missing.error().message, "'missing' is required");
}

}  // namespace
}  // namespace steward::ops
