#include "cli/callback_bundle.hpp"

#include <gtest/gtest.h>
#include <sys/stat.h>
#include <yaml-cpp/yaml.h>

#include <fstream>
#include <map>
#include <regex>
#include <sstream>

#include "support/test_dir.hpp"

namespace steward::cli {
namespace {

namespace fs = std::filesystem;

constexpr const char* kPrivateKey =
    "-----BEGIN OPENSSH PRIVATE KEY-----\n"
    "b3BlbnNzaC1rZXktdjEAAAAABG5vbmUAAAAEbm9uZQAAAAAAAAABAAAAMwAAAAtzc2gtZW\n"
    "QyNTUxOQAAACBfakeFAKEfakeFAKEfakeFAKEfakeFAKEfakeFAKEfakeAAAAAA==\n"
    "-----END OPENSSH PRIVATE KEY-----\n";
constexpr const char* kHostKey = "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIHostKeyHostKeyHostKeyHostKeyHostKeyHo";
constexpr const char* kCallbackKey = "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAICallbackCallbackCallbackCallback vm1@steward";
constexpr const char* kControllerKey = "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIControllerControllerController steward";

CallbackBundleInputs sample_inputs() {
  CallbackBundleInputs in;
  in.name = "vm1";
  in.endpoint_host = "steward.example.net";
  in.endpoint_port = 2222;
  in.endpoint_host_key = std::string(kHostKey) + " root@steward\n";
  in.callback_private_key = kPrivateKey;
  in.callback_public_key = std::string(kCallbackKey) + "\n";
  in.controller_public_key = kControllerKey;
  in.controller_user = "deploy";
  return in;
}

std::string read(const fs::path& path) {
  std::ifstream file(path, std::ios::binary);
  std::stringstream text;
  text << file.rdbuf();
  return text.str();
}

unsigned mode_of(const fs::path& path) {
  struct stat st {};
  EXPECT_EQ(::lstat(path.c_str(), &st), 0) << path;
  return st.st_mode & 07777;
}

class CallbackBundleTest : public ::testing::Test {
 protected:
  void SetUp() override { root_ = testing::fresh_test_dir("callback-bundle"); }
  void TearDown() override { fs::remove_all(root_); }
  fs::path root_;
};

TEST_F(CallbackBundleTest, WritesEveryFileWithItsMode) {
  const auto dir = root_ / "bundles" / "vm1";
  ASSERT_TRUE(write_callback_bundle(dir, sample_inputs()));
  EXPECT_EQ(mode_of(dir), 0700u);
  const std::map<std::string, unsigned> expected{
      {"callback_key", 0600},          {"callback_key.pub", 0644},         {"known_hosts", 0644},
      {"authorized_keys.controller", 0644}, {"steward-callback.sh", 0755}, {"steward-callback.service", 0644},
      {"cloud-init.yaml", 0600},       {"README.txt", 0644}};
  std::map<std::string, unsigned> found;
  for (const auto& entry : fs::directory_iterator(dir)) found[entry.path().filename()] = mode_of(entry.path());
  EXPECT_EQ(found, expected);
  EXPECT_EQ(read(dir / "callback_key"), kPrivateKey);
  EXPECT_EQ(read(dir / "callback_key.pub"), std::string(kCallbackKey) + "\n");
  const std::regex placeholder("@[A-Z_]+@");
  for (const auto& [name, mode] : found) EXPECT_FALSE(std::regex_search(read(dir / name), placeholder)) << name;
}

TEST_F(CallbackBundleTest, PinsTheEndpointHostKeyForItsPort) {
  ASSERT_TRUE(write_callback_bundle(root_ / "b", sample_inputs()));
  EXPECT_EQ(read(root_ / "b" / "known_hosts"), "[steward.example.net]:2222 " + std::string(kHostKey) + "\n");

  auto on_22 = sample_inputs();
  on_22.endpoint_port = 22;
  on_22.endpoint_host = "fd00::7";
  ASSERT_TRUE(write_callback_bundle(root_ / "c", on_22));
  EXPECT_EQ(read(root_ / "c" / "known_hosts"),
            "[fd00::7]:22 " + std::string(kHostKey) + "\nfd00::7 " + std::string(kHostKey) + "\n");
}

TEST_F(CallbackBundleTest, ControllerKeyIsLimitedToTheTunnel) {
  ASSERT_TRUE(write_callback_bundle(root_ / "b", sample_inputs()));
  EXPECT_EQ(read(root_ / "b" / "authorized_keys.controller"),
            "from=\"127.0.0.1,::1\" " + std::string(kControllerKey) + "\n");
}

TEST_F(CallbackBundleTest, ScriptForwardsTheTargetSshdWithThePinnedKey) {
  auto in = sample_inputs();
  in.target_ssh_port = 2200;
  ASSERT_TRUE(write_callback_bundle(root_ / "b", in));
  const auto script = read(root_ / "b" / "steward-callback.sh");
  EXPECT_TRUE(script.starts_with("#!/bin/sh\n"));
  for (const char* expected :
       {"ssh -N -R \"$forward\"", "forward='127.0.0.1:22:localhost:2200'", "endpoint_host='steward.example.net'",
        "endpoint_port='2222'", "endpoint_user='callback'", "-o ExitOnForwardFailure=yes",
        "-o ServerAliveInterval=10", "-o ServerAliveCountMax=3", "-o BatchMode=yes", "-o StrictHostKeyChecking=yes",
        "-o UserKnownHostsFile=\"$known_hosts\"", "-o IdentitiesOnly=yes", "-i \"$key\"",
        "dir=${STEWARD_CALLBACK_DIR:-/etc/steward-callback}"}) {
    EXPECT_NE(script.find(expected), std::string::npos) << expected;
  }
  EXPECT_EQ(script.find('\t'), std::string::npos) << "tabs cannot sit in the YAML block";
}

TEST_F(CallbackBundleTest, ForTheControllersSshdTheCallbackKeyMayOnlyListenOnItsPort) {
  auto in = sample_inputs();
  in.sshd = true;
  in.endpoint_user = "callback";
  in.remote_listen_port = 40123;
  ASSERT_TRUE(write_callback_bundle(root_ / "b", in));
  EXPECT_EQ(read(root_ / "b" / "authorized_keys.sshd"),
            "restrict,port-forwarding,permitlisten=\"127.0.0.1:40123\",command=\"/bin/false\" " +
                std::string(kCallbackKey) + "\n");
  EXPECT_NE(read(root_ / "b" / "steward-callback.sh").find("forward='127.0.0.1:40123:localhost:22'"),
            std::string::npos);
  EXPECT_NE(read(root_ / "b" / "README.txt").find("~callback/.ssh/authorized_keys"), std::string::npos);
  ASSERT_TRUE(write_callback_bundle(root_ / "plain", sample_inputs()));
  EXPECT_FALSE(fs::exists(root_ / "plain" / "authorized_keys.sshd"));
}

TEST_F(CallbackBundleTest, UnitRunsTheScriptAfterTheNetworkAndRestarts) {
  ASSERT_TRUE(write_callback_bundle(root_ / "b", sample_inputs()));
  const auto unit = read(root_ / "b" / "steward-callback.service");
  for (const char* expected : {"After=network-online.target", "Wants=network-online.target", "Restart=always",
                               "ExecStart=/bin/sh /etc/steward-callback/steward-callback.sh",
                               "WantedBy=multi-user.target"}) {
    EXPECT_NE(unit.find(expected), std::string::npos) << expected;
  }
}

TEST_F(CallbackBundleTest, CloudInitWritesTheSameFilesAndStartsTheUnit) {
  const auto dir = root_ / "b";
  ASSERT_TRUE(write_callback_bundle(dir, sample_inputs()));
  const std::string text = read(dir / "cloud-init.yaml");
  ASSERT_TRUE(text.starts_with("#cloud-config\n"));
  const YAML::Node config = YAML::Load(text);
  std::map<std::string, std::string> written;
  for (const auto& file : config["write_files"]) {
    written[file["path"].as<std::string>()] = file["content"].as<std::string>();
    EXPECT_EQ(file["owner"].as<std::string>(), "root:root");
  }
  const std::map<std::string, std::string> expected{
      {"/etc/steward-callback/callback_key", read(dir / "callback_key")},
      {"/etc/steward-callback/callback_key.pub", read(dir / "callback_key.pub")},
      {"/etc/steward-callback/known_hosts", read(dir / "known_hosts")},
      {"/etc/steward-callback/authorized_keys.controller", read(dir / "authorized_keys.controller")},
      {"/etc/steward-callback/steward-callback.sh", read(dir / "steward-callback.sh")},
      {"/etc/systemd/system/steward-callback.service", read(dir / "steward-callback.service")}};
  EXPECT_EQ(written, expected);
  const auto runcmd = config["runcmd"];
  ASSERT_TRUE(runcmd.IsSequence());
  const auto authorize = runcmd[1].as<std::string>();
  EXPECT_NE(authorize.find("user='deploy'"), std::string::npos);
  EXPECT_NE(authorize.find("/etc/steward-callback/authorized_keys.controller"), std::string::npos);
  const auto enable = runcmd[runcmd.size() - 1].as<std::vector<std::string>>();
  EXPECT_EQ(enable, (std::vector<std::string>{"systemctl", "enable", "--now", "--no-block", "steward-callback.service"}));
}

TEST_F(CallbackBundleTest, NeverOverwritesABundle) {
  const auto dir = root_ / "b";
  ASSERT_TRUE(write_callback_bundle(dir, sample_inputs()));
  auto again = write_callback_bundle(dir, sample_inputs());
  ASSERT_FALSE(again);
  EXPECT_EQ(again.error().code, ErrorCode::Conflict);
  EXPECT_NE(again.error().message.find("not empty"), std::string::npos);

  const auto empty = root_ / "empty";
  fs::create_directory(empty);
  fs::permissions(empty, fs::perms::all);
  ASSERT_TRUE(write_callback_bundle(empty, sample_inputs()));
  EXPECT_EQ(mode_of(empty), 0700u);
}

TEST_F(CallbackBundleTest, RefusesBadInputWithoutWritingOrQuotingKeys) {
  using Change = void (*)(CallbackBundleInputs&);
  const std::vector<std::pair<Change, std::string>> cases{
      {[](CallbackBundleInputs& in) { in.name = "vm 1"; }, "target name"},
      {[](CallbackBundleInputs& in) { in.name = ""; }, "target name"},
      {[](CallbackBundleInputs& in) { in.endpoint_host = "h;reboot"; }, "endpoint host"},
      {[](CallbackBundleInputs& in) { in.endpoint_host = "-oProxyCommand=x"; }, "endpoint host"},
      {[](CallbackBundleInputs& in) { in.endpoint_port = 0; }, "endpoint port"},
      {[](CallbackBundleInputs& in) { in.target_ssh_port = 70000; }, "target ssh port"},
      {[](CallbackBundleInputs& in) { in.remote_listen_port = -1; }, "remote listen port"},
      {[](CallbackBundleInputs& in) { in.controller_user = "root'; x"; }, "controller user"},
      {[](CallbackBundleInputs& in) { in.endpoint_user = ""; }, "endpoint user"},
      {[](CallbackBundleInputs& in) { in.endpoint_host_key = "ssh-ed25519"; }, "host key"},
      {[](CallbackBundleInputs& in) { in.endpoint_host_key += "\nssh-rsa AAAAB3NzaC1yc2EAAAADAQAB"; }, "host key"},
      {[](CallbackBundleInputs& in) { in.callback_private_key = "not a key"; }, "private key"},
      {[](CallbackBundleInputs& in) {
         in.callback_private_key =
             "-----BEGIN RSA PRIVATE KEY-----\nProc-Type: 4,ENCRYPTED\nAAAA\n-----END RSA PRIVATE KEY-----\n";
       },
       "private key"},
      {[](CallbackBundleInputs& in) { in.callback_public_key = "ssh-ed25519 AAAA$(reboot)AAAAAAAAAAAAAAAA"; },
       "callback public key"},
      {[](CallbackBundleInputs& in) { in.controller_public_key = std::string(kControllerKey) + "\x1b[2J"; },
       "controller public key"},
  };
  for (const auto& [change, field] : cases) {
    auto in = sample_inputs();
    change(in);
    const auto dir = root_ / "bad";
    auto written = write_callback_bundle(dir, in);
    ASSERT_FALSE(written) << field;
    EXPECT_EQ(written.error().code, ErrorCode::InvalidArgument) << field;
    EXPECT_NE(written.error().message.find(field), std::string::npos) << written.error().message;
    EXPECT_EQ(written.error().message.find("AAAA"), std::string::npos) << written.error().message;
    EXPECT_FALSE(fs::exists(dir)) << field;
  }
}

}  // namespace
}  // namespace steward::cli
