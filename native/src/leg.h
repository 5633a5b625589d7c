// Receive-side state of one leg: RTP parsing, SSRC latching, sequence tracking with a small
// reorder window, duplicates, loss accounting, placement on the session timeline, payload decoding
// into the leg's pending spool records, and RFC 4733 telephone-events. Single-threaded: the engine
// calls it under its lock. All times are in samples at 8 kHz since the session's t0.
#pragma once

#include <array>
#include <cstddef>
#include <cstdint>
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "codec.h"
#include "rtp.h"
#include "spool.h"
#include "srtp.h"

namespace srs {

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
  uint64_t reanchors = 0;  // times the timeline was moved off the RTP clock (a step, a new talk spurt, drift)
  uint64_t paused = 0;     // datagrams that arrived while the leg was paused (not recorded)
  uint64_t rtcp = 0;       // RTCP datagrams drained from port+1 (counted by the engine)
  uint64_t srtpAuthFailures = 0;  // SRTP/SRTCP packets that failed authentication (dropped)
  uint64_t srtpReplayDrops = 0;   // SRTP packets dropped by replay protection
  uint64_t undecodable = 0;       // payloads of a known codec that the decoder rejected
  uint32_t codecsSeen = 0;        // bit (1 << PayloadKind) for each kind played
  int64_t firstPacketAt = -1;
  // How far (samples) the end of the audio ran ahead of arrival time at most: a sender whose clock
  // runs fast is never pulled back over its own audio, so its file may end this much after the call.
  int64_t maxAhead = 0;
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
  static constexpr int64_t kSpurtSamples = 480;           // realign a talk spurt that is 60 ms off arrival
  static constexpr int64_t kOverlapSamples = 40;          // a step back by more than 5 ms re-anchors
  static constexpr int kQuietLevel = 64;                  // |sample| below this (-54 dBFS) is quiet
  static constexpr int64_t kMaxDropout = 3000;            // RFC 3550 appendix A.1
  static constexpr int64_t kMaxMisorder = 1000;
  static constexpr size_t kHistory = 1024;                // recent sequence numbers kept for duplicates

  explicit LegReceiver(const PayloadTable& payloadFormats);
  ~LegReceiver();

  // `data` is decrypted in place when the leg has SRTP. True when SRTP authenticated it (always
  // false on a plain leg): the engine lets only such a packet take or move an SRTP leg's latch.
  bool onDatagram(uint8_t* data, size_t length, int64_t arrival, std::vector<LegEvent>& events);
  // SRTP for this leg (nullptr: plain RTP), e.g. from the session's a=crypto.
  void setSrtp(std::unique_ptr<SrtpReceiver> srtp) { srtp_ = std::move(srtp); }
  SrtpReceiver* srtp() { return srtp_.get(); }
  // A re-INVITE's new key (or none: plain from now on), without a gap: packets of the old key still
  // in flight are decrypted with it. False (nothing changed) when the key is refused.
  bool rekey(SrtpConfig* config, std::string* error);
  // SRTCP/RTCP from port+1: authenticated (when the leg has SRTP) and counted.
  void onRtcp(uint8_t* data, size_t length);
  // Releases packets held too long behind a gap (call a few times a second).
  void tick(int64_t now, std::vector<LegEvent>& events);
  // Releases everything held (end of the session).
  void finish(std::vector<LegEvent>& events);
  // After finish, when the leg's socket is closed: frees the decoders and the SRTP contexts (libsrtp
  // zeroes their key material), keeping the counters.
  void releaseResources();
  // A paused leg (SIPREC pause, a=inactive) records nothing: what is held is released, datagrams that
  // still arrive are counted and dropped, and the file holds silence until resume. After resume the
  // stream is taken up as a new one (sequence and timeline re-anchored on the next packet), since a
  // sender may continue with any sequence number and timestamp. Idempotent.
  void pause(int64_t now, std::vector<LegEvent>& events);
  void resume(int64_t now, std::vector<LegEvent>& events);
  bool paused() const { return paused_; }

  SpoolBuffer& spool() { return spool_; }
  void countRtcp(uint64_t n) { counters_.rtcp += n; }
  // Bytes of decoder state this leg holds now (for the memory figures).
  size_t decoderCount() const { return decoders_.size(); }
  const LegCounters& counters() const { return counters_; }

 private:
  struct Held {
    bool used = false;
    int64_t ext = 0;
    uint32_t timestamp = 0;
    uint8_t payloadType = 0;
    bool marker = false;
    int64_t arrival = 0;
    std::vector<uint8_t> payload;
  };

  // The RTP packet after SRTP (or a plain leg's datagram): parsed, ordered, played.
  void onRtp(const uint8_t* data, size_t length, int64_t arrival, std::vector<LegEvent>& events);
  void switchSsrc(uint32_t ssrc, int64_t arrival, std::vector<LegEvent>& events);
  void advance(std::vector<LegEvent>& events);
  void releaseAll(std::vector<LegEvent>& events);
  void play(uint8_t pt, bool marker, uint32_t timestamp, const uint8_t* payload, size_t length, int64_t arrival,
            int64_t ext, bool late, std::vector<LegEvent>& events);
  // Where an audio packet (not late) goes on the timeline: the rule is in leg_timeline.cc and
  // docs/media-engine.md ("Timeline").
  int64_t place(bool marker, int64_t extTs, int64_t position, int64_t arrival, int64_t ext);
  // A quiet packet of a stream running ahead of arrival is left out (leg_timeline.cc): a G.711 one
  // before it is written, a coded one once decoded.
  bool skipQuiet(PayloadKind kind, const uint8_t* payload, size_t length, int64_t position, int64_t arrival,
                 int64_t ext);
  bool skipQuietDecoded(const int16_t* pcm, size_t count, int64_t duration, int64_t position, int64_t arrival,
                        int64_t ext);
  bool farAhead(int64_t position, int64_t arrival, int64_t samples) const;
  void pullBack(int64_t samples, int64_t position, int64_t ext);
  void telephoneEvent(uint32_t timestamp, int64_t position, const uint8_t* payload, size_t length,
                      uint32_t clockRate, std::vector<LegEvent>& events);
  void endPendingDtmf(std::vector<LegEvent>& events);
  void reportDtmf(std::vector<LegEvent>& events);

  Decoder* decoder(uint8_t pt);
  // `arrival` is INT64_MIN for a packet that may not be left out (a late one).
  void playDecoded(uint8_t pt, int64_t position, const uint8_t* payload, size_t length, int64_t arrival,
                   int64_t ext);

  PayloadTable formats_;
  LegCounters counters_;
  std::unique_ptr<SrtpReceiver> srtp_;
  // Decoders by payload type, made on first use (a G.711 leg has none).
  std::vector<std::pair<uint8_t, std::unique_ptr<Decoder>>> decoders_;
  std::vector<int16_t> pcm_;  // decoded 8 kHz samples of the current packet
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
  uint32_t anchorRate_ = 8000;  // clock rate of the payload type the anchor was taken on
  int64_t audioEnd_ = -1;       // timeline position just after the latest-ending audio played
  // The anchor before the latest re-anchor: a late packet from before it goes back into its own hole.
  bool havePrevAnchor_ = false;
  int64_t prevAnchorExtTs_ = 0;
  int64_t prevAnchorPosition_ = 0;
  uint32_t prevAnchorRate_ = 8000;
  int64_t reanchorPosition_ = 0;  // where the latest re-anchor put the stream
  int64_t reanchorExt_ = 0;       // extended sequence number of the packet it was taken on
  bool seqGap_ = false;           // sequence numbers are missing just before the next packet played

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
