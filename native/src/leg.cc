#include "leg.h"

#include <algorithm>

#include "g711.h"

namespace srs {

LegReceiver::LegReceiver(const PayloadTable& payloadFormats) : formats_(payloadFormats) { history_.fill(-1); }

LegReceiver::~LegReceiver() = default;

bool LegReceiver::rekey(SrtpConfig* config, std::string* error) {
  if (config == nullptr) {
    if (srtp_ && !srtp_->plain()) srtp_ = SrtpReceiver::plainAfter(std::move(srtp_));
    return true;
  }
  if (!srtp_) {
    std::unique_ptr<SrtpReceiver> r = SrtpReceiver::create(*config, error);
    if (!r) return false;
    srtp_ = std::move(r);
    return true;
  }
  return srtp_->rekey(*config, ssrc_, error);
}

void LegReceiver::onRtcp(uint8_t* data, size_t length) {
  if (srtp_ && !srtp_->plain()) {
    switch (srtp_->unprotectRtcp(data, &length)) {
      case SrtpReceiver::Result::Ok: break;
      case SrtpReceiver::Result::Replay: ++counters_.srtpReplayDrops; return;
      // Anything else did not authenticate (a malformed trailer included).
      case SrtpReceiver::Result::AuthFailure:
      case SrtpReceiver::Result::Malformed: ++counters_.srtpAuthFailures; return;
    }
  }
  ++counters_.rtcp;
}

bool LegReceiver::onDatagram(uint8_t* data, size_t length, int64_t arrival, std::vector<LegEvent>& events) {
  bool authenticated = false;
  if (srtp_ && data != nullptr) {
    // RTCP multiplexed on the RTP port (RFC 5761) is not SRTP: counted as ignored below.
    const bool rtcpMux = length >= 2 && (data[1] & 0x7F) >= 64 && (data[1] & 0x7F) <= 95;
    if (!rtcpMux) {
      switch (srtp_->unprotectRtp(data, &length)) {
        case SrtpReceiver::Result::Ok: authenticated = !srtp_->plain(); break;
        case SrtpReceiver::Result::AuthFailure: ++counters_.srtpAuthFailures; return false;
        case SrtpReceiver::Result::Replay: ++counters_.srtpReplayDrops; return false;
        case SrtpReceiver::Result::Malformed: ++counters_.ignored; return false;
      }
    }
  }
  onRtp(data, length, arrival, events);
  return authenticated;
}

void LegReceiver::onRtp(const uint8_t* data, size_t length, int64_t arrival, std::vector<LegEvent>& events) {
  RtpPacket p;
  if (parseRtp(data, length, &p) != RtpParseResult::Ok) {
    ++counters_.ignored;
    return;
  }
  if (paused_) {
    ++counters_.paused;
    // RFC 4733 events are still read while paused, so that a phone code (*8) can resume the
    // recording: they are events, never audio, so nothing reaches the spool. Placed at arrival.
    const PayloadFormat& f = formats_[p.payloadType & 0x7F];
    if (f.kind == PayloadKind::TelephoneEvent)
      telephoneEvent(p.timestamp, arrival, p.payload, p.payloadLength, f.clockRate, events);
    return;
  }
  if (counters_.firstPacketAt < 0) {
    counters_.firstPacketAt = arrival;
    events.push_back({LegEvent::Type::FirstPacket, arrival, p.ssrc, 0, 0});
  }
  if (!haveSsrc_ || p.ssrc != ssrc_) switchSsrc(p.ssrc, arrival, events);

  int64_t ext;
  if (!haveSeq_) {
    haveSeq_ = true;
    ext = p.seq;
    maxExt_ = ext;
    nextExt_ = ext;
  } else {
    ext = maxExt_ + static_cast<int16_t>(static_cast<uint16_t>(p.seq - static_cast<uint16_t>(maxExt_)));
    if (ext > maxExt_ + kMaxDropout || ext < nextExt_ - kMaxMisorder) {
      // A jump this large is either a stray packet or a restarted sender: accept it only when the
      // next packet continues from it (RFC 3550 appendix A.1).
      if (badSeq_ != p.seq) {
        badSeq_ = static_cast<uint16_t>(p.seq + 1);
        ++counters_.ignored;
        return;
      }
      releaseAll(events);
      history_.fill(-1);
      haveTs_ = false;
      anchored_ = false;
      maxExt_ = ext;
      nextExt_ = ext;
    }
    badSeq_ = -1;
  }

  int64_t& seen = history_[static_cast<size_t>(ext) % kHistory];
  if (seen == ext) {
    ++counters_.duplicate;
    return;
  }
  seen = ext;
  ++counters_.received;

  const PayloadFormat& format = formats_[p.payloadType & 0x7F];
  const PayloadKind kind = format.kind;
  if (kind != PayloadKind::None && kind != PayloadKind::TelephoneEvent && kind != PayloadKind::ComfortNoise) {
    // RFC 3550 A.8, in arrival order. The transit is taken in the payload's own RTP clock (the
    // arrival scaled to it), where it wraps with the 32-bit timestamp; only |D| is scaled to 8 kHz
    // samples. (Scaling the raw timestamp instead jumped by hours when a 16 or 48 kHz clock wrapped.)
    const uint32_t rate = format.clockRate == 0 ? kSampleRate : format.clockRate;
    const uint32_t transit = static_cast<uint32_t>(arrival * rate / kSampleRate) - p.timestamp;
    if (haveTransit_) {
      const int32_t d = static_cast<int32_t>(transit - lastTransit_);
      const uint64_t ad =
          (d < 0 ? static_cast<uint64_t>(-static_cast<int64_t>(d)) : static_cast<uint64_t>(d)) * kSampleRate / rate;
      // J += (|D| - J) / 16, kept as J * 16 in integers (the RFC's own formulation).
      counters_.jitterQ4 = counters_.jitterQ4 + ad - ((counters_.jitterQ4 + 8) >> 4);
    }
    haveTransit_ = true;
    lastTransit_ = transit;
  }

  if (ext < nextExt_) {
    // The window already moved past it and counted it lost; its audio still has a place by timestamp.
    ++counters_.late;
    if (counters_.lost > 0) --counters_.lost;
    play(p.payloadType, p.marker, p.timestamp, p.payload, p.payloadLength, arrival, ext, true, events);
    return;
  }
  if (ext > maxExt_) maxExt_ = ext;
  if (ext == nextExt_ && heldCount_ == 0) {
    play(p.payloadType, p.marker, p.timestamp, p.payload, p.payloadLength, arrival, ext, false, events);
    ++nextExt_;
    return;
  }
  while (ext >= nextExt_ + kReorderWindow) {
    if (heldCount_ == 0) {
      const int64_t skip = ext - kReorderWindow + 1 - nextExt_;
      counters_.lost += static_cast<uint64_t>(skip);
      seqGap_ = true;
      nextExt_ += skip;
      break;
    }
    advance(events);
  }
  Held& h = held_[static_cast<size_t>(ext) % kReorderWindow];
  h.used = true;
  h.ext = ext;
  h.timestamp = p.timestamp;
  h.payloadType = p.payloadType;
  h.marker = p.marker;
  h.arrival = arrival;
  h.payload.assign(p.payload, p.payload + p.payloadLength);
  ++heldCount_;
  // Play whatever is now in order.
  while (heldCount_ > 0) {
    const Held& next = held_[static_cast<size_t>(nextExt_) % kReorderWindow];
    if (!next.used || next.ext != nextExt_) break;
    advance(events);
  }
}

void LegReceiver::advance(std::vector<LegEvent>& events) {
  Held& h = held_[static_cast<size_t>(nextExt_) % kReorderWindow];
  if (h.used && h.ext == nextExt_) {
    h.used = false;
    --heldCount_;
    play(h.payloadType, h.marker, h.timestamp, h.payload.data(), h.payload.size(), h.arrival, h.ext, false,
         events);
  } else {
    ++counters_.lost;
    seqGap_ = true;
  }
  ++nextExt_;
}

void LegReceiver::releaseAll(std::vector<LegEvent>& events) {
  while (heldCount_ > 0) advance(events);
}

void LegReceiver::tick(int64_t now, std::vector<LegEvent>& events) {
  if (heldCount_ == 0) return;
  int64_t oldest = now;
  for (const Held& h : held_) {
    if (h.used) oldest = std::min(oldest, h.arrival);
  }
  if (now - oldest >= kReorderWaitSamples) releaseAll(events);
}

void LegReceiver::finish(std::vector<LegEvent>& events) {
  releaseAll(events);
  endPendingDtmf(events);
}

void LegReceiver::releaseResources() {
  srtp_.reset();
  decoders_.clear();
  decoders_.shrink_to_fit();
  std::vector<int16_t>().swap(pcm_);
}

void LegReceiver::switchSsrc(uint32_t ssrc, int64_t arrival, std::vector<LegEvent>& events) {
  if (haveSsrc_) {
    releaseAll(events);
    endPendingDtmf(events);
    events.push_back({LegEvent::Type::SsrcChange, arrival, ssrc, 0, 0});
  }
  haveSsrc_ = true;
  ssrc_ = ssrc;
  if (std::find(counters_.ssrcs.begin(), counters_.ssrcs.end(), ssrc) == counters_.ssrcs.end()) {
    // An SSRC spray must not grow memory or the catalogue: past the cap they are only counted.
    if (counters_.ssrcs.size() < LegCounters::kMaxSsrcs) {
      counters_.ssrcs.push_back(ssrc);
    } else {
      ++counters_.ssrcsOverflow;
    }
  }
  haveSeq_ = false;
  badSeq_ = -1;
  history_.fill(-1);
  haveTs_ = false;
  anchored_ = false;
  dtmfActive_ = false;
  haveTransit_ = false;
}

void LegReceiver::pause(int64_t now, std::vector<LegEvent>& events) {
  if (paused_) return;
  releaseAll(events);
  endPendingDtmf(events);
  paused_ = true;
  events.push_back({LegEvent::Type::Pause, now, ssrc_, 0, 0});
}

void LegReceiver::resume(int64_t now, std::vector<LegEvent>& events) {
  if (!paused_) return;
  paused_ = false;
  haveSeq_ = false;
  badSeq_ = -1;
  history_.fill(-1);
  haveTs_ = false;
  anchored_ = false;
  // The telephone-event state stays: an event read while paused (the code that resumed) may still
  // repeat its end packets, which must not count as a new event.
  haveTransit_ = false;
  events.push_back({LegEvent::Type::Resume, now, ssrc_, 0, 0});
}

void LegReceiver::play(uint8_t pt, bool marker, uint32_t timestamp, const uint8_t* payload, size_t length,
                       int64_t arrival, int64_t ext, bool late, std::vector<LegEvent>& events) {
  const PayloadFormat& format = formats_[pt & 0x7F];
  const PayloadKind kind = format.kind;
  if (kind == PayloadKind::None) {
    ++counters_.ignored;
    return;
  }
  const bool audio = kind != PayloadKind::TelephoneEvent;
  int64_t extTs;
  if (!haveTs_) {
    haveTs_ = true;
    extTs = timestamp;
  } else {
    extTs = lastExtTs_ + static_cast<int32_t>(timestamp - lastTs_);
  }
  lastTs_ = timestamp;
  lastExtTs_ = extTs;
  if (!anchored_) {
    // The first packet of an SSRC (or of a restarted stream) is heard when it arrived, or where the
    // audio so far ends if that is later: a new stream never goes over what is recorded. Later
    // packets follow its RTP clock.
    anchored_ = true;
    havePrevAnchor_ = false;
    anchorExtTs_ = extTs;
    anchorPosition_ = std::max(arrival, audioEnd_);
    anchorRate_ = format.clockRate;
  } else if (audio && format.clockRate != anchorRate_) {
    // A payload type of another clock rate (RFC 3551 lets a sender switch): its timestamps do not
    // continue the old clock's, so the new anchor is where the audio so far ends, or the arrival
    // time when that is more than a second later.
    const bool near = audioEnd_ >= 0 && audioEnd_ >= arrival - kMaxSkewSamples;
    havePrevAnchor_ = true;
    prevAnchorExtTs_ = anchorExtTs_;
    prevAnchorPosition_ = anchorPosition_;
    prevAnchorRate_ = anchorRate_;
    anchorExtTs_ = extTs;
    anchorPosition_ = near ? audioEnd_ : arrival;
    anchorRate_ = format.clockRate;
    reanchorPosition_ = anchorPosition_;
    reanchorExt_ = ext;
  }
  // A late packet from before the latest re-anchor belongs to the anchor it was sent under: that
  // puts it back into the hole it left.
  const bool before = late && havePrevAnchor_ && ext < reanchorExt_ && format.clockRate == prevAnchorRate_;
  const int64_t baseExtTs = before ? prevAnchorExtTs_ : anchorExtTs_;
  const int64_t basePosition = before ? prevAnchorPosition_ : anchorPosition_;
  const uint32_t baseRate = before ? prevAnchorRate_ : anchorRate_;
  int64_t position;
  if (format.clockRate == baseRate) {
    const int64_t delta = extTs - baseExtTs;
    position = baseRate == kSampleRate
                   ? basePosition + delta
                   : basePosition + delta * static_cast<int64_t>(kSampleRate) / static_cast<int64_t>(baseRate);
  } else {
    position = arrival;  // a telephone-event on a clock unlike the audio's: placed by arrival
  }
  if (audio && !late) {
    position = place(marker, extTs, position, arrival, ext);
    seqGap_ = false;
    if (skipQuiet(kind, payload, length, position, arrival, ext)) return;
  } else if (before && audio && kind != PayloadKind::ComfortNoise) {
    // A G.711 packet's length is its duration; a coded one is known only once decoded.
    const bool g711 = kind == PayloadKind::Pcmu || kind == PayloadKind::Pcma;
    if (position + (g711 ? static_cast<int64_t>(length) : 1) > reanchorPosition_) {
      // It would reach into the audio placed since the re-anchor (after a step back: a re-anchor
      // never closes a hole left by loss): dropped, and so lost, rather than written over it.
      ++counters_.lost;
      return;
    }
  }
  counters_.codecsSeen |= 1u << static_cast<unsigned>(kind);
  switch (kind) {
    case PayloadKind::Pcmu:
      spool_.append(position, payload, length);
      audioEnd_ = std::max(audioEnd_, position + static_cast<int64_t>(length));
      break;
    case PayloadKind::Pcma:
      spool_.appendConverted(position, length, [payload](size_t i) { return alawToUlaw(payload[i]); });
      audioEnd_ = std::max(audioEnd_, position + static_cast<int64_t>(length));
      break;
    case PayloadKind::ComfortNoise:
      // Comfort noise (RFC 3389) is recorded as silence, which is what a gap in the spool means.
      break;
    case PayloadKind::TelephoneEvent:
      telephoneEvent(timestamp, position, payload, length, format.clockRate, events);
      break;
    case PayloadKind::None:
      break;
    default:
      playDecoded(pt, position, payload, length, audio && !late ? arrival : INT64_MIN, ext);
      break;
  }
  if (audio && !late) counters_.maxAhead = std::max(counters_.maxAhead, audioEnd_ - arrival);
}

Decoder* LegReceiver::decoder(uint8_t pt) {
  for (auto& d : decoders_) {
    if (d.first == pt) return d.second.get();
  }
  std::unique_ptr<Decoder> d = Decoder::create(formats_[pt & 0x7F]);
  if (!d) return nullptr;
  decoders_.emplace_back(pt, std::move(d));
  return decoders_.back().second.get();
}

void LegReceiver::playDecoded(uint8_t pt, int64_t position, const uint8_t* payload, size_t length,
                              int64_t arrival, int64_t ext) {
  Decoder* d = decoder(pt);
  if (d == nullptr) {
    ++counters_.undecodable;
    return;
  }
  // A packet that continues the decoder's stream (within a sample of rounding) goes on where the
  // resampled audio ends; anything else (loss, reordering, a switch back) starts afresh at its place.
  if (d->nextInput == INT64_MIN || position > d->nextInput + 1 || position < d->nextInput - 1) {
    d->discontinuity();
    d->nextOutput = position;
  }
  pcm_.clear();
  int64_t duration = 0;
  if (!d->decode(payload, length, &pcm_, &duration)) ++counters_.undecodable;
  const int16_t* pcm = pcm_.data();
  if (arrival != INT64_MIN && skipQuietDecoded(pcm, pcm_.size(), duration, position, arrival, ext)) {
    // Left out: the stream's next packet is placed `duration` earlier, where this one was, and so
    // continues the decoder's stream; the resampled audio goes on where it ended.
    d->nextInput = position;
    return;
  }
  spool_.appendConverted(d->nextOutput, pcm_.size(), [pcm](size_t i) { return linearToUlaw(pcm[i]); });
  d->nextOutput += static_cast<int64_t>(pcm_.size());
  d->nextInput = position + duration;
  if (duration > 0) audioEnd_ = std::max(audioEnd_, position + duration);
}

}  // namespace srs
