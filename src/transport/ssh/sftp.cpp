#include "transport/ssh/sftp.hpp"

#include <fmt/format.h>
#include <libssh/callbacks.h>

namespace steward::transport::ssh {

namespace asio = boost::asio;
using asio::awaitable;

namespace {

using namespace sftp_wire;

// A reply that takes longer than this means the server is stuck.
constexpr auto kReplyTimeout = std::chrono::seconds(60);

void put_u32(std::string& out, std::uint32_t value) {
  for (int shift = 24; shift >= 0; shift -= 8) out += static_cast<char>((value >> shift) & 0xff);
}
void put_u64(std::string& out, std::uint64_t value) {
  put_u32(out, static_cast<std::uint32_t>(value >> 32));
  put_u32(out, static_cast<std::uint32_t>(value));
}
void put_string(std::string& out, std::string_view text) {
  put_u32(out, static_cast<std::uint32_t>(text.size()));
  out += text;
}

std::string status_text(std::uint32_t code, const std::string& message) {
  switch (code) {
    case kNoSuchFile: return "no such file";
    case kPermissionDenied: return "permission denied";
    default: return message.empty() ? fmt::format("SFTP status {}", code) : message;
  }
}

int on_data(ssh_session, ssh_channel, void* data, uint32_t length, int, void* userdata) {
  static_cast<SftpClient*>(userdata)->receive(std::string_view(static_cast<const char*>(data), length));
  return static_cast<int>(length);
}

void on_close(ssh_session, ssh_channel, void* userdata) { static_cast<SftpClient*>(userdata)->mark_closed(); }

}  // namespace

struct SftpClient::Channel {
  explicit Channel(Connection& connection) : connection(connection) {}
  Connection& connection;
  ssh_channel channel = nullptr;
  ssh_channel_callbacks_struct callbacks{};
  ~Channel() {
    if (!connection.alive()) {
      connection.free_channel(channel);
      return;
    }
    if (!channel) return;
    ssh_remove_channel_callbacks(channel, &callbacks);
    ssh_channel_close(channel);
    ssh_channel_free(channel);
  }
};

SftpClient::SftpClient(Connection& connection)
    : connection_(connection), channel_(std::make_unique<Channel>(connection)) {}

SftpClient::~SftpClient() {
  channel_.reset();
  connection_.wake();
}

Error SftpClient::failure(const std::string& what, const std::string& detail) const {
  return make_error(ErrorCode::Internal, fmt::format("{}: {}: {}", connection_.endpoint().where(), what, detail));
}

Error SftpClient::status_failure(std::string_view status_body, const std::string& what) const {
  auto status = parse_status(status_body);
  auto error = failure(what, status_text(status.code, status.message));
  if (status.code == kNoSuchFile) error.code = ErrorCode::NotFound;
  return error;
}

awaitable<Result<std::unique_ptr<SftpClient>>> SftpClient::start(Connection& connection, Clock::time_point deadline) {
  std::unique_ptr<SftpClient> client(new SftpClient(connection));
  auto& channel = *client->channel_;
  channel.channel = ssh_channel_new(connection.session());
  if (!channel.channel) co_return client->failure("SFTP", "cannot open a channel");
  ssh_callbacks_init(&channel.callbacks);
  channel.callbacks.userdata = client.get();
  channel.callbacks.channel_data_function = on_data;
  channel.callbacks.channel_close_function = on_close;
  ssh_set_channel_callbacks(channel.channel, &channel.callbacks);

  int rc = co_await connection.drive([&] { return ssh_channel_open_session(channel.channel); }, SSH_AGAIN, deadline);
  if (rc != SSH_OK) co_return client->failure("SFTP", "cannot open a channel");
  rc = co_await connection.drive([&] { return ssh_channel_request_subsystem(channel.channel, "sftp"); }, SSH_AGAIN,
                                 deadline);
  if (rc != SSH_OK) co_return client->failure("SFTP", "the server refused the sftp subsystem");

  std::string init;
  put_u32(init, 3);
  if (auto sent = co_await client->send(kInit, init); !sent) co_return sent.error();
  while (!client->version_) {
    if (client->closed_ || !connection.alive() || Clock::now() >= deadline)
      co_return client->failure("SFTP", "no version from the server");
    co_await connection.wait_progress(deadline);
  }
  for (const auto& name : version_extensions(client->version_->body))
    if (name == "posix-rename@openssh.com") client->posix_rename_ = true;
  co_return std::move(client);
}

void SftpClient::receive(std::string_view bytes) {
  inbound_.append(bytes);
  auto packets = split_packets(inbound_);
  if (packets.version) version_ = std::move(packets.version);
  for (auto& [id, reply] : packets.replies) replies_[id] = std::move(reply);
  if (packets.corrupt) closed_ = true;  // every waiter fails
  inbound_.erase(0, packets.used);
}

awaitable<Status> SftpClient::write_all(std::string_view bytes) {
  const auto deadline = Clock::now() + kReplyTimeout;
  while (!bytes.empty()) {
    if (closed_ || !connection_.alive()) co_return failure("SFTP", "the channel closed");
    int written = ssh_channel_write(channel_->channel, bytes.data(), static_cast<uint32_t>(bytes.size()));
    if (written == SSH_ERROR) co_return failure("SFTP", ssh_get_error(connection_.session()));
    bytes.remove_prefix(static_cast<std::size_t>(written));
    connection_.wake();
    if (bytes.empty()) break;
    if (Clock::now() >= deadline) co_return failure("SFTP", "the server stopped reading");
    co_await connection_.wait_progress(deadline);
  }
  co_return Status{};
}

awaitable<Result<std::uint32_t>> SftpClient::send(std::uint8_t type, std::string payload) {
  std::uint32_t id = 0;
  std::string packet;
  const bool has_id = type != kInit;
  put_u32(packet, static_cast<std::uint32_t>(1 + (has_id ? 4 : 0) + payload.size()));
  packet += static_cast<char>(type);
  if (has_id) {
    id = next_id_++;
    put_u32(packet, id);
  }
  packet += payload;
  if (auto written = co_await write_all(packet); !written) co_return written.error();
  co_return id;
}

awaitable<Result<SftpReply>> SftpClient::await_reply(std::uint32_t id) {
  const auto deadline = Clock::now() + kReplyTimeout;
  for (;;) {
    if (auto it = replies_.find(id); it != replies_.end()) {
      SftpReply reply = std::move(it->second);
      replies_.erase(it);
      co_return reply;
    }
    if (closed_ || !connection_.alive()) co_return failure("SFTP", "the channel closed");
    if (Clock::now() >= deadline) co_return failure("SFTP", "the server did not answer");
    co_await connection_.wait_progress(deadline);
  }
}

awaitable<Status> SftpClient::await_status(std::uint32_t id, const std::string& what) {
  auto reply = co_await await_reply(id);
  if (!reply) co_return reply.error();
  if (reply->type != kStatus) co_return failure(what, "unexpected reply");
  if (SftpReader(reply->body).u32() == kStatusOk) co_return Status{};
  co_return status_failure(reply->body, what);
}

awaitable<Result<std::string>> SftpClient::await_data(std::uint32_t id, const std::string& what) {
  auto reply = co_await await_reply(id);
  if (!reply) co_return reply.error();
  SftpReader body(reply->body);
  if (reply->type == kData) {
    auto data = body.string();
    if (!body.ok()) co_return failure(what, "malformed data reply");
    co_return data;
  }
  if (reply->type == kStatus) {
    if (body.u32() == kStatusEof) co_return std::string();
    co_return status_failure(reply->body, what);
  }
  co_return failure(what, "unexpected reply");
}

awaitable<Result<std::string>> SftpClient::open(const std::string& path, std::uint32_t flags,
                                                std::optional<std::uint32_t> permissions) {
  std::string payload;
  put_string(payload, path);
  put_u32(payload, flags);
  put_u32(payload, permissions ? kAttrPermissions : 0);
  if (permissions) put_u32(payload, *permissions);
  auto id = co_await send(kOpen, std::move(payload));
  if (!id) co_return id.error();
  auto reply = co_await await_reply(*id);
  if (!reply) co_return reply.error();
  if (reply->type == kHandle) co_return SftpReader(reply->body).string();
  co_return status_failure(reply->body, "cannot open " + path);
}

awaitable<Status> SftpClient::close(const std::string& handle) {
  std::string payload;
  put_string(payload, handle);
  auto id = co_await send(kClose, std::move(payload));
  if (!id) co_return id.error();
  co_return co_await await_status(*id, "cannot close the file");
}

awaitable<Result<SftpAttributes>> SftpClient::stat(const std::string& path) {
  std::string payload;
  put_string(payload, path);
  auto id = co_await send(kStat, std::move(payload));
  if (!id) co_return id.error();
  auto reply = co_await await_reply(*id);
  if (!reply) co_return reply.error();
  if (reply->type == kStatus) co_return status_failure(reply->body, "cannot stat " + path);
  if (reply->type != kAttrs) co_return failure("cannot stat " + path, "unexpected reply");
  auto attributes = parse_attributes(reply->body);
  if (!attributes) co_return failure("cannot stat " + path, "malformed attributes");
  co_return *attributes;
}

awaitable<Status> SftpClient::set_permissions(const std::string& path, std::uint32_t permissions) {
  std::string payload;
  put_string(payload, path);
  put_u32(payload, kAttrPermissions);
  put_u32(payload, permissions);
  auto id = co_await send(kSetstat, std::move(payload));
  if (!id) co_return id.error();
  const std::string what = "cannot set the mode of " + path;  // not a temporary across the await (PR 99576)
  co_return co_await await_status(*id, what);
}

awaitable<Status> SftpClient::rename_over(const std::string& from, const std::string& to) {
  std::string payload;
  if (posix_rename_) put_string(payload, "posix-rename@openssh.com");
  put_string(payload, from);
  put_string(payload, to);
  if (!posix_rename_) {
    // Plain SFTP v3 rename refuses an existing target: remove it first.
    if (auto removed = co_await remove(to); !removed && removed.error().code != ErrorCode::NotFound)
      co_return removed;
  }
  auto id = co_await send(posix_rename_ ? kExtended : kRename, std::move(payload));
  if (!id) co_return id.error();
  const std::string what = "cannot rename " + from + " to " + to;
  co_return co_await await_status(*id, what);
}

awaitable<Status> SftpClient::remove(const std::string& path) {
  std::string payload;
  put_string(payload, path);
  auto id = co_await send(kRemove, std::move(payload));
  if (!id) co_return id.error();
  const std::string what = "cannot remove " + path;
  co_return co_await await_status(*id, what);
}

awaitable<Result<std::uint32_t>> SftpClient::send_write(const std::string& handle, std::uint64_t offset,
                                                        std::string_view data) {
  std::string payload;
  payload.reserve(handle.size() + data.size() + 16);
  put_string(payload, handle);
  put_u64(payload, offset);
  put_string(payload, data);
  co_return co_await send(kWrite, std::move(payload));
}

awaitable<Result<std::uint32_t>> SftpClient::send_read(const std::string& handle, std::uint64_t offset,
                                                       std::uint32_t length) {
  std::string payload;
  put_string(payload, handle);
  put_u64(payload, offset);
  put_u32(payload, length);
  co_return co_await send(kRead, std::move(payload));
}

}  // namespace steward::transport::ssh
