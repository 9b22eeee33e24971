#include "cli/session.hpp"

#include <CLI/CLI.hpp>
#include <boost/json.hpp>
#include <cstdlib>
#include <fstream>
#include <iostream>

#include "cli/render.hpp"
#include "core/json_text.hpp"

namespace steward::cli {
namespace {

std::string first_set(std::initializer_list<std::string> candidates) {
  for (const auto& candidate : candidates)
    if (!candidate.empty()) return candidate;
  return {};
}

std::string env(const char* name) {
  const char* value = std::getenv(name);
  return value ? value : "";
}

std::string read_token(const std::string& data_dir) {
  std::ifstream in(data_dir + "/token");
  std::string token;
  std::getline(in, token);
  return token;
}

// Only a request the server refused as malformed is bad usage (exit 2); a
// missing job or host, a conflict or a server failure is a failure (exit 1).
ErrorCode error_code_of(int status) {
  if (status == 403) return ErrorCode::PermissionDenied;
  if (status == 404) return ErrorCode::NotFound;
  if (status == 409) return ErrorCode::Conflict;
  if (status >= 400 && status < 500) return ErrorCode::InvalidArgument;
  return ErrorCode::Unavailable;
}

}  // namespace

Result<Session> Session::open(const ClientOptions& options) {
  auto address = parse_server_url(first_set({options.server, env("STEWARD_SERVER"), "http://127.0.0.1:16808"}));
  if (!address) return address.error();
  address->token = env("STEWARD_TOKEN");
  if (address->token.empty()) address->token = read_token(first_set({options.data_dir, env("STEWARD_DATA_DIR"), "./.steward"}));
  tls::ClientTrust trust{first_set({options.ca_file, env("STEWARD_CA")}), options.insecure, options.fingerprint};
  if (address->tls && trust.insecure) {
    std::cerr << "steward: warning: --insecure: the server's TLS certificate is not checked, so whoever sits "
                 "between here and " << address->url << " can read the token and every reply\n";
  }
  Session session;
  session.client_ = std::make_shared<HttpClient>(std::move(*address), std::move(trust));
  session.json_ = options.json;
  return session;
}

Result<boost::json::value> Session::call(const std::string& method, const std::string& target, const std::string& body) {
  return check(client_->request(method, target, body));
}

Result<boost::json::value> Session::check(const Result<HttpReply>& reply) const {
  if (!reply) return reply.error();
  if (reply->status == 401) {
    return make_error(ErrorCode::Unauthenticated,
                      "the server at " + client_->server().url +
                          " refused the token (401): set STEWARD_TOKEN, or --data-dir to the server's data dir");
  }
  if (reply->status < 200 || reply->status >= 300) return make_error(error_code_of(reply->status), error_message(*reply));
  if (reply->body.empty()) return boost::json::value();
  boost::system::error_code ec;
  auto value = boost::json::parse(reply->body, ec);
  if (ec) return make_error(ErrorCode::Internal, "the server sent malformed JSON: " + ec.message());
  return value;
}

int report(const Error& error) {
  std::cerr << "steward: " << error.message << "\n";
  return error.code == ErrorCode::InvalidArgument ? 2 : 1;
}

std::string dialable_address(const std::string& address, const std::string& server_host) {
  const auto colon = address.rfind(':');
  if (colon == std::string::npos) return address;
  const std::string host = address.substr(0, colon);
  if (host != "0.0.0.0" && host != "[::]" && host != "::" && !host.empty()) return address;
  const bool v6 = server_host.find(':') != std::string::npos && server_host.front() != '[';
  return (v6 ? "[" + server_host + "]" : server_host) + address.substr(colon);
}

std::string url_encode(const std::string& text) {
  static const char* hex = "0123456789ABCDEF";
  std::string out;
  for (unsigned char c : text) {
    if (std::isalnum(c) || c == '-' || c == '_' || c == '.' || c == '~' || c == '*') {
      out.push_back(static_cast<char>(c));
    } else {
      out += '%';
      out += hex[c >> 4];
      out += hex[c & 15];
    }
  }
  return out;
}

bool job_failed(const boost::json::object& job) {
  if (job.at("state").to_number<int>() == 2) return true;
  const auto* results = job.if_contains("return_data");
  if (!results || !results->is_object()) return false;
  for (const auto& [host, result] : results->as_object()) {
    const auto* status = result.is_object() ? result.as_object().if_contains("status") : nullptr;
    if (status && status->is_int64() && status_failed(status->as_int64())) return true;
  }
  return false;
}

// The stream is the job, then {"HOST": result} per finished target; it ends
// with the job but carries no final state, so a normal read follows it.
Result<boost::json::object> watch_job(Session& session, const std::string& jid, const HostFinished& on_host) {
  ProgressBar bar;
  std::size_t total = 0, done = 0;
  bool seen_job = false;
  std::string unexpected;
  auto reply = session.client().stream_lines("/jobs/" + url_encode(jid) + "?follow=1&outputs=1", [&](const std::string& line) {
    if (line.empty() || !unexpected.empty()) return;
    boost::system::error_code ec;
    auto value = boost::json::parse(line, ec);
    if (ec || !value.is_object()) {
      unexpected = "unexpected line from the server: " + line;
      return;
    }
    const auto& object = value.as_object();
    if (!seen_job) {
      seen_job = true;
      if (auto* targets = object.if_contains("targets"); targets && targets->is_array()) total = targets->as_array().size();
    } else if (object.size() == 1 && object.begin()->value().is_object()) {
      const auto& [host, result] = *object.begin();
      ++done;
      bar.clear();
      on_host(std::string(host), result.as_object());
    } else if (auto* message = object.if_contains("message"); message && message->is_string()) {
      unexpected = std::string(message->as_string());
    } else {
      unexpected = "unexpected line from the server: " + line;
    }
    if (!session.json()) bar.update(done, total);
  });
  bar.clear();
  if (!reply) return reply.error();
  if (reply->status != 200) {
    HttpReply whole = *reply;
    return make_error(reply->status == 401 ? ErrorCode::Unauthenticated : ErrorCode::NotFound,
                      reply->status == 401 ? "the server refused the token (401)" : error_message(whole));
  }
  if (!unexpected.empty()) return make_error(ErrorCode::Internal, unexpected);
  auto final_job = session.call("GET", "/jobs/" + url_encode(jid) + "?outputs=1");
  if (!final_job) return final_job.error();
  if (!final_job->is_object()) return make_error(ErrorCode::Internal, "the server sent a job that is not an object");
  return final_job->as_object();
}

// After the stream: the job as it ended (JSON), or a one-line summary.
int follow_job(Session& session, const std::string& jid) {
  auto job = watch_job(session, jid, [&](const std::string& host, const boost::json::object& result) {
    if (!session.json()) print_host_block(host, result);
  });
  if (!job) return report(job.error());
  if (session.json()) {
    std::cout << pretty_json(*job) << "\n";
  } else {
    const auto* progress = job->if_contains("progress");
    std::string counts;
    if (progress && progress->is_object())
      counts = ": " + std::to_string(progress->as_object().at("done").to_number<std::int64_t>()) + "/" +
               std::to_string(progress->as_object().at("total").to_number<std::int64_t>()) + " hosts done";
    const std::string error = text_of(*job, "error");
    std::cerr << "job " << jid << counts << (error.empty() ? "" : ", " + error) << "\n";
  }
  return job_failed(*job) ? 1 : 0;
}

void RolloutFlags::add_to(CLI::App& command) {
  command.add_option("--batch", batch, "run N hosts (or N%) at a time, a batch after the one before has ended");
  command.add_option("--max-failures", max_failures,
                     "start no further batch once more than N hosts (or N%) have failed; the rest are skipped");
}

void RolloutFlags::put_in(boost::json::object& body) const {
  if (!batch.empty()) body["batch"] = batch;
  if (!max_failures.empty()) body["max_failures"] = max_failures;
}

std::string RolloutFlags::query() const {
  std::string query;
  if (!batch.empty()) query += "&batch=" + url_encode(batch);
  if (!max_failures.empty()) query += "&max_failures=" + url_encode(max_failures);
  return query;
}

void add_connection_flags(CLI::App& command, ClientOptions& options) {
  command.add_option("--server", options.server, "server URL (default $STEWARD_SERVER or http://127.0.0.1:16808)");
  command.add_option("--data-dir", options.data_dir, "server data dir holding the token (default $STEWARD_DATA_DIR or ./.steward)");
  command.add_option("--ca", options.ca_file,
                     "https: PEM CA certificate(s) to verify the server with (default $STEWARD_CA, else the system's)");
  command.add_flag("--insecure", options.insecure, "https: do not verify the server's certificate (warns)");
  command.add_option("--fingerprint", options.fingerprint,
                     "https: accept only the certificate with this SHA-256 fingerprint (sha256:AB:CD:..., as the "
                     "server logs it; instead of --ca)");
  command.add_flag("--json", options.json, "print JSON for scripts");
}

void with_session(const ClientOptions& options, int& exit_code, const std::function<int(Session&)>& body) {
  auto session = Session::open(options);
  exit_code = session ? body(*session) : report(session.error());
}

}  // namespace steward::cli
