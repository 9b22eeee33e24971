#include "callback/keys.hpp"

#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>

#include "support/test_dir.hpp"

namespace steward::callback {
namespace {

namespace fs = std::filesystem;

TEST(CallbackKeys, AGeneratedPairParsesBackWithItsFingerprint) {
  auto pair = generate_key_pair("vm1");
  ASSERT_TRUE(pair) << pair.error().message;
  EXPECT_NE(pair->private_key.find("PRIVATE KEY"), std::string::npos);
  EXPECT_TRUE(pair->public_line.starts_with("ssh-ed25519 "));
  EXPECT_TRUE(pair->public_line.ends_with(" vm1"));
  auto parsed = parse_public_key(pair->public_line + "\n");
  ASSERT_TRUE(parsed) << parsed.error().message;
  EXPECT_EQ(parsed->type, "ssh-ed25519");
  EXPECT_TRUE(parsed->fingerprint.starts_with("SHA256:"));
  EXPECT_EQ(parsed->line() + " vm1", pair->public_line);
  auto other = generate_key_pair("");
  ASSERT_TRUE(other);
  EXPECT_NE(parse_public_key(other->public_line)->fingerprint, parsed->fingerprint);
}

TEST(CallbackKeys, MalformedPublicKeysSayWhatIsWrongUnderTheirField) {
  auto pair = generate_key_pair("");
  ASSERT_TRUE(pair);
  const std::string blob = pair->public_line.substr(pair->public_line.find(' ') + 1);
  struct Case {
    std::string line;
    std::string says;
  };
  for (const auto& [line, says] : std::vector<Case>{{"", "no key after the type"},
                                                     {"ssh-ed25519", "no key after the type"},
                                                     {"ssh-ed25519   ", "no key after the type"},
                                                     {"ssh-nonsense " + blob, "unknown key type"},
                                                     {"ssh-ed25519 bm90IGEga2V5", "not readable"},
                                                     {"ssh-rsa " + blob, "the key is not"},
                                                     {"ssh-ed25519 " + blob + "\nssh-ed25519 " + blob, "more than one"}}) {
    auto parsed = parse_public_key(line, "host_key");
    ASSERT_FALSE(parsed) << line;
    EXPECT_EQ(parsed.error().code, ErrorCode::InvalidArgument);
    EXPECT_TRUE(parsed.error().message.starts_with("host_key: ")) << parsed.error().message;
    EXPECT_NE(parsed.error().message.find(says), std::string::npos) << line << ": " << parsed.error().message;
  }
}

TEST(CallbackKeys, AKeyFileIsMadeOnceWithMode0600) {
  const auto dir = steward::testing::fresh_test_dir("callback-keys");
  const auto path = (dir / "controller_key").string();
  auto first = ensure_key_file(path, "steward-controller");
  ASSERT_TRUE(first) << first.error().message;
  EXPECT_TRUE(first->ends_with(" steward-controller"));
  EXPECT_EQ(fs::status(path).permissions() & fs::perms::all, fs::perms::owner_read | fs::perms::owner_write);
  auto again = ensure_key_file(path, "steward-controller");
  ASSERT_TRUE(again);
  EXPECT_EQ(*again, *first);
  std::ofstream(path, std::ios::trunc) << "not a key";
  auto broken = ensure_key_file(path, "");
  ASSERT_FALSE(broken);
  EXPECT_EQ(broken.error().message.find("not a key"), std::string::npos);
  fs::remove_all(dir);
}

TEST(CallbackKeys, NamesAreSafeAsHostsAndKnownHostsEntries) {
  for (const std::string& good : {std::string("vm1"), std::string("build-vm.7"), std::string("a_b"),
                                 std::string(64, 'x')})
    EXPECT_TRUE(check_callback_name(good)) << good;
  for (const std::string& bad : {std::string(), std::string("-vm"), std::string(".vm"), std::string("vm 1"),
                                std::string("vm,1"), std::string("[vm]:22"), std::string(65, 'x'),
                                std::string("vm\n")})
    EXPECT_FALSE(check_callback_name(bad)) << bad;
}

}  // namespace
}  // namespace steward::callback
