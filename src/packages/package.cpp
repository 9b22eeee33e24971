#include "packages/package.hpp"

#include "packages/semver.hpp"
#include "transport/files.hpp"

#include <fmt/format.h>
#include <fmt/ranges.h>
#include <toml++/toml.h>

#include <algorithm>
#include <cctype>

namespace steward::packages {
namespace fs = std::filesystem;
namespace {

// Collects the first problem with a key path for the message.
class ManifestReader {
 public:
  ManifestReader(const fs::path& manifest, const toml::table& root) : manifest_(manifest), root_(root) {}

  Error error(const std::string& key, const std::string& problem) const {
    return make_error(ErrorCode::InvalidArgument, manifest_.string() + ": " + key + ": " + problem);
  }

  // The key as written, or Capitalised or UPPER-CASE in its last part
  // ("feature.Action", "feature.ACTION"), the spellings upstream Deputy accepts.
  const toml::node* node(const std::string& key) const {
    if (const toml::node* found = root_.at_path(key).node()) return found;
    auto dot = key.rfind('.');
    std::string capitalised = key, upper = key;
    for (std::size_t i = dot + 1; i < key.size(); ++i) {
      upper[i] = static_cast<char>(std::toupper(static_cast<unsigned char>(key[i])));
      if (i == dot + 1) capitalised[i] = upper[i];
    }
    if (const toml::node* found = root_.at_path(capitalised).node()) return found;
    return root_.at_path(upper).node();
  }

  Result<std::string> text(const std::string& key, bool required) const {
    const toml::node* node = this->node(key);
    if (!node) {
      if (required) return error(key, "missing");
      return std::string();
    }
    if (!node->is_string()) return error(key, "must be a string");
    return std::string(*node->value<std::string>());
  }

  Result<bool> flag(const std::string& key) const {
    const toml::node* node = this->node(key);
    if (!node) return false;
    if (!node->is_boolean()) return error(key, "must be true or false");
    return *node->value<bool>();
  }

  Result<int> seconds(const std::string& key) const {
    const toml::node* node = this->node(key);
    if (!node) return 0;
    auto value = node->value<std::int64_t>();
    if (!value || *value < 1 || *value > 86400) return error(key, "must be a whole number of seconds from 1 to 86400");
    return static_cast<int>(*value);
  }

 private:
  const fs::path& manifest_;
  const toml::table& root_;
};

bool inside(const fs::path& folder, const fs::path& path) {
  auto [folder_end, path_it] = std::mismatch(folder.begin(), folder.end(), path.begin(), path.end());
  return folder_end == folder.end();
}

Result<std::optional<std::uint32_t>> asset_mode(const ManifestReader& reader, const std::string& key,
                                                const toml::node* node) {
  if (!node) return std::optional<std::uint32_t>();
  std::string text;
  if (auto s = node->value<std::string>()) text = *s;
  else if (auto n = node->value<std::int64_t>()) text = std::to_string(*n);  // 755 written as a number
  else return reader.error(key, "mode must be a string like \"0644\"");
  auto mode = transport::parse_file_mode(text);
  if (!mode) return reader.error(key, mode.error().message);
  return std::optional<std::uint32_t>(*mode);
}

// One [src, dest, mode] entry; a folder source becomes one asset per file.
Status add_asset(const ManifestReader& reader, const fs::path& folder, const std::string& key,
                 const toml::node& entry, std::vector<Asset>& assets) {
  const toml::array* fields = entry.as_array();
  if (!fields || fields->size() < 2 || fields->size() > 3)
    return reader.error(key, "must be [src, dest] or [src, dest, mode]");
  auto src = (*fields)[0].value<std::string>();
  auto dest = (*fields)[1].value<std::string>();
  if (!src || src->empty()) return reader.error(key, "src must be a non-empty string");
  if (!dest || dest->empty()) return reader.error(key, "dest must be a non-empty string");
  fs::path relative(*src);
  if (relative.is_absolute()) return reader.error(key, "src '" + *src + "' must be relative to the package folder");
  fs::path source = (folder / relative).lexically_normal();
  if (!inside(folder, source)) return reader.error(key, "src '" + *src + "' leaves the package folder");
  if (dest->front() != '/') return reader.error(key, "dest '" + *dest + "' must be an absolute path");
  auto mode = asset_mode(reader, key, fields->size() == 3 ? fields->get(2) : nullptr);
  if (!mode) return mode.error();

  std::error_code ec;
  if (fs::is_directory(source, ec)) {
    if (dest->back() != '/') return reader.error(key, "src '" + *src + "' is a folder, so dest must end with '/'");
    for (auto it = fs::recursive_directory_iterator(source, ec); !ec && it != fs::recursive_directory_iterator();
         it.increment(ec)) {
      if (!it->is_regular_file()) continue;
      std::string below = fs::relative(it->path(), source).generic_string();
      assets.push_back({it->path(), *dest + below, *mode});
    }
    if (ec) return reader.error(key, "cannot read folder '" + *src + "': " + ec.message());
    return {};
  }
  if (!fs::is_regular_file(source, ec)) return reader.error(key, "src '" + *src + "' does not exist in the package");
  std::string destination = dest->back() == '/' ? *dest + source.filename().string() : *dest;
  assets.push_back({source, destination, *mode});
  return {};
}

Status read_assets(const ManifestReader& reader, const fs::path& folder, Package& package) {
  const toml::node* node = reader.node("package.assets");
  if (!node) return {};
  const toml::array* entries = node->as_array();
  if (!entries) return reader.error("package.assets", "must be an array of [src, dest, mode]");
  for (std::size_t i = 0; i < entries->size(); ++i) {
    if (auto added = add_asset(reader, folder, "package.assets[" + std::to_string(i) + "]", *entries->get(i),
                               package.assets);
        !added)
      return added;
  }
  return {};
}

bool same_word(std::string_view a, std::string_view b) {
  return a.size() == b.size() && std::equal(a.begin(), a.end(), b.begin(), [](char x, char y) {
           return std::tolower(static_cast<unsigned char>(x)) == std::tolower(static_cast<unsigned char>(y));
         });
}

// `spelling` as one of `words` in that word's own spelling; any case is accepted, as upstream does.
std::optional<std::string> one_of(const std::string& spelling, const std::vector<std::string>& words) {
  for (const auto& word : words)
    if (same_word(spelling, word)) return word;
  return std::nullopt;
}

Status read_feature(const ManifestReader& reader, Package& package) {
  static const std::vector<std::string> kKinds{"Service", "Configuration", "Artifact"};
  auto feature_type = reader.text("feature.type", false);
  if (!feature_type) return feature_type.error();
  if (!feature_type->empty()) {
    auto kind = one_of(*feature_type, kKinds);
    if (!kind)
      return reader.error("feature.type", "'" + *feature_type + "' is not one of Service, Configuration, Artifact");
    package.feature_type = *kind;
  }
  auto delete_action = reader.text("feature.delete", false);
  if (!delete_action) return delete_action.error();
  package.delete_action = *delete_action;
  return {};
}

Status read_content(const ManifestReader& reader, Package& package) {
  auto type = reader.text("content.type", true);
  if (!type) return type.error();
  auto kind = one_of(*type, {"feature", "inject", "condition"});
  if (!kind) return reader.error("content.type", "'" + *type + "' is not one of feature, inject, condition");
  const std::string& section = *kind;
  package.type = section == "feature" ? ContentType::Feature
                 : section == "inject" ? ContentType::Inject
                                       : ContentType::Condition;

  auto action = reader.text(section + ".action", package.type == ContentType::Condition);
  if (!action) return action.error();
  package.action = *action;
  if (package.type == ContentType::Condition) {
    auto interval = reader.seconds("condition.interval");
    if (!interval) return interval.error();
    package.interval = *interval;
    return {};
  }
  auto restarts = reader.flag(section + ".restarts");
  if (!restarts) return restarts.error();
  package.restarts = *restarts;
  if (package.type == ContentType::Feature) return read_feature(reader, package);
  return {};
}

semver::Version version_of(const Package& package) {
  auto version = semver::parse_version(package.version);
  return version ? *version : semver::Version{};  // load_package only lets valid versions through
}

}  // namespace

const char* to_string(ContentType type) {
  switch (type) {
    case ContentType::Feature: return "feature";
    case ContentType::Inject: return "inject";
    case ContentType::Condition: return "condition";
  }
  return "feature";
}

Result<Package> load_package(const fs::path& manifest) {
  toml::table root;
  try {
    root = toml::parse_file(manifest.string());
  } catch (const toml::parse_error& e) {
    return make_error(ErrorCode::InvalidArgument,
                      manifest.string() + ":" + std::to_string(e.source().begin.line) + ": " +
                          std::string(e.description()));
  }
  ManifestReader reader(manifest, root);
  Package package;
  package.folder = fs::absolute(manifest).parent_path().lexically_normal();
  auto name = reader.text("package.name", true);
  if (!name) return name.error();
  auto version = reader.text("package.version", true);
  if (!version) return version.error();
  if (name->empty()) return reader.error("package.name", "must not be empty");
  if (version->empty()) return reader.error("package.version", "must not be empty");
  if (auto semantic = semver::parse_version(*version); !semantic)
    return reader.error("package.version", "'" + *version + "' is not a semantic version (MAJOR.MINOR.PATCH): " +
                                               semantic.error().message);
  package.name = *name;
  package.version = *version;
  if (auto assets = read_assets(reader, package.folder, package); !assets) return assets.error();
  if (auto content = read_content(reader, package); !content) return content.error();
  return package;
}

std::vector<fs::path> Catalog::manifests_of(const std::string& name) const {
  std::vector<fs::path> manifests;
  fs::path folder = root_ / name;
  std::error_code ec;
  if (fs::is_regular_file(folder / "package.toml", ec)) manifests.push_back(folder / "package.toml");
  for (auto it = fs::directory_iterator(folder, ec); !ec && it != fs::directory_iterator(); it.increment(ec)) {
    if (it->is_directory() && fs::is_regular_file(it->path() / "package.toml"))
      manifests.push_back(it->path() / "package.toml");
  }
  return manifests;
}

namespace {

// NotFound naming the requirement and every version there is.
Error no_match(const std::string& name, const std::string& requirement,
             std::vector<semver::Version> present, const std::optional<Error>& broken) {
  std::sort(present.begin(), present.end());
  std::vector<std::string> versions;
  bool pre_release = false;
  for (const auto& version : present) {
    versions.push_back(version.to_string());
    pre_release = pre_release || !version.pre.empty();
  }
  std::string message = fmt::format("no version of '{}' matches '{}': have {}", name,
                                    requirement.find_first_not_of(" \t") == std::string::npos ? "*" : requirement,
                                    fmt::join(versions, ", "));
  if (pre_release) message += " (a pre-release only matches a requirement naming a pre-release of its own MAJOR.MINOR.PATCH)";
  if (broken) message += "; a manifest could not be read: " + broken->message;
  return make_error(ErrorCode::NotFound, message);
}

}  // namespace

Result<Package> Catalog::resolve(const std::string& name, const std::string& requirement) const {
  if (name.empty() || name == "." || name == ".." || name.find('/') != std::string::npos)
    return make_error(ErrorCode::InvalidArgument, "package name '" + name + "' is not a valid name");
  auto wanted = semver::Requirement::parse(requirement);
  if (!wanted)
    return make_error(ErrorCode::InvalidArgument, fmt::format("version requirement '{}' of package '{}' is not valid: {}",
                                                              requirement, name, wanted.error().message));
  std::optional<Package> best;
  std::vector<semver::Version> present;
  std::optional<Error> broken;  // reported when nothing valid is there
  for (const auto& manifest : manifests_of(name)) {
    auto package = load_package(manifest);
    if (!package) {
      if (!broken) broken = package.error();
      continue;
    }
    present.push_back(version_of(*package));
    if (wanted->matches(present.back()) && (!best || version_of(*best) < present.back())) best = std::move(*package);
  }
  if (best) return std::move(*best);
  if (present.empty() && broken) return *broken;
  if (present.empty())
    return make_error(ErrorCode::NotFound, "package '" + name + "' not found under " + root_.string());
  return no_match(name, requirement, std::move(present), broken);
}

std::vector<Package> Catalog::list() const {
  std::vector<Package> packages;
  std::error_code ec;
  for (auto it = fs::directory_iterator(root_, ec); !ec && it != fs::directory_iterator(); it.increment(ec)) {
    if (!it->is_directory()) continue;
    for (const auto& manifest : manifests_of(it->path().filename().string())) {
      if (auto package = load_package(manifest)) packages.push_back(std::move(*package));
    }
  }
  std::sort(packages.begin(), packages.end(), [](const Package& a, const Package& b) {
    return a.name != b.name ? a.name < b.name : version_of(a) < version_of(b);
  });
  return packages;
}

}  // namespace steward::packages
