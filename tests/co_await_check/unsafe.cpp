// Each marked line must be reported by scripts/check-co-await.py (ctest check_co_await_catches_unsafe).
awaitable<void> unsafe(std::vector<std::string>& out, Exchange& exchange) {
  out.push_back(co_await next_line());                        // call argument
  consume(1, std::string("x"), co_await next_line());         // one of several arguments
  auto reply = Reply{co_await next_line()};                   // braced initialiser
  co_await exchange.reply(status::ok, to_json(co_await load()));  // nested in the awaited call
  steady_timer timer(co_await this_coro::executor, deadline); // constructor argument
  auto n = std::get<0>((co_await read_some()));               // inside parentheses inside a call
  co_await report(id, "cannot read " + path);                 // a string built across the await
  co_await take_lease({"a", 10.0});                           // a braced temporary argument
  auto done = co_await call([id](int db) { return db; });     // a lambda temporary argument
}
