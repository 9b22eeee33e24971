// Request targets: path and query string split (percent-decoding included),
// then each parameter read as a flag and as a count, as routes read them.
#include "api/http/query.hpp"
#include "fuzz_input.hpp"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  using namespace steward::api::http;
  auto target = split_target(steward::fuzz::text_of(data, size));
  if (!target) return 0;
  for (const auto& [key, value] : target->second) {
    (void)flag_value(key.c_str(), value);
    (void)count_value(key.c_str(), value);
  }
  return 0;
}
