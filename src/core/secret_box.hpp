#pragma once
// Authenticated encryption of small secret values (AES-256-GCM, OpenSSL),
// so that secrets in job arguments and records are stored only encrypted.
// Error messages never contain the plaintext, the key or the sealed text.
#include <string>
#include <string_view>

#include "core/result.hpp"

namespace steward {

class SecretBox {
 public:
  static constexpr std::size_t kKeySize = 32;

  // InvalidArgument unless `key` holds exactly 32 bytes.
  static Result<SecretBox> from_key(std::string_view key);

  // base64(nonce | ciphertext | tag), with a fresh random 96-bit nonce on every call.
  Result<std::string> seal(std::string_view plaintext) const;
  // The plaintext. InvalidArgument for text that is not a sealed value;
  // Internal (a server-side fault, not the caller's) when the tag does not
  // verify: another key sealed it, or the stored text was altered.
  Result<std::string> open(std::string_view sealed) const;

 private:
  explicit SecretBox(std::string key) : key_(std::move(key)) {}
  std::string key_;
};

// 32 bytes written as 64 hex digits or as base64; InvalidArgument saying which forms are accepted.
Result<std::string> parse_secret_key(std::string_view text);

// The box for `key_text` (STEWARD_SECRET_KEY) when it is not empty; else the
// key in `key_file`, which is created with a random key (mode 0600) when absent.
Result<SecretBox> load_or_create_secret_box(const std::string& key_text, const std::string& key_file);

}  // namespace steward
