#pragma once
// How the Redis store writes values into strings: numbers exactly (%.17g),
// a run's fields as JSON, output chunks and command records in
// length-prefixed strings (binary-safe, never parsed by Lua).
#include <cstdint>
#include <string>
#include <utility>

#include "core/model.hpp"
#include "store/store.hpp"

namespace steward::store::redis {

std::string number(double value);
std::string number(std::int64_t value);
// 0 for text that is not a number.
double to_double(const std::string& text);
std::int64_t to_integer(const std::string& text);

// A run's result and times, without its output and ownership.
std::string encode_run_meta(const TargetRun& run);
// Leaves `run` as it is for "" (a run created Pending).
void decode_run_meta(const std::string& text, TargetRun& run);

// An inbox entry as the scripts write it:
// "<len(jid)>:<jid><len(target)>:<target><from>".
TakenRun decode_inbox_entry(const std::string& text);

std::string encode_chunk(const OutputChunk& chunk);
OutputChunk decode_chunk(const std::string& text);

// A command record: field "<len>:<target><status path>" and value
// "<transport>\n<pgid>\n<start time>"; Lua puts "<seq>\n" in front.
std::string process_field_prefix(const std::string& target);
std::string process_field(const std::string& target, const RunProcess& process);
std::string process_value(const RunProcess& process);
struct StoredProcess {
  std::int64_t seq = 0;
  std::string target;
  RunProcess process;
};
StoredProcess decode_process(const std::string& field, const std::string& value);

}  // namespace steward::store::redis
