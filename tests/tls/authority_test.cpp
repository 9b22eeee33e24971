#include "tls/authority.hpp"

#include <gtest/gtest.h>
#include <openssl/pem.h>
#include <openssl/x509v3.h>
#include <sys/stat.h>

#include <ctime>
#include <filesystem>
#include <fstream>
#include <sstream>

#include "support/test_dir.hpp"
#include "tls/keys.hpp"

namespace steward::tls {
namespace {

namespace fs = std::filesystem;

struct X509Free {
  void operator()(X509* p) const { X509_free(p); }
};
using Certificate = std::unique_ptr<X509, X509Free>;

Certificate parse(const std::string& pem) {
  BIO* bio = BIO_new_mem_buf(pem.data(), static_cast<int>(pem.size()));
  Certificate certificate(PEM_read_bio_X509(bio, nullptr, nullptr, nullptr));
  BIO_free(bio);
  return certificate;
}

std::string read(const fs::path& path) {
  std::ifstream in(path);
  std::stringstream text;
  text << in.rdbuf();
  return text.str();
}

void write(const fs::path& path, const std::string& text) { std::ofstream(path) << text; }

unsigned mode_of(const fs::path& path) {
  struct stat info {};
  ::stat(path.c_str(), &info);
  return info.st_mode & 0777;
}

std::string request_for(const std::string& kind, const std::string& name = "agent") {
  auto key = generate_private_key(kind);
  EXPECT_TRUE(key) << kind;
  auto request = make_signing_request(*key, name);
  EXPECT_TRUE(request) << request.error().message;
  return *request;
}

std::vector<std::string> uri_names(X509* certificate) {
  std::vector<std::string> out;
  auto* names = static_cast<GENERAL_NAMES*>(X509_get_ext_d2i(certificate, NID_subject_alt_name, nullptr, nullptr));
  for (int i = 0; names && i < sk_GENERAL_NAME_num(names); ++i) {
    const GENERAL_NAME* name = sk_GENERAL_NAME_value(names, i);
    if (name->type == GEN_URI)
      out.emplace_back(reinterpret_cast<const char*>(ASN1_STRING_get0_data(name->d.uniformResourceIdentifier)));
    else
      out.emplace_back("other");
  }
  GENERAL_NAMES_free(names);
  return out;
}

class AuthorityTest : public ::testing::Test {
 protected:
  void SetUp() override { root_ = steward::testing::fresh_test_dir("authority"); }
  void TearDown() override { fs::remove_all(root_); }
  std::string dir() const { return (root_ / "data" / "ca").string(); }
  Authority open(const std::string& where) {
    auto opened = Authority::open_or_create(where, "test CA");
    EXPECT_TRUE(opened) << opened.error().message;
    return std::move(opened).value();
  }
  static CertificateNames server_names() { return {"steward-server", {"steward-server", "localhost"}, {"127.0.0.1", "::1"}}; }

  fs::path root_;
};

TEST_F(AuthorityTest, CreatesAPrivateCaCertificateAndKey) {
  Authority authority = open(dir());
  EXPECT_TRUE(authority.created());
  EXPECT_EQ(mode_of(dir()), 0700u);
  EXPECT_EQ(mode_of(fs::path(dir()) / "ca.key"), 0600u);
  Certificate ca = parse(read(fs::path(dir()) / "ca.pem"));
  ASSERT_TRUE(ca);
  EXPECT_EQ(X509_check_ca(ca.get()), 1);
  EXPECT_TRUE(X509_get_key_usage(ca.get()) & KU_KEY_CERT_SIGN);
  std::time_t nine_years = std::time(nullptr) + 9L * 365 * 86400;
  EXPECT_GT(X509_cmp_time(X509_get0_notAfter(ca.get()), &nine_years), 0) << "valid for about ten years";
  char group[64] = {};
  size_t length = 0;
  ASSERT_EQ(EVP_PKEY_get_group_name(X509_get0_pubkey(ca.get()), group, sizeof group, &length), 1);
  EXPECT_STREQ(group, "prime256v1");
  EXPECT_FALSE(fs::exists(fs::path(dir()) / "ca.key.tmp"));
}

TEST_F(AuthorityTest, PinIsTheLowerCaseSha256OfTheCertificateDer) {
  Authority authority = open(dir());
  Certificate ca = parse(authority.certificate_pem());
  unsigned char* der = nullptr;
  int size = i2d_X509(ca.get(), &der);
  unsigned char digest[32];
  unsigned int length = 0;
  ASSERT_EQ(EVP_Digest(der, static_cast<size_t>(size), digest, &length, EVP_sha256(), nullptr), 1);
  OPENSSL_free(der);
  std::string expected = "sha256:";
  for (unsigned char byte : digest) {
    char pair[3];
    std::snprintf(pair, sizeof pair, "%02x", byte);
    expected += pair;
  }
  EXPECT_EQ(authority.pin(), expected);
  EXPECT_EQ(certificate_pins(authority.certificate_pem()), std::vector<std::string>{expected});
}

TEST_F(AuthorityTest, ReopeningKeepsTheSameCa) {
  std::string pin = open(dir()).pin();
  Authority again = open(dir());
  EXPECT_FALSE(again.created());
  EXPECT_EQ(again.pin(), pin);
}

TEST_F(AuthorityTest, AMissingKeyIsAnErrorAndTheCertificateIsKept) {
  open(dir());
  const std::string certificate = read(fs::path(dir()) / "ca.pem");
  fs::remove(fs::path(dir()) / "ca.key");
  auto opened = Authority::open_or_create(dir(), "test CA");
  ASSERT_FALSE(opened);
  EXPECT_NE(opened.error().message.find("ca.key"), std::string::npos) << opened.error().message;
  EXPECT_EQ(read(fs::path(dir()) / "ca.pem"), certificate) << "an existing CA is never replaced";
}

TEST_F(AuthorityTest, ACorruptKeyIsAnErrorNamingTheFileWithoutItsContent) {
  open(dir());
  const fs::path key = fs::path(dir()) / "ca.key";
  write(key, "-----BEGIN PRIVATE KEY-----\nc2VjcmV0LWJ5dGVz\n-----END PRIVATE KEY-----\n");
  fs::permissions(key, fs::perms::owner_read | fs::perms::owner_write, fs::perm_options::replace);
  auto opened = Authority::open_or_create(dir(), "test CA");
  ASSERT_FALSE(opened);
  EXPECT_EQ(opened.error().code, ErrorCode::InvalidArgument);
  EXPECT_NE(opened.error().message.find(key.string()), std::string::npos) << opened.error().message;
  EXPECT_EQ(opened.error().message.find("c2VjcmV0"), std::string::npos) << opened.error().message;
}

TEST_F(AuthorityTest, AKeyOfAnotherCertificateIsAnError) {
  open(dir());
  auto other = generate_private_key("P-256");
  ASSERT_TRUE(other);
  write(fs::path(dir()) / "ca.key", *other);
  auto opened = Authority::open_or_create(dir(), "test CA");
  ASSERT_FALSE(opened);
  EXPECT_NE(opened.error().message.find("does not belong"), std::string::npos) << opened.error().message;
}

TEST_F(AuthorityTest, AKeyOrFolderOpenToOthersIsRefused) {
  open(dir());
  const fs::path key = fs::path(dir()) / "ca.key";
  fs::permissions(key, fs::perms::group_read, fs::perm_options::add);
  auto opened = Authority::open_or_create(dir(), "test CA");
  ASSERT_FALSE(opened);
  EXPECT_NE(opened.error().message.find("chmod 600 " + key.string()), std::string::npos) << opened.error().message;
  fs::permissions(key, fs::perms::group_read, fs::perm_options::remove);
  fs::permissions(dir(), fs::perms::others_exec | fs::perms::others_read, fs::perm_options::add);
  opened = Authority::open_or_create(dir(), "test CA");
  ASSERT_FALSE(opened);
  EXPECT_NE(opened.error().message.find("chmod 700"), std::string::npos) << opened.error().message;
}

TEST_F(AuthorityTest, ServerIdentityNamesTheServerAndChainsToTheCa) {
  Authority authority = open(dir());
  auto identity =
      authority.ensure_server_identity("server", server_names(), std::chrono::hours(24 * 397), std::chrono::hours(720));
  ASSERT_TRUE(identity) << identity.error().message;
  EXPECT_EQ(mode_of(fs::path(dir()) / "server.key"), 0600u);
  EXPECT_EQ(certificate_pins(identity->certificate_chain_pem).size(), 2u);
  EXPECT_EQ(certificate_pins(identity->certificate_chain_pem).back(), authority.pin());
  Certificate leaf = parse(identity->certificate_chain_pem);
  ASSERT_TRUE(leaf);
  EXPECT_EQ(X509_check_host(leaf.get(), "steward-server", 0, 0, nullptr), 1);
  EXPECT_EQ(X509_check_host(leaf.get(), "localhost", 0, 0, nullptr), 1);
  EXPECT_EQ(X509_check_ip_asc(leaf.get(), "127.0.0.1", 0), 1);
  EXPECT_EQ(X509_check_ip_asc(leaf.get(), "::1", 0), 1);
  EXPECT_EQ(X509_check_ca(leaf.get()), 0);
  EXPECT_TRUE(X509_get_extended_key_usage(leaf.get()) & XKU_SSL_SERVER);
  EXPECT_TRUE(authority.verify(identity->certificate_chain_pem));
}

TEST_F(AuthorityTest, ServerIdentityIsKeptUntilItNearsItsEnd) {
  Authority authority = open(dir());
  const auto year = std::chrono::hours(24 * 365), month = std::chrono::hours(24 * 30);
  auto first = authority.ensure_server_identity("server", server_names(), year, month);
  auto second = authority.ensure_server_identity("server", server_names(), year, month);
  ASSERT_TRUE(first && second);
  EXPECT_EQ(first->fingerprint, second->fingerprint);
  // A missing file is reissued; one of twenty days is within the 30-day window: reissued.
  fs::remove(fs::path(dir()) / "server.pem");
  auto short_lived = authority.ensure_server_identity("server", server_names(), std::chrono::hours(480), month);
  auto renewed = authority.ensure_server_identity("server", server_names(), year, month);
  auto kept = authority.ensure_server_identity("server", server_names(), year, month);
  ASSERT_TRUE(short_lived && renewed && kept);
  EXPECT_NE(short_lived->fingerprint, second->fingerprint);
  EXPECT_NE(renewed->fingerprint, short_lived->fingerprint);
  EXPECT_EQ(kept->fingerprint, renewed->fingerprint);
}

TEST_F(AuthorityTest, AcceptsStrongKeysOnly) {
  for (const char* kind : {"P-256", "P-384", "Ed25519", "RSA-2048"}) {
    auto checked = Authority::check_request(request_for(kind));
    EXPECT_TRUE(checked) << kind << ": " << checked.error().message;
    if (checked) {
      EXPECT_EQ(checked->public_key_sha256.size(), 64u);
    }
  }
  for (const char* kind : {"RSA-1024", "secp256k1"}) {
    auto checked = Authority::check_request(request_for(kind));
    ASSERT_FALSE(checked) << kind;
    EXPECT_EQ(checked.error().code, ErrorCode::InvalidArgument);
  }
}

TEST_F(AuthorityTest, RefusesGarbageAndRequestsWhoseSignatureFails) {
  for (const std::string& garbage : {std::string(), std::string("hello"),
                                    std::string("-----BEGIN CERTIFICATE REQUEST-----\nAAAA\n-----END CERTIFICATE REQUEST-----\n"),
                                    std::string(70000, 'A')}) {
    auto checked = Authority::check_request(garbage);
    ASSERT_FALSE(checked);
    EXPECT_EQ(checked.error().code, ErrorCode::InvalidArgument);
  }
  // A request signed by one key carrying another key's public half.
  const std::string request = request_for("P-256");
  BIO* bio = BIO_new_mem_buf(request.data(), static_cast<int>(request.size()));
  X509_REQ* parsed = PEM_read_bio_X509_REQ(bio, nullptr, nullptr, nullptr);
  BIO_free(bio);
  ASSERT_NE(parsed, nullptr);
  EVP_PKEY* other = EVP_EC_gen("P-256");
  ASSERT_EQ(X509_REQ_set_pubkey(parsed, other), 1);
  BIO* out = BIO_new(BIO_s_mem());
  ASSERT_EQ(PEM_write_bio_X509_REQ(out, parsed), 1);
  char* data = nullptr;
  long size = BIO_get_mem_data(out, &data);
  const std::string tampered(data, static_cast<size_t>(size));
  BIO_free(out);
  EVP_PKEY_free(other);
  X509_REQ_free(parsed);
  auto checked = Authority::check_request(tampered);
  ASSERT_FALSE(checked);
  EXPECT_NE(checked.error().message.find("signature"), std::string::npos) << checked.error().message;
}

TEST_F(AuthorityTest, IssuesAClientCertificateNamingOnlyWhatTheCaChooses) {
  Authority authority = open(dir());
  const std::string request = request_for("P-256", "evil.example.com");
  auto issued = authority.issue_client(request, {"agent-0123", "steward-agent:agent-0123", std::chrono::hours(24 * 365)});
  ASSERT_TRUE(issued) << issued.error().message;
  Certificate certificate = parse(issued->certificate_pem);
  ASSERT_TRUE(certificate);
  EXPECT_EQ(uri_names(certificate.get()), std::vector<std::string>{"steward-agent:agent-0123"});
  char common_name[64] = {};
  X509_NAME_get_text_by_NID(X509_get_subject_name(certificate.get()), NID_commonName, common_name, sizeof common_name);
  EXPECT_STREQ(common_name, "agent-0123") << "the request's name is ignored";
  EXPECT_TRUE(X509_get_extended_key_usage(certificate.get()) & XKU_SSL_CLIENT);
  EXPECT_FALSE(X509_get_extended_key_usage(certificate.get()) & XKU_SSL_SERVER);
  EXPECT_EQ(X509_check_ca(certificate.get()), 0);
  std::time_t four_minutes_ago = std::time(nullptr) - 240, in_364_days = std::time(nullptr) + 364L * 86400;
  EXPECT_LT(X509_cmp_time(X509_get0_notBefore(certificate.get()), &four_minutes_ago), 0) << "backdated for clock skew";
  EXPECT_GT(X509_cmp_time(X509_get0_notAfter(certificate.get()), &in_364_days), 0);
  EXPECT_GT(issued->not_after, static_cast<double>(in_364_days));
  auto verified = authority.verify(issued->certificate_pem);
  ASSERT_TRUE(verified) << verified.error().message;
  EXPECT_EQ(verified->fingerprint, issued->fingerprint);
  EXPECT_EQ(verified->uri_names, std::vector<std::string>{"steward-agent:agent-0123"});

  auto again = authority.issue_client(request, {"agent-0123", "steward-agent:agent-0123", std::chrono::hours(24)});
  ASSERT_TRUE(again);
  Certificate second = parse(again->certificate_pem);
  EXPECT_NE(ASN1_INTEGER_cmp(X509_get0_serialNumber(certificate.get()), X509_get0_serialNumber(second.get())), 0)
      << "random serials";
}

TEST_F(AuthorityTest, RefusesNamesThatWouldChangeTheExtension) {
  Authority authority = open(dir());
  auto issued = authority.issue_client(request_for("P-256"), {"x", "steward-agent:x,DNS:evil", std::chrono::hours(1)});
  ASSERT_FALSE(issued);
  EXPECT_EQ(issued.error().code, ErrorCode::InvalidArgument);
}

TEST_F(AuthorityTest, VerifyRefusesAnotherCasCertificates) {
  Authority ours = open(dir());
  Authority theirs = open((root_ / "other").string());
  auto foreign = theirs.issue_client(request_for("P-256"), {"agent-1", "steward-agent:agent-1", std::chrono::hours(1)});
  ASSERT_TRUE(foreign);
  auto verified = ours.verify(foreign->certificate_pem);
  ASSERT_FALSE(verified);
  EXPECT_EQ(verified.error().code, ErrorCode::PermissionDenied);
  EXPECT_FALSE(ours.verify("not a certificate"));
  EXPECT_FALSE(ours.verify(theirs.certificate_pem())) << "their CA certificate itself is not ours either";
}

}  // namespace
}  // namespace steward::tls
