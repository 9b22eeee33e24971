#pragma once
// What qemu-ga sends back, apart from the socket: the byte stream cut into
// reply lines, and what one reply says (tests/fuzz/qga_fuzzer.cpp feeds it
// arbitrary bytes).
#include <boost/json/value.hpp>

#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

namespace steward::transport::qga {

// qemu-ga's resync byte: the reply to guest-sync-delimited follows one.
constexpr char kDelimiter = '\xff';

// Where the search for the next line stands across reads.
struct LineScan {
  bool delimited = true;    // false: drop everything up to and including the next kDelimiter first
  std::size_t scanned = 0;  // no newline before this offset: a big reply is scanned once
};

// Cuts the next line (without its newline) out of `buffer`, the bytes read
// so far; nullopt until a whole one has arrived.
std::optional<std::string> take_line(std::string& buffer, LineScan& scan);

// A reply line: qemu-ga's "return" value, or the error it describes.
struct Reply {
  std::optional<boost::json::value> value;  // "return"
  std::string error;                        // "error": its "desc", else the error object as JSON
};
// nullopt when the line is neither (not the protocol we know).
std::optional<Reply> parse_reply(std::string_view line);

// `value` when it is an integer.
std::optional<std::int64_t> integer_value(const boost::json::value& value);
// `object[key]` when `object` is an object holding an integer there.
std::optional<std::int64_t> integer_field(const boost::json::value& object, std::string_view key);
// `object[key]` when it is the boolean true.
bool true_field(const boost::json::value& object, std::string_view key);

}  // namespace steward::transport::qga
