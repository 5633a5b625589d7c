// The fuzz half of the native stress test (scripts/test-native-asan.sh, test-native-tsan.sh): the
// RTP receiver, the SRTP layer, the AMR depacketizer and the codec decoders on random and mutated
// datagrams, and the G.711 tables.

#include <cstring>
#include <memory>
#include <random>
#include <string>
#include <vector>

#include <srtp2/srtp.h>

#include "codec.h"
#include "g711.h"
#include "leg.h"
#include "srtp.h"

#include "check.h"

namespace srs_test {

std::vector<uint8_t> rtp(uint8_t pt, uint16_t seq, uint32_t ts, uint32_t ssrc, const std::vector<uint8_t>& payload,
                         int csrcs, bool ext, uint8_t pad) {
  std::vector<uint8_t> p(12);
  p[0] = static_cast<uint8_t>(0x80 | (pad ? 0x20 : 0) | (ext ? 0x10 : 0) | csrcs);
  p[1] = pt;
  p[2] = static_cast<uint8_t>(seq >> 8);
  p[3] = static_cast<uint8_t>(seq);
  for (int i = 0; i < 4; ++i) p[4 + i] = static_cast<uint8_t>(ts >> (24 - 8 * i));
  for (int i = 0; i < 4; ++i) p[8 + i] = static_cast<uint8_t>(ssrc >> (24 - 8 * i));
  for (int i = 0; i < csrcs * 4; ++i) p.push_back(static_cast<uint8_t>(i));
  if (ext) {
    const uint8_t e[] = {0xBE, 0xDE, 0x00, 0x01, 0x10, 0xAA, 0x00, 0x00};
    p.insert(p.end(), e, e + sizeof e);
  }
  p.insert(p.end(), payload.begin(), payload.end());
  for (int i = 1; i < pad; ++i) p.push_back(0);
  if (pad) p.push_back(pad);
  return p;
}

void fuzzReceiver() {
  std::mt19937 rng(1234);
  srs::PayloadTable kinds{};
  kinds[0] = srs::PayloadKind::Pcmu;
  kinds[8] = srs::PayloadKind::Pcma;
  kinds[101] = srs::PayloadKind::TelephoneEvent;
  kinds[13] = srs::PayloadKind::ComfortNoise;
  srs::LegReceiver rx(kinds);
  std::vector<srs::LegEvent> events;
  std::vector<uint8_t> payload(160, 0xFF);
  const uint8_t pts[] = {0, 8, 101, 13, 96};
  int64_t now = 0;
  for (int i = 0; i < 300000; ++i) {
    now += rng() % 200;
    std::vector<uint8_t> p;
    const uint32_t r = rng() % 10;
    if (r < 7) {
      const uint16_t seq = static_cast<uint16_t>(i + static_cast<int>(rng() % 40) - 20);
      payload.resize(rng() % 400);
      p = rtp(pts[rng() % 5], seq, static_cast<uint32_t>(i * 160 + rng() % 100), (rng() % 50 == 0) ? rng() : 42,
              payload, static_cast<int>(rng() % 3), rng() % 2 == 0, static_cast<uint8_t>(rng() % 3));
      if (rng() % 5 == 0 && !p.empty()) p[rng() % p.size()] ^= static_cast<uint8_t>(1u << (rng() % 8));
      if (rng() % 7 == 0) p.resize(rng() % (p.size() + 1));
    } else {
      p.resize(rng() % 64);
      for (auto& b : p) b = static_cast<uint8_t>(rng());
    }
    rx.onDatagram(p.data(), p.size(), now, events);
    if (i % 100 == 0) rx.tick(now, events);
    if (i % 1000 == 0) {
      rx.spool().clear();
      events.clear();
    }
  }
  rx.finish(events);
  CHECK(rx.counters().received > 0);
  // Thousands of random SSRCs (an SSRC spray): the list kept stays capped, the rest are counted.
  CHECK(rx.counters().ssrcs.size() == srs::LegCounters::kMaxSsrcs);
  CHECK(rx.counters().ssrcsOverflow > 0);
}

srtp_t protector(srs::SrtpSuite suite, const uint8_t* key) {
  srtp_policy_t policy;
  std::memset(&policy, 0, sizeof policy);
  if (suite == srs::SrtpSuite::AeadAes128Gcm) {
    srtp_crypto_policy_set_aes_gcm_128_16_auth(&policy.rtp);
    srtp_crypto_policy_set_aes_gcm_128_16_auth(&policy.rtcp);
  } else {
    srtp_crypto_policy_set_rtp_default(&policy.rtp);
    srtp_crypto_policy_set_rtcp_default(&policy.rtcp);
  }
  policy.ssrc.type = ssrc_any_outbound;
  policy.key = const_cast<uint8_t*>(key);
  policy.window_size = 128;
  srtp_t s = nullptr;
  CHECK(srtp_create(&s, &policy) == srtp_err_status_ok);
  return s;
}

std::vector<uint8_t> protect(srtp_t s, std::vector<uint8_t> p) {
  int len = static_cast<int>(p.size());
  p.resize(p.size() + SRTP_MAX_TRAILER_LEN);
  CHECK(srtp_protect(s, p.data(), &len) == srtp_err_status_ok);
  p.resize(static_cast<size_t>(len));
  return p;
}

std::shared_ptr<srs::SrtpConfig> srtpConfig(srs::SrtpSuite suite, const uint8_t* key) {
  auto c = std::make_shared<srs::SrtpConfig>();
  c->suite = suite;
  c->keySaltLength = srs::srtpKeySaltLength(suite);
  std::memcpy(c->keySalt.data(), key, c->keySaltLength);
  return c;
}

// Every decoder and the AMR depacketizer on random and truncated payloads; SRTP on valid, mutated,
// replayed and foreign packets, with rekeys (to another suite and to plain RTP) on the way.
void fuzzCodecsAndSrtp() {
  std::mt19937 rng(99);
  srs::PayloadTable formats{};
  auto set = [&](int pt, const char* codec, uint32_t rate, const char* fmtp) {
    std::string error;
    CHECK(srs::parsePayloadFormat(codec, rate, 1, fmtp, &formats[static_cast<size_t>(pt)], &error));
  };
  set(0, "PCMU", 8000, "");
  set(9, "G722", 8000, "");
  set(18, "G729", 8000, "annexb=yes");
  set(96, "AMR", 8000, "");
  set(97, "AMR-WB", 16000, "octet-align=1");
  set(98, "iLBC", 8000, "mode=20");
  set(99, "G726-32", 8000, "");
  set(100, "opus", 48000, "");
  set(101, "telephone-event", 48000, "");
  {
    srs::PayloadFormat unused;
    std::string error;
    CHECK(!srs::parsePayloadFormat("GSM-EFR", 8000, 1, "", &unused, &error) && !error.empty());
  }
  const uint8_t pts[] = {0, 9, 18, 96, 97, 98, 99, 100, 101, 7};
  const size_t sizes[] = {0, 1, 2, 10, 12, 20, 22, 31, 38, 50, 61, 80, 100, 160, 320, 400};

  uint8_t keyA[46];
  uint8_t keyB[46];
  for (auto& b : keyA) b = static_cast<uint8_t>(rng());
  for (auto& b : keyB) b = static_cast<uint8_t>(rng());
  srs::LegReceiver rx(formats);
  {
    std::string error;
    auto bad = srtpConfig(srs::SrtpSuite::AesCm128Sha80, keyA);
    bad->keySaltLength = 7;
    CHECK(srs::SrtpReceiver::create(*bad, &error) == nullptr && !error.empty());
    CHECK(bad->keySalt[0] == 0);  // wiped even on failure
    auto good = srtpConfig(srs::SrtpSuite::AesCm128Sha80, keyA);
    auto r = srs::SrtpReceiver::create(*good, &error);
    CHECK(r != nullptr && good->keySalt[0] == 0 && good->keySaltLength == 0);
    rx.setSrtp(std::move(r));
  }
  // After the receiver: it initialises libsrtp (once per process), which the protectors need too.
  srtp_t senderA = protector(srs::SrtpSuite::AesCm128Sha80, keyA);
  srtp_t senderB = protector(srs::SrtpSuite::AeadAes128Gcm, keyB);
  std::vector<srs::LegEvent> events;
  std::vector<uint8_t> payload;
  std::vector<uint8_t> last;
  int64_t now = 0;
  int phase = 0;  // 0: key A, 1: key B (GCM), 2: plain RTP
  uint64_t expectedOk = 0;
  for (int i = 0; i < 40000; ++i) {
    now += 160;
    if (i == 15000 || i == 30000) {
      std::string error;
      if (i == 15000) {
        auto c = srtpConfig(srs::SrtpSuite::AeadAes128Gcm, keyB);
        CHECK(rx.rekey(c.get(), &error));
      } else {
        CHECK(rx.rekey(nullptr, &error));
      }
      ++phase;
    }
    payload.resize(sizes[rng() % (sizeof sizes / sizeof sizes[0])]);
    for (auto& b : payload) b = static_cast<uint8_t>(rng());
    std::vector<uint8_t> p = rtp(pts[rng() % (sizeof pts)], static_cast<uint16_t>(i), static_cast<uint32_t>(i * 960),
                                 0x1234, payload);
    const uint32_t what = rng() % 20;
    if (phase == 0) p = protect(senderA, p);
    if (phase == 1) p = protect(senderB, p);
    if (what == 0 && phase < 2) {
      p[rng() % p.size()] ^= 0x10;  // tampered: an auth failure
    } else if (what == 1 && !last.empty()) {
      p = last;  // replayed
    } else if (what == 2) {
      p.resize(rng() % (p.size() + 1));
    } else {
      ++expectedOk;
    }
    last = p;
    rx.onDatagram(p.data(), p.size(), now, events);
    if (i % 50 == 0) {
      rx.tick(now, events);
      rx.spool().clear();
      events.clear();
    }
    if (i % 97 == 0) {
      std::vector<uint8_t> rtcp = {0x80, 200, 0, 6, 0, 0, 0x12, 0x34};
      rtcp.resize(28, 0);
      rx.onRtcp(rtcp.data(), rtcp.size());
    }
  }
  rx.finish(events);
  const srs::LegCounters& c = rx.counters();
  CHECK(c.srtpAuthFailures > 0 && c.srtpReplayDrops > 0 && c.undecodable > 0);
  CHECK(c.received + c.duplicate + c.ignored >= expectedOk / 2);
  CHECK(rx.decoderCount() >= 6);
  srtp_dealloc(senderA);
  srtp_dealloc(senderB);

  // The AMR depacketizer directly: every truncation of a valid payload either parses or fails cleanly.
  const uint8_t amr[] = {0xF0, 0xBC, 0x3C, 0x72, 0x11, 0x22, 0x33, 0x44, 0x55, 0x66, 0x77, 0x88, 0x99,
                         0xAA, 0xBB, 0xCC, 0xDD, 0xEE, 0xFF, 0x10, 0x20, 0x30, 0x40, 0x50, 0x60, 0x70,
                         0x80, 0x90, 0xA0, 0xB0, 0xC0, 0xD0, 0xE0};
  std::vector<uint8_t> frames;
  size_t count = 0;
  for (size_t n = 0; n <= sizeof amr; ++n) {
    for (int mode = 0; mode < 4; ++mode) srs::depacketizeAmr(amr, n, mode & 1, mode & 2, &frames, &count);
  }
  for (int i = 0; i < 20000; ++i) {
    std::vector<uint8_t> r(rng() % 80);
    for (auto& b : r) b = static_cast<uint8_t>(rng());
    if (srs::depacketizeAmr(r.data(), r.size(), i & 1, i & 2, &frames, &count)) CHECK(count > 0 && !frames.empty());
  }
}

void checkG711() {
  for (int c = 0; c < 256; ++c) {
    CHECK(srs::linearToAlaw(srs::alawToLinear(static_cast<uint8_t>(c))) == c);
    const uint8_t u = srs::linearToUlaw(srs::ulawToLinear(static_cast<uint8_t>(c)));
    CHECK(u == (c == 0x7F ? 0xFF : c));
  }
  CHECK(srs::linearToUlaw(-32768) == 0x00);
  CHECK(srs::linearToAlaw(-32768) == 0x2A);
}

}  // namespace srs_test
