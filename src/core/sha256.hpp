#pragma once
// Incremental SHA-256 (OpenSSL), for verifying transferred files.
#include <memory>
#include <string>
#include <string_view>

namespace steward {

class Sha256 {
 public:
  Sha256();
  ~Sha256();
  Sha256(Sha256&&) noexcept;
  Sha256& operator=(Sha256&&) noexcept;
  void update(std::string_view bytes);
  // Lower-case hex, as sha256sum prints it. Ends the computation.
  std::string hex_digest();

 private:
  struct State;
  std::unique_ptr<State> state_;
};

}  // namespace steward
