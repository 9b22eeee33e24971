#include "store/redis/redis_connection.hpp"

#include <hiredis/async.h>
#include <hiredis/hiredis.h>
#include <spdlog/spdlog.h>

#include <boost/asio/async_result.hpp>
#include <boost/asio/dispatch.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/posix/stream_descriptor.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/use_awaitable.hpp>

#include <algorithm>
#include <array>
#include <chrono>
#include <deque>

namespace steward::store::redis {
namespace {

namespace asio = boost::asio;
using Clock = std::chrono::steady_clock;

Reply copy_reply(const redisReply& r) {
  Reply out;
  switch (r.type) {
    case REDIS_REPLY_STRING:
    case REDIS_REPLY_STATUS:
      out.type = r.type == REDIS_REPLY_STRING ? Reply::Type::String : Reply::Type::Status;
      out.text.assign(r.str, r.len);
      break;
    case REDIS_REPLY_INTEGER:
      out.type = Reply::Type::Integer;
      out.integer = r.integer;
      break;
    case REDIS_REPLY_ARRAY:
      out.type = Reply::Type::Array;
      out.elements.reserve(r.elements);
      for (std::size_t i = 0; i < r.elements; ++i) out.elements.push_back(copy_reply(*r.element[i]));
      break;
    default:
      break;  // nil
  }
  return out;
}

Error unavailable(const std::string& shown, const std::string& why) {
  return make_error(ErrorCode::Unavailable, "store unavailable: redis at " + shown + ": " + why);
}

// Error replies that mean "not now" rather than "wrong": Redis still loading
// its AOF after a restart, a refused password, a disk it cannot write...
Error reply_error(const std::string& shown, const std::string& message) {
  constexpr std::array<std::string_view, 9> kNotNow{"LOADING", "NOAUTH",   "WRONGPASS", "MASTERDOWN", "BUSY",
                                                    "TRYAGAIN", "MISCONF", "READONLY",  "OOM"};
  for (auto prefix : kNotNow)
    if (message.rfind(prefix, 0) == 0) return unavailable(shown, message);
  return make_error(ErrorCode::Internal, "redis: " + message);
}

// One hiredis context and the descriptor the loop watches for it. Wait
// handlers hold it, so it outlives the context hiredis frees; `ac` is null
// from hiredis's cleanup hook on.
struct Link {
  explicit Link(const asio::any_io_executor& executor) : fd(executor) {}
  redisAsyncContext* ac = nullptr;
  asio::posix::stream_descriptor fd;
  bool want_read = false, want_write = false;
  bool read_armed = false, write_armed = false;
};

void arm(const std::shared_ptr<Link>& link, bool read) {
  bool& armed = read ? link->read_armed : link->write_armed;
  if (armed || !link->fd.is_open()) return;
  armed = true;
  link->fd.async_wait(read ? asio::posix::stream_descriptor::wait_read : asio::posix::stream_descriptor::wait_write,
                      [link, read](const boost::system::error_code& ec) {
                        (read ? link->read_armed : link->write_armed) = false;
                        if (ec || !link->ac || !(read ? link->want_read : link->want_write)) return;
                        // hiredis re-arms through the hooks, or frees the
                        // context (cleanup hook) on an error.
                        if (read)
                          redisAsyncHandleRead(link->ac);
                        else
                          redisAsyncHandleWrite(link->ac);
                      });
}

struct Pending {
  RedisConnection::Done done;
  Clock::time_point sent;
  bool vital = false;  // AUTH, SELECT: an error reply ends the connection
};

}  // namespace

struct RedisConnection::State {
  State(asio::any_io_executor executor, Endpoint endpoint)
      : executor(executor), endpoint(std::move(endpoint)), timer(executor) {}

  asio::any_io_executor executor;
  Endpoint endpoint;
  std::vector<Command> greeting;
  std::shared_ptr<Link> link;  // the current connection; its ac is null once hiredis freed it
  std::deque<std::unique_ptr<Pending>> pending;  // in send order, which is reply order
  asio::steady_timer timer;
  bool timer_armed = false;
  std::string drop_reason;  // why we freed the context, for the replies it fails
  bool reported_down = false;
  bool closed = false;
  std::weak_ptr<State> self;

  const std::string& shown() const { return endpoint.shown; }

  void complete(Done done, Result<Reply> result) {
    asio::post(executor, [done = std::move(done), result = std::move(result)]() mutable { done(std::move(result)); });
  }

  void note_down(const std::string& why) {
    if (reported_down) return;
    reported_down = true;
    spdlog::warn("store unavailable: redis at {}: {}", shown(), why);
  }

  // --- hiredis hooks (privdata is the Link) ---
  static void add_read(void* data) { watch(data, true, true); }
  static void del_read(void* data) { watch(data, true, false); }
  static void add_write(void* data) { watch(data, false, true); }
  static void del_write(void* data) { watch(data, false, false); }
  static void watch(void* data, bool read, bool on) {
    auto* link = static_cast<Link*>(data);
    (read ? link->want_read : link->want_write) = on;
    if (!on || !link->ac) return;
    auto* state = static_cast<State*>(link->ac->data);
    if (state->link.get() == link) arm(state->link, read);
  }
  // The context is about to be freed and its descriptor closed by hiredis.
  static void cleanup(void* data) {
    auto* link = static_cast<Link*>(data);
    link->ac = nullptr;
    link->want_read = link->want_write = false;
    try {
      if (link->fd.is_open()) (void)link->fd.release();  // cancels the waits; hiredis closes it
    } catch (const boost::system::system_error& e) {
      spdlog::error("store: redis descriptor: {}", e.what());
    }
  }

  static void on_connect(const redisAsyncContext* ac, int status) {
    auto* state = static_cast<State*>(ac->data);
    if (status != REDIS_OK) {
      state->note_down(ac->c.errstr);
      return;
    }
    if (state->reported_down) spdlog::info("store: redis at {} is back", state->shown());
    state->reported_down = false;
  }

  static void on_disconnect(const redisAsyncContext* ac, int status) {
    auto* state = static_cast<State*>(ac->data);
    if (status != REDIS_OK && !state->closed) state->note_down(ac->errstr ? ac->errstr : "connection lost");
  }

  static void on_reply(redisAsyncContext* ac, void* reply, void* privdata) {
    auto* state = static_cast<State*>(ac->data);
    auto it = std::find_if(state->pending.begin(), state->pending.end(),
                           [privdata](const auto& p) { return p.get() == privdata; });
    if (it == state->pending.end()) return;
    std::unique_ptr<Pending> done = std::move(*it);
    state->pending.erase(it);
    Result<Reply> result = Reply{};
    if (!reply) {
      std::string why = ac->c.err ? ac->c.errstr : state->drop_reason;
      result = unavailable(state->shown(), why.empty() ? "connection lost" : why);
    } else if (auto* r = static_cast<redisReply*>(reply); r->type == REDIS_REPLY_ERROR) {
      result = reply_error(state->shown(), std::string(r->str, r->len));
      if (done->vital) {
        // Freed once this callback returns: the commands behind it fail
        // with this reason instead of Redis's replies to a connection
        // that is not ready.
        state->drop_reason = std::string(r->str, r->len);
        state->note_down(state->drop_reason);
        redisAsyncFree(ac);
      }
    } else {
      result = copy_reply(*r);
    }
    state->complete(std::move(done->done), std::move(result));
  }

  Status connect() {
    redisAsyncContext* ac = endpoint.unix_path.empty() ? redisAsyncConnect(endpoint.host.c_str(), endpoint.port)
                                                       : redisAsyncConnectUnix(endpoint.unix_path.c_str());
    if (!ac) return unavailable(shown(), "out of memory");
    if (ac->err) {
      std::string why = ac->errstr;
      redisAsyncFree(ac);
      note_down(why);
      return unavailable(shown(), why);
    }
    auto fresh = std::make_shared<Link>(executor);
    boost::system::error_code ec;
    fresh->fd.assign(ac->c.fd, ec);
    if (ec) {
      redisAsyncFree(ac);
      return unavailable(shown(), ec.message());
    }
    fresh->ac = ac;
    link = fresh;
    drop_reason.clear();
    ac->data = this;
    ac->ev.data = fresh.get();
    ac->ev.addRead = add_read;
    ac->ev.delRead = del_read;
    ac->ev.addWrite = add_write;
    ac->ev.delWrite = del_write;
    ac->ev.cleanup = cleanup;
    redisAsyncSetConnectCallback(ac, on_connect);
    redisAsyncSetDisconnectCallback(ac, on_disconnect);
    greet();
    return {};
  }

  // AUTH, SELECT and the greeting go first, so every later command finds
  // the connection ready; their replies are only logged.
  void greet() {
    std::vector<Command> first;
    if (!endpoint.password.empty()) {
      first.push_back(endpoint.user.empty() ? Command{"AUTH", endpoint.password}
                                            : Command{"AUTH", endpoint.user, endpoint.password});
    }
    if (endpoint.db != 0) first.push_back({"SELECT", std::to_string(endpoint.db)});
    first.insert(first.end(), greeting.begin(), greeting.end());
    const std::size_t vital = first.size() - greeting.size();
    for (std::size_t i = 0; i < first.size(); ++i) {
      // Never the AUTH arguments: they hold the password.
      const std::string what = first[i].front() + (i < vital ? "" : " " + first[i].at(1));
      submit(first[i], [what, shown = shown()](Result<Reply> result) {
        // Unavailable is the connection's failure, reported once by note_down().
        if (!result && result.error().code != ErrorCode::Unavailable)
          spdlog::error("store: redis at {}: {} failed: {}", shown, what, result.error().message);
      }, /*vital=*/i < vital);
    }
  }

  void send(Command command, Done done) {
    if (closed) return complete(std::move(done), unavailable(shown(), "the store is closed"));
    if (!link || !link->ac) {
      if (auto connected = connect(); !connected) return complete(std::move(done), connected.error());
    }
    submit(command, std::move(done));
  }

  void submit(const Command& command, Done done, bool vital = false) {
    std::vector<const char*> argv;
    std::vector<std::size_t> lengths;
    for (const auto& arg : command) {
      argv.push_back(arg.data());
      lengths.push_back(arg.size());
    }
    auto entry = std::make_unique<Pending>(Pending{std::move(done), Clock::now(), vital});
    if (redisAsyncCommandArgv(link->ac, on_reply, entry.get(), static_cast<int>(argv.size()), argv.data(),
                              lengths.data()) != REDIS_OK)
      return complete(std::move(entry->done), unavailable(shown(), "the connection is closing"));
    pending.push_back(std::move(entry));
    arm_timer();
  }

  // Fails everything in flight when the oldest command has waited longer
  // than the reply timeout (a stopped or unreachable Redis).
  void arm_timer() {
    if (timer_armed || pending.empty()) return;
    timer_armed = true;
    timer.expires_at(pending.front()->sent + endpoint.reply_timeout);
    timer.async_wait([weak = self](const boost::system::error_code& ec) {
      auto state = weak.lock();
      if (!state) return;
      state->timer_armed = false;
      if (ec || state->closed || state->pending.empty()) return;
      if (Clock::now() - state->pending.front()->sent >= state->endpoint.reply_timeout) {
        auto seconds = std::chrono::duration_cast<std::chrono::seconds>(state->endpoint.reply_timeout).count();
        state->drop("no reply within " + std::to_string(seconds) + " s");
      }
      state->arm_timer();
    });
  }

  // Frees the context: hiredis fails every pending reply (on_reply with none).
  void drop(const std::string& why) {
    if (!link || !link->ac) return;
    drop_reason = why;
    note_down(why);
    redisAsyncFree(link->ac);
  }

  void close() {
    closed = true;
    timer.cancel();
    if (link && link->ac) {
      drop_reason = "the store is closing";
      redisAsyncFree(link->ac);
    }
    link.reset();
  }
};

RedisConnection::RedisConnection(asio::any_io_executor executor, Endpoint endpoint)
    : state_(std::make_shared<State>(std::move(executor), std::move(endpoint))) {
  state_->self = state_;
}

RedisConnection::~RedisConnection() { state_->close(); }

void RedisConnection::set_greeting(std::vector<Command> commands) { state_->greeting = std::move(commands); }

const std::string& RedisConnection::shown_url() const { return state_->shown(); }

void RedisConnection::send(Command command, Done done) { state_->send(std::move(command), std::move(done)); }

std::function<void(Command, RedisConnection::Done)> RedisConnection::sender() const {
  return [weak = std::weak_ptr<State>(state_)](Command command, Done done) {
    if (auto state = weak.lock()) return state->send(std::move(command), std::move(done));
    done(make_error(ErrorCode::Unavailable, "store unavailable: the store is closed"));
  };
}

asio::awaitable<Result<Reply>> RedisConnection::run(Command command) {
  return asio::async_initiate<const asio::use_awaitable_t<>, void(Result<Reply>)>(
      [state = state_, command = std::move(command)](auto handler) mutable {
        auto shared = std::make_shared<decltype(handler)>(std::move(handler));
        state->send(std::move(command), [shared](Result<Reply> result) {
          auto executor = asio::get_associated_executor(*shared);
          asio::dispatch(executor, [shared, result = std::move(result)]() mutable { (*shared)(std::move(result)); });
        });
      },
      asio::use_awaitable);
}

asio::awaitable<std::vector<Result<Reply>>> RedisConnection::run_all(std::vector<Command> commands) {
  using Results = std::vector<Result<Reply>>;
  return asio::async_initiate<const asio::use_awaitable_t<>, void(Results)>(
      [state = state_, commands = std::move(commands)](auto completion) mutable {
        struct Batch {
          decltype(completion) handler;
          Results results;
          std::size_t left = 0;
        };
        auto batch = std::make_shared<Batch>(Batch{std::move(completion), Results(commands.size()), commands.size()});
        auto finish = [batch] {
          auto executor = asio::get_associated_executor(batch->handler);
          asio::dispatch(executor, [batch]() mutable { batch->handler(std::move(batch->results)); });
        };
        if (commands.empty()) return asio::post(state->executor, finish);
        for (std::size_t i = 0; i < commands.size(); ++i) {
          state->send(std::move(commands[i]), [batch, i, finish](Result<Reply> result) {
            batch->results[i] = std::move(result);
            if (--batch->left == 0) finish();
          });
        }
      },
      asio::use_awaitable);
}

}  // namespace steward::store::redis
