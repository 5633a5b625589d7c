// Shared by the native stress test's units (stress.cc, fuzz.cc): the failure counter, CHECK, an RTP
// packet builder and an SRTP sender.
#pragma once

#include <cstdint>
#include <cstdio>
#include <memory>
#include <string>
#include <vector>

#include <srtp2/srtp.h>

#include "srtp.h"

namespace srs_test {

// Checks that failed, over every unit; main() exits non-zero when any did.
extern int failures;

}  // namespace srs_test

#define CHECK(cond)                                                      \
  do {                                                                   \
    if (!(cond)) {                                                       \
      std::fprintf(stderr, "%s:%d: check failed: %s\n", __FILE__, __LINE__, #cond); \
      ++srs_test::failures;                                                        \
    }                                                                    \
  } while (0)

namespace srs_test {

// An RTP packet: version 2, `csrcs` CSRCs, an optional one-byte-header extension and `pad` octets of
// padding.
std::vector<uint8_t> rtp(uint8_t pt, uint16_t seq, uint32_t ts, uint32_t ssrc, const std::vector<uint8_t>& payload,
                         int csrcs = 0, bool ext = false, uint8_t pad = 0);

// A sender's libsrtp context (outbound, any SSRC) for the suite and key.
srtp_t protector(srs::SrtpSuite suite, const uint8_t* key);
// `p` protected by `s`.
std::vector<uint8_t> protect(srtp_t s, std::vector<uint8_t> p);
// The receiver's SRTP configuration for the suite and key.
std::shared_ptr<srs::SrtpConfig> srtpConfig(srs::SrtpSuite suite, const uint8_t* key);

// The receiver on random, mutated and hostile datagrams.
void fuzzReceiver();
// Every decoder and the AMR depacketizer on random payloads; SRTP on mutated and replayed packets.
void fuzzCodecsAndSrtp();
// G.711 round trips.
void checkG711();
// Timeline placement: a re-anchor never overwrites audio already recorded (placement.cc).
void checkPlacement();
// A spool create that fails once is retried; a stalled writer leaves a pending marker (spool_faults.cc).
void checkSpoolFaults(const std::string& root, int basePort);
// The MP3 encoder between files gives the in-memory bytes; failures leave no file (mp3_files.cc).
void checkMp3Files(const std::string& dir);

}  // namespace srs_test
