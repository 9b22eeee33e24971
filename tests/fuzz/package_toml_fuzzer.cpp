// Deputy package manifests (package.toml). load_package reads a file, so
// each input is written to one in a private temporary folder that also holds
// an asset file and folder for manifests to name.
#include <filesystem>
#include <fstream>
#include <unistd.h>

#include "fuzz_input.hpp"
#include "packages/package.hpp"

namespace {

namespace fs = std::filesystem;

class Folder {
 public:
  Folder() {
    std::string pattern = (fs::temp_directory_path() / "steward-fuzz-package-XXXXXX").string();
    path_ = ::mkdtemp(pattern.data());
    std::ofstream(path_ / "hello.sh") << "#!/bin/sh\necho hello\n";
    fs::create_directories(path_ / "conf");
  }
  ~Folder() {
    std::error_code ignored;
    fs::remove_all(path_, ignored);
  }
  fs::path manifest() const { return path_ / "package.toml"; }

 private:
  fs::path path_;
};

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  static const Folder folder;
  {
    std::ofstream out(folder.manifest(), std::ios::binary | std::ios::trunc);
    out << steward::fuzz::text_of(data, size);
  }
  (void)steward::packages::load_package(folder.manifest());
  return 0;
}
