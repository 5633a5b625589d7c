// Memory of one leg's receive state per codec (and with SRTP), and the decode CPU per packet, for
// docs/srtp-and-codecs.md: builds `kLegs` LegReceivers, feeds each one packet of the codec (which
// makes its decoder), and reports the heap growth per leg (glibc mallinfo2) and, over 2000 packets
// per codec on one leg, the CPU per packet. Build and run: scripts/codec-memory.sh
#include <malloc.h>
#include <time.h>

#include <cstdio>
#include <cstring>
#include <memory>
#include <string>
#include <vector>

#include "codec.h"
#include "leg.h"
#include "srtp.h"

namespace {

constexpr int kLegs = 200;

std::vector<uint8_t> rtp(uint8_t pt, uint16_t seq, uint32_t ts, const std::vector<uint8_t>& payload) {
  std::vector<uint8_t> p(12 + payload.size(), 0);
  p[0] = 0x80;
  p[1] = pt;
  p[2] = static_cast<uint8_t>(seq >> 8);
  p[3] = static_cast<uint8_t>(seq);
  for (int i = 0; i < 4; ++i) p[4 + static_cast<size_t>(i)] = static_cast<uint8_t>(ts >> (24 - 8 * i));
  p[11] = 42;
  if (!payload.empty()) std::memcpy(p.data() + 12, payload.data(), payload.size());
  return p;
}

double cpuNow() {
  timespec ts{};
  clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &ts);
  return static_cast<double>(ts.tv_sec) + static_cast<double>(ts.tv_nsec) / 1e9;
}

struct Case {
  const char* name;
  const char* codec;
  uint32_t clock;
  const char* fmtp;
  uint8_t pt;
  std::vector<uint8_t> payload;  // one 20 ms payload (content affects only the decode CPU)
  uint32_t tsStep;
};

}  // namespace

int main() {
  std::vector<Case> cases = {
      {"PCMU", "PCMU", 8000, "", 0, std::vector<uint8_t>(160, 0xFF), 160},
      {"G.722", "G722", 8000, "", 9, std::vector<uint8_t>(160, 0x55), 160},
      {"G.729", "G729", 8000, "", 18, std::vector<uint8_t>(20, 0x3C), 160},
      // An Opus CELT 20 ms frame (TOC 0xFC: config 31, stereo, one frame) of arbitrary bytes.
      {"Opus", "opus", 48000, "", 111, std::vector<uint8_t>(80, 0x5A), 960},
      // AMR 12.2 octet-aligned: CMR 15, one TOC (FT 7, Q), 31 bytes of speech bits.
      {"AMR", "AMR", 8000, "octet-align=1", 97, std::vector<uint8_t>(33, 0x11), 160},
      {"AMR-WB", "AMR-WB", 16000, "octet-align=1", 98, std::vector<uint8_t>(62, 0x11), 320},
      {"iLBC 20", "iLBC", 8000, "mode=20", 99, std::vector<uint8_t>(38, 0x21), 160},
      {"G.726-32", "G726-32", 8000, "", 100, std::vector<uint8_t>(80, 0x77), 160},
  };
  cases[3].payload[0] = 0xFC;
  cases[4].payload[0] = 0xF0;
  cases[4].payload[1] = 0x3C;
  cases[5].payload[0] = 0xF0;
  cases[5].payload[1] = 0x44;  // FT 8 (23.85 kbit/s), 60 bytes of speech
  std::printf("codec | heap per leg (KiB) | with SRTP AES_CM_128_80 (KiB) | decode CPU per 20 ms packet (us)\n");
  for (const Case& c : cases) {
    srs::PayloadTable table{};
    std::string error;
    if (!srs::parsePayloadFormat(c.codec, c.clock, 1, c.fmtp, &table[c.pt], &error)) return 1;
    double kib[2] = {0, 0};
    for (int secure = 0; secure < 2; ++secure) {
      malloc_trim(0);
      const size_t before = mallinfo2().uordblks;
      std::vector<std::unique_ptr<srs::LegReceiver>> legs;
      std::vector<srs::LegEvent> events;
      for (int i = 0; i < kLegs; ++i) {
        legs.push_back(std::make_unique<srs::LegReceiver>(table));
        if (secure) {
          srs::SrtpConfig cfg;
          cfg.keySaltLength = 30;
          for (size_t k = 0; k < 30; ++k) cfg.keySalt[k] = static_cast<uint8_t>(k);
          legs.back()->setSrtp(srs::SrtpReceiver::create(cfg, &error));
        } else {
          std::vector<uint8_t> p = rtp(c.pt, 1, 160, c.payload);
          legs.back()->onDatagram(p.data(), p.size(), 0, events);
        }
      }
      kib[secure] = static_cast<double>(mallinfo2().uordblks - before) / kLegs / 1024.0;
    }
    srs::LegReceiver one(table);
    std::vector<srs::LegEvent> events;
    const double t0 = cpuNow();
    for (int i = 0; i < 2000; ++i) {
      std::vector<uint8_t> p = rtp(c.pt, static_cast<uint16_t>(i), static_cast<uint32_t>(i) * c.tsStep, c.payload);
      one.onDatagram(p.data(), p.size(), i * 160, events);
      if (i % 20 == 0) one.spool().clear();
    }
    const double us = (cpuNow() - t0) / 2000 * 1e6;
    std::printf("%s | %.1f | +%.1f | %.2f (undecodable %llu)\n", c.name, kib[0], kib[1], us,
                static_cast<unsigned long long>(one.counters().undecodable));
  }
  return 0;
}
