#include "store/redis/redis_codec.hpp"

#include <boost/json/parse.hpp>
#include <boost/json/serialize.hpp>

#include <charconv>
#include <cstdio>
#include <cstdlib>

namespace steward::store::redis {
namespace {

// "<decimal length>:" then that many bytes; advances `at`.
std::string take_counted(const std::string& text, std::size_t& at) {
  auto colon = text.find(':', at);
  if (colon == std::string::npos) return {};
  std::size_t length = 0;
  std::from_chars(text.data() + at, text.data() + colon, length);
  at = colon + 1;
  std::string out = text.substr(at, length);
  at = std::min(text.size(), at + length);
  return out;
}

std::string counted(const std::string& text) { return std::to_string(text.size()) + ":" + text; }

std::string take_line(const std::string& text, std::size_t& at) {
  auto end = text.find('\n', at);
  if (end == std::string::npos) end = text.size();
  std::string out = text.substr(at, end - at);
  at = std::min(text.size(), end + 1);
  return out;
}

const boost::json::value* field(const boost::json::object& object, const char* key) {
  auto it = object.find(key);
  return it == object.end() ? nullptr : &it->value();
}

double json_number(const boost::json::object& object, const char* key) {
  const auto* value = field(object, key);
  return value && value->is_string() ? to_double(std::string(value->as_string())) : 0;
}

std::optional<int> json_int(const boost::json::object& object, const char* key) {
  const auto* value = field(object, key);
  if (!value || !value->is_int64()) return std::nullopt;
  return static_cast<int>(value->as_int64());
}

}  // namespace

std::string number(double value) {
  char text[32];
  std::snprintf(text, sizeof text, "%.17g", value);
  return text;
}

std::string number(std::int64_t value) { return std::to_string(value); }

double to_double(const std::string& text) { return std::strtod(text.c_str(), nullptr); }

std::int64_t to_integer(const std::string& text) { return std::strtoll(text.c_str(), nullptr, 10); }

// Times as strings: they come back exactly as written.
std::string encode_run_meta(const TargetRun& run) {
  const OpResult& r = run.result;
  boost::json::object meta{{"state", static_cast<int>(r.state)},
                           {"stdout_truncated", r.stdout_truncated},
                           {"stderr_truncated", r.stderr_truncated},
                           {"error", r.error},
                           {"startat", number(run.startat)},
                           {"finishat", number(run.finishat)},
                           {"queue_wait", number(run.queue_wait)}};
  if (r.rtc) meta["rtc"] = *r.rtc;
  if (r.signal) meta["signal"] = *r.signal;
  if (!r.facts.is_null()) meta["facts"] = r.facts;
  return boost::json::serialize(meta);
}

void decode_run_meta(const std::string& text, TargetRun& run) {
  if (text.empty()) return;
  boost::system::error_code ec;
  auto parsed = boost::json::parse(text, ec);
  if (ec || !parsed.is_object()) return;
  const auto& meta = parsed.as_object();
  OpResult& r = run.result;
  r.state = static_cast<OpState>(json_int(meta, "state").value_or(0));
  r.rtc = json_int(meta, "rtc");
  r.signal = json_int(meta, "signal");
  if (const auto* v = field(meta, "stdout_truncated"); v && v->is_bool()) r.stdout_truncated = v->as_bool();
  if (const auto* v = field(meta, "stderr_truncated"); v && v->is_bool()) r.stderr_truncated = v->as_bool();
  if (const auto* v = field(meta, "facts")) r.facts = *v;
  if (const auto* v = field(meta, "error"); v && v->is_string()) r.error = v->as_string();
  run.startat = json_number(meta, "startat");
  run.finishat = json_number(meta, "finishat");
  run.queue_wait = json_number(meta, "queue_wait");
}

TakenRun decode_inbox_entry(const std::string& text) {
  TakenRun entry;
  std::size_t at = 0;
  entry.jid = take_counted(text, at);
  entry.target = take_counted(text, at);
  entry.from = text.substr(at);
  return entry;
}

// "<seq>\n<stream>\n<at>\n<len>:<target><data>": the seq keeps members of a
// sorted set distinct.
std::string encode_chunk(const OutputChunk& chunk) {
  return std::to_string(chunk.seq) + "\n" + std::to_string(static_cast<int>(chunk.stream)) + "\n" +
         number(chunk.at) + "\n" + counted(chunk.target) + chunk.data;
}

OutputChunk decode_chunk(const std::string& text) {
  OutputChunk chunk;
  std::size_t at = 0;
  chunk.seq = static_cast<std::uint64_t>(to_integer(take_line(text, at)));
  chunk.stream = to_integer(take_line(text, at)) == 2 ? OutputStream::Stderr : OutputStream::Stdout;
  chunk.at = to_double(take_line(text, at));
  chunk.target = take_counted(text, at);
  chunk.data = text.substr(at);
  return chunk;
}

std::string process_field_prefix(const std::string& target) { return counted(target); }

std::string process_field(const std::string& target, const RunProcess& process) {
  return counted(target) + process.status_path;
}

std::string process_value(const RunProcess& process) {
  return process.transport + "\n" + std::to_string(process.pgid) + "\n" + process.start_time;
}

StoredProcess decode_process(const std::string& field, const std::string& value) {
  StoredProcess out;
  std::size_t at = 0;
  out.target = take_counted(field, at);
  out.process.status_path = field.substr(at);
  at = 0;
  out.seq = to_integer(take_line(value, at));
  out.process.transport = take_line(value, at);
  out.process.pgid = static_cast<long>(to_integer(take_line(value, at)));
  out.process.start_time = take_line(value, at);
  return out;
}

}  // namespace steward::store::redis
