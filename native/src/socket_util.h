// Socket helpers of the engine: the bind address (an IPv4 or IPv6 literal) with a port set per leg,
// and the errno names its errors carry as codes ("EADDRINUSE", ...).
#pragma once

#include <cstdint>
#include <string>

#include <sys/socket.h>

namespace srs {

struct BindAddress {
  sockaddr_storage storage{};
  socklen_t length = 0;
  int family = AF_INET;
};

// False when `text` is neither an IPv4 nor an IPv6 address.
bool parseBindAddress(const std::string& text, BindAddress* out);
void setPort(BindAddress* a, uint16_t port);
// "EADDRINUSE", "EMFILE", ... or "ERRNO_<n>" for one without a name here.
std::string errnoCode(int err);

}  // namespace srs
