#pragma once
// SSH keys of the callback endpoint (issue 14), in OpenSSH text forms: the
// public key lines registrations carry, the key pairs the server keeps in
// <data-dir>/callback/ and the pair `steward callback add` makes for a VM.
// Private keys leave these functions only as returned text or a 0600 file.
#include <string>

#include "core/result.hpp"

namespace steward::callback {

struct PublicKey {
  std::string type;         // "ssh-ed25519", "ssh-rsa", ...
  std::string base64;       // the key blob
  std::string fingerprint;  // "SHA256:..."
  std::string line() const { return type + " " + base64; }
};

// "TYPE BASE64 [COMMENT]" → the key; InvalidArgument saying what is wrong,
// starting with `field`.
Result<PublicKey> parse_public_key(const std::string& line, const std::string& field = "public_key");

struct KeyPair {
  std::string private_key;  // OpenSSH private key text
  std::string public_line;  // "ssh-ed25519 BASE64 COMMENT"
};

// A new ed25519 key pair.
Result<KeyPair> generate_key_pair(const std::string& comment);

// The public line of the private key file at `path`, made (ed25519, 0600)
// when missing.
Result<std::string> ensure_key_file(const std::string& path, const std::string& comment);

// Target names double as known_hosts names and inventory hosts: letters,
// digits, '.', '_' and '-', not starting with '-', at most 64 characters.
Status check_callback_name(const std::string& name);

}  // namespace steward::callback
