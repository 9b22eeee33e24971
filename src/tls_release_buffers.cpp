// Idle TLS connections keep no record buffers (issue 13: server memory per
// connected agent).
//
// OpenSSL gives every connection a ~17 KiB read and a ~17 KiB write record
// buffer for its whole life unless SSL_MODE_RELEASE_BUFFERS is set, which
// frees them whenever they are empty (nginx sets it on every connection).
// gRPC makes its SSL objects itself and has no option for it, so the
// executable defines SSL_new: the dynamic linker binds libgrpc's (and
// libcurl's) calls to this definition, which calls OpenSSL's own and sets the
// mode. Steward's own TLS code gets the same behaviour.
#include <dlfcn.h>
#include <openssl/ssl.h>

extern "C" SSL* SSL_new(SSL_CTX* context) {
  using SslNew = SSL* (*)(SSL_CTX*);
  static const auto openssl_ssl_new = reinterpret_cast<SslNew>(::dlsym(RTLD_NEXT, "SSL_new"));
  SSL* ssl = openssl_ssl_new ? openssl_ssl_new(context) : nullptr;
  if (ssl) SSL_set_mode(ssl, SSL_MODE_RELEASE_BUFFERS);
  return ssl;
}
