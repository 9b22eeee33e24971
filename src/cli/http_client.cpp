#include "cli/http_client.hpp"

#include <boost/asio/connect.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/write.hpp>
#include <boost/beast/core/flat_buffer.hpp>
#include <boost/beast/core/tcp_stream.hpp>
#include <boost/beast/http.hpp>
#include <boost/beast/ssl/ssl_stream.hpp>
#include <boost/json/parse.hpp>

#include <cstdio>
#include <filesystem>
#include <fstream>
#include <optional>
#include <vector>

namespace steward::cli {

namespace asio = boost::asio;
namespace beast = boost::beast;
namespace http = beast::http;

Result<ServerAddress> parse_server_url(const std::string& url) {
  ServerAddress address;
  address.url = url;
  std::string rest;
  if (url.rfind("http://", 0) == 0) {
    rest = url.substr(7);
  } else if (url.rfind("https://", 0) == 0) {
    rest = url.substr(8);
    address.tls = true;
  } else {
    return make_error(ErrorCode::InvalidArgument, "server URL must start with http:// or https:// (got '" + url + "')");
  }
  if (auto slash = rest.find('/'); slash != std::string::npos) rest = rest.substr(0, slash);
  auto colon = rest.rfind(':');
  if (rest.empty()) return make_error(ErrorCode::InvalidArgument, "server URL has no host: '" + url + "'");
  if (colon == std::string::npos || (rest.front() == '[' && rest.back() == ']')) {
    address.host = rest;
    address.port = address.tls ? "443" : "80";
  } else {
    address.host = rest.substr(0, colon);
    address.port = rest.substr(colon + 1);
  }
  if (address.host.size() > 2 && address.host.front() == '[') address.host = address.host.substr(1, address.host.size() - 2);
  if (address.host.empty() || address.port.empty())
    return make_error(ErrorCode::InvalidArgument, "server URL has no host or port: '" + url + "'");
  return address;
}

namespace {

// Plain TCP, or TLS over it for an https:// server.
struct Connection {
  asio::io_context io;
  std::optional<beast::tcp_stream> plain;
  std::optional<beast::ssl_stream<beast::tcp_stream>> tls;

  beast::tcp_stream& tcp() { return tls ? tls->next_layer() : *plain; }
  // Runs `fn` on whichever stream this connection reads and writes.
  template <class Fn>
  auto on_stream(Fn&& fn) {
    return tls ? fn(*tls) : fn(*plain);
  }
};

Status handshake(Connection& connection, const ServerAddress& server, const tls::ClientTrust& trust) {
  auto* session = connection.tls->native_handle();
  const bool pinned = !trust.fingerprint.empty();
  if (auto named = tls::expect_server_name(session, server.host, !pinned); !named) return named.error();
  boost::system::error_code ec;
  connection.tls->handshake(asio::ssl::stream_base::client, ec);
  if (!ec) return {};
  const std::string refused = tls::verification_failure(session);
  if (!refused.empty() && pinned) {
    return make_error(ErrorCode::Unavailable, "cannot verify the TLS certificate of " + server.url +
                                                  ": its fingerprint is not the one --fingerprint gives");
  }
  if (!refused.empty()) {
    return make_error(ErrorCode::Unavailable, "cannot verify the TLS certificate of " + server.url + ": " + refused +
                                                  " (give the CA certificate that signed it with --ca FILE or "
                                                  "STEWARD_CA, or skip the check with --insecure)");
  }
  return make_error(ErrorCode::Unavailable, "TLS handshake with " + server.url + " failed: " + ec.message() +
                                                " (does the server serve https on that port?)");
}

// `tls_context` is null for an http:// server.
Status connect(Connection& connection, const ServerAddress& server, asio::ssl::context* tls_context,
               const tls::ClientTrust& trust) {
  if (tls_context) connection.tls.emplace(connection.io, *tls_context);
  else connection.plain.emplace(connection.io);
  boost::system::error_code ec;
  asio::ip::tcp::resolver resolver(connection.io);
  auto endpoints = resolver.resolve(server.host, server.port, ec);
  if (!ec) connection.tcp().connect(endpoints, ec);
  if (ec) {
    return make_error(ErrorCode::Unavailable, "cannot reach the server at " + server.url + ": " + ec.message() +
                                                  " (is `steward serve` running? set --server or STEWARD_SERVER)");
  }
  return tls_context ? handshake(connection, server, trust) : Status{};
}

Status send(Connection& connection, const ServerAddress& server, const std::string& method, const std::string& target,
            const std::string& body) {
  http::request<http::string_body> request{http::string_to_verb(method), target, 11};
  request.set(http::field::host, server.host);
  request.set(http::field::user_agent, "steward-cli/" STEWARD_VERSION);
  if (!server.token.empty()) request.set(http::field::authorization, "Bearer " + server.token);
  if (!body.empty()) request.set(http::field::content_type, "application/json");
  request.body() = body;
  request.keep_alive(false);
  request.prepare_payload();
  boost::system::error_code ec;
  connection.on_stream([&](auto& stream) { http::write(stream, request, ec); });
  if (ec) return make_error(ErrorCode::Unavailable, "sending to " + server.url + " failed: " + ec.message());
  return {};
}

Error read_failure(const ServerAddress& server, const boost::system::error_code& ec) {
  return make_error(ErrorCode::Unavailable, "reading from " + server.url + " failed: " + ec.message());
}

constexpr std::size_t kPiece = 256 * 1024;

// Reads the body `parser` has the header of, calling on_piece for each piece.
template <class Parser>
boost::system::error_code read_pieces(Connection& connection, beast::flat_buffer& buffer, Parser& parser,
                                      const std::function<bool(const char*, std::size_t)>& on_piece) {
  std::vector<char> piece(kPiece);
  boost::system::error_code ec;
  while (!parser.is_done()) {
    parser.get().body().data = piece.data();
    parser.get().body().size = piece.size();
    connection.on_stream([&](auto& stream) { http::read(stream, buffer, parser, ec); });
    if (ec && ec != http::error::need_buffer) return ec;
    ec = {};
    if (!on_piece(piece.data(), piece.size() - parser.get().body().size)) break;
  }
  return ec;
}

// The rest of a reply whose header `head` has read, whole.
Result<HttpReply> read_rest(Connection& connection, beast::flat_buffer& buffer,
                            http::response_parser<http::empty_body>& head, const ServerAddress& server) {
  http::response_parser<http::string_body> rest{std::move(head)};
  rest.body_limit(1ull << 32);
  boost::system::error_code ec;
  if (!rest.is_done()) connection.on_stream([&](auto& stream) { http::read(stream, buffer, rest, ec); });
  if (ec) return read_failure(server, ec);
  return HttpReply{static_cast<int>(rest.get().result_int()), std::move(rest.get().body())};
}

}  // namespace

HttpClient::HttpClient(ServerAddress server, tls::ClientTrust trust)
    : server_(std::move(server)), trust_(std::move(trust)) {}

HttpClient::~HttpClient() = default;

Result<std::shared_ptr<asio::ssl::context>> HttpClient::tls_context() {
  if (!server_.tls || tls_context_) return tls_context_;
  auto made = tls::make_client_context(trust_);
  if (!made) return made.error();
  tls_context_ = std::move(*made);
  return tls_context_;
}

Result<HttpReply> HttpClient::request(const std::string& method, const std::string& target, const std::string& body) {
  auto context = tls_context();
  if (!context) return context.error();
  Connection connection;
  if (auto s = connect(connection, server_, context->get(), trust_); !s) return s.error();
  if (auto s = send(connection, server_, method, target, body); !s) return s.error();
  beast::flat_buffer buffer;
  http::response_parser<http::string_body> parser;
  parser.body_limit(1ull << 32);
  boost::system::error_code ec;
  connection.on_stream([&](auto& stream) { http::read(stream, buffer, parser, ec); });
  if (ec) return read_failure(server_, ec);
  return HttpReply{static_cast<int>(parser.get().result_int()), std::move(parser.get().body())};
}

Result<HttpReply> HttpClient::upload(const std::string& target, const std::string& file, std::uint64_t size,
                                     const std::function<void(std::uint64_t)>& on_progress) {
  std::ifstream in(file, std::ios::binary);
  if (!in) return make_error(ErrorCode::NotFound, "cannot open " + file);
  auto context = tls_context();
  if (!context) return context.error();
  Connection connection;
  if (auto s = connect(connection, server_, context->get(), trust_); !s) return s.error();
  http::request<http::empty_body> request{http::verb::put, target, 11};
  request.set(http::field::host, server_.host);
  request.set(http::field::user_agent, "steward-cli/" STEWARD_VERSION);
  if (!server_.token.empty()) request.set(http::field::authorization, "Bearer " + server_.token);
  request.set(http::field::content_type, "application/octet-stream");
  request.set(http::field::expect, "100-continue");
  request.content_length(size);
  request.keep_alive(false);
  http::request_serializer<http::empty_body> serializer{request};
  boost::system::error_code ec;
  connection.on_stream([&](auto& stream) { http::write_header(stream, serializer, ec); });
  if (ec) return make_error(ErrorCode::Unavailable, "sending to " + server_.url + " failed: " + ec.message());

  beast::flat_buffer buffer;
  http::response_parser<http::empty_body> interim;
  connection.on_stream([&](auto& stream) { http::read_header(stream, buffer, interim, ec); });
  if (ec) return read_failure(server_, ec);
  if (interim.get().result() != http::status::continue_) return read_rest(connection, buffer, interim, server_);

  std::vector<char> piece(kPiece);
  std::uint64_t sent = 0;
  while (sent < size && !ec) {
    in.read(piece.data(), static_cast<std::streamsize>(std::min<std::uint64_t>(piece.size(), size - sent)));
    const auto got = static_cast<std::size_t>(in.gcount());
    if (got == 0) return make_error(ErrorCode::Internal, file + " became shorter while it was sent");
    connection.on_stream([&](auto& stream) { asio::write(stream, asio::buffer(piece.data(), got), ec); });
    sent += got;
    if (!ec) on_progress(sent);
  }
  // A server that refuses halfway answers and closes: its answer says more than the write error.
  http::response_parser<http::empty_body> head;
  boost::system::error_code read_ec;
  connection.on_stream([&](auto& stream) { http::read_header(stream, buffer, head, read_ec); });
  if (read_ec && ec) return make_error(ErrorCode::Unavailable, "sending to " + server_.url + " failed: " + ec.message());
  if (read_ec) return read_failure(server_, read_ec);
  return read_rest(connection, buffer, head, server_);
}

Result<HttpReply> HttpClient::download(const std::string& target, const std::string& file,
                                       const std::function<void(std::uint64_t, std::uint64_t)>& on_progress) {
  auto context = tls_context();
  if (!context) return context.error();
  Connection connection;
  if (auto s = connect(connection, server_, context->get(), trust_); !s) return s.error();
  if (auto s = send(connection, server_, "GET", target, ""); !s) return s.error();
  beast::flat_buffer buffer;
  http::response_parser<http::empty_body> head;
  head.body_limit(boost::none);
  boost::system::error_code ec;
  connection.on_stream([&](auto& stream) { http::read_header(stream, buffer, head, ec); });
  if (ec) return read_failure(server_, ec);
  if (head.get().result() != http::status::ok) return read_rest(connection, buffer, head, server_);

  const std::string partial = file + ".part";
  std::ofstream out(partial, std::ios::binary | std::ios::trunc);
  if (!out) return make_error(ErrorCode::Internal, "cannot write " + partial);
  http::response_parser<http::buffer_body> body{std::move(head)};
  const std::uint64_t total = body.content_length().value_or(0);
  std::uint64_t received = 0;
  ec = read_pieces(connection, buffer, body, [&](const char* data, std::size_t size) {
    out.write(data, static_cast<std::streamsize>(size));
    received += size;
    on_progress(received, total);
    return static_cast<bool>(out);
  });
  out.close();
  std::error_code ignored;
  if (ec || !out) {
    std::filesystem::remove(partial, ignored);
    return ec ? read_failure(server_, ec) : make_error(ErrorCode::Internal, "writing " + file + " failed");
  }
  std::filesystem::rename(partial, file, ignored);
  if (ignored) return make_error(ErrorCode::Internal, "cannot rename " + partial + " to " + file + ": " + ignored.message());
  return HttpReply{200, ""};
}

Result<HttpReply> HttpClient::stream_lines(const std::string& target,
                                           const std::function<void(const std::string&)>& on_line) {
  auto context = tls_context();
  if (!context) return context.error();
  Connection connection;
  if (auto s = connect(connection, server_, context->get(), trust_); !s) return s.error();
  if (auto s = send(connection, server_, "GET", target, ""); !s) return s.error();
  beast::flat_buffer buffer;
  http::response_parser<http::buffer_body> parser;
  parser.body_limit(boost::none);
  boost::system::error_code ec;
  connection.on_stream([&](auto& stream) { http::read_header(stream, buffer, parser, ec); });
  if (ec) return read_failure(server_, ec);
  HttpReply reply{static_cast<int>(parser.get().result_int()), ""};
  std::string pending;
  ec = read_pieces(connection, buffer, parser, [&](const char* data, std::size_t size) {
    pending.append(data, size);
    if (reply.status != 200) return true;
    for (auto newline = pending.find('\n'); newline != std::string::npos; newline = pending.find('\n')) {
      on_line(pending.substr(0, newline));
      pending.erase(0, newline + 1);
    }
    return true;
  });
  if (ec) return read_failure(server_, ec);
  if (reply.status != 200) reply.body = std::move(pending);
  else if (!pending.empty()) on_line(pending);
  return reply;
}

std::string error_message(const HttpReply& reply) {
  boost::system::error_code ec;
  auto value = boost::json::parse(reply.body, ec);
  if (!ec && value.is_object()) {
    if (auto* message = value.as_object().if_contains("message"); message && message->is_string())
      return std::string(message->as_string());
  }
  return "HTTP " + std::to_string(reply.status);
}

}  // namespace steward::cli
