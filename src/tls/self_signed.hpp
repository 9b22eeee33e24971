#pragma once
// `--tls auto`: a self-signed server certificate and its key, created once
// in a folder of the data dir and reused on later starts.
#include <string>
#include <vector>

#include "core/result.hpp"

namespace steward::tls {

struct CertificateNames {
  std::string common_name;
  std::vector<std::string> dns_names;     // subjectAltName DNS entries
  std::vector<std::string> ip_addresses;  // subjectAltName IP entries (v4 or v6 text)
};

struct SelfSignedFiles {
  std::string certificate_path;  // DIR/cert.pem
  std::string key_path;          // DIR/key.pem, mode 0600
  bool created = false;          // false: both existed and were kept
};

constexpr int kSelfSignedValidDays = 3650;

// Creates DIR (0700), an EC P-256 key and a self-signed certificate for
// `names` valid kSelfSignedValidDays, unless DIR/cert.pem and DIR/key.pem
// both exist already (they are then kept as they are, whatever their names).
// Each file is written to a temporary name and renamed, so a crash leaves
// no half-written file under the final name.
Result<SelfSignedFiles> ensure_self_signed(const std::string& dir, const CertificateNames& names);

}  // namespace steward::tls
