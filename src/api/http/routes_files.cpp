// The files dir over REST: PUT uploads a file for `copy`, GET downloads one
// (what `fetch` brought back), DELETE removes a file or an empty folder.
// Bodies stream in and out in pieces; paths are confined by FilesDir.
#include <unistd.h>

#include <cerrno>
#include <vector>

#include "api/http/files_dir.hpp"
#include "api/http/json_codec.hpp"
#include "api/http/request_body.hpp"
#include "api/http/routes.hpp"
#include "core/sha256.hpp"

namespace steward::api::http {

namespace http = beast::http;
using boost::asio::awaitable;

namespace {

constexpr std::size_t kPiece = 256 * 1024;

// The body to disk under a temporary name, renamed into place once whole:
// a failed or cut upload leaves the path as it was.
awaitable<void> upload(const FilesDir& files, Exchange& exchange) {
  const std::string& path = exchange.captures.at("path");
  auto upload = files.begin_upload(path);
  if (!upload) co_return co_await exchange.reply_error(upload.error());
  std::vector<char> piece(kPiece);
  Sha256 digest;
  std::uint64_t size = 0;
  for (;;) {
    auto got = co_await exchange.body->read_some(piece.data(), piece.size());
    if (!got && exchange.body->too_large()) {
      const std::string message = "the upload of '" + path + "' is larger than the server's limit (--max-upload-mib)";
      co_return co_await exchange.reply_error(http::status::payload_too_large, message);
    }
    if (!got) co_return co_await exchange.reply_error(got.error());
    if (*got == 0) break;
    if (auto written = upload->write(piece.data(), *got); !written) co_return co_await exchange.reply_error(written.error());
    digest.update(std::string_view(piece.data(), *got));
    size += *got;
  }
  if (auto committed = upload->commit(); !committed) co_return co_await exchange.reply_error(committed.error());
  boost::json::object reply{{"path", path}, {"size", size}, {"sha256", digest.hex_digest()}};
  co_await exchange.reply(http::status::created, reply);
}

awaitable<void> download(const FilesDir& files, Exchange& exchange) {
  auto file = files.open_file(exchange.captures.at("path"));
  if (!file) co_return co_await exchange.reply_error(file.error());
  const bool started = co_await exchange.begin_sized("application/octet-stream", file->size);
  std::vector<char> piece(kPiece);
  // A file that shrinks meanwhile ends the body short (the connection closes);
  // one that grows is sent as long as it was.
  for (std::uint64_t left = file->size; started && left > 0;) {
    const ssize_t n = ::read(file->file.get(), piece.data(), std::min<std::uint64_t>(left, piece.size()));
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) break;
    const bool sent = co_await exchange.write_bytes(piece.data(), static_cast<std::size_t>(n));
    if (!sent) break;
    left -= static_cast<std::uint64_t>(n);
  }
}

awaitable<void> remove(const FilesDir& files, Exchange& exchange) {
  auto removed = files.remove(exchange.captures.at("path"));
  if (!removed) co_return co_await exchange.reply_error(removed.error());
  const boost::json::value no_body;
  co_await exchange.reply(http::status::no_content, no_body);
}

}  // namespace

void add_file_routes(Router& router, ApiContext& context) {
  auto files = std::make_shared<FilesDir>(context.files_dir);
  router.add_streamed(http::verb::put, "/files/*path", [files](Exchange& e) { return upload(*files, e); });
  router.add(http::verb::get, "/files/*path", [files](Exchange& e) { return download(*files, e); });
  router.add(http::verb::delete_, "/files/*path", [files](Exchange& e) { return remove(*files, e); });
}

}  // namespace steward::api::http
