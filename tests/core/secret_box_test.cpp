#include "core/secret_box.hpp"

#include <gtest/gtest.h>
#include <sys/stat.h>

#include <filesystem>
#include <fstream>

#include "support/test_dir.hpp"

namespace steward {
namespace {

const std::string kKeyA(32, 'a');
const std::string kKeyB(32, 'b');
const std::string kPlain = "hunter2-the-password";

SecretBox box_with(const std::string& key) { return std::move(SecretBox::from_key(key).value()); }

std::string flip_one_byte(std::string sealed) {
  sealed[sealed.size() / 2] = sealed[sealed.size() / 2] == 'A' ? 'B' : 'A';
  return sealed;
}

TEST(SecretBox, OpensWhatItSealed) {
  auto box = box_with(kKeyA);
  auto sealed = box.seal(kPlain);
  ASSERT_TRUE(sealed.ok());
  EXPECT_EQ(sealed->find(kPlain), std::string::npos);
  auto opened = box.open(*sealed);
  ASSERT_TRUE(opened.ok()) << opened.error().message;
  EXPECT_EQ(*opened, kPlain);
  auto empty = box.seal("");
  ASSERT_TRUE(empty.ok());
  EXPECT_EQ(box.open(*empty).value(), "");
}

TEST(SecretBox, EverySealUsesAFreshNonce) {
  auto box = box_with(kKeyA);
  EXPECT_NE(box.seal(kPlain).value(), box.seal(kPlain).value());
}

TEST(SecretBox, AlteredTextIsRefusedWithoutShowingIt) {
  auto box = box_with(kKeyA);
  std::string altered = flip_one_byte(box.seal(kPlain).value());
  auto opened = box.open(altered);
  ASSERT_FALSE(opened.ok());
  EXPECT_EQ(opened.error().code, ErrorCode::Internal);
  EXPECT_NE(opened.error().message.find("altered"), std::string::npos);
  EXPECT_EQ(opened.error().message.find(altered), std::string::npos);
}

TEST(SecretBox, AnotherKeyGivesAClearErrorNamingTheKeySource) {
  auto sealed = box_with(kKeyA).seal(kPlain).value();
  auto opened = box_with(kKeyB).open(sealed);
  ASSERT_FALSE(opened.ok());
  EXPECT_EQ(opened.error().code, ErrorCode::Internal);
  EXPECT_NE(opened.error().message.find("STEWARD_SECRET_KEY"), std::string::npos);
  EXPECT_EQ(opened.error().message.find(kPlain), std::string::npos);
  EXPECT_EQ(opened.error().message.find(sealed), std::string::npos);
}

TEST(SecretBox, MalformedTextIsInvalid) {
  auto box = box_with(kKeyA);
  for (const char* text : {"", "not base64!", "QUJD", "QUJDREVGR0hJSktMTU5PUFFSU1RVVldY"}) {
    auto opened = box.open(text);
    ASSERT_FALSE(opened.ok()) << text;
    EXPECT_EQ(opened.error().code, ErrorCode::InvalidArgument) << text;
  }
}

TEST(SecretBox, KeysMustHave32Bytes) {
  EXPECT_FALSE(SecretBox::from_key("short").ok());
  EXPECT_EQ(parse_secret_key(std::string(64, 'f')).value(), std::string(32, '\xff'));
  EXPECT_EQ(parse_secret_key("YWFhYWFhYWFhYWFhYWFhYWFhYWFhYWFhYWFhYWFhYWE=\n").value(), kKeyA);
  for (const char* bad : {"", "abcd", "zz", "YWFh", "not a key at all but long enough to be something"}) {
    auto key = parse_secret_key(bad);
    ASSERT_FALSE(key.ok()) << bad;
    EXPECT_NE(key.error().message.find("32 bytes"), std::string::npos);
    EXPECT_EQ(key.error().message.find(bad[0] ? bad : "\x01"), std::string::npos) << bad;
  }
}

TEST(SecretBox, KeyFileIsCreatedOnceWithMode0600) {
  auto dir = testing::fresh_test_dir("secret-box");
  auto file = (dir / "secret.key").string();
  auto first = load_or_create_secret_box("", file);
  ASSERT_TRUE(first.ok()) << first.error().message;
  struct stat info {};
  ASSERT_EQ(::stat(file.c_str(), &info), 0);
  EXPECT_EQ(info.st_mode & 0777, 0600);
  auto sealed = first->seal(kPlain).value();
  auto again = load_or_create_secret_box("", file);
  ASSERT_TRUE(again.ok());
  EXPECT_EQ(again->open(sealed).value(), kPlain);

  std::ofstream(file) << "garbage\n";
  auto broken = load_or_create_secret_box("", file);
  ASSERT_FALSE(broken.ok());
  EXPECT_NE(broken.error().message.find(file), std::string::npos);
  std::filesystem::remove_all(dir);
}

TEST(SecretBox, TheEnvironmentKeyWinsOverTheFile) {
  auto dir = testing::fresh_test_dir("secret-box");
  auto file = (dir / "secret.key").string();
  auto from_env = load_or_create_secret_box(std::string(64, '0'), file);
  ASSERT_TRUE(from_env.ok());
  EXPECT_FALSE(std::filesystem::exists(file));
  auto sealed = from_env->seal(kPlain).value();
  EXPECT_EQ(box_with(std::string(32, '\0')).open(sealed).value(), kPlain);
  auto bad = load_or_create_secret_box("0123", file);
  ASSERT_FALSE(bad.ok());
  EXPECT_NE(bad.error().message.find("STEWARD_SECRET_KEY"), std::string::npos);
  std::filesystem::remove_all(dir);
}

}  // namespace
}  // namespace steward
