#pragma once
// Files to and from a guest over qemu-ga's file handles (guest-file-open,
// -read, -write, -close), chunk by chunk so memory does not grow with the
// file. A put lands under a temporary name beside the destination, gets
// its owner and mode, is checked with sha256sum on the guest and only then
// renamed over the destination; a get is checked against sha256sum too.
#include <boost/asio/awaitable.hpp>

#include <string>

#include "transport/qga/qga_channel.hpp"
#include "transport/transport.hpp"

namespace steward::transport::qga {

boost::asio::awaitable<Result<FileOutcome>> put_guest_file(Channel& channel, const std::string& target,
                                                           const FileRequest& request, CancelToken cancel);

boost::asio::awaitable<Result<FileOutcome>> get_guest_file(Channel& channel, const std::string& target,
                                                           const FileRequest& request, CancelToken cancel);

}  // namespace steward::transport::qga
