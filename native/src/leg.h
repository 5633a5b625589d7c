// Receive-side state of one leg: RTP parsing, SSRC latching, sequence tracking with a small
// reorder window, duplicates, loss accounting, placement on the session timeline, payload decoding
// into the leg's pending spool records, and RFC 4733 telephone-events. Single-threaded: the engine
// calls it under its lock. All times are in samples at 8 kHz since the session's t0.
#pragma once

#include <array>
#include <cstddef>
#include <cstdint>
#include <vector>

#include "rtp.h"
#include "spool.h"

namespace srs {

enum class PayloadKind : uint8_t { None = 0, Pcmu, Pcma, TelephoneEvent, ComfortNoise };

struct LegEvent {
  enum class Type { FirstPacket, SsrcChange, Dtmf, Pause, Resume } type;
  int64_t atSamples;
  uint32_t ssrc;
  char digit;
  int64_t durationSamples;
};

struct LegCounters {
  uint64_t received = 0;   // valid RTP packets (any payload type), duplicates excluded
  uint64_t lost = 0;       // sequence numbers skipped and never received
  uint64_t duplicate = 0;  // same sequence number seen again
  uint64_t late = 0;       // arrived after the reorder window had given up on it
  uint64_t ignored = 0;    // unknown payload type, malformed datagram, RTCP on the RTP port
  uint64_t reanchors = 0;  // timestamp jumps that made the leg re-anchor on arrival time
  uint64_t paused = 0;     // datagrams that arrived while the leg was paused (not recorded)
  uint64_t rtcp = 0;       // RTCP datagrams drained from port+1 (counted by the engine)
  int64_t firstPacketAt = -1;
  // RFC 3550 appendix A.8 interarrival jitter of the audio packets, in 1/16 samples (J * 16).
  uint64_t jitterQ4 = 0;
  static constexpr size_t kMaxSsrcs = 16;  // SSRCs kept per leg; more are counted in ssrcsOverflow
  std::vector<uint32_t> ssrcs;
  uint64_t ssrcsOverflow = 0;
  struct Dtmf {
    char digit;
    int64_t atSamples;
    int64_t durationSamples;
  };
  static constexpr size_t kMaxDtmf = 1000;  // kept for the catalogue; more are still reported as events
  std::vector<Dtmf> dtmf;
};

class LegReceiver {
 public:
  static constexpr int kReorderWindow = 16;               // packets held to put reordering right
  static constexpr int64_t kReorderWaitSamples = 1600;    // give up on a gap after 200 ms
  static constexpr int64_t kMaxSkewSamples = 8000;        // re-anchor if RTP time and arrival drift 1 s
  static constexpr int64_t kMaxDropout = 3000;            // RFC 3550 appendix A.1
  static constexpr int64_t kMaxMisorder = 1000;
  static constexpr size_t kHistory = 1024;                // recent sequence numbers kept for duplicates

  explicit LegReceiver(const std::array<PayloadKind, 128>& payloadKinds);

  void onDatagram(const uint8_t* data, size_t length, int64_t arrival, std::vector<LegEvent>& events);
  // Releases packets held too long behind a gap (call a few times a second).
  void tick(int64_t now, std::vector<LegEvent>& events);
  // Releases everything held (end of the session).
  void finish(std::vector<LegEvent>& events);
  // A paused leg (SIPREC pause, a=inactive) records nothing: what is held is released, datagrams that
  // still arrive are counted and dropped, and the file holds silence until resume. After resume the
  // stream is taken up as a new one (sequence and timeline re-anchored on the next packet), since a
  // sender may continue with any sequence number and timestamp. Idempotent.
  void pause(int64_t now, std::vector<LegEvent>& events);
  void resume(int64_t now, std::vector<LegEvent>& events);
  bool paused() const { return paused_; }

  SpoolBuffer& spool() { return spool_; }
  void countRtcp(uint64_t n) { counters_.rtcp += n; }
  const LegCounters& counters() const { return counters_; }

 private:
  struct Held {
    bool used = false;
    int64_t ext = 0;
    uint32_t timestamp = 0;
    uint8_t payloadType = 0;
    int64_t arrival = 0;
    std::vector<uint8_t> payload;
  };

  void switchSsrc(uint32_t ssrc, int64_t arrival, std::vector<LegEvent>& events);
  void advance(std::vector<LegEvent>& events);
  void releaseAll(std::vector<LegEvent>& events);
  void play(uint8_t pt, uint32_t timestamp, const uint8_t* payload, size_t length, int64_t arrival, bool late,
            std::vector<LegEvent>& events);
  void telephoneEvent(uint32_t timestamp, int64_t position, const uint8_t* payload, size_t length,
                      std::vector<LegEvent>& events);
  void endPendingDtmf(std::vector<LegEvent>& events);
  void reportDtmf(std::vector<LegEvent>& events);

  std::array<PayloadKind, 128> kinds_;
  LegCounters counters_;
  SpoolBuffer spool_;

  // SSRC and sequence state (reset on a new SSRC).
  bool haveSsrc_ = false;
  uint32_t ssrc_ = 0;
  bool haveSeq_ = false;
  int64_t maxExt_ = 0;   // highest extended sequence number accepted
  int64_t nextExt_ = 0;  // next extended sequence number to play
  int32_t badSeq_ = -1;  // RFC 3550 A.1 probation for a large jump
  std::array<int64_t, kHistory> history_;
  std::array<Held, kReorderWindow> held_;
  int heldCount_ = 0;

  // Timeline: RTP timestamps are extended to 64 bits and mapped through an anchor.
  bool haveTs_ = false;
  uint32_t lastTs_ = 0;
  int64_t lastExtTs_ = 0;
  bool anchored_ = false;
  int64_t anchorExtTs_ = 0;
  int64_t anchorPosition_ = 0;

  // Jitter (RFC 3550 A.8): relative transit time of the previous audio packet of this SSRC.
  bool haveTransit_ = false;
  uint32_t lastTransit_ = 0;

  bool paused_ = false;

  // Telephone-event in progress (RFC 4733 section 2.5: all packets of one event share a timestamp).
  bool dtmfActive_ = false;
  bool dtmfEnded_ = false;
  uint32_t dtmfTs_ = 0;
  char dtmfDigit_ = 0;
  int64_t dtmfPosition_ = 0;
  int64_t dtmfDuration_ = 0;
};

}  // namespace srs
