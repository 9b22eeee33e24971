// `steward cp SRC PATTERN:DEST` and `steward fetch PATTERN:SRC DIR`: files
// between this machine and the hosts, through the server's files dir
// (PUT/GET/DELETE /files/PATH) and its copy and fetch operations.
#include <CLI/CLI.hpp>
#include <boost/json.hpp>

#include <filesystem>
#include <iostream>

#include "cli/render.hpp"
#include "cli/session.hpp"
#include "core/ids.hpp"
#include "core/json_text.hpp"

namespace steward::cli {
namespace {

namespace fs = std::filesystem;

struct HostPath {
  std::string pattern;
  std::string path;
};

// "PATTERN:/abs/path". Patterns have colons of their own (a:b, a:&b, a:!b)
// but no slash, so the path starts at the first ":/".
Result<HostPath> split_host_path(const std::string& text, const char* what) {
  const auto colon = text.find(":/");
  if (colon == std::string::npos || colon == 0)
    return make_error(ErrorCode::InvalidArgument,
                      std::string(what) + " wants PATTERN:/ABSOLUTE/PATH, got '" + text + "'");
  return HostPath{text.substr(0, colon), text.substr(colon + 1)};
}

// Files dir paths are built from the last segment of a local or target path;
// anything but [A-Za-z0-9._-] becomes '_' so the name is a plain segment.
std::string plain_segment(const std::string& name) {
  std::string out;
  for (unsigned char c : name) out += std::isalnum(c) || c == '.' || c == '_' || c == '-' ? static_cast<char>(c) : '_';
  if (out.empty() || out == "." || out == "..") out = "file";
  return out;
}

std::string files_target(const std::string& path) {
  std::string target = "/files";
  for (const auto& segment : fs::path(path)) target += "/" + url_encode(segment.string());
  return target;
}

// Matching hosts, checked before a byte moves: no host is "no such host".
Status check_pattern(Session& session, const std::string& pattern) {
  auto hosts = session.call("GET", "/target?pattern=" + url_encode(pattern));
  if (!hosts) return hosts.error();
  if (!hosts->is_array() || hosts->as_array().empty())
    return make_error(ErrorCode::NotFound, "no such host: " + pattern);
  return {};
}

// Folders the server made for a fetch go quietly (one a failed host left
// behind may hold nothing, or a partial file the server removes itself).
void remove_from_files_dir(Session& session, const std::string& path, bool warn = true) {
  auto removed = session.call("DELETE", files_target(path));
  if (!removed && warn) std::cerr << "steward: warning: " << path << " stays in the server's files dir: " << removed.error().message << "\n";
}

struct CopyArgs {
  std::string source;
  std::string destination;
  std::string mode;
  std::string owner;
  RolloutFlags rollout;
};

Result<boost::json::value> upload(Session& session, const std::string& local, std::uint64_t size, const std::string& path) {
  ProgressBar bar;
  const std::string label = "uploading " + fs::path(local).filename().string();
  bar.update_bytes(0, size, label);
  auto reply = session.client().upload(files_target(path), local, size,
                                       [&](std::uint64_t sent) { bar.update_bytes(sent, size, label); });
  bar.clear();
  return session.check(reply);
}

int copy(Session& session, const CopyArgs& args) {
  auto target = split_host_path(args.destination, "the destination");
  if (!target) return report(target.error());
  std::error_code ec;
  const auto status = fs::status(args.source, ec);
  if (ec || !fs::exists(status)) return report(make_error(ErrorCode::NotFound, "no such file: " + args.source));
  if (!fs::is_regular_file(status)) return report(make_error(ErrorCode::InvalidArgument, args.source + " is not a regular file"));
  const std::uint64_t size = fs::file_size(args.source, ec);
  if (ec) return report(make_error(ErrorCode::NotFound, "cannot read " + args.source + ": " + ec.message()));
  std::string destination = target->path;
  if (destination.back() == '/') destination += fs::path(args.source).filename().string();  // as scp does
  if (auto checked = check_pattern(session, target->pattern); !checked) return report(checked.error());

  const std::string staged = "uploads/" + random_hex(8) + "-" + plain_segment(fs::path(args.source).filename().string());
  auto uploaded = upload(session, args.source, size, staged);
  if (!uploaded) return report(uploaded.error());
  boost::json::object body{{"targets", target->pattern}, {"src", staged}, {"dest", destination}};
  if (!args.mode.empty()) body["mode"] = args.mode;
  if (!args.owner.empty()) body["owner"] = args.owner;
  args.rollout.put_in(body);
  auto created = session.call("POST", "/copy", boost::json::serialize(body));
  if (!created) {
    remove_from_files_dir(session, staged);
    return report(created.error());
  }
  const int code = follow_job(session, std::string(created->as_object().at("jid").as_string()));
  remove_from_files_dir(session, staged);
  return code;
}

struct FetchArgs {
  std::string source;
  std::string directory;
  RolloutFlags rollout;
};

// One host's fetched file into DIR/HOST/NAME, then out of the server's files dir.
Status download(Session& session, const std::string& staged, const std::string& host, const std::string& name,
                const fs::path& directory) {
  const fs::path local_dir = directory / host;
  std::error_code ec;
  fs::create_directories(local_dir, ec);
  if (ec) return make_error(ErrorCode::Internal, "cannot create " + local_dir.string() + ": " + ec.message());
  const std::string server_path = staged + "/" + host + "/" + name;
  ProgressBar bar;
  const std::string label = host + ": " + name;
  auto reply = session.client().download(files_target(server_path), (local_dir / name).string(),
                                         [&](std::uint64_t got, std::uint64_t total) { bar.update_bytes(got, total, label); });
  bar.clear();
  auto checked = session.check(reply);
  if (!checked) return checked.error();
  remove_from_files_dir(session, server_path);
  return {};
}

int fetch(Session& session, const FetchArgs& args) {
  auto source = split_host_path(args.source, "the source");
  if (!source) return report(source.error());
  if (source->path.back() == '/') return report(make_error(ErrorCode::InvalidArgument, "the source must name a file, not a directory"));
  if (auto checked = check_pattern(session, source->pattern); !checked) return report(checked.error());
  const std::string staged = "fetched/" + random_hex(8);
  boost::json::object body{{"targets", source->pattern}, {"src", source->path}, {"dest", staged}};
  args.rollout.put_in(body);
  auto created = session.call("POST", "/fetch", boost::json::serialize(body));
  if (!created) return report(created.error());
  const std::string jid(created->as_object().at("jid").as_string());
  auto job = watch_job(session, jid, [&](const std::string& host, const boost::json::object& result) {
    const auto* status = result.if_contains("status");
    if (!session.json() && status && status->is_int64() && status_failed(status->as_int64())) print_host_line(host, result);
  });
  if (!job) return report(job.error());

  // The server keeps the target's file name: the last segment of the source.
  const std::string name = fs::path(source->path).filename().string();
  bool failed = job_failed(*job);
  boost::json::object saved;
  for (const auto& [key, result] : job->at("return_data").as_object()) {
    const std::string host(key);
    const auto* status = result.as_object().if_contains("status");
    const bool fetched = status && status->is_int64() && (status->as_int64() == 1 || status->as_int64() == 5);
    auto downloaded = fetched ? download(session, staged, host, name, args.directory) : Status{};
    remove_from_files_dir(session, staged + "/" + host, false);
    if (!fetched) continue;
    const std::string local = (fs::path(args.directory) / host / name).string();
    if (!downloaded) {
      failed = true;
      std::cerr << "steward: " << host << ": " << downloaded.error().message << "\n";
      continue;
    }
    saved[host] = local;
    if (!session.json()) std::cout << host << ": " << local << "\n";
  }
  remove_from_files_dir(session, staged, false);
  if (session.json()) std::cout << pretty_json(boost::json::object{{"jid", jid}, {"saved", saved}, {"job", *job}}) << "\n";
  return failed ? 1 : 0;
}

}  // namespace

void add_file_commands(CLI::App& app, std::shared_ptr<ClientOptions> options, int& exit_code) {
  auto copy_args = std::make_shared<CopyArgs>();
  auto* cp = app.add_subcommand("cp", "copy a local file to every host matching PATTERN");
  cp->add_option("src", copy_args->source, "the local file")->required();
  cp->add_option("dest", copy_args->destination, "PATTERN:/absolute/path (ending in /: the file keeps its name)")->required();
  cp->add_option("--mode", copy_args->mode, "the file's mode on the hosts, octal (default 0644)");
  cp->add_option("--owner", copy_args->owner, "user[:group] owning the file on the hosts");
  copy_args->rollout.add_to(*cp);
  cp->footer("The file goes to the server's files dir first (a byte progress bar on a terminal), then to the\n"
             "hosts; it is removed from the server afterwards. Exits non-zero if any host failed.\n"
             "Example: steward cp app.tar 'web*:/opt/app.tar' --mode 0640 --owner app:app");
  add_connection_flags(*cp, *options);
  cp->callback([options, copy_args, &exit_code] {
    with_session(*options, exit_code, [&](Session& session) { return copy(session, *copy_args); });
  });

  auto fetch_args = std::make_shared<FetchArgs>();
  auto* fetch_command = app.add_subcommand("fetch", "fetch a file from every host matching PATTERN into DIR/HOST/NAME");
  fetch_command->add_option("src", fetch_args->source, "PATTERN:/absolute/path of a file on the hosts")->required();
  fetch_command->add_option("dir", fetch_args->directory, "local folder (created if missing)")->required();
  fetch_args->rollout.add_to(*fetch_command);
  fetch_command->footer("Prints HOST: DIR/HOST/NAME for each file saved. Exits non-zero if any host failed.\n"
                        "Example: steward fetch 'web*:/var/log/syslog' ./logs");
  add_connection_flags(*fetch_command, *options);
  fetch_command->callback([options, fetch_args, &exit_code] {
    with_session(*options, exit_code, [&](Session& session) { return fetch(session, *fetch_args); });
  });
}

}  // namespace steward::cli
