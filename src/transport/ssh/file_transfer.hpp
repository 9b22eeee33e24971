#pragma once
// put and get over SFTP on a pooled connection: pipelined, streamed (at most
// kWindow requests of kChunk bytes in flight, whatever the file's size),
// written under a temporary name, checked against the source's SHA-256
// (computed on the target with sha256sum), then renamed into place.
#include <boost/asio/awaitable.hpp>

#include "core/cancel.hpp"
#include "core/result.hpp"
#include "transport/ssh/connection.hpp"
#include "transport/transport.hpp"

namespace steward::transport::ssh {

boost::asio::awaitable<Result<FileOutcome>> put_over_sftp(Connection& connection, const FileRequest& request,
                                                          CancelToken cancel);
boost::asio::awaitable<Result<FileOutcome>> get_over_sftp(Connection& connection, const FileRequest& request,
                                                          CancelToken cancel);

}  // namespace steward::transport::ssh
