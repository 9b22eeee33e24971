#include "agents/agent_identity.hpp"

#include <openssl/x509v3.h>
#include <spdlog/spdlog.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <condition_variable>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <mutex>

#include "tls/authority.hpp"
#include "tls/keys.hpp"
#include "tls/openssl_util.hpp"
#include "tls/peer_chain.hpp"

namespace steward::agents {
namespace {

namespace fs = std::filesystem;

constexpr double kRenewWithin = 30 * 86400;
constexpr const char* kUriPrefix = "steward-agent:";

std::string path_in(const std::string& dir, const char* file) { return (fs::path(dir) / file).string(); }

Status check_key_mode(const std::string& path) {
  struct stat info {};
  if (::stat(path.c_str(), &info) != 0) return make_error(ErrorCode::InvalidArgument, "agent key " + path + ": cannot read it");
  if ((info.st_mode & 077) == 0) return {};
  char mode[8];
  std::snprintf(mode, sizeof mode, "%04o", info.st_mode & 07777);
  return make_error(ErrorCode::InvalidArgument, "agent key " + path + " is open to group or others (mode " + mode +
                                                    "): chmod 600 " + path);
}

Result<std::string> read_key(const std::string& path) {
  if (auto mode = check_key_mode(path); !mode) return mode.error();
  auto text = tls::read_pem_file(path, "agent key");
  if (!text) return text.error();
  if (!tls::parse_private_key(*text)) {
    tls::take_openssl_error();
    return make_error(ErrorCode::InvalidArgument,
                      "agent key " + path + ": not an unencrypted PEM private key (delete the state folder's files to "
                                            "enrol again)");
  }
  return text;
}

std::string agent_id_of(const std::string& certificate_pem) {
  for (const auto& uri : tls::certificate_uri_names(certificate_pem))
    if (uri.starts_with(kUriPrefix)) return uri.substr(std::string_view(kUriPrefix).size());
  return {};
}

Status prepare_state_dir(const std::string& dir) {
  std::error_code ec;
  fs::create_directories(dir, ec);
  if (ec) return make_error(ErrorCode::InvalidArgument, "cannot create the state folder " + dir + ": " + ec.message());
  fs::permissions(dir, fs::perms::owner_all, fs::perm_options::replace, ec);
  if (ec) return make_error(ErrorCode::InvalidArgument, "cannot make " + dir + " private (0700): " + ec.message());
  return {};
}

std::string local_hostname() {
  char host[256] = {};
  if (::gethostname(host, sizeof host - 1) != 0 || host[0] == '\0') return "unknown";
  return host;
}

// The CA to talk to the server with: the saved one (which must match a
// given pin), or the one a first handshake finds under the pin.
Result<std::string> pinned_ca(const EnrolOptions& options) {
  const std::string saved_path = path_in(options.state_dir, kAgentCaFile);
  std::error_code ec;
  if (!fs::exists(saved_path, ec)) {
    if (options.ca_pin.empty())
      return make_error(ErrorCode::InvalidArgument,
                        "the first enrolment needs --ca-pin sha256:... (steward agents join-command prints the whole "
                        "command)");
    return pin_server_ca(options.server, options.ca_pin, options.state_dir);
  }
  auto saved = tls::read_pem_file(saved_path, "pinned CA");
  if (!saved) return saved.error();
  auto pins = tls::certificate_pins(*saved);
  if (pins.empty()) return make_error(ErrorCode::InvalidArgument, "pinned CA " + saved_path + ": no PEM certificate");
  if (!options.ca_pin.empty() && pins.front() != options.ca_pin)
    return make_error(ErrorCode::PermissionDenied, "--ca-pin " + options.ca_pin + " differs from the CA pinned before in " +
                                                       saved_path + " (" + pins.front() +
                                                       "); to enrol with another server, use another --state-dir");
  return saved;
}

Result<std::string> agent_key(const std::string& state_dir) {
  const std::string path = path_in(state_dir, kAgentKeyFile);
  std::error_code ec;
  if (fs::exists(path, ec)) return read_key(path);
  auto key = tls::generate_private_key("P-256");
  if (!key) return key.error();
  if (auto written = tls::write_private_file(path, *key); !written) return written.error();
  return key;
}

// Waits `delay` or until a stop is requested; false when stopped.
bool wait_unless_stopped(std::chrono::seconds delay, const std::stop_token& stop) {
  std::mutex mutex;
  std::condition_variable_any wake;
  std::unique_lock lock(mutex);
  wake.wait_for(lock, stop, delay, [] { return false; });
  return !stop.stop_requested();
}

Result<AgentCredentials> run_enrolment(const EnrolOptions& options, const EnrolCall& call, const std::string& ca_pem,
                                       const std::string& key_pem) {
  auto csr = tls::make_signing_request(key_pem, "steward-agent");
  if (!csr) return csr.error();
  EnrolRequest request;
  request.join_token = options.join_token;
  request.csr_pem = std::move(*csr);
  request.hostname = options.hostname.empty() ? local_hostname() : options.hostname;
  request.labels = options.labels;
  request.version = options.version;
  bool told = false;
  for (;;) {
    auto reply = call(request, ca_pem);
    if (!reply) return reply.error();
    // A token is used once: asking again while pending needs none.
    request.join_token.clear();
    if (!reply->agent_id.empty()) {
      if (auto written = tls::write_private_file(path_in(options.state_dir, kAgentIdFile), reply->agent_id + "\n");
          !written)
        return written.error();
    }
    if (reply->approved) {
      if (auto valid = tls::check_issued_certificate(reply->certificate_pem, ca_pem, key_pem); !valid)
        return make_error(ErrorCode::PermissionDenied, "the server's certificate for this agent is unusable: " +
                                                           valid.error().message);
      if (auto written = tls::write_private_file(path_in(options.state_dir, kAgentCertificateFile),
                                                 reply->certificate_pem);
          !written)
        return written.error();
      spdlog::info("enrolled as agent {}", reply->agent_id);
      return AgentCredentials{reply->agent_id, ca_pem, reply->certificate_pem, key_pem};
    }
    if (!told) {
      spdlog::info("agent {} waits for approval: on the server, run: steward agents approve {}", reply->agent_id,
                   reply->agent_id);
      told = true;
    }
    const auto delay = std::clamp(reply->retry_after, options.min_retry, options.max_retry);
    if (!wait_unless_stopped(delay, options.stop))
      return make_error(ErrorCode::Cancelled, "stopped while waiting for approval");
  }
}

}  // namespace

std::string default_agent_state_dir(bool root, const char* xdg_state_home, const char* home) {
  if (root) return "/var/lib/steward-agent";
  if (xdg_state_home && *xdg_state_home == '/') return (fs::path(xdg_state_home) / "steward-agent").string();
  if (home && *home) return (fs::path(home) / ".local" / "state" / "steward-agent").string();
  return "/var/lib/steward-agent";
}

std::string default_agent_state_dir() {
  return default_agent_state_dir(::geteuid() == 0, std::getenv("XDG_STATE_HOME"), std::getenv("HOME"));
}

Result<std::optional<AgentCredentials>> load_agent_credentials(const std::string& state_dir) {
  const std::string key_path = path_in(state_dir, kAgentKeyFile),
                    certificate_path = path_in(state_dir, kAgentCertificateFile),
                    ca_path = path_in(state_dir, kAgentCaFile);
  std::error_code ec;
  if (!fs::exists(key_path, ec) || !fs::exists(certificate_path, ec) || !fs::exists(ca_path, ec))
    return std::optional<AgentCredentials>();
  AgentCredentials credentials;
  auto key = read_key(key_path);
  if (!key) return key.error();
  auto certificate = tls::read_pem_file(certificate_path, "agent certificate");
  if (!certificate) return certificate.error();
  auto ca = tls::read_pem_file(ca_path, "pinned CA");
  if (!ca) return ca.error();
  if (auto valid = tls::check_issued_certificate(*certificate, *ca, *key); !valid)
    return make_error(ErrorCode::InvalidArgument, "agent certificate " + certificate_path + ": " +
                                                      valid.error().message +
                                                      " (delete it to enrol again with a new join command)");
  credentials.agent_id = agent_id_of(*certificate);
  if (credentials.agent_id.empty())
    return make_error(ErrorCode::InvalidArgument, "agent certificate " + certificate_path + " names no steward agent");
  credentials.private_key_pem = std::move(*key);
  credentials.certificate_pem = std::move(*certificate);
  credentials.ca_pem = std::move(*ca);
  return std::optional<AgentCredentials>(std::move(credentials));
}

Result<std::string> pin_server_ca(const std::string& server, const std::string& ca_pin, const std::string& state_dir,
                                  std::chrono::milliseconds timeout) {
  auto chain = tls::fetch_peer_chain(server, kServerName, timeout);
  if (!chain) return chain.error();
  auto certificates = tls::parse_certificates(*chain);
  std::string presented;
  for (const auto& certificate : certificates) {
    const std::string pin = tls::pin_of(certificate.get());
    if (pin == ca_pin && X509_check_ca(certificate.get()) >= 1) {
      const std::string ca_pem = tls::certificate_pem(certificate.get());
      if (auto written = tls::write_private_file(path_in(state_dir, kAgentCaFile), ca_pem); !written)
        return written.error();
      return ca_pem;
    }
    presented += (presented.empty() ? "" : ", ") + pin;
  }
  return make_error(ErrorCode::PermissionDenied, "the server at " + server + " did not present the CA " + ca_pin +
                                                     " (it presented " + presented +
                                                     "): a wrong --ca-pin or not the right server; nothing was saved");
}

Result<AgentCredentials> enrol(const EnrolOptions& options, const EnrolCall& call) {
  if (auto prepared = prepare_state_dir(options.state_dir); !prepared) return prepared.error();
  auto saved = load_agent_credentials(options.state_dir);
  if (!saved) return saved.error();
  if (*saved) {
    const double left = tls::seconds_until_expiry((*saved)->certificate_pem).value_or(0);
    if (left > kRenewWithin) return std::move(**saved);
    // Near its end: the same key asks again; an approved agent gets a new one.
    EnrolOptions renewal = options;
    renewal.join_token.clear();
    auto renewed = run_enrolment(renewal, call, (*saved)->ca_pem, (*saved)->private_key_pem);
    if (renewed || left <= 0) return renewed;
    spdlog::warn("cannot renew this agent's certificate (it expires in {:.0f} days): {}", left / 86400,
                 renewed.error().message);
    return std::move(**saved);
  }
  auto ca_pem = pinned_ca(options);
  if (!ca_pem) return ca_pem.error();
  auto key_pem = agent_key(options.state_dir);
  if (!key_pem) return key_pem.error();
  return run_enrolment(options, call, *ca_pem, *key_pem);
}

}  // namespace steward::agents
