// src/tls_release_buffers.cpp: every SSL made in the process releases its
// record buffers while they are empty, and is otherwise OpenSSL's own.
#include <gtest/gtest.h>
#include <openssl/ssl.h>

#include <memory>

namespace {

struct SslFree {
  void operator()(SSL_CTX* context) const { SSL_CTX_free(context); }
  void operator()(SSL* ssl) const { SSL_free(ssl); }
};

TEST(TlsReleaseBuffers, EverySslReleasesItsBuffersWhenEmpty) {
  std::unique_ptr<SSL_CTX, SslFree> context(SSL_CTX_new(TLS_method()));
  ASSERT_TRUE(context);
  EXPECT_EQ(SSL_CTX_get_mode(context.get()) & SSL_MODE_RELEASE_BUFFERS, 0);
  std::unique_ptr<SSL, SslFree> ssl(SSL_new(context.get()));
  ASSERT_TRUE(ssl);
  EXPECT_NE(SSL_get_mode(ssl.get()) & SSL_MODE_RELEASE_BUFFERS, 0);
  EXPECT_EQ(SSL_get_SSL_CTX(ssl.get()), context.get());  // OpenSSL's SSL_new did the work
}

}  // namespace
