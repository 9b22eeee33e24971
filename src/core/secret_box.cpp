#include "core/secret_box.hpp"

#include <fcntl.h>
#include <openssl/evp.h>
#include <openssl/rand.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <fstream>
#include <cctype>
#include <memory>
#include <optional>

namespace steward {
namespace {

constexpr std::size_t kNonceSize = 12;
constexpr std::size_t kTagSize = 16;
constexpr const char* kKeyForms = "the secret key must be 32 bytes, written as 64 hex digits or as base64";

using CipherContext = std::unique_ptr<EVP_CIPHER_CTX, decltype(&EVP_CIPHER_CTX_free)>;

const unsigned char* bytes(std::string_view text) { return reinterpret_cast<const unsigned char*>(text.data()); }
unsigned char* bytes(std::string& text) { return reinterpret_cast<unsigned char*>(text.data()); }

std::string to_base64(std::string_view raw) {
  std::string out(4 * ((raw.size() + 2) / 3), '\0');
  int written = EVP_EncodeBlock(bytes(out), bytes(raw), static_cast<int>(raw.size()));
  out.resize(static_cast<std::size_t>(written));
  return out;
}

// Strict: padded, no whitespace. Nullopt for anything else.
std::optional<std::string> from_base64(std::string_view text) {
  if (text.empty() || text.size() % 4 != 0) return std::nullopt;
  std::string out(text.size() / 4 * 3, '\0');
  int written = EVP_DecodeBlock(bytes(out), bytes(text), static_cast<int>(text.size()));
  if (written < 0) return std::nullopt;
  std::size_t padding = text.ends_with("==") ? 2 : text.ends_with('=') ? 1 : 0;
  out.resize(static_cast<std::size_t>(written) - padding);
  return out;
}

std::optional<std::string> from_hex(std::string_view text) {
  if (text.size() % 2 != 0) return std::nullopt;
  auto digit = [](char c) -> int {
    if (c >= '0' && c <= '9') return c - '0';
    if (c >= 'a' && c <= 'f') return c - 'a' + 10;
    if (c >= 'A' && c <= 'F') return c - 'A' + 10;
    return -1;
  };
  std::string out;
  for (std::size_t i = 0; i < text.size(); i += 2) {
    int high = digit(text[i]), low = digit(text[i + 1]);
    if (high < 0 || low < 0) return std::nullopt;
    out.push_back(static_cast<char>(high * 16 + low));
  }
  return out;
}

std::string trimmed(std::string_view text) {
  while (!text.empty() && std::isspace(static_cast<unsigned char>(text.back()))) text.remove_suffix(1);
  while (!text.empty() && std::isspace(static_cast<unsigned char>(text.front()))) text.remove_prefix(1);
  return std::string(text);
}

Error file_error(const std::string& what, const std::string& path) {
  return make_error(ErrorCode::Internal, "cannot " + what + " " + path + ": " + std::strerror(errno));
}

Result<std::string> create_key_file(const std::string& path) {
  std::string key(SecretBox::kKeySize, '\0');
  if (RAND_bytes(bytes(key), static_cast<int>(key.size())) != 1)
    return make_error(ErrorCode::Internal, "cannot generate a secret key: no random bytes");
  // O_EXCL: two servers starting on one data dir must not both write a key.
  int fd = ::open(path.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
  if (fd < 0) return file_error("create", path);
  std::string line = to_base64(key) + "\n";
  bool written = ::write(fd, line.data(), line.size()) == static_cast<ssize_t>(line.size()) && ::fsync(fd) == 0;
  ::close(fd);
  if (!written) return file_error("write", path);
  return key;
}

}  // namespace

Result<SecretBox> SecretBox::from_key(std::string_view key) {
  if (key.size() != kKeySize) return make_error(ErrorCode::InvalidArgument, kKeyForms);
  return SecretBox(std::string(key));
}

Result<std::string> SecretBox::seal(std::string_view plaintext) const {
  std::string out(kNonceSize + plaintext.size() + kTagSize, '\0');
  unsigned char* nonce = bytes(out);
  unsigned char* tag = nonce + kNonceSize + plaintext.size();
  if (RAND_bytes(nonce, kNonceSize) != 1)
    return make_error(ErrorCode::Internal, "cannot seal a secret: no random bytes for the nonce");
  CipherContext context(EVP_CIPHER_CTX_new(), &EVP_CIPHER_CTX_free);
  int length = 0;
  bool sealed = context && EVP_EncryptInit_ex(context.get(), EVP_aes_256_gcm(), nullptr, bytes(key_), nonce) == 1 &&
                EVP_EncryptUpdate(context.get(), nonce + kNonceSize, &length, bytes(plaintext),
                                  static_cast<int>(plaintext.size())) == 1 &&
                EVP_EncryptFinal_ex(context.get(), tag, &length) == 1 &&
                EVP_CIPHER_CTX_ctrl(context.get(), EVP_CTRL_GCM_GET_TAG, kTagSize, tag) == 1;
  if (!sealed) return make_error(ErrorCode::Internal, "cannot seal a secret: OpenSSL AES-256-GCM failed");
  return to_base64(out);
}

Result<std::string> SecretBox::open(std::string_view sealed) const {
  auto raw = from_base64(sealed);
  if (!raw || raw->size() < kNonceSize + kTagSize)
    return make_error(ErrorCode::InvalidArgument, "a sealed secret is malformed (not base64 of nonce, data and tag)");
  const std::size_t size = raw->size() - kNonceSize - kTagSize;
  unsigned char* nonce = bytes(*raw);
  unsigned char* tag = nonce + kNonceSize + size;
  std::string plaintext(size, '\0');
  CipherContext context(EVP_CIPHER_CTX_new(), &EVP_CIPHER_CTX_free);
  int length = 0;
  bool decrypted = context &&
                   EVP_DecryptInit_ex(context.get(), EVP_aes_256_gcm(), nullptr, bytes(key_), nonce) == 1 &&
                   EVP_DecryptUpdate(context.get(), bytes(plaintext), &length, nonce + kNonceSize,
                                     static_cast<int>(size)) == 1 &&
                   EVP_CIPHER_CTX_ctrl(context.get(), EVP_CTRL_GCM_SET_TAG, kTagSize, tag) == 1;
  if (!decrypted || EVP_DecryptFinal_ex(context.get(), bytes(plaintext) + length, &length) != 1) {
    OPENSSL_cleanse(plaintext.data(), plaintext.size());
    return make_error(ErrorCode::Internal,
                      "a sealed secret cannot be decrypted: it was sealed with another key (STEWARD_SECRET_KEY "
                      "or <data-dir>/secret.key changed) or the stored value was altered");
  }
  return plaintext;
}

Result<std::string> parse_secret_key(std::string_view text) {
  std::string clean = trimmed(text);
  std::optional<std::string> key = clean.size() == 2 * SecretBox::kKeySize ? from_hex(clean) : from_base64(clean);
  if (!key || key->size() != SecretBox::kKeySize) return make_error(ErrorCode::InvalidArgument, kKeyForms);
  return std::move(*key);
}

Result<SecretBox> load_or_create_secret_box(const std::string& key_text, const std::string& key_file) {
  if (!key_text.empty()) {
    auto key = parse_secret_key(key_text);
    if (!key) return make_error(ErrorCode::InvalidArgument, "STEWARD_SECRET_KEY: " + key.error().message);
    return SecretBox::from_key(*key);
  }
  std::ifstream in(key_file);
  if (!in) {
    auto created = create_key_file(key_file);
    if (!created) return created.error();
    return SecretBox::from_key(*created);
  }
  std::string line;
  std::getline(in, line);
  auto key = parse_secret_key(line);
  if (!key) return make_error(ErrorCode::InvalidArgument, key_file + ": " + key.error().message);
  return SecretBox::from_key(*key);
}

}  // namespace steward
