#pragma once
// The CLI's blocking HTTP/1.1 client: whole replies, or a reply read line by
// line as it streams (NDJSON).
#include <functional>
#include <memory>
#include <string>

#include "core/result.hpp"
#include "tls/asio_context.hpp"

namespace steward::cli {

struct ServerAddress {
  std::string url;  // as the user gave it, for messages
  std::string host;
  std::string port;
  std::string token;
  bool tls = false;  // https://
};

// "http://HOST[:PORT]" (port 80) or "https://HOST[:PORT]" (port 443);
// InvalidArgument otherwise.
Result<ServerAddress> parse_server_url(const std::string& url);

struct HttpReply {
  int status = 0;
  std::string body;
};

class HttpClient {
 public:
  // `trust` decides how an https:// server's certificate is checked.
  HttpClient(ServerAddress server, tls::ClientTrust trust);
  ~HttpClient();

  // Unavailable (with the server's address) when it cannot be reached.
  Result<HttpReply> request(const std::string& method, const std::string& target, const std::string& body = "");

  // Calls on_line for every line of a 200 reply as it arrives; any other
  // status comes back whole in the reply.
  Result<HttpReply> stream_lines(const std::string& target, const std::function<void(const std::string&)>& on_line);

  // PUT `target` with the bytes of `file` (`size` of them) as the body, with
  // "Expect: 100-continue": a refused upload comes back before any byte is
  // sent. on_progress(bytes sent) after every piece.
  Result<HttpReply> upload(const std::string& target, const std::string& file, std::uint64_t size,
                           const std::function<void(std::uint64_t)>& on_progress);

  // GET `target` into `file`, written beside it under a temporary name and
  // renamed once whole; on_progress(bytes, total or 0) after every piece.
  // Any status but 200 comes back whole in the reply, and nothing is written.
  Result<HttpReply> download(const std::string& target, const std::string& file,
                             const std::function<void(std::uint64_t, std::uint64_t)>& on_progress);

  const ServerAddress& server() const { return server_; }

 private:
  Result<std::shared_ptr<boost::asio::ssl::context>> tls_context();

  ServerAddress server_;
  tls::ClientTrust trust_;
  std::shared_ptr<boost::asio::ssl::context> tls_context_;  // made on first use
};

// The server's {"message"} from an error reply, or the status line.
std::string error_message(const HttpReply& reply);

}  // namespace steward::cli
