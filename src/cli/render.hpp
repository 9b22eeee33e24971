#pragma once
// How the CLI shows results to a person.
#include <boost/json/fwd.hpp>

#include <cstddef>
#include <string>

namespace steward::cli {

std::string status_name(std::int64_t status);
bool status_failed(std::int64_t status);
// Indented JSON for people.
std::string pretty_json(const boost::json::value& value, int indent = 0);
// A host's block: header with its status, then stdout and stderr.
void print_host_block(const std::string& host, const boost::json::object& entry);
// One line per host: "host: status (detail)".
void print_host_line(const std::string& host, const boost::json::object& entry);

// "YYYY-MM-DD HH:MM:SS" in local time; "-" for 0 (never, unknown).
std::string local_time(double unix_seconds);

// A `done/total` bar redrawn in place on a terminal (stderr); silent otherwise.
class ProgressBar {
 public:
  ProgressBar();
  void update(std::size_t done, std::size_t total);
  void clear();

 private:
  bool enabled_;
  bool drawn_ = false;
};

}  // namespace steward::cli
