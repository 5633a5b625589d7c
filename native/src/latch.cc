#include "latch.h"

#include <arpa/inet.h>
#include <netinet/in.h>

#include <cstring>

namespace srs {

SourceAddress SourceAddress::from(const sockaddr_storage& s, socklen_t length) {
  SourceAddress a;
  if (s.ss_family == AF_INET && length >= static_cast<socklen_t>(sizeof(sockaddr_in))) {
    const auto* v4 = reinterpret_cast<const sockaddr_in*>(&s);
    a.host[10] = 0xff;
    a.host[11] = 0xff;
    std::memcpy(a.host + 12, &v4->sin_addr, 4);
    a.port = ntohs(v4->sin_port);
    a.valid = true;
  } else if (s.ss_family == AF_INET6 && length >= static_cast<socklen_t>(sizeof(sockaddr_in6))) {
    const auto* v6 = reinterpret_cast<const sockaddr_in6*>(&s);
    std::memcpy(a.host, &v6->sin6_addr, 16);
    a.port = ntohs(v6->sin6_port);
    a.valid = true;
  }
  return a;
}

SourceAddress SourceAddress::parse(const std::string& host, uint16_t port) {
  SourceAddress a;
  in_addr v4{};
  in6_addr v6{};
  if (inet_pton(AF_INET, host.c_str(), &v4) == 1) {
    if (v4.s_addr == 0) return a;  // 0.0.0.0: the SRC names no address
    a.host[10] = 0xff;
    a.host[11] = 0xff;
    std::memcpy(a.host + 12, &v4, 4);
  } else if (inet_pton(AF_INET6, host.c_str(), &v6) == 1) {
    static const uint8_t zero[16] = {};
    if (std::memcmp(&v6, zero, 16) == 0) return a;  // ::
    std::memcpy(a.host, &v6, 16);
  } else {
    return a;
  }
  a.port = port;
  a.valid = true;
  return a;
}

bool SourceAddress::sameHost(const SourceAddress& o) const {
  return valid && o.valid && std::memcmp(host, o.host, 16) == 0;
}

void SourceLatch::latch(const SourceAddress& from, bool hasSsrc, uint32_t ssrc, int64_t now) {
  if (latched_) ++relatches_;
  latched_ = true;
  current_ = from;
  haveSsrc_ = hasSsrc;
  ssrc_ = ssrc;
  lastAccepted_ = now;
}

bool SourceLatch::admits(const SourceAddress& from, int64_t now) const {
  if (!from.valid) return false;
  // The SDP names the SRC's host: only that host may start the leg. Its port is taken from the
  // first packet (many SRCs send from a port other than the one their m= line names).
  if (!latched_) return !expected_.valid || expected_.sameHost(from);
  // The latched host, from its port or another one (a new stream, or the same one on a new socket).
  if (from.sameHost(current_)) return true;
  // Another host only after a silence (SRC fail-over), and never one other than the SDP named.
  return relatchSamples_ > 0 && now - lastAccepted_ >= relatchSamples_ &&
         (!expected_.valid || expected_.sameHost(from));
}

bool SourceLatch::acceptRtp(const SourceAddress& from, bool hasSsrc, uint32_t ssrc, int64_t now) {
  if (!admits(from, now)) return false;
  if (latched_ && from == current_) {
    if (hasSsrc) {
      haveSsrc_ = true;
      ssrc_ = ssrc;
    }
    lastAccepted_ = now;
    return true;
  }
  // The latched host from another port: the latch follows it (keeping the SSRC a runt does not name).
  const bool sameHost = latched_ && from.sameHost(current_);
  latch(from, hasSsrc, sameHost && !hasSsrc ? ssrc_ : ssrc, now);
  return true;
}

bool SourceLatch::acceptRtcp(const SourceAddress& from) const {
  if (latched_) return current_.sameHost(from);
  if (expected_.valid) return expected_.sameHost(from);
  // Nobody latched yet and no SDP address: RTCP is only counted (it never reaches a recording), and
  // it never latches the leg, so it is taken from whoever sends it.
  return from.valid;
}

}  // namespace srs
