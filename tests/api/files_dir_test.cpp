#include "api/http/files_dir.hpp"

#include <gtest/gtest.h>
#include <sys/stat.h>

#include <filesystem>
#include <fstream>

#include "support/test_dir.hpp"

namespace steward::api::http {
namespace {

namespace fs = std::filesystem;

TEST(FilesDirSegments, SplitsARelativePath) {
  auto segments = files_dir_segments("uploads/a-1/app.tar");
  ASSERT_TRUE(segments.ok()) << segments.error().message;
  EXPECT_EQ(*segments, (std::vector<std::string>{"uploads", "a-1", "app.tar"}));
  EXPECT_TRUE(files_dir_segments("..x/y..").ok());  // dots inside a name are a name
}

TEST(FilesDirSegments, RefusesPathsThatCouldLeaveTheRoot) {
  struct Case {
    std::string path;
    std::string says;
  };
  const Case cases[] = {{"", "empty"},          {"/etc/passwd", "absolute"}, {"../x", "'..'"},
                        {"a/../../x", "'..'"},  {"a/..", "'..'"},            {"./x", "'.'"},
                        {"a//b", "empty segment"}, {"a/", "empty segment"},   {std::string("a\0b", 3), "NUL"}};
  for (const auto& c : cases) {
    auto segments = files_dir_segments(c.path);
    ASSERT_FALSE(segments.ok()) << c.path;
    EXPECT_EQ(segments.error().code, ErrorCode::InvalidArgument) << c.path;
    EXPECT_NE(segments.error().message.find(c.says), std::string::npos) << segments.error().message;
  }
}

class FilesDirTest : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = steward::testing::fresh_test_dir("files-dir");
    fs::create_directories(dir_ / "root");
    fs::create_directories(dir_ / "outside");
    std::ofstream(dir_ / "outside" / "secret") << "secret";
  }
  void TearDown() override { fs::remove_all(dir_); }

  FilesDir files() const { return FilesDir((dir_ / "root").string()); }
  fs::path dir_;
};

TEST_F(FilesDirTest, AnUploadAppearsOnlyOnCommit) {
  auto upload = files().begin_upload("a/b/new.txt");
  ASSERT_TRUE(upload.ok()) << upload.error().message;
  ASSERT_TRUE(upload->write("hello", 5).ok());
  EXPECT_FALSE(fs::exists(dir_ / "root/a/b/new.txt"));
  ASSERT_TRUE(upload->commit().ok());
  std::ifstream in(dir_ / "root/a/b/new.txt");
  EXPECT_EQ(std::string(std::istreambuf_iterator<char>(in), {}), "hello");
}

TEST_F(FilesDirTest, AnUploadNeverCommittedLeavesNothing) {
  {
    auto upload = files().begin_upload("partial.bin");
    ASSERT_TRUE(upload.ok());
    ASSERT_TRUE(upload->write("xx", 2).ok());
  }
  EXPECT_TRUE(fs::is_empty(dir_ / "root"));
}

TEST_F(FilesDirTest, ReadsARegularFileWithItsSize) {
  std::ofstream(dir_ / "root" / "f") << "12345";
  auto file = files().open_file("f");
  ASSERT_TRUE(file.ok()) << file.error().message;
  EXPECT_EQ(file->size, 5u);
  EXPECT_EQ(files().open_file("missing").error().code, ErrorCode::NotFound);
  fs::create_directories(dir_ / "root" / "d");
  EXPECT_EQ(files().open_file("d").error().code, ErrorCode::InvalidArgument);
}

TEST_F(FilesDirTest, SymbolicLinksOutOfTheRootAreNotFollowed) {
  fs::create_directory_symlink(dir_ / "outside", dir_ / "root" / "out");
  fs::create_symlink(dir_ / "outside" / "secret", dir_ / "root" / "secret");
  auto through_directory = files().open_file("out/secret");
  ASSERT_FALSE(through_directory.ok());
  EXPECT_NE(through_directory.error().message.find("symbolic link"), std::string::npos) << through_directory.error().message;
  auto linked_file = files().open_file("secret");
  ASSERT_FALSE(linked_file.ok());
  EXPECT_NE(linked_file.error().message.find("symbolic link"), std::string::npos) << linked_file.error().message;
  EXPECT_FALSE(files().begin_upload("out/planted").ok());
  EXPECT_FALSE(fs::exists(dir_ / "outside" / "planted"));
  EXPECT_FALSE(files().remove("out/secret").ok());
  EXPECT_TRUE(fs::exists(dir_ / "outside" / "secret"));
}

TEST_F(FilesDirTest, RemovesFilesAndEmptyFoldersOnly) {
  fs::create_directories(dir_ / "root/d/e");
  std::ofstream(dir_ / "root/d/e/f") << "x";
  EXPECT_EQ(files().remove("d/e").error().code, ErrorCode::Conflict);
  EXPECT_TRUE(files().remove("d/e/f").ok());
  EXPECT_TRUE(files().remove("d/e").ok());
  EXPECT_FALSE(fs::exists(dir_ / "root/d/e"));
  EXPECT_EQ(files().remove("d/e").error().code, ErrorCode::NotFound);
}

TEST_F(FilesDirTest, AnUploadOntoAFolderIsAConflict) {
  fs::create_directories(dir_ / "root/d");
  auto upload = files().begin_upload("d");
  ASSERT_FALSE(upload.ok());
  EXPECT_EQ(upload.error().code, ErrorCode::Conflict);
}

}  // namespace
}  // namespace steward::api::http
