#include "api/audit/audit_log.hpp"

#include <gtest/gtest.h>
#include <sys/stat.h>

#include <boost/asio/io_context.hpp>
#include <boost/json/parse.hpp>

#include <filesystem>
#include <fstream>
#include <sstream>

#include "store/store.hpp"
#include "support/run_sync.hpp"
#include "support/test_dir.hpp"

namespace steward::api::audit {
namespace {

namespace fs = std::filesystem;

class AuditLogTest : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = steward::testing::fresh_test_dir("audit-log");
    auto opened = store::open_store({"", dir_.string()});
    ASSERT_TRUE(opened.ok()) << opened.error().message;
    store_ = std::move(opened).value();
  }
  void TearDown() override {
    store_.reset();
    fs::remove_all(dir_);
  }
  std::string read(const fs::path& path) {
    std::ifstream in(path);
    std::stringstream text;
    text << in.rdbuf();
    return text.str();
  }
  static store::AuditEntry entry(std::string action, int status) {
    return {100, "ci", "127.0.0.1", "rest", std::move(action), "/x", {"web1"}, "", status, ""};
  }

  boost::asio::io_context io_;
  fs::path dir_;
  std::unique_ptr<store::Store> store_;
};

TEST_F(AuditLogTest, EntriesBecomeLinesInOrderInAPrivateFile) {
  const fs::path file = dir_ / "audit.jsonl";
  AuditLog log(io_.get_executor(), *store_, file.string());
  ASSERT_TRUE(log.open().ok());
  log.record(entry("POST /ping", 201));
  log.record(entry("DELETE /jobs/:jid", 404));
  EXPECT_EQ(read(file), "") << "written from the loop, not by the caller";
  io_.run();
  std::istringstream lines(read(file));
  std::string first, second, third;
  ASSERT_TRUE(std::getline(lines, first));
  ASSERT_TRUE(std::getline(lines, second));
  EXPECT_FALSE(std::getline(lines, third));
  EXPECT_EQ(boost::json::parse(first).at("action").as_string(), "POST /ping");
  EXPECT_EQ(boost::json::parse(second).at("status").as_int64(), 404);
  struct stat info {};
  ASSERT_EQ(::stat(file.c_str(), &info), 0);
  EXPECT_EQ(info.st_mode & 0777, 0600u);
  ASSERT_TRUE(steward::testing::run_sync(io_, store_->flush()).ok());
  auto stored = steward::testing::run_sync(io_, log.list({}));
  ASSERT_TRUE(stored.ok());
  ASSERT_EQ(stored->size(), 2u) << "the store has them too";
  EXPECT_EQ((*stored)[0].action, "DELETE /jobs/:jid") << "newest (later appended) first";
}

TEST_F(AuditLogTest, AnExistingFileIsAppendedTo) {
  const fs::path file = dir_ / "audit.jsonl";
  std::ofstream(file) << "{\"old\":1}\n";
  AuditLog log(io_.get_executor(), *store_, file.string());
  ASSERT_TRUE(log.open().ok());
  log.record(entry("POST /ping", 201));
  io_.run();
  EXPECT_EQ(read(file).rfind("{\"old\":1}\n{", 0), 0u);
}

TEST_F(AuditLogTest, AnUnwritablePathIsAnErrorNamingIt) {
  AuditLog log(io_.get_executor(), *store_, (dir_ / "missing" / "audit.jsonl").string());
  auto opened = log.open();
  ASSERT_FALSE(opened.ok());
  EXPECT_NE(opened.error().message.find("missing/audit.jsonl"), std::string::npos);
}

TEST_F(AuditLogTest, WorkPostedAfterTheLogIsGoneIsDropped) {
  {
    AuditLog log(io_.get_executor(), *store_, "");
    ASSERT_TRUE(log.open().ok());
    log.record(entry("POST /ping", 201));
  }
  io_.run();  // must not touch the destroyed log
  ASSERT_TRUE(steward::testing::run_sync(io_, store_->flush()).ok());
  auto stored = steward::testing::run_sync(io_, store_->list_audit({}));
  ASSERT_TRUE(stored.ok());
  EXPECT_TRUE(stored->empty());
}

}  // namespace
}  // namespace steward::api::audit
