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
  std::string feature_type;  // Service, Configuration or Artifact
  std::string action;        // run by /bin/sh -c on the target; may be empty
  bool restarts = false;     // the feature's action may reboot the target
  int interval = 0;          // a condition's default interval in seconds; 0: none

  std::string label() const { return name + " " + version; }
};

// Parses and validates one package.toml. InvalidArgument naming the file and key.
Result<Package> load_package(const std::filesystem::path& manifest);

// Orders versions part by part, numerically where both parts are numbers
// ("1.10.0" > "1.9.2").
bool version_less(const std::string& a, const std::string& b);

// Finds packages by name and version under one folder, reading the disk on
// each call so packages added while the server runs are found.
class Catalog {
 public:
  explicit Catalog(std::filesystem::path root) : root_(std::move(root)) {}

  // Exact `version`; empty or "*" picks the newest. NotFound naming what was
  // looked for; InvalidArgument when the package exists but is malformed.
  Result<Package> resolve(const std::string& name, const std::string& version) const;
  // Every valid package; malformed ones are skipped.
  std::vector<Package> list() const;

 private:
  std::vector<std::filesystem::path> manifests_of(const std::string& name) const;

  std::filesystem::path root_;
};

}  // namespace steward::packages
