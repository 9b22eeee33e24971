#pragma once
// What every client command shares: where the server is, the token, and
// calls whose failures become one clear message.
#include <boost/json/object.hpp>
#include <boost/json/value.hpp>

#include <functional>
#include <memory>
#include <string>

#include "cli/http_client.hpp"

namespace CLI {
class App;
}

namespace steward::cli {

struct ClientOptions {
  std::string server;    // --server, else STEWARD_SERVER, else http://127.0.0.1:16808
  std::string data_dir;  // where the token file is: --data-dir, else STEWARD_DATA_DIR, else ./.steward
  std::string ca_file;   // https: --ca, else STEWARD_CA, else the system's CA store
  bool insecure = false;  // https: accept any certificate (warns)
  std::string fingerprint;  // https: accept only the certificate with this SHA-256 fingerprint
  bool json = false;
};

class Session {
 public:
  static Result<Session> open(const ClientOptions& options);

  // The reply's JSON when the status is 2xx; otherwise an error carrying the
  // server's message (and what to do about a 401).
  Result<boost::json::value> call(const std::string& method, const std::string& target, const std::string& body = "");
  // What call() makes of a reply, for one got through client() (uploads, downloads).
  Result<boost::json::value> check(const Result<HttpReply>& reply) const;

  HttpClient& client() { return *client_; }
  bool json() const { return json_; }

 private:
  std::shared_ptr<HttpClient> client_;
  bool json_ = false;
};

// --batch and --max-failures (README "Rolling batches"): sent only when given.
struct RolloutFlags {
  std::string batch;
  std::string max_failures;

  void add_to(CLI::App& command);
  void put_in(boost::json::object& body) const;
  std::string query() const;
};

// --server, --data-dir, --ca, --insecure, --fingerprint and --json on a client command.
void add_connection_flags(CLI::App& command, ClientOptions& options);

// Runs `body` with an open session; errors become a message and an exit code.
void with_session(const ClientOptions& options, int& exit_code, const std::function<int(Session&)>& body);

// Prints "steward: MESSAGE" to stderr; returns the exit code for it.
int report(const Error& error);

std::string url_encode(const std::string& text);

// A listener's address as a remote machine dials it: a wildcard host (the
// server listens on every interface) becomes the host this CLI reached the
// server at.
std::string dialable_address(const std::string& address, const std::string& server_host);

using HostFinished = std::function<void(const std::string& host, const boost::json::object& result)>;

// Streams a job until it ends, calling on_host for each host as it finishes
// (a done/total bar on a terminal meanwhile, cleared before each call); then
// the job as it ended, with outputs.
Result<boost::json::object> watch_job(Session& session, const std::string& jid, const HostFinished& on_host);

// The job failed, or a host in it did.
bool job_failed(const boost::json::object& job);

// Streams a job until it ends: prints each host as it finishes (a progress
// bar on a terminal), or the final job as JSON. 0 only if no host failed.
int follow_job(Session& session, const std::string& jid);

}  // namespace steward::cli
