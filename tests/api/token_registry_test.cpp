#include "api/auth/token_registry.hpp"

#include <gtest/gtest.h>

#include <boost/asio/io_context.hpp>

#include <filesystem>
#include <vector>

#include "core/sha256.hpp"
#include "store/store.hpp"
#include "support/run_sync.hpp"
#include "support/test_dir.hpp"

namespace steward::api::auth {
namespace {

namespace fs = std::filesystem;
using steward::testing::run_sync;

class TokenRegistryTest : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = steward::testing::fresh_test_dir("token-registry");
    auto opened = store::open_store({"", dir_.string()});
    ASSERT_TRUE(opened.ok()) << opened.error().message;
    store_ = std::move(opened).value();
    registry_ = std::make_unique<TokenRegistry>(io_.get_executor(), *store_, "server-secret");
    ASSERT_TRUE(run_sync(io_, registry_->load()).ok());
  }
  void TearDown() override {
    registry_.reset();
    store_.reset();
    fs::remove_all(dir_);
  }
  IssuedToken add(const std::string& name, Role role) {
    auto issued = run_sync(io_, registry_->add(name, role));
    EXPECT_TRUE(issued.ok()) << issued.error().message;
    return issued.ok() ? *issued : IssuedToken{};
  }

  boost::asio::io_context io_;
  fs::path dir_;
  std::unique_ptr<store::Store> store_;
  std::unique_ptr<TokenRegistry> registry_;
};

TEST_F(TokenRegistryTest, TheServerTokenIsAnAdminNamedDefault) {
  auto caller = registry_->authenticate("Bearer server-secret");
  ASSERT_TRUE(caller);
  EXPECT_EQ(caller->name, "default");
  EXPECT_EQ(caller->role, Role::Admin);
  EXPECT_TRUE(caller->token);
  EXPECT_TRUE(registry_->authenticate("bearer server-secret")) << "the scheme is case-insensitive";
  EXPECT_FALSE(registry_->authenticate("Bearer server-secre"));
  EXPECT_FALSE(registry_->authenticate("Bearer server-secret2"));
  EXPECT_FALSE(registry_->authenticate("server-secret")) << "no scheme";
  EXPECT_FALSE(registry_->authenticate("Basic server-secret"));
  EXPECT_FALSE(registry_->authenticate("Bearer "));
  EXPECT_FALSE(registry_->authenticate(""));
}

TEST_F(TokenRegistryTest, AnAddedTokenAuthenticatesWithItsNameAndRole) {
  auto issued = add("ci", Role::Operate);
  EXPECT_EQ(issued.token.size(), 64u) << "256 random bits in hex";
  EXPECT_EQ(issued.info.name, "ci");
  auto caller = registry_->authenticate("Bearer " + issued.token);
  ASSERT_TRUE(caller);
  EXPECT_EQ(caller->name, "ci");
  EXPECT_EQ(caller->role, Role::Operate);
  EXPECT_NE(add("ci2", Role::Operate).token, issued.token);
}

TEST_F(TokenRegistryTest, OnlyTheHashIsStored) {
  auto issued = add("ci", Role::Read);
  auto stored = run_sync(io_, store_->list_tokens());
  ASSERT_TRUE(stored.ok());
  ASSERT_EQ(stored->size(), 1u);
  Sha256 sha;
  sha.update(issued.token);
  EXPECT_EQ((*stored)[0].hash, sha.hex_digest());
  EXPECT_EQ((*stored)[0].role, "read");
  EXPECT_EQ((*stored)[0].hash.find(issued.token), std::string::npos);
}

TEST_F(TokenRegistryTest, RevokedIsRefusedAtOnceAndAfterARestart) {
  auto kept = add("kept", Role::Admin);
  auto revoked = add("gone", Role::Read);
  ASSERT_TRUE(run_sync(io_, registry_->revoke("gone")).ok());
  EXPECT_FALSE(registry_->authenticate("Bearer " + revoked.token));
  auto again = run_sync(io_, registry_->revoke("gone"));
  ASSERT_FALSE(again.ok());
  EXPECT_EQ(again.error().code, ErrorCode::NotFound);

  // A restart reads the store: the kept token works, the revoked one does not.
  registry_ = std::make_unique<TokenRegistry>(io_.get_executor(), *store_, "server-secret");
  ASSERT_TRUE(run_sync(io_, registry_->load()).ok());
  auto caller = registry_->authenticate("Bearer " + kept.token);
  ASSERT_TRUE(caller);
  EXPECT_EQ(caller->name, "kept");
  EXPECT_EQ(caller->role, Role::Admin);
  EXPECT_FALSE(registry_->authenticate("Bearer " + revoked.token));
}

TEST_F(TokenRegistryTest, TheServerTokenCannotBeRevokedOrShadowed) {
  auto revoked = run_sync(io_, registry_->revoke("default"));
  ASSERT_FALSE(revoked.ok());
  EXPECT_EQ(revoked.error().code, ErrorCode::InvalidArgument);
  EXPECT_TRUE(registry_->authenticate("Bearer server-secret"));
  auto shadow = run_sync(io_, registry_->add("default", Role::Read));
  ASSERT_FALSE(shadow.ok());
  EXPECT_EQ(shadow.error().code, ErrorCode::Conflict);
}

TEST_F(TokenRegistryTest, NamesAreCheckedAndUnique) {
  add("ci", Role::Read);
  auto taken = run_sync(io_, registry_->add("ci", Role::Admin));
  ASSERT_FALSE(taken.ok());
  EXPECT_EQ(taken.error().code, ErrorCode::Conflict);
  EXPECT_EQ(registry_->authenticate("Bearer server-secret")->role, Role::Admin);
  for (const std::string& bad :
       std::vector<std::string>{"", "a/b", "-x", ".x", "with space", std::string(65, 'a'), "caf\xc3\xa9"}) {
    auto added = run_sync(io_, registry_->add(bad, Role::Read));
    ASSERT_FALSE(added.ok()) << bad;
    EXPECT_EQ(added.error().code, ErrorCode::InvalidArgument) << bad;
  }
  EXPECT_TRUE(run_sync(io_, registry_->add("ranger_01.prod-a", Role::Read)).ok());
}

TEST_F(TokenRegistryTest, ListShowsServerTokenFirstThenNamesAndLastUse) {
  auto b = add("b", Role::Read);
  add("a", Role::Operate);
  ASSERT_TRUE(registry_->authenticate("Bearer " + b.token));
  auto listed = registry_->list();
  ASSERT_EQ(listed.size(), 3u);
  EXPECT_EQ(listed[0].name, "default");
  EXPECT_TRUE(listed[0].server_token);
  EXPECT_EQ(listed[1].name, "a");
  EXPECT_EQ(listed[1].last_used, 0) << "never used";
  EXPECT_GT(listed[1].created, 0);
  EXPECT_EQ(listed[2].name, "b");
  EXPECT_GT(listed[2].last_used, 0);
}

TEST(Roles, EachIncludesTheOnesBefore) {
  EXPECT_TRUE(grants(Role::Admin, Role::Operate));
  EXPECT_TRUE(grants(Role::Operate, Role::Read));
  EXPECT_TRUE(grants(Role::Read, Role::Read));
  EXPECT_FALSE(grants(Role::Read, Role::Operate));
  EXPECT_FALSE(grants(Role::Operate, Role::Admin));
  EXPECT_EQ(parse_role("operate"), Role::Operate);
  EXPECT_FALSE(parse_role("Admin")) << "roles are lower case";
  EXPECT_FALSE(parse_role("root"));
}

TEST(Roles, TheDenialNamesTheMissingRoleAndTheCaller) {
  auto message = denial_message("POST /execute", Role::Operate, Caller{"viewer", Role::Read});
  EXPECT_EQ(message, "POST /execute needs the operate role; token 'viewer' has the read role");
  auto allowed = denial_message("POST /tokens", Role::Admin, Caller{"client 10.0.0.5 from --http-allow", Role::Operate, false});
  EXPECT_NE(allowed.find("needs the admin role"), std::string::npos);
  EXPECT_NE(allowed.find("client 10.0.0.5 from --http-allow (no token)"), std::string::npos);
}

}  // namespace
}  // namespace steward::api::auth
