#pragma once
// Deputy packages: a folder with a package.toml that says what to copy to a
// target (assets) and what to run there (the action).
//
//   DIR/<name>/<version>/package.toml  or  DIR/<name>/package.toml
#include <cstdint>
#include <filesystem>
#include <optional>
#include <string>
#include <vector>

#include "core/result.hpp"

namespace steward::packages {

enum class ContentType { Feature, Inject, Condition };
const char* to_string(ContentType type);

struct Asset {
  std::filesystem::path source;  // absolute, inside the package folder
  std::string destination;       // absolute path of the file on the target
  std::optional<std::uint32_t> mode;
};

struct Package {
  std::string name;
  std::string version;
  std::filesystem::path folder;
  std::vector<Asset> assets;  // folders expanded to their files
  ContentType type = ContentType::Feature;
  std::string feature_type;   // Service, Configuration or Artifact
  std::string action;         // run by /bin/sh -c on the target; may be empty
  std::string delete_action;  // a feature's `delete`: run when it is deleted, before its files go
  bool restarts = false;      // a feature or inject: reboot the target after the action
  int interval = 0;           // a condition's default interval in seconds; 0: none

  std::string label() const { return name + " " + version; }
};

// Parses and validates one package.toml. InvalidArgument naming the file and key.
// Keys other executors' packages carry (description, authors, license, readme,
// categories, preview, ...) are ignored; the keys of the content sections may
// also be written Capitalised or UPPER-CASE, and the type values in any case,
// as upstream Deputy accepts them. `package.version` must be a semantic version.
Result<Package> load_package(const std::filesystem::path& manifest);

// Finds packages by name and version under one folder, reading the disk on
// each call so packages added while the server runs are found.
class Catalog {
 public:
  explicit Catalog(std::filesystem::path root) : root_(std::move(root)) {}

  // The newest version matching `requirement` (Deputy's Cargo-style syntax,
  // see semver.hpp; empty is any release). NotFound naming the requirement and
  // the versions there are; InvalidArgument for a malformed requirement, or
  // when the only manifests of the package are malformed.
  Result<Package> resolve(const std::string& name, const std::string& requirement) const;
  // Every valid package; malformed ones are skipped.
  std::vector<Package> list() const;

 private:
  std::vector<std::filesystem::path> manifests_of(const std::string& name) const;

  std::filesystem::path root_;
};

}  // namespace steward::packages
