// The agent listener serves a renewed certificate without a restart: its
// upkeep reissues it (here: every time, as if it always ended soon) and new
// links are served the new one.
#include "api/agents/agent_listener.hpp"

#include <arpa/inet.h>
#include <gtest/gtest.h>
#include <netinet/in.h>
#include <openssl/pem.h>
#include <openssl/ssl.h>
#include <sys/socket.h>
#include <unistd.h>

#include <boost/asio/co_spawn.hpp>
#include <boost/asio/executor_work_guard.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/use_future.hpp>

#include <filesystem>
#include <thread>

#include "agents/trust.hpp"
#include "agents/trust_options.hpp"
#include "store/store.hpp"
#include "support/run_sync.hpp"
#include "support/test_dir.hpp"
#include "tls/identity.hpp"
#include "transport/agent/hub.hpp"

namespace steward::api::agent_rpc {
namespace {

namespace asio = boost::asio;

// The fingerprint of the certificate a new TLS connection is served; empty
// when the handshake fails.
std::string served_fingerprint(int port) {
  const int fd = ::socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in address{};
  address.sin_family = AF_INET;
  address.sin_port = htons(static_cast<std::uint16_t>(port));
  address.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  std::string fingerprint;
  SSL_CTX* context = SSL_CTX_new(TLS_client_method());
  SSL* session = SSL_new(context);
  if (::connect(fd, reinterpret_cast<sockaddr*>(&address), sizeof address) == 0 && SSL_set_fd(session, fd) == 1 &&
      SSL_connect(session) == 1) {
    if (X509* certificate = SSL_get1_peer_certificate(session)) {
      BIO* bio = BIO_new(BIO_s_mem());
      PEM_write_bio_X509(bio, certificate);
      char* data = nullptr;
      const long size = BIO_get_mem_data(bio, &data);
      auto computed = tls::sha256_fingerprint(std::string(data, static_cast<std::size_t>(size)));
      if (computed) fingerprint = *computed;
      BIO_free(bio);
      X509_free(certificate);
    }
  }
  SSL_free(session);
  SSL_CTX_free(context);
  ::close(fd);
  return fingerprint;
}

TEST(AgentListener, ServesARenewedCertificateWithoutARestart) {
  const auto dir = steward::testing::fresh_test_dir("agent-listener");
  auto store = store::open_store({"", dir.string()});
  ASSERT_TRUE(store) << store.error().message;
  asio::io_context io;
  agents::TrustOptions options;
  options.renew_server_within = std::chrono::hours(24 * 398);
  auto trust = steward::testing::run_sync(io, agents::open_trust(dir.string(), **store, std::move(options)));
  ASSERT_TRUE(trust) << trust.error().message;
  const std::string at_start = (*trust)->server_identity().fingerprint;
  {
    transport::agent::AgentHub hub(io.get_executor(), {}, trust->get());
    AgentListener listener(hub, **trust, {.upkeep_every = std::chrono::milliseconds(300)});
    auto port = listener.listen("127.0.0.1:0");
    ASSERT_TRUE(port) << port.error().message;
    auto work = asio::make_work_guard(io);
    io.restart();  // run_sync ran it to the end
    std::thread loop([&io] { io.run(); });
    EXPECT_FALSE(served_fingerprint(*port).empty()) << "the listener's first certificate was not served";
    std::string served;
    const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(20);
    while (std::chrono::steady_clock::now() < deadline) {
      served = served_fingerprint(*port);
      if (served != at_start && served == (*trust)->server_identity().fingerprint) break;
      std::this_thread::sleep_for(std::chrono::milliseconds(100));
    }
    EXPECT_NE(served, at_start) << "the renewed certificate was never served";
    EXPECT_FALSE(served.empty()) << "a handshake failed (a key paired with another certificate?)";
    asio::co_spawn(io, listener.shutdown(), asio::use_future).get();
    work.reset();
    io.stop();
    loop.join();
  }
  std::filesystem::remove_all(dir);
}

}  // namespace
}  // namespace steward::api::agent_rpc
