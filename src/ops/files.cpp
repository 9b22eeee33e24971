// copy (server -> targets) and fetch (target -> server). The server side is
// confined to the files root: a token holder may move files, not read the
// server's token or database.
#include <fmt/format.h>

#include <filesystem>

#include "ops/args.hpp"
#include "ops/builtin_ops.hpp"
#include "transport/files.hpp"

namespace steward::ops {
namespace {

namespace fs = std::filesystem;

// `path` (relative to the root, or absolute inside it) resolved with
// symlinks followed; InvalidArgument when it leaves the root.
Result<std::string> inside_root(const std::string& root, const std::string& path, const char* key) {
  if (path.empty()) return make_error(ErrorCode::InvalidArgument, fmt::format("'{}' is empty", key));
  std::error_code ec;
  fs::path base = fs::weakly_canonical(root, ec);
  fs::path full = fs::weakly_canonical(fs::path(path).is_absolute() ? fs::path(path) : base / path, ec);
  if (ec) return make_error(ErrorCode::InvalidArgument, fmt::format("'{}': {}", key, ec.message()));
  auto [root_end, _] = std::mismatch(base.begin(), base.end(), full.begin(), full.end());
  if (root_end != base.end() || full == base) {
    return make_error(ErrorCode::InvalidArgument,
                      fmt::format("'{}' must name a file inside the server's files dir {}", key, base.string()));
  }
  return full.string();
}

Result<std::string> target_path(const boost::json::object& args, const char* key) {
  auto path = required_string(args, key);
  if (!path) return path.error();
  if (!path->starts_with('/') || path->back() == '/' || path->find('\0') != std::string::npos)
    return make_error(ErrorCode::InvalidArgument, fmt::format("'{}' must be an absolute file path on the target", key));
  return path;
}

// "0644", "755" (octal strings, as in Deputy packages and Ansible).
Result<std::optional<std::uint32_t>> file_mode(const boost::json::object& args) {
  auto it = args.find("mode");
  if (it == args.end() || it->value().is_null()) return std::optional<std::uint32_t>();
  const auto* text = it->value().if_string();
  if (!text) return make_error(ErrorCode::InvalidArgument, "'mode' must be an octal string such as \"0644\"");
  auto mode = transport::parse_file_mode(*text);
  if (!mode) return make_error(ErrorCode::InvalidArgument, "'mode': " + mode.error().message);
  return std::optional<std::uint32_t>(*mode);
}

OpResult transferred(const Result<transport::FileOutcome>& outcome, const std::string& path) {
  OpResult result;
  if (!outcome) {
    result.state = outcome.error().code == ErrorCode::Unreachable ? OpState::Unreachable : OpState::Failed;
    result.error = outcome.error().message;
    return result;
  }
  result.state = OpState::Changed;
  result.stdout_data = fmt::format("{}  {}\n", outcome->sha256, path);  // as sha256sum prints it
  return result;
}

class Copy final : public Operation {
 public:
  explicit Copy(std::string root) : root_(std::move(root)) {}

  Status validate(const boost::json::object& args) const override {
    auto request = parse(args);
    if (!request) return request.error();
    return {};
  }

  boost::asio::awaitable<OpResult> run(OpContext context, const boost::json::object& args) const override {
    auto request = parse(args);
    if (!request) co_return transferred(request.error(), "");
    auto destination = request->destination;
    // Named, not nested in a call: see the GCC 12 note in transport/ssh/pool.cpp.
    auto outcome = co_await context.transport.put_file(context.target, std::move(*request), context.cancel);
    co_return transferred(outcome, destination);
  }

 private:
  Result<transport::FileRequest> parse(const boost::json::object& args) const {
    transport::FileRequest request;
    auto source = required_string(args, "src");
    if (!source) return source.error();
    auto local = inside_root(root_, *source, "src");
    if (!local) return local.error();
    request.source = *local;
    auto destination = target_path(args, "dest");
    if (!destination) return destination.error();
    request.destination = *destination;
    auto mode = file_mode(args);
    if (!mode) return mode.error();
    request.mode = *mode;
    auto owner = optional_string(args, "owner");
    if (!owner) return owner.error();
    request.owner = owner->value_or("");
    if (auto valid = transport::validate_owner(request.owner); !valid) return valid.error();
    return request;
  }

  std::string root_;
};

class Fetch final : public Operation {
 public:
  explicit Fetch(std::string root) : root_(std::move(root)) {}

  Status validate(const boost::json::object& args) const override {
    auto source = target_path(args, "src");
    if (!source) return source.error();
    auto folder = destination_folder(args);
    if (!folder) return folder.error();
    return {};
  }

  // Lands in <root>/<dest>/<target>/<file name>, as Ansible's fetch does.
  boost::asio::awaitable<OpResult> run(OpContext context, const boost::json::object& args) const override {
    transport::FileRequest request;
    request.source = *target_path(args, "src");
    auto folder = destination_folder(args);
    auto directory = inside_root(root_, fs::path(*folder) / context.target.name, "dest");
    if (!directory) co_return transferred(directory.error(), "");
    std::error_code ec;
    fs::create_directories(*directory, ec);
    if (ec) co_return transferred(make_error(ErrorCode::Internal, "cannot create " + *directory + ": " + ec.message()), "");
    request.destination = (fs::path(*directory) / fs::path(request.source).filename()).string();
    auto destination = request.destination;
    auto outcome = co_await context.transport.get_file(context.target, std::move(request), context.cancel);
    co_return transferred(outcome, destination);
  }

 private:
  Result<std::string> destination_folder(const boost::json::object& args) const {
    auto folder = optional_string(args, "dest");
    if (!folder) return folder.error();
    std::string name = folder->value_or("fetched");
    auto inside = inside_root(root_, name, "dest");
    if (!inside) return inside.error();
    return name;
  }

  std::string root_;
};

}  // namespace

std::unique_ptr<Operation> make_copy(std::string files_root) { return std::make_unique<Copy>(std::move(files_root)); }
std::unique_ptr<Operation> make_fetch(std::string files_root) { return std::make_unique<Fetch>(std::move(files_root)); }

}  // namespace steward::ops
