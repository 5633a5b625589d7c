#include "g711.h"

#include <array>

namespace srs {

namespace {
constexpr int kUlawBias = 0x84;    // 132: added before segment search (G.711 u-law)
constexpr int kUlawClip = 32635;   // largest magnitude that still fits after the bias

// Index of the highest set bit of v (v in 1..255), 0 for v == 0.
int highBit(int v) {
  int n = 0;
  while (v > 1) {
    v >>= 1;
    ++n;
  }
  return n;
}
}  // namespace

uint8_t linearToUlaw(int16_t pcm) {
  // Negative inputs use the one's complement magnitude, as the ITU-T G.191 reference coder does.
  int v = pcm;
  int sign = 0;
  if (v < 0) {
    v = -v - 1;
    sign = 0x80;
  }
  if (v > kUlawClip) v = kUlawClip;
  v += kUlawBias;
  const int exponent = highBit(v >> 7);
  const int mantissa = (v >> (exponent + 3)) & 0x0F;
  return static_cast<uint8_t>(~(sign | (exponent << 4) | mantissa));
}

int16_t ulawToLinear(uint8_t u) {
  const int x = static_cast<uint8_t>(~u);
  const int exponent = (x >> 4) & 0x07;
  const int mantissa = x & 0x0F;
  const int magnitude = (((mantissa << 3) + kUlawBias) << exponent) - kUlawBias;
  return static_cast<int16_t>((x & 0x80) ? -magnitude : magnitude);
}

uint8_t linearToAlaw(int16_t pcm) {
  // A-law works on 13-bit magnitudes; even-bit inversion (0x55) is applied at the end.
  int v = pcm >> 3;
  int mask;
  if (v >= 0) {
    mask = 0xD5;
  } else {
    mask = 0x55;
    v = -v - 1;
  }
  int segment = 0;
  while (segment < 8 && v > ((0x20 << segment) - 1)) ++segment;
  if (segment >= 8) return static_cast<uint8_t>(0x7F ^ mask);
  int a = segment << 4;
  a |= (segment < 2) ? ((v >> 1) & 0x0F) : ((v >> segment) & 0x0F);
  return static_cast<uint8_t>(a ^ mask);
}

int16_t alawToLinear(uint8_t a) {
  const int x = a ^ 0x55;
  int t = (x & 0x0F) << 4;
  const int segment = (x & 0x70) >> 4;
  if (segment == 0) {
    t += 8;
  } else {
    t += 0x108;
    t <<= segment - 1;
  }
  return static_cast<int16_t>((x & 0x80) ? t : -t);
}

namespace {
struct Tables {
  std::array<int16_t, 256> ulaw{};
  std::array<uint8_t, 256> alawToUlaw{};
  std::array<uint8_t, 65536> ulawEncode{};  // by the sample's 16 bits, see ulawEncodeTable()
  Tables() {
    for (int i = 0; i < 256; ++i) {
      ulaw[i] = ulawToLinear(static_cast<uint8_t>(i));
      alawToUlaw[i] = linearToUlaw(alawToLinear(static_cast<uint8_t>(i)));
    }
    for (int v = -32768; v <= 32767; ++v)
      ulawEncode[static_cast<uint16_t>(v)] = linearToUlaw(static_cast<int16_t>(v));
  }
};
const Tables& tables() {
  static const Tables t;
  return t;
}
}  // namespace

int16_t ulawDecode(uint8_t u) { return tables().ulaw[u]; }
const int16_t* ulawDecodeTable() { return tables().ulaw.data(); }
const uint8_t* ulawEncodeTable() { return tables().ulawEncode.data(); }
uint8_t alawToUlaw(uint8_t a) { return tables().alawToUlaw[a]; }

}  // namespace srs
