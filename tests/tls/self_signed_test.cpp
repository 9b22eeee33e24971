#include "tls/self_signed.hpp"

#include <gtest/gtest.h>
#include <openssl/pem.h>
#include <openssl/x509v3.h>
#include <sys/stat.h>

#include <filesystem>
#include <fstream>
#include <sstream>

#include "tls/identity.hpp"

namespace steward::tls {
namespace {

namespace fs = std::filesystem;

class SelfSignedTest : public ::testing::Test {
 protected:
  void SetUp() override {
    root_ = fs::temp_directory_path() / ("steward-tls-test-" + std::to_string(::getpid()));
    fs::remove_all(root_);
    fs::create_directories(root_);
  }
  void TearDown() override { fs::remove_all(root_); }

  std::string dir() const { return (root_ / "tls").string(); }
  static CertificateNames names() { return {"box", {"localhost", "box"}, {"127.0.0.1", "::1", "10.1.2.3"}}; }

  fs::path root_;
};

std::string read(const std::string& path) {
  std::ifstream in(path);
  std::stringstream text;
  text << in.rdbuf();
  return text.str();
}

unsigned mode_of(const std::string& path) {
  struct stat info {};
  ::stat(path.c_str(), &info);
  return info.st_mode & 0777;
}

TEST_F(SelfSignedTest, CreatesAMatchingKeyAndCertificateReadableOnlyByTheOwner) {
  auto files = ensure_self_signed(dir(), names());
  ASSERT_TRUE(files) << files.error().message;
  EXPECT_TRUE(files->created);
  EXPECT_EQ(mode_of(files->key_path), 0600u);
  EXPECT_EQ(mode_of(dir()), 0700u);
  auto identity = load_identity(files->certificate_path, files->key_path);
  ASSERT_TRUE(identity) << identity.error().message;
  EXPECT_FALSE(identity->expired);
  EXPECT_FALSE(fs::exists(files->key_path + ".tmp"));
}

TEST_F(SelfSignedTest, ReusesTheFilesOnTheNextCall) {
  auto first = ensure_self_signed(dir(), names());
  ASSERT_TRUE(first);
  const std::string certificate = read(first->certificate_path), key = read(first->key_path);
  auto second = ensure_self_signed(dir(), names());
  ASSERT_TRUE(second);
  EXPECT_FALSE(second->created);
  EXPECT_EQ(read(second->certificate_path), certificate);
  EXPECT_EQ(read(second->key_path), key);
}

TEST_F(SelfSignedTest, ReplacesAPairMissingItsCertificate) {
  auto first = ensure_self_signed(dir(), names());
  ASSERT_TRUE(first);
  const std::string key = read(first->key_path);
  fs::remove(first->certificate_path);
  auto second = ensure_self_signed(dir(), names());
  ASSERT_TRUE(second);
  EXPECT_TRUE(second->created);
  EXPECT_NE(read(second->key_path), key);
}

TEST_F(SelfSignedTest, IsAnEcP256CertificateNamingEveryGivenNameAndAddress) {
  auto files = ensure_self_signed(dir(), names());
  ASSERT_TRUE(files);
  const std::string pem = read(files->certificate_path);
  BIO* bio = BIO_new_mem_buf(pem.data(), static_cast<int>(pem.size()));
  X509* certificate = PEM_read_bio_X509(bio, nullptr, nullptr, nullptr);
  BIO_free(bio);
  ASSERT_NE(certificate, nullptr);
  EXPECT_EQ(X509_check_host(certificate, "localhost", 0, 0, nullptr), 1);
  EXPECT_EQ(X509_check_host(certificate, "box", 0, 0, nullptr), 1);
  EXPECT_EQ(X509_check_host(certificate, "other", 0, 0, nullptr), 0);
  EXPECT_EQ(X509_check_ip_asc(certificate, "127.0.0.1", 0), 1);
  EXPECT_EQ(X509_check_ip_asc(certificate, "::1", 0), 1);
  EXPECT_EQ(X509_check_ip_asc(certificate, "10.1.2.3", 0), 1);
  EXPECT_EQ(X509_check_ip_asc(certificate, "10.1.2.4", 0), 0);
  EVP_PKEY* key = X509_get0_pubkey(certificate);
  char group[64] = {};
  size_t length = 0;
  ASSERT_EQ(EVP_PKEY_get_group_name(key, group, sizeof group, &length), 1);
  EXPECT_STREQ(group, "prime256v1");
  X509_free(certificate);
}

}  // namespace
}  // namespace steward::tls
