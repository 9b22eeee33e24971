#include "tls/identity.hpp"

#include <gtest/gtest.h>
#include <openssl/pem.h>

#include <filesystem>
#include <fstream>
#include <regex>
#include <sstream>

#include "tls/self_signed.hpp"

namespace steward::tls {
namespace {

namespace fs = std::filesystem;

class IdentityTest : public ::testing::Test {
 protected:
  void SetUp() override {
    root_ = fs::temp_directory_path() / ("steward-identity-test-" + std::to_string(::getpid()));
    fs::remove_all(root_);
    auto first = ensure_self_signed((root_ / "a").string(), {"a", {"a"}, {}});
    auto second = ensure_self_signed((root_ / "b").string(), {"b", {"b"}, {}});
    ASSERT_TRUE(first && second);
    a_ = *first;
    b_ = *second;
  }
  void TearDown() override { fs::remove_all(root_); }

  std::string write(const std::string& name, const std::string& text) {
    auto path = (root_ / name).string();
    std::ofstream(path) << text;
    return path;
  }

  fs::path root_;
  SelfSignedFiles a_, b_;
};

std::string read(const std::string& path) {
  std::ifstream in(path);
  std::stringstream text;
  text << in.rdbuf();
  return text.str();
}

TEST_F(IdentityTest, LoadsAMatchingPairWithItsFingerprint) {
  auto identity = load_identity(a_.certificate_path, a_.key_path);
  ASSERT_TRUE(identity) << identity.error().message;
  EXPECT_TRUE(std::regex_match(identity->fingerprint, std::regex("sha256:([0-9A-F]{2}:){31}[0-9A-F]{2}")))
      << identity->fingerprint;
  auto again = sha256_fingerprint(read(a_.certificate_path));
  ASSERT_TRUE(again);
  EXPECT_EQ(*again, identity->fingerprint);
  EXPECT_NE(*sha256_fingerprint(read(b_.certificate_path)), identity->fingerprint);
}

TEST_F(IdentityTest, RefusesAKeyOfAnotherCertificate) {
  auto identity = load_identity(a_.certificate_path, b_.key_path);
  ASSERT_FALSE(identity);
  EXPECT_EQ(identity.error().code, ErrorCode::InvalidArgument);
  EXPECT_NE(identity.error().message.find("does not belong"), std::string::npos) << identity.error().message;
}

TEST_F(IdentityTest, RefusesAnEncryptedKeyWithoutPromptingOrQuotingIt) {
  const std::string pem = read(a_.key_path);
  BIO* in = BIO_new_mem_buf(pem.data(), static_cast<int>(pem.size()));
  EVP_PKEY* key = PEM_read_bio_PrivateKey(in, nullptr, nullptr, nullptr);
  BIO_free(in);
  ASSERT_NE(key, nullptr);
  BIO* out = BIO_new(BIO_s_mem());
  const char* passphrase = "hunter2";
  ASSERT_EQ(PEM_write_bio_PKCS8PrivateKey(out, key, EVP_aes_256_cbc(), passphrase, 7, nullptr, nullptr), 1);
  char* data = nullptr;
  long size = BIO_get_mem_data(out, &data);
  auto path = write("encrypted.pem", std::string(data, static_cast<std::size_t>(size)));
  BIO_free(out);
  EVP_PKEY_free(key);
  auto identity = load_identity(a_.certificate_path, path);
  ASSERT_FALSE(identity);
  EXPECT_NE(identity.error().message.find("encrypted"), std::string::npos) << identity.error().message;
  EXPECT_EQ(identity.error().message.find("BEGIN"), std::string::npos);
}

TEST_F(IdentityTest, NamesTheFileThatIsMissingOrNotPem) {
  auto missing = load_identity((root_ / "nope.pem").string(), a_.key_path);
  ASSERT_FALSE(missing);
  EXPECT_NE(missing.error().message.find("nope.pem: no such file"), std::string::npos) << missing.error().message;
  auto garbage = load_identity(write("garbage.pem", "hello"), a_.key_path);
  ASSERT_FALSE(garbage);
  EXPECT_NE(garbage.error().message.find("no PEM certificate"), std::string::npos);
  auto not_a_key = load_identity(a_.certificate_path, a_.certificate_path);
  ASSERT_FALSE(not_a_key);
  EXPECT_NE(not_a_key.error().message.find("not a PEM private key"), std::string::npos) << not_a_key.error().message;
  auto folder = load_identity(root_.string(), a_.key_path);
  ASSERT_FALSE(folder);
  EXPECT_NE(folder.error().message.find("not a regular file"), std::string::npos);
}

TEST_F(IdentityTest, CaBundlesNeedAtLeastOneCertificate) {
  auto bundle = write("bundle.pem", read(a_.certificate_path) + read(b_.certificate_path));
  auto loaded = load_certificates(bundle);
  ASSERT_TRUE(loaded);
  EXPECT_EQ(*loaded, read(bundle));
  EXPECT_FALSE(load_certificates(write("empty.pem", "")));
}

}  // namespace
}  // namespace steward::tls
