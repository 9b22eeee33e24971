// Bytes qemu-ga sends: cut into reply lines as they arrive in reads of
// varying size (after a delimiter or not), each reply decoded, and the
// fields guest-exec / guest-exec-status / guest-file-read replies are read for.
#include "fuzz_input.hpp"
#include "transport/qga/base64.hpp"
#include "transport/qga/qga_reply.hpp"

namespace {

using namespace steward::transport::qga;

void decode(const std::string& line) {
  auto reply = parse_reply(line);
  if (!reply || !reply->value) return;
  const auto& value = *reply->value;
  (void)integer_value(value);
  for (const char* key : {"pid", "exitcode", "signal", "count", "handle"}) (void)integer_field(value, key);
  for (const char* key : {"exited", "eof", "out-truncated", "err-truncated"}) (void)true_field(value, key);
  if (const auto* fields = value.if_object()) {
    for (const char* key : {"out-data", "err-data", "buf-b64"})
      if (const auto* text = fields->if_contains(key); text && text->is_string()) (void)base64_decode(text->get_string());
  }
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  if (size == 0) return 0;
  // The first byte: read size and whether the first reply follows a delimiter (a sync).
  const std::size_t chunk = 1 + data[0] % 64;
  LineScan scan{(data[0] & 0x80) == 0, 0};
  auto bytes = steward::fuzz::text_of(data + 1, size - 1);
  std::string buffer;
  for (std::size_t at = 0; at < bytes.size(); at += chunk) {
    buffer.append(bytes.substr(at, chunk));
    while (auto line = take_line(buffer, scan)) {
      decode(*line);
      scan = LineScan{};
    }
  }
  return 0;
}
