#include "rtp.h"

namespace srs {

namespace {
inline uint16_t be16(const uint8_t* p) { return static_cast<uint16_t>((p[0] << 8) | p[1]); }
inline uint32_t be32(const uint8_t* p) {
  return (static_cast<uint32_t>(p[0]) << 24) | (static_cast<uint32_t>(p[1]) << 16) |
         (static_cast<uint32_t>(p[2]) << 8) | static_cast<uint32_t>(p[3]);
}
}  // namespace

RtpParseResult parseRtp(const uint8_t* data, size_t length, RtpPacket* out) {
  if (length < 12) return RtpParseResult::Malformed;
  if ((data[0] >> 6) != 2) return RtpParseResult::Malformed;
  const uint8_t second = data[1];
  if (second >= 192 && second <= 223) return RtpParseResult::Rtcp;
  const bool padding = (data[0] & 0x20) != 0;
  const bool extension = (data[0] & 0x10) != 0;
  const size_t csrcCount = data[0] & 0x0F;

  size_t offset = 12 + 4 * csrcCount;
  if (offset > length) return RtpParseResult::Malformed;
  if (extension) {
    // 16-bit profile-defined id, 16-bit length in 32-bit words (not counting this 4-byte header).
    if (offset + 4 > length) return RtpParseResult::Malformed;
    const size_t words = be16(data + offset + 2);
    offset += 4 + 4 * words;
    if (offset > length) return RtpParseResult::Malformed;
  }
  size_t end = length;
  if (padding) {
    // The last octet counts the padding octets, itself included (RFC 3550 section 5.1, P bit).
    const size_t pad = data[length - 1];
    if (pad == 0 || pad > end - offset) return RtpParseResult::Malformed;
    end -= pad;
  }
  out->payloadType = second & 0x7F;
  out->marker = (second & 0x80) != 0;
  out->seq = be16(data + 2);
  out->timestamp = be32(data + 4);
  out->ssrc = be32(data + 8);
  out->payload = data + offset;
  out->payloadLength = end - offset;
  return RtpParseResult::Ok;
}

}  // namespace srs
