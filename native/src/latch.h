// Ingress trust for one leg: which source address may feed it (RTP on the leg's port, RTCP on
// port+1). A leg latches on the address the SDP names (when the SRC named a usable one) or on the
// first source. The latch is on the SRC's host: its packets from another port (a new SSRC, or the
// same stream on a new socket) move the latch; another host may take the leg over only after
// `relatchSamples` of silence, and never one other than the SDP named. Everything else is rejected
// (and counted by the caller). On an SRTP leg only a packet that authenticated latches, moves the
// latch or keeps it fresh (see admits). Single-threaded: the engine calls it from its worker under
// its lock.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>

#include <sys/socket.h>

namespace srs {

// An IPv4 or IPv6 host (16 bytes, IPv4 as v4-mapped) and a port.
struct SourceAddress {
  uint8_t host[16] = {};
  uint16_t port = 0;
  bool valid = false;
  static SourceAddress from(const sockaddr_storage& s, socklen_t length);
  // "a.b.c.d" or an IPv6 literal; port 0 = any port. Invalid when unreadable or unspecified.
  static SourceAddress parse(const std::string& host, uint16_t port);
  bool sameHost(const SourceAddress& o) const;
  bool operator==(const SourceAddress& o) const { return sameHost(o) && port == o.port; }
};

class SourceLatch {
 public:
  // `expected`: the SDP's c= address and m= port, or invalid when the SDP address is unusable (NAT,
  // 0.0.0.0): then the first source is taken. `relatchSamples` <= 0: never re-latch on silence.
  SourceLatch(SourceAddress expected, int64_t relatchSamples)
      : expected_(expected), relatchSamples_(relatchSamples) {}
  SourceLatch() = default;

  // Whether an RTP datagram from `from` at `now` may feed the leg (and take or move the latch),
  // without changing anything. An SRTP leg asks this first, authenticates the packet, and calls
  // acceptRtp only for one that authenticated: a forged datagram must not take the leg.
  bool admits(const SourceAddress& from, int64_t now) const;
  // RTP datagram from `from` carrying `ssrc` (hasSsrc false for a runt) at `now` samples: admits,
  // and if so latches (or re-latches) on it.
  bool acceptRtp(const SourceAddress& from, bool hasSsrc, uint32_t ssrc, int64_t now);
  // RTCP on port+1: from the latched host (or the SDP's host before any RTP), any port.
  bool acceptRtcp(const SourceAddress& from) const;
  uint64_t relatches() const { return relatches_; }

 private:
  void latch(const SourceAddress& from, bool hasSsrc, uint32_t ssrc, int64_t now);

  SourceAddress expected_;
  int64_t relatchSamples_ = 0;
  bool latched_ = false;
  SourceAddress current_;
  bool haveSsrc_ = false;
  uint32_t ssrc_ = 0;
  int64_t lastAccepted_ = 0;
  uint64_t relatches_ = 0;
};

}  // namespace srs
