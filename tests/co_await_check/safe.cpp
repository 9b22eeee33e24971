// Nothing here may be reported by scripts/check-co-await.py (ctest check_co_await_accepts_safe).
struct Frame { int x; };
awaitable<void> safe(std::vector<std::string>& out, Exchange& exchange) {
  auto line = co_await next_line();
  out.push_back(std::move(line));
  if (!co_await exchange.begin_stream(kType)) co_return;
  while (co_await more()) (void)co_await exchange.write_chunk(chunk);
  co_spawn(executor, [&]() -> awaitable<void> { co_await run(); }, log_failure("run"));
  auto handler = [this](int n) { return n + 1; };
  for (auto& item : co_await list()) out.push_back(item);
  const std::string what = "cannot read " + path;
  co_await report(id, what);
  auto total = co_await count() + 1;
  co_return co_await finish(1'000);  // "co_await f(co_await g())" in a comment or a string is fine
}
