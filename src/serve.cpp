// `steward serve`: the process around one Server (server/server.hpp):
// logging, signals and the event loop.
#include "serve.hpp"

#include <fcntl.h>
#include <signal.h>
#include <spdlog/sinks/basic_file_sink.h>
#include <spdlog/sinks/stdout_color_sinks.h>
#include <spdlog/spdlog.h>
#include <sys/stat.h>

#include <boost/asio/co_spawn.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/signal_set.hpp>
#include <filesystem>
#include <functional>

#include "core/clock.hpp"
#include "core/descriptors.hpp"
#include "core/spawn.hpp"
#include "server/server.hpp"

namespace steward {
namespace {

namespace fs = std::filesystem;
namespace asio = boost::asio;

int fail(const std::string& message) {
  spdlog::critical("{}", message);
  return 2;
}

Status setup_logging(const ServeSettings& settings) {
  std::vector<spdlog::sink_ptr> sinks{std::make_shared<spdlog::sinks::stderr_color_sink_mt>()};
  if (!settings.log_dir.empty()) {
    try {
      fs::create_directories(settings.log_dir);
      fs::path file = fs::path(settings.log_dir) / settings.log_file_name;
      sinks.push_back(std::make_shared<spdlog::sinks::basic_file_sink_mt>(file.string()));
      std::error_code ec;
      if (!fs::is_symlink(file, ec))
        fs::permissions(file, fs::perms::group_all | fs::perms::others_all, fs::perm_options::remove, ec);
    } catch (const std::exception& e) {
      return make_error(ErrorCode::InvalidArgument, std::string("cannot open log file: ") + e.what());
    }
  }
  auto logger = std::make_shared<spdlog::logger>("steward", sinks.begin(), sinks.end());
  auto level = spdlog::level::from_str(settings.log_level);
  if (level == spdlog::level::off && settings.log_level != "off")
    return make_error(ErrorCode::InvalidArgument, "unknown log level '" + settings.log_level + "'");
  logger->set_level(level);
  spdlog::set_default_logger(logger);
  return {};
}

// Descriptors 0-2 must exist, or a pipe could land on them and be closed by
// accident when a child is spawned.
void ensure_standard_descriptors() {
  for (int fd = 0; fd <= 2; ++fd) {
    if (::fcntl(fd, F_GETFD) == -1) ::open("/dev/null", O_RDWR);
  }
}

// Runs `server` until SIGTERM/SIGINT, then drains it; a second signal exits at once.
int run_until_signalled(asio::io_context& io, Server& server, const ServeSettings& settings) {
  int exit_code = 0;
  bool serving = false, shutting_down = false;
  auto begin_stop = [&] {
    asio::co_spawn(io, [&]() -> asio::awaitable<void> {
      co_await server.stop();
      io.stop();
    }, log_failure("the shutdown sequence"));
  };
  asio::signal_set signals(io, SIGINT, SIGTERM);
  std::function<void(const boost::system::error_code&, int)> on_signal = [&](const boost::system::error_code& error,
                                                                             int number) {
    if (error) return;
    if (shutting_down) {
      spdlog::warn("second signal: exiting now");
      std::_Exit(1);
    }
    shutting_down = true;
    spdlog::info("signal {}: no new requests; running operations get {} s", number, settings.grace_seconds);
    if (serving) begin_stop();  // else the start-up below stops once it is done
    signals.async_wait(on_signal);
  };
  signals.async_wait(on_signal);
  asio::co_spawn(io, [&]() -> asio::awaitable<void> {
    Status started = co_await server.start();
    if (!started) {
      exit_code = fail(started.error().message);
      io.stop();
      co_return;
    }
    serving = true;
    if (shutting_down) begin_stop();
  }, log_failure("start-up"));
  io.run();
  return exit_code;
}

}  // namespace

int serve(const ServeSettings& settings) {
  // Before anything is created: the database, its WAL, logs, keys and every
  // file steward writes are the server user's alone (0600, folders 0700).
  ::umask(077);
  ensure_standard_descriptors();
  ::signal(SIGPIPE, SIG_IGN);
  if (auto logging = setup_logging(settings); !logging) return fail(logging.error().message);
  raise_descriptor_limit();  // the Server sizes its connection limit from it
  asio::io_context io(1);
  SystemClock clock;
  int exit_code = 0;
  {
    // Destroyed (the store last, its threads joined) while the loop still
    // exists to receive their last completions.
    Server server(settings, clock, io.get_executor());
    exit_code = run_until_signalled(io, server, settings);
  }
  if (exit_code == 0) spdlog::info("stopped");
  return exit_code;
}

}  // namespace steward
