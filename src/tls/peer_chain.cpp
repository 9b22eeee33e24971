#include "tls/peer_chain.hpp"

#include <fcntl.h>
#include <netdb.h>
#include <openssl/ssl.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>

#include "tls/openssl_util.hpp"

namespace steward::tls {
namespace {

using Clock = std::chrono::steady_clock;

struct SslFree {
  void operator()(SSL_CTX* p) const { SSL_CTX_free(p); }
  void operator()(SSL* p) const { SSL_free(p); }
};

class Socket {
 public:
  explicit Socket(int fd = -1) : fd_(fd) {}
  Socket(Socket&& other) noexcept : fd_(std::exchange(other.fd_, -1)) {}
  Socket& operator=(Socket&& other) noexcept {
    std::swap(fd_, other.fd_);
    return *this;
  }
  ~Socket() {
    if (fd_ >= 0) ::close(fd_);
  }
  int get() const { return fd_; }

 private:
  int fd_;
};

// Blocks SIGPIPE on this thread while alive and swallows one raised meanwhile:
// a server that hangs up mid-handshake must not kill a process that did not
// ignore SIGPIPE (OpenSSL writes with write(), not send(MSG_NOSIGNAL)).
class SigpipeGuard {
 public:
  SigpipeGuard() {
    sigemptyset(&pipe_);
    sigaddset(&pipe_, SIGPIPE);
    sigset_t pending;
    sigpending(&pending);
    was_pending_ = sigismember(&pending, SIGPIPE) == 1;
    pthread_sigmask(SIG_BLOCK, &pipe_, &previous_);
  }
  ~SigpipeGuard() {
    if (!was_pending_) {
      timespec no_wait{0, 0};
      while (sigtimedwait(&pipe_, nullptr, &no_wait) == SIGPIPE) {
      }
    }
    pthread_sigmask(SIG_SETMASK, &previous_, nullptr);
  }
  SigpipeGuard(const SigpipeGuard&) = delete;
  SigpipeGuard& operator=(const SigpipeGuard&) = delete;

 private:
  sigset_t pipe_{}, previous_{};
  bool was_pending_ = false;
};

int remaining_ms(Clock::time_point deadline) {
  auto left = std::chrono::duration_cast<std::chrono::milliseconds>(deadline - Clock::now()).count();
  return left > 0 ? static_cast<int>(left) : 0;
}

// One connected, blocking socket whose reads and writes time out at the deadline.
Result<Socket> connect_before(const std::string& host, const std::string& port, Clock::time_point deadline) {
  addrinfo hints{};
  hints.ai_family = AF_UNSPEC;
  hints.ai_socktype = SOCK_STREAM;
  addrinfo* found = nullptr;
  if (int rc = ::getaddrinfo(host.c_str(), port.c_str(), &hints, &found); rc != 0)
    return make_error(ErrorCode::Unreachable, "cannot resolve " + host + ": " + ::gai_strerror(rc));
  std::unique_ptr<addrinfo, decltype(&::freeaddrinfo)> addresses(found, ::freeaddrinfo);
  std::string last_error = "no address";
  for (addrinfo* address = found; address; address = address->ai_next) {
    Socket socket(::socket(address->ai_family, address->ai_socktype | SOCK_NONBLOCK | SOCK_CLOEXEC, address->ai_protocol));
    if (socket.get() < 0) continue;
    int rc = ::connect(socket.get(), address->ai_addr, address->ai_addrlen);
    if (rc != 0 && errno == EINPROGRESS) {
      pollfd waiting{socket.get(), POLLOUT, 0};
      rc = ::poll(&waiting, 1, remaining_ms(deadline)) == 1 ? 0 : (errno = ETIMEDOUT, -1);
      int error = 0;
      socklen_t size = sizeof error;
      if (rc == 0 && ::getsockopt(socket.get(), SOL_SOCKET, SO_ERROR, &error, &size) == 0 && error != 0) {
        errno = error;
        rc = -1;
      }
    }
    if (rc != 0) {
      last_error = std::strerror(errno);
      continue;
    }
    ::fcntl(socket.get(), F_SETFL, ::fcntl(socket.get(), F_GETFL) & ~O_NONBLOCK);
    const int left = std::max(remaining_ms(deadline), 1);
    timeval limit{left / 1000, (left % 1000) * 1000};
    ::setsockopt(socket.get(), SOL_SOCKET, SO_RCVTIMEO, &limit, sizeof limit);
    ::setsockopt(socket.get(), SOL_SOCKET, SO_SNDTIMEO, &limit, sizeof limit);
    return socket;
  }
  return make_error(ErrorCode::Unreachable, "cannot connect to " + host + " port " + port + ": " + last_error);
}

}  // namespace

Result<std::pair<std::string, std::string>> split_host_port(const std::string& address) {
  const auto colon = address.rfind(':');
  if (colon == std::string::npos || colon == 0 || colon + 1 == address.size())
    return make_error(ErrorCode::InvalidArgument, "'" + address + "' is not HOST:PORT");
  std::string host = address.substr(0, colon), port = address.substr(colon + 1);
  if (host.front() == '[' && host.back() == ']') host = host.substr(1, host.size() - 2);
  if (host.empty() || port.find_first_not_of("0123456789") != std::string::npos || port.size() > 5)
    return make_error(ErrorCode::InvalidArgument, "'" + address + "' is not HOST:PORT");
  return std::pair{std::move(host), std::move(port)};
}

Result<std::string> fetch_peer_chain(const std::string& address, const std::string& server_name,
                                     std::chrono::milliseconds timeout) {
  auto parts = split_host_port(address);
  if (!parts) return parts.error();
  const auto deadline = Clock::now() + timeout;
  SigpipeGuard no_sigpipe;
  auto socket = connect_before(parts->first, parts->second, deadline);
  if (!socket) return socket.error();
  std::unique_ptr<SSL_CTX, SslFree> context(SSL_CTX_new(TLS_client_method()));
  if (!context) return make_error(ErrorCode::Internal, "SSL_CTX_new: " + take_openssl_error());
  // Nothing is trusted yet: the caller compares what comes back with its pin.
  SSL_CTX_set_verify(context.get(), SSL_VERIFY_NONE, nullptr);
  SSL_CTX_set_min_proto_version(context.get(), TLS1_2_VERSION);
  std::unique_ptr<SSL, SslFree> ssl(SSL_new(context.get()));
  static const unsigned char kAlpn[] = {2, 'h', '2'};
  if (!ssl || SSL_set_fd(ssl.get(), socket->get()) != 1 || SSL_set_tlsext_host_name(ssl.get(), server_name.c_str()) != 1 ||
      SSL_set_alpn_protos(ssl.get(), kAlpn, sizeof kAlpn) != 0)
    return make_error(ErrorCode::Internal, "preparing the TLS handshake: " + take_openssl_error());
  if (SSL_connect(ssl.get()) != 1) {
    const std::string reason = take_openssl_error();
    return make_error(ErrorCode::Unreachable, "TLS handshake with " + address + " failed" +
                                                  (reason.empty() ? " (timed out or closed)" : ": " + reason));
  }
  std::string chain;
  if (STACK_OF(X509)* certificates = SSL_get_peer_cert_chain(ssl.get()))
    for (int i = 0; i < sk_X509_num(certificates); ++i) chain += certificate_pem(sk_X509_value(certificates, i));
  take_openssl_error();
  if (chain.empty()) return make_error(ErrorCode::Unreachable, address + " sent no certificate");
  return chain;
}

}  // namespace steward::tls
