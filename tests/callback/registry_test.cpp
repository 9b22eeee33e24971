#include "callback/registry.hpp"

#include <gtest/gtest.h>

#include <boost/json/serialize.hpp>

#include <filesystem>
#include <fstream>
#include <sstream>

#include "callback/keys.hpp"
#include "store/store.hpp"
#include "support/run_sync.hpp"
#include "support/test_dir.hpp"

namespace steward::callback {
namespace {

using steward::testing::run_sync;
namespace fs = std::filesystem;

std::string new_public_key() {
  auto pair = generate_key_pair("test");
  EXPECT_TRUE(pair);
  return pair->public_line;
}

std::string read_file(const std::string& path) {
  std::ifstream in(path);
  std::stringstream text;
  text << in.rdbuf();
  return text.str();
}

class RegistryTest : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = steward::testing::fresh_test_dir("callback-registry");
    open();
  }
  void TearDown() override {
    registry_.reset();
    store_.reset();
    fs::remove_all(dir_);
  }
  void open() {
    registry_.reset();
    store_.reset();
    auto store = store::open_store({"", dir_.string()});
    ASSERT_TRUE(store) << store.error().message;
    store_ = std::move(*store);
    auto registry = run_sync(open_registry(dir_.string(), *store_));
    ASSERT_TRUE(registry) << registry.error().message;
    registry_ = std::move(*registry);
  }
  Result<Registration> add(const std::string& name, const std::string& key, const std::string& user = "",
                           const std::string& host_key = "") {
    return run_sync(registry_->add({name, key, user, host_key}));
  }

  fs::path dir_;
  std::unique_ptr<store::Store> store_;
  std::unique_ptr<Registry> registry_;
};

TEST_F(RegistryTest, ServerKeysAreMadeOncePrivateAndSurviveARestart) {
  const ServerKeys keys = registry_->keys();
  EXPECT_TRUE(keys.controller_public_key.starts_with("ssh-ed25519 "));
  EXPECT_TRUE(keys.endpoint_public_key.starts_with("ssh-ed25519 "));
  EXPECT_NE(keys.controller_public_key.substr(0, 80), keys.endpoint_public_key.substr(0, 80));
  for (const auto& file : {keys.controller_key_file, keys.endpoint_host_key_file})
    EXPECT_EQ(fs::status(file).permissions() & fs::perms::all, fs::perms::owner_read | fs::perms::owner_write);
  EXPECT_EQ(fs::status(dir_ / "callback").permissions() & fs::perms::all, fs::perms::owner_all);
  open();
  EXPECT_EQ(registry_->keys().controller_public_key, keys.controller_public_key);
  EXPECT_EQ(registry_->keys().endpoint_public_key, keys.endpoint_public_key);
}

TEST_F(RegistryTest, ARegistrationIsFoundByNameAndKeyAndPersists) {
  const std::string key = new_public_key();
  std::vector<std::string> added;
  registry_->on_added([&](const Registration& registration) { added.push_back(registration.name); });
  auto registered = add("vm1", key);
  ASSERT_TRUE(registered) << registered.error().message;
  EXPECT_EQ(registered->user, "root");
  EXPECT_EQ(added, std::vector<std::string>{"vm1"});
  const std::string fingerprint = registered->key_fingerprint;
  EXPECT_EQ(registry_->find_by_fingerprint(fingerprint)->name, "vm1");
  open();
  auto found = registry_->find("vm1");
  ASSERT_TRUE(found);
  EXPECT_EQ(found->key_fingerprint, fingerprint);
  EXPECT_EQ(found->public_key + " test", key);
  EXPECT_GT(found->created_at, 0);
  EXPECT_FALSE(found->connected);
}

TEST_F(RegistryTest, NamesAndKeysAreRegisteredOnceAndBadInputIsRefused) {
  const std::string key = new_public_key();
  ASSERT_TRUE(add("vm1", key, "admin"));
  auto same_name = add("vm1", new_public_key());
  ASSERT_FALSE(same_name);
  EXPECT_EQ(same_name.error().code, ErrorCode::Conflict);
  auto same_key = add("vm2", key);
  ASSERT_FALSE(same_key);
  EXPECT_EQ(same_key.error().code, ErrorCode::Conflict);
  EXPECT_NE(same_key.error().message.find("'vm1'"), std::string::npos);
  for (auto [name, user, host_key] : {std::tuple{"-vm", "", ""}, std::tuple{"vm3", "ro ot", ""},
                                      std::tuple{"vm3", "", "ssh-ed25519 AAAA"}}) {
    auto refused = add(name, new_public_key(), user, host_key);
    ASSERT_FALSE(refused) << name << user << host_key;
    EXPECT_EQ(refused.error().code, ErrorCode::InvalidArgument);
  }
  EXPECT_EQ(registry_->list().size(), 1u);
}

TEST_F(RegistryTest, APinnedHostKeyIsWrittenAndRemovalForgetsItAndTellsTheEndpoint) {
  const std::string host_key = new_public_key();
  ASSERT_TRUE(add("vm1", new_public_key(), "", host_key));
  ASSERT_TRUE(add("vm2", new_public_key()));
  const std::string known_hosts = registry_->keys().known_hosts;
  EXPECT_EQ(read_file(known_hosts), "vm1 " + host_key.substr(0, host_key.rfind(' ')) + "\n");
  std::ofstream(known_hosts, std::ios::app) << "vm2 ssh-ed25519 AAAArecordedOnFirstCallback\n";
  std::vector<std::string> removed;
  registry_->on_removed([&](const std::string& name) { removed.push_back(name); });
  ASSERT_TRUE(run_sync(registry_->remove("vm2")));
  EXPECT_EQ(removed, std::vector<std::string>{"vm2"});
  EXPECT_EQ(read_file(known_hosts).find("vm2"), std::string::npos);
  EXPECT_NE(read_file(known_hosts).find("vm1 "), std::string::npos);
  auto again = run_sync(registry_->remove("vm2"));
  ASSERT_FALSE(again);
  EXPECT_EQ(again.error().code, ErrorCode::NotFound);
  open();
  EXPECT_FALSE(registry_->find("vm2"));
  EXPECT_TRUE(registry_->find("vm1"));
}

TEST_F(RegistryTest, SshdRegistrationsGetDistinctFreeLoopbackPortsThatPersist) {
  auto first = run_sync(registry_->add({"vm1", new_public_key(), "", "", true}));
  auto second = run_sync(registry_->add({"vm2", new_public_key(), "", new_public_key(), true}));
  auto plain = add("vm3", new_public_key());
  ASSERT_TRUE(first && second && plain);
  EXPECT_GT(first->sshd_port, 0);
  EXPECT_GT(second->sshd_port, 0);
  EXPECT_NE(first->sshd_port, second->sshd_port);
  EXPECT_EQ(plain->sshd_port, 0);
  // Pinned under the address steward reaches it at, and forgotten with it.
  const std::string known_hosts = registry_->keys().known_hosts;
  const std::string pin = sshd_known_hosts_name(second->sshd_port);
  EXPECT_EQ(pin, "[127.0.0.1]:" + std::to_string(second->sshd_port));
  EXPECT_NE(read_file(known_hosts).find(pin + " ssh-ed25519 "), std::string::npos);
  const auto vars = callback_host_vars(*first);
  EXPECT_EQ(vars.at("ansible_host"), "127.0.0.1");
  EXPECT_EQ(vars.at("ansible_port"), std::to_string(first->sshd_port));
  EXPECT_EQ(vars.at("steward_callback_sshd"), "vm1");
  EXPECT_FALSE(vars.contains("steward_callback"));
  EXPECT_EQ(callback_host_vars(*plain).at("steward_callback"), "vm3");
  open();
  EXPECT_EQ(registry_->find("vm1")->sshd_port, first->sshd_port);
  EXPECT_EQ(registry_->find("vm2")->sshd_port, second->sshd_port);
  EXPECT_EQ(registry_->find("vm3")->sshd_port, 0);
  ASSERT_TRUE(run_sync(registry_->remove("vm2")));
  EXPECT_EQ(read_file(known_hosts).find(pin), std::string::npos);
}

TEST_F(RegistryTest, LiveStateIsKeptInMemoryOnly) {
  ASSERT_TRUE(add("vm1", new_public_key()));
  registry_->note_connected("vm1", "10.0.0.2:40000");
  auto live = registry_->find("vm1");
  EXPECT_TRUE(live->connected);
  EXPECT_EQ(live->address, "10.0.0.2:40000");
  EXPECT_GT(live->connected_since, 0);
  registry_->note_disconnected("vm1");
  EXPECT_FALSE(registry_->find("vm1")->connected);
  EXPECT_GT(registry_->find("vm1")->last_seen, 0);
  registry_->note_connected("unknown", "x");  // ignored
  EXPECT_FALSE(registry_->find("unknown"));
}

}  // namespace
}  // namespace steward::callback
