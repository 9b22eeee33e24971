#pragma once
// How the CLI shows results to a person.
#include <boost/json/fwd.hpp>

#include <cstddef>
#include <cstdint>
#include <span>
#include <string>
#include <vector>

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

// A listing's column: its title and the width it is padded to (wider when
// a cell needs it, so columns never run together).
struct TableColumn {
  const char* title;
  std::size_t width;
};
using TableRow = std::vector<std::string>;
// A header line, then one line per row; the last column is not padded.
std::string table_text(std::span<const TableColumn> columns, const std::vector<TableRow>& rows);
void print_table(std::span<const TableColumn> columns, const std::vector<TableRow>& rows);

// "512 B", "1.5 KiB", "20.0 MiB", "3.2 GiB".
std::string byte_size(std::uint64_t bytes);

// One character per value: U+2581..U+2588 (lowest to full block) for values
// in [0, 1]; values below 0 draw as the lowest block, above 1 as the full one
// (conditions pass such values on; the caller shows the number itself).
std::string sparkline(std::span<const double> values);

// A `done/total` bar redrawn in place on a terminal (stderr); silent otherwise.
class ProgressBar {
 public:
  ProgressBar();
  void update(std::size_t done, std::size_t total);
  // Bytes moved: the bar with "12.0 MiB / 20.0 MiB" and `label` after it.
  void update_bytes(std::uint64_t done, std::uint64_t total, const std::string& label);
  void clear();

 private:
  void draw(std::uint64_t done, std::uint64_t total, const std::string& counts);

  bool enabled_;
  bool drawn_ = false;
};

}  // namespace steward::cli
