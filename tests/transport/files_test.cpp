#include "transport/files.hpp"

#include <gtest/gtest.h>
#include <sys/stat.h>

#include <filesystem>
#include <fstream>

#include "core/sha256.hpp"

namespace steward::transport {
namespace {

namespace fs = std::filesystem;

class FilesTest : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = fs::temp_directory_path() / ("steward-files-test-" + std::to_string(::getpid()));
    fs::create_directories(dir_);
  }
  void TearDown() override { fs::remove_all(dir_); }
  std::string path(const std::string& name) const { return (dir_ / name).string(); }
  static std::string read(const std::string& file) {
    std::ifstream in(file, std::ios::binary);
    return std::string(std::istreambuf_iterator<char>(in), {});
  }
  fs::path dir_;
};

TEST(Sha256, KnownVector) {
  Sha256 hash;
  hash.update("a");
  hash.update("bc");
  EXPECT_EQ(hash.hex_digest(), "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
}

TEST_F(FilesTest, TemporaryPathIsHiddenBesideTheDestination) {
  auto temporary = temporary_path_beside("/srv/app/config.yml");
  EXPECT_TRUE(temporary.starts_with("/srv/app/.config.yml.steward-")) << temporary;
  EXPECT_NE(temporary, temporary_path_beside("/srv/app/config.yml"));
}

TEST_F(FilesTest, CopyReplacesAtomicallyWithModeAndDigest) {
  std::ofstream(path("src")) << std::string(300 * 1024, 'x');  // more than one chunk
  std::ofstream(path("dst")) << "old";
  std::atomic<bool> cancelled{false};
  auto outcome = copy_file({path("src"), path("dst"), 0640, ""}, kDefaultFileMode, cancelled);
  ASSERT_TRUE(outcome.ok()) << outcome.error().message;
  EXPECT_EQ(outcome->bytes, 300u * 1024);
  Sha256 expected;
  expected.update(std::string(300 * 1024, 'x'));
  EXPECT_EQ(outcome->sha256, expected.hex_digest());
  EXPECT_EQ(read(path("dst")), std::string(300 * 1024, 'x'));
  EXPECT_EQ(fs::status(path("dst")).permissions(), fs::perms(0640));
  EXPECT_EQ(std::distance(fs::directory_iterator(dir_), fs::directory_iterator()), 2) << "no temporary left";
}

TEST_F(FilesTest, FailedOrCancelledCopyLeavesTheDestinationAlone) {
  std::ofstream(path("src")) << "new";
  std::ofstream(path("dst")) << "old";
  std::atomic<bool> cancelled{true};
  auto outcome = copy_file({path("src"), path("dst"), std::nullopt, ""}, kDefaultFileMode, cancelled);
  ASSERT_FALSE(outcome.ok());
  EXPECT_EQ(outcome.error().code, ErrorCode::Cancelled);
  EXPECT_EQ(read(path("dst")), "old");
  EXPECT_EQ(std::distance(fs::directory_iterator(dir_), fs::directory_iterator()), 2) << "temporary removed";

  cancelled = false;
  auto missing = copy_file({path("nope"), path("dst"), std::nullopt, ""}, kDefaultFileMode, cancelled);
  ASSERT_FALSE(missing.ok());
  EXPECT_EQ(missing.error().code, ErrorCode::NotFound);
  EXPECT_NE(missing.error().message.find(path("nope")), std::string::npos);
}

TEST(ValidateOwner, AcceptsChownFormsOnly) {
  for (const char* good : {"", "root", "www-data", "app:app", ":staff", "1000:1000"}) EXPECT_TRUE(validate_owner(good).ok()) << good;
  for (const char* bad : {"a b", "x;rm", "-r", "u:", "$(id)"}) EXPECT_FALSE(validate_owner(bad).ok()) << bad;
}

}  // namespace
}  // namespace steward::transport
