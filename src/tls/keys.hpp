#pragma once
// Private keys and certificate signing requests made where the key stays
// (an agent makes its own and sends only the request).
#include <string>

#include "core/result.hpp"

namespace steward::tls {

// A new unencrypted PEM (PKCS#8) private key: "P-256", "P-384", "secp256k1",
// "Ed25519" or "RSA-BITS" (e.g. "RSA-3072"); InvalidArgument for another kind.
Result<std::string> generate_private_key(const std::string& kind);

// A PEM PKCS#10 request for the key's public half, signed with it.
Result<std::string> make_signing_request(const std::string& private_key_pem, const std::string& common_name);

// Writes `text` to PATH.tmp (0600) and renames it to PATH, so a crash never
// leaves a half-written file under the final name.
Status write_private_file(const std::string& path, const std::string& text);

}  // namespace steward::tls
