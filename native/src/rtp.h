// RTP fixed header parsing (RFC 3550 section 5.1). Pure function, no allocation.
#pragma once

#include <cstddef>
#include <cstdint>

namespace srs {

struct RtpPacket {
  uint8_t payloadType = 0;
  bool marker = false;
  uint16_t seq = 0;
  uint32_t timestamp = 0;
  uint32_t ssrc = 0;
  const uint8_t* payload = nullptr;
  size_t payloadLength = 0;
};

enum class RtpParseResult {
  Ok,
  Malformed,  // not version 2, or lengths (CSRC list, extension, padding) do not fit
  Rtcp,       // RTCP multiplexed on the RTP port (RFC 5761 section 4: PT 64-95 after the marker bit)
};

RtpParseResult parseRtp(const uint8_t* data, size_t length, RtpPacket* out);

}  // namespace srs
