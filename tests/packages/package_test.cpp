#include "packages/package.hpp"

#include <gtest/gtest.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>

#include "support/test_dir.hpp"
#include "transport/files.hpp"

namespace steward::packages {
namespace {

namespace fs = std::filesystem;
const fs::path kPackages = STEWARD_TEST_PACKAGES;

class ManifestTest : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = steward::testing::fresh_test_dir("pkg");
    fs::create_directories(dir_ / "files");
    std::ofstream(dir_ / "files" / "a.sh") << "#!/bin/sh\n";
  }
  void TearDown() override { fs::remove_all(dir_); }

  // The error message of loading `body` as a package.toml (empty when it loads).
  std::string error_of(const std::string& body) {
    std::ofstream(dir_ / "package.toml") << body;
    auto loaded = load_package(dir_ / "package.toml");
    if (loaded) return "";
    EXPECT_EQ(loaded.error().code, ErrorCode::InvalidArgument);
    return loaded.error().message;
  }

  static std::string feature(const std::string& assets) {
    return "[package]\nname = \"p\"\nversion = \"1.0.0\"\nassets = " + assets +
           "\n[content]\ntype = \"feature\"\n[feature]\naction = \"true\"\n";
  }

  fs::path dir_;
};

TEST(PackageTest, LoadsAFeatureAndExpandsFolderAssets) {
  auto package = load_package(kPackages / "hello-feature" / "1.0.0" / "package.toml");
  ASSERT_TRUE(package.ok()) << package.error().message;
  EXPECT_EQ(package->name, "hello-feature");
  EXPECT_EQ(package->version, "1.0.0");
  EXPECT_EQ(package->type, ContentType::Feature);
  EXPECT_EQ(package->feature_type, "Service");
  EXPECT_FALSE(package->restarts);
  ASSERT_EQ(package->assets.size(), 2u);
  EXPECT_EQ(package->assets[0].destination, "/var/tmp/steward-e2e/feature/bin/hello.sh");
  EXPECT_EQ(package->assets[0].source, kPackages / "hello-feature" / "1.0.0" / "hello.sh");
  EXPECT_EQ(package->assets[0].mode, 0754u);
  EXPECT_EQ(package->assets[1].destination, "/var/tmp/steward-e2e/feature/etc/greeting.conf");
  EXPECT_FALSE(package->assets[1].mode.has_value());
}

TEST(PackageTest, ConditionsCarryTheirInterval) {
  auto package = load_package(kPackages / "file-condition" / "1.0.0" / "package.toml");
  ASSERT_TRUE(package.ok()) << package.error().message;
  EXPECT_EQ(package->type, ContentType::Condition);
  EXPECT_EQ(package->interval, 1);
  EXPECT_EQ(package->action, "/var/tmp/steward-e2e/condition/check.sh");
}

TEST_F(ManifestTest, AssetSourcesMustStayInsideThePackage) {
  auto message = error_of(feature(R"([["../etc/passwd", "/tmp/x"]])"));
  EXPECT_NE(message.find("package.assets[0]"), std::string::npos) << message;
  EXPECT_NE(message.find("leaves the package folder"), std::string::npos) << message;
  EXPECT_NE(message.find((dir_ / "package.toml").string()), std::string::npos) << message;
  EXPECT_NE(error_of(feature(R"([["/etc/passwd", "/tmp/x"]])")).find("must be relative"), std::string::npos);
  EXPECT_NE(error_of(feature(R"([["files/../../x", "/tmp/x"]])")).find("leaves"), std::string::npos);
}

TEST_F(ManifestTest, AssetEntriesAreChecked) {
  EXPECT_NE(error_of(feature(R"([["files/a.sh", "tmp/x"]])")).find("must be an absolute path"), std::string::npos);
  EXPECT_NE(error_of(feature(R"([["files/missing", "/tmp/x"]])")).find("does not exist"), std::string::npos);
  EXPECT_NE(error_of(feature(R"([["files", "/tmp/x"]])")).find("must end with '/'"), std::string::npos);
  EXPECT_NE(error_of(feature(R"([["files/a.sh", "/tmp/x", "0999"]])")).find("octal"), std::string::npos);
  EXPECT_NE(error_of(feature(R"([["files/a.sh"]])")).find("package.assets[0]"), std::string::npos);
  EXPECT_NE(error_of(feature(R"("files/a.sh")")).find("package.assets"), std::string::npos);
  EXPECT_EQ(error_of(feature(R"([["files/a.sh", "/opt/a/", "755"], ["files", "/opt/b/"]])")), "");
}

TEST_F(ManifestTest, ModesAcceptTheUsualSpellings) {
  EXPECT_EQ(error_of(feature(R"([["files/a.sh", "/opt/a", 755]])")), "");
  auto package = load_package(dir_ / "package.toml");
  ASSERT_TRUE(package.ok());
  EXPECT_EQ(package->assets[0].mode, 0755u);
  EXPECT_EQ(*transport::parse_file_mode("0774"), 0774u);
  EXPECT_EQ(*transport::parse_file_mode("755"), 0755u);
  EXPECT_EQ(*transport::parse_file_mode("0o600"), 0600u);
  EXPECT_FALSE(transport::parse_file_mode("").ok());
  EXPECT_FALSE(transport::parse_file_mode("8").ok());
  EXPECT_FALSE(transport::parse_file_mode("77777").ok());
}

TEST_F(ManifestTest, ContentSectionsAreChecked) {
  EXPECT_NE(error_of("[package]\nname=\"p\"\nversion=\"1.0.0\"\n").find("content.type: missing"), std::string::npos);
  EXPECT_NE(error_of("[package]\nname=\"p\"\nversion=\"1.0.0\"\n[content]\ntype=\"vm\"\n").find("is not one of"),
            std::string::npos);
  EXPECT_NE(error_of("[package]\nname=\"p\"\nversion=\"1.0.0\"\n[content]\ntype=\"condition\"\n")
                .find("condition.action: missing"),
            std::string::npos);
  EXPECT_NE(error_of("[package]\nname=\"p\"\nversion=\"1.0.0\"\n[content]\ntype=\"condition\"\n[condition]\n"
                     "action=\"true\"\ninterval=0\n")
                .find("condition.interval"),
            std::string::npos);
  EXPECT_NE(error_of("[package]\nname=\"p\"\nversion=\"1.0.0\"\n[content]\ntype=\"feature\"\n[feature]\n"
                     "type=\"Daemon\"\n")
                .find("feature.type"),
            std::string::npos);
  EXPECT_NE(error_of("[package]\nname=\"p\"\n[content]\ntype=\"inject\"\n").find("package.version: missing"),
            std::string::npos);
}

TEST_F(ManifestTest, SyntaxErrorsNameTheLine) {
  auto message = error_of("[package]\nname = \"p\"\nversion = \n");
  EXPECT_NE(message.find("package.toml:3:"), std::string::npos) << message;
}

TEST_F(ManifestTest, VersionsMustBeSemantic) {
  for (const char* version : {"1", "1.2", "v1.2.3", "01.2.3", "latest"}) {
    auto message = error_of(std::string("[package]\nname=\"p\"\nversion=\"") + version +
                            "\"\n[content]\ntype=\"inject\"\n");
    EXPECT_NE(message.find("package.version"), std::string::npos) << version << ": " << message;
    EXPECT_NE(message.find("semantic version"), std::string::npos) << message;
  }
  EXPECT_EQ(error_of("[package]\nname=\"p\"\nversion=\"1.2.3-rc.1+build.5\"\n[content]\ntype=\"inject\"\n"), "");
}

// A package.toml exactly as upstream Deputy writes one, with the keys steward
// does not use and upstream's spellings.
TEST_F(ManifestTest, LoadsUpstreamDeputyManifests) {
  EXPECT_EQ(error_of(R"([package]
name = "my-cool-feature"
description = "description"
version = "0.6.5"
authors = ["Robert robert@example.com"]
license = "Apache-2.0"
readme = "src/readme.md"
categories = ["category1", "category2"]
assets = [["files/a.sh", "/usr/bin/test-folder/", "554"], ["files/a.sh", "/etc/b", "0644"]]
[content]
type = "feature"
preview = [{type = "code", value = ["files/a.sh"]}]
[feature]
type = "service"
action = "/usr/bin/test-folder/a.sh"
restarts = true
delete = "rm -f /tmp/state"
)"),
            "");
  auto feature = load_package(dir_ / "package.toml");
  ASSERT_TRUE(feature.ok()) << feature.error().message;
  EXPECT_EQ(feature->feature_type, "Service");
  EXPECT_TRUE(feature->restarts);
  EXPECT_EQ(feature->delete_action, "rm -f /tmp/state");
  ASSERT_EQ(feature->assets.size(), 2u);
  EXPECT_EQ(feature->assets[0].destination, "/usr/bin/test-folder/a.sh");
  EXPECT_EQ(feature->assets[0].mode, 0554u);
  EXPECT_EQ(feature->assets[1].mode, 0644u);

  EXPECT_EQ(error_of("[package]\nname=\"p\"\nversion=\"1.0.0\"\nlicense=\"MIT\"\n[content]\ntype=\"INJECT\"\n"
                     "[inject]\nAction=\"echo hi\"\nRESTARTS=true\n"),
            "");
  auto inject = load_package(dir_ / "package.toml");
  ASSERT_TRUE(inject.ok()) << inject.error().message;
  EXPECT_EQ(inject->type, ContentType::Inject);
  EXPECT_EQ(inject->action, "echo hi");
  EXPECT_TRUE(inject->restarts);
  EXPECT_TRUE(inject->delete_action.empty());

  EXPECT_EQ(error_of("[package]\nname=\"p\"\nversion=\"1.0.0\"\n[content]\ntype=\"Feature\"\n"
                     "[feature]\nTYPE=\"ARTIFACT\"\n"),
            "");
  EXPECT_EQ(load_package(dir_ / "package.toml")->feature_type, "Artifact");
  EXPECT_NE(error_of("[package]\nname=\"p\"\nversion=\"1.0.0\"\n[content]\ntype=\"inject\"\n[inject]\n"
                     "restarts=\"yes\"\n")
                .find("inject.restarts"),
            std::string::npos);
}

TEST(CatalogTest, ResolvesVersionRequirements) {
  Catalog catalog(kPackages);
  EXPECT_EQ(catalog.resolve("hello-feature", "").value().version, "2.0.0");
  EXPECT_EQ(catalog.resolve("hello-feature", "*").value().version, "2.0.0");
  EXPECT_EQ(catalog.resolve("hello-feature", "1.0.0").value().version, "1.0.0");  // ^1.0.0
  EXPECT_EQ(catalog.resolve("hello-feature", "=2.0.0").value().version, "2.0.0");
  EXPECT_EQ(catalog.resolve("hello-feature", ">=1, <2").value().version, "1.0.0");
  auto missing = catalog.resolve("hello-feature", ">=3");
  ASSERT_FALSE(missing.ok());
  EXPECT_EQ(missing.error().code, ErrorCode::NotFound);
  EXPECT_EQ(missing.error().message, "no version of 'hello-feature' matches '>=3': have 1.0.0, 2.0.0");
  auto malformed = catalog.resolve("hello-feature", "1.0 || 2.0");
  ASSERT_FALSE(malformed.ok());
  EXPECT_EQ(malformed.error().code, ErrorCode::InvalidArgument);
  EXPECT_NE(malformed.error().message.find("'1.0 || 2.0'"), std::string::npos) << malformed.error().message;
  EXPECT_EQ(catalog.resolve("no-such-package", "").error().code, ErrorCode::NotFound);
  EXPECT_EQ(catalog.resolve("../packages", "").error().code, ErrorCode::InvalidArgument);
}

TEST(CatalogTest, ListsEveryValidPackage) {
  auto packages = Catalog(kPackages).list();
  std::vector<std::string> labels;
  for (const auto& package : packages) labels.push_back(package.label());
  EXPECT_NE(std::find(labels.begin(), labels.end(), "hello-feature 1.0.0"), labels.end());
  EXPECT_NE(std::find(labels.begin(), labels.end(), "hello-feature 2.0.0"), labels.end());
  EXPECT_NE(std::find(labels.begin(), labels.end(), "note-inject 1.0.0"), labels.end());
}

TEST_F(ManifestTest, ABrokenManifestIsReportedWhenNothingElseMatches) {
  fs::create_directories(dir_ / "root" / "broken" / "1.0");
  std::ofstream(dir_ / "root" / "broken" / "1.0" / "package.toml") << "[package]\nname = \"broken\"\n";
  auto resolved = Catalog(dir_ / "root").resolve("broken", "1.0");
  ASSERT_FALSE(resolved.ok());
  EXPECT_EQ(resolved.error().code, ErrorCode::InvalidArgument);
  EXPECT_NE(resolved.error().message.find("package.version"), std::string::npos);
}

TEST_F(ManifestTest, TheNewestMatchingVersionWinsAcrossFolders) {
  auto write = [this](const fs::path& folder, const std::string& version) {
    fs::create_directories(dir_ / "root" / folder);
    std::ofstream(dir_ / "root" / folder / "package.toml")
        << "[package]\nname=\"multi\"\nversion=\"" << version << "\"\n[content]\ntype=\"inject\"\n";
  };
  for (const char* version : {"0.9.0", "1.2.0", "1.9.2", "1.10.0", "2.0.0-beta.1"})
    write(fs::path("multi") / version, version);
  write("multi", "1.2.5");  // DIR/<name>/package.toml, no version folder
  Catalog catalog(dir_ / "root");
  EXPECT_EQ(catalog.resolve("multi", "").value().version, "1.10.0");
  EXPECT_EQ(catalog.resolve("multi", "~1.2").value().version, "1.2.5");
  EXPECT_EQ(catalog.resolve("multi", "=1.2.0").value().version, "1.2.0");
  EXPECT_EQ(catalog.resolve("multi", "1.*").value().version, "1.10.0");
  EXPECT_EQ(catalog.resolve("multi", "^0.9").value().version, "0.9.0");
  EXPECT_EQ(catalog.resolve("multi", ">=2.0.0-beta").value().version, "2.0.0-beta.1");
  auto none = catalog.resolve("multi", "2");
  ASSERT_FALSE(none.ok());
  EXPECT_EQ(none.error().code, ErrorCode::NotFound);
  EXPECT_NE(none.error().message.find("have 0.9.0, 1.2.0, 1.2.5, 1.9.2, 1.10.0, 2.0.0-beta.1"), std::string::npos)
      << none.error().message;
  EXPECT_NE(none.error().message.find("pre-release"), std::string::npos) << none.error().message;
  auto listed = catalog.list();
  ASSERT_EQ(listed.size(), 6u);
  EXPECT_EQ(listed.front().version, "0.9.0");
  EXPECT_EQ(listed[3].version, "1.9.2");
  EXPECT_EQ(listed.back().version, "2.0.0-beta.1");
}

}  // namespace
}  // namespace steward::packages
