#pragma once
// The REST API's JSON shapes (DESIGN "REST API"): host entries, job objects,
// blocking replies, and request bodies.
#include <boost/json/object.hpp>
#include <boost/json/value.hpp>

#include <string>

#include "core/model.hpp"
#include "core/result.hpp"

namespace steward::api::http {

// One host's entry: status, plus rtc/stdout/stderr/facts/error as the operation has them.
// A stream of which the run holds only the tail (OpResult::stdout_size) is
// flagged `stdout_embedded_truncated` with its whole size in `stdout_size`.
boost::json::object host_entry(const TargetRun& run, bool with_output);

// One finished target as a blocking reply and a follow stream give it: its
// host_entry, with stdout/stderr when asked or when the output is what the
// operation is for (execute, service).
boost::json::object result_entry(const std::string& operate, const TargetRun& run, bool with_output);

// The job object, with `taskid` (EXEd's name for the jid); stdout/stderr in
// return_data only `with_output`.
boost::json::object job_object(const Job& job, bool with_output);

// A blocking GET's reply: {"HOST": entry, ...}.
boost::json::object blocking_reply(const Job& job);

// {"message": text}
boost::json::object message_object(const std::string& text);

// Unix seconds, or null for "never" / "not recorded".
inline boost::json::value time_or_null(double at) {
  return at > 0 ? boost::json::value(at) : boost::json::value(nullptr);
}

// A request body that must be a JSON object; InvalidArgument saying what is wrong.
Result<boost::json::object> parse_object(const std::string& body);

}  // namespace steward::api::http
