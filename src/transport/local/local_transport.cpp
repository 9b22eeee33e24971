#include "transport/local/local_transport.hpp"

namespace steward::transport {
namespace {

class LocalTransport final : public Transport {
 public:
  boost::asio::awaitable<Result<ExecOutcome>> run(const Target& target, ExecRequest request,
                                                  ChunkSink sink, CancelToken cancel) override {
    exec::ProcessSpec spec =
        request.argv.empty() ? exec::shell_spec(std::move(request.command)) : exec::ProcessSpec{};
    if (!request.argv.empty()) spec.argv = std::move(request.argv);
    spec.env = std::move(request.env);
    spec.cwd = std::move(request.cwd);
    spec.stdin_data = std::move(request.stdin_data);
    spec.timeout = request.timeout;
    spec.output_cap = request.output_cap;
    co_return co_await exec::run_process(std::move(spec), std::move(sink), std::move(cancel));
  }
};

}  // namespace

std::shared_ptr<Transport> make_local_transport() { return std::make_shared<LocalTransport>(); }

}  // namespace steward::transport
