#include "api/http/json_codec.hpp"

#include <boost/json/parse.hpp>

#include "core/secret_args.hpp"

namespace steward::api::http {
namespace {

const char* phase_name(RunPhase phase) {
  switch (phase) {
    case RunPhase::Pending: return "pending";
    case RunPhase::Running: return "running";
    case RunPhase::Finished: return "finished";
  }
  return "pending";
}

// Output belongs in a blocking reply for operations whose output is the point.
bool output_is_the_result(const std::string& operate) { return operate == "execute" || operate == "service"; }

}  // namespace

boost::json::object host_entry(const TargetRun& run, bool with_output) {
  const OpResult& r = run.result;
  boost::json::object entry;
  entry["status"] = static_cast<int>(r.state);
  if (r.rtc) entry["rtc"] = *r.rtc;
  if (r.signal) entry["signal"] = *r.signal;
  if (with_output) {
    entry["stdout"] = r.stdout_data;
    entry["stderr"] = r.stderr_data;
    // Only the tail is embedded; GET /jobs/JID/output pages through the rest.
    if (r.stdout_size) {
      entry["stdout_embedded_truncated"] = true;
      entry["stdout_size"] = *r.stdout_size;
    }
    if (r.stderr_size) {
      entry["stderr_embedded_truncated"] = true;
      entry["stderr_size"] = *r.stderr_size;
    }
  }
  if (r.stdout_truncated) entry["stdout_truncated"] = true;
  if (r.stderr_truncated) entry["stderr_truncated"] = true;
  if (!r.facts.is_null()) entry["facts"] = r.facts;
  if (!r.error.empty()) entry["error"] = r.error;
  return entry;
}

boost::json::object result_entry(const std::string& operate, const TargetRun& run, bool with_output) {
  return host_entry(run, with_output || output_is_the_result(operate));
}

boost::json::object job_object(const Job& job, bool with_output) {
  boost::json::object out;
  out["jid"] = job.jid;
  out["taskid"] = job.jid;
  out["state"] = static_cast<int>(job.state);
  out["error"] = job.error;
  out["startat"] = job.startat;
  out["finishat"] = job.finishat;
  out["operate"] = job.operate;
  out["operate_args"] = redacted(job.operate_args);  // secrets are sealed; shown as "***"
  boost::json::array targets;
  boost::json::object return_data;
  std::size_t done = 0;
  for (const auto& name : job.targets) {
    targets.emplace_back(name);
    auto it = job.runs.find(name);
    if (it == job.runs.end()) continue;
    const TargetRun& run = it->second;
    auto entry = host_entry(run, with_output);
    entry["phase"] = phase_name(run.phase);
    if (run.startat > 0) entry["startat"] = run.startat;
    if (run.finishat > 0) entry["finishat"] = run.finishat;
    if (run.phase != RunPhase::Pending) entry["queue_wait"] = run.queue_wait;
    return_data[name] = std::move(entry);
    done += run.phase == RunPhase::Finished ? 1 : 0;
  }
  out["targets"] = std::move(targets);
  out["return_data"] = std::move(return_data);
  out["progress"] = boost::json::object{{"done", done}, {"total", job.targets.size()}};
  return out;
}

boost::json::object blocking_reply(const Job& job) {
  boost::json::object out;
  for (const auto& name : job.targets) {
    auto it = job.runs.find(name);
    if (it != job.runs.end()) out[name] = result_entry(job.operate, it->second, false);
  }
  return out;
}

boost::json::object message_object(const std::string& text) {
  boost::json::object out;
  out["message"] = text;
  return out;
}

Result<boost::json::object> parse_object(const std::string& body) {
  if (body.empty()) return make_error(ErrorCode::InvalidArgument, "request body must be a JSON object");
  boost::system::error_code ec;
  auto value = boost::json::parse(body, ec);
  if (ec) return make_error(ErrorCode::InvalidArgument, "malformed JSON: " + ec.message());
  if (!value.is_object()) return make_error(ErrorCode::InvalidArgument, "request body must be a JSON object");
  return std::move(value.as_object());
}

}  // namespace steward::api::http
