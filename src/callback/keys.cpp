#include "callback/keys.hpp"

#include <libssh/libssh.h>
#include <sys/stat.h>

#include <cctype>
#include <filesystem>
#include <memory>

namespace steward::callback {
namespace {

struct KeyDeleter {
  void operator()(ssh_key key) const { ssh_key_free(key); }
};
using KeyPtr = std::unique_ptr<ssh_key_struct, KeyDeleter>;

std::string take_string(char* text) {
  std::string result = text ? text : "";
  ssh_string_free_char(text);
  return result;
}

std::string fingerprint_of(ssh_key key) {
  unsigned char* hash = nullptr;
  size_t length = 0;
  if (ssh_get_publickey_hash(key, SSH_PUBLICKEY_HASH_SHA256, &hash, &length) != SSH_OK) return {};
  std::string result = take_string(ssh_get_fingerprint_hash(SSH_PUBLICKEY_HASH_SHA256, hash, length));
  ssh_clean_pubkey_hash(&hash);
  return result;
}

Result<std::string> public_line_of(ssh_key key, const std::string& comment) {
  char* base64 = nullptr;
  if (ssh_pki_export_pubkey_base64(key, &base64) != SSH_OK)
    return make_error(ErrorCode::Internal, "cannot export a public key");
  std::string line = std::string(ssh_key_type_to_char(ssh_key_type(key))) + " " + take_string(base64);
  return comment.empty() ? line : line + " " + comment;
}

}  // namespace

Result<PublicKey> parse_public_key(const std::string& text, const std::string& field) {
  const auto invalid = [&field](const std::string& why) {
    return make_error(ErrorCode::InvalidArgument, field + ": " + why +
                                                      " (expected one OpenSSH line: \"ssh-ed25519 AAAA... comment\")");
  };
  std::string line = text;
  while (!line.empty() && std::isspace(static_cast<unsigned char>(line.back()))) line.pop_back();
  if (line.find_first_of("\r\n") != std::string::npos) return invalid("more than one line");
  const auto type_end = line.find(' ');
  if (type_end == std::string::npos) return invalid("no key after the type");
  PublicKey key;
  key.type = line.substr(0, type_end);
  const auto blob_start = line.find_first_not_of(' ', type_end);
  if (blob_start == std::string::npos) return invalid("no key after the type");
  const auto blob_end = line.find_first_of(" \r\n", blob_start);
  key.base64 = line.substr(blob_start, blob_end == std::string::npos ? std::string::npos : blob_end - blob_start);
  const auto type = ssh_key_type_from_name(key.type.c_str());
  if (type == SSH_KEYTYPE_UNKNOWN) return invalid("unknown key type '" + key.type + "'");
  ssh_key parsed = nullptr;
  if (ssh_pki_import_pubkey_base64(key.base64.c_str(), type, &parsed) != SSH_OK || !parsed)
    return invalid("the key is not readable");
  KeyPtr owned(parsed);
  // libssh skips the type the blob names: the key written back must be the
  // same text, or the blob is of another type (or not canonical).
  char* exported = nullptr;
  const bool same = ssh_pki_export_pubkey_base64(parsed, &exported) == SSH_OK && take_string(exported) == key.base64;
  if (ssh_key_type(parsed) != type || !same) return invalid("the key is not of type '" + key.type + "'");
  key.fingerprint = fingerprint_of(parsed);
  if (key.fingerprint.empty()) return invalid("the key has no fingerprint");
  return key;
}

Result<KeyPair> generate_key_pair(const std::string& comment) {
  ssh_key generated = nullptr;
  if (ssh_pki_generate(SSH_KEYTYPE_ED25519, 0, &generated) != SSH_OK || !generated)
    return make_error(ErrorCode::Internal, "cannot generate an ed25519 key");
  KeyPtr owned(generated);
  char* text = nullptr;
  if (ssh_pki_export_privkey_base64(generated, nullptr, nullptr, nullptr, &text) != SSH_OK)
    return make_error(ErrorCode::Internal, "cannot export the generated key");
  KeyPair pair;
  pair.private_key = take_string(text);
  if (!pair.private_key.empty() && pair.private_key.back() != '\n') pair.private_key += '\n';
  auto line = public_line_of(generated, comment);
  if (!line) return line.error();
  pair.public_line = std::move(*line);
  return pair;
}

Result<std::string> ensure_key_file(const std::string& path, const std::string& comment) {
  namespace fs = std::filesystem;
  std::error_code ec;
  if (!fs::exists(path, ec)) {
    ssh_key generated = nullptr;
    if (ssh_pki_generate(SSH_KEYTYPE_ED25519, 0, &generated) != SSH_OK || !generated)
      return make_error(ErrorCode::Internal, "cannot generate an ed25519 key for " + path);
    KeyPtr owned(generated);
    const mode_t previous = ::umask(077);
    const int exported = ssh_pki_export_privkey_file(generated, nullptr, nullptr, nullptr, path.c_str());
    ::umask(previous);
    if (exported != SSH_OK) return make_error(ErrorCode::Internal, "cannot write the key file " + path);
  }
  fs::permissions(path, fs::perms::owner_read | fs::perms::owner_write, ec);
  ssh_key key = nullptr;
  if (ssh_pki_import_privkey_file(path.c_str(), nullptr, nullptr, nullptr, &key) != SSH_OK || !key)
    return make_error(ErrorCode::Internal, "cannot read the key file " + path + " (unreadable or passphrase-protected)");
  KeyPtr owned(key);
  return public_line_of(key, comment);
}

Status check_callback_name(const std::string& name) {
  bool valid = !name.empty() && name.size() <= 64 && name.front() != '-' && name.front() != '.';
  for (char c : name)
    if (!std::isalnum(static_cast<unsigned char>(c)) && c != '.' && c != '_' && c != '-') valid = false;
  if (!valid)
    return make_error(ErrorCode::InvalidArgument, "name: 1 to 64 letters, digits, '.', '_' or '-', not starting "
                                                  "with '-' or '.'");
  return {};
}

}  // namespace steward::callback
