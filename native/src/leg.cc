#include "leg.h"

#include <algorithm>

#include "g711.h"

namespace srs {

namespace {
char dtmfDigit(uint8_t event) {
  // RFC 4733 section 3.2, table 1: events 0-9, *, #, A-D.
  static const char kDigits[] = "0123456789*#ABCD";
  return event < 16 ? kDigits[event] : 0;
}
}  // namespace

LegReceiver::LegReceiver(const std::array<PayloadKind, 128>& payloadKinds) : kinds_(payloadKinds) {
  history_.fill(-1);
}

void LegReceiver::onDatagram(const uint8_t* data, size_t length, int64_t arrival,
                             std::vector<LegEvent>& events) {
  RtpPacket p;
  if (parseRtp(data, length, &p) != RtpParseResult::Ok) {
    ++counters_.ignored;
    return;
  }
  if (paused_) {
    ++counters_.paused;
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

  const PayloadKind kind = kinds_[p.payloadType & 0x7F];
  if (kind == PayloadKind::Pcmu || kind == PayloadKind::Pcma) {
    // RFC 3550 A.8, in arrival order; arrival and timestamps are both 8 kHz samples here.
    const uint32_t transit = static_cast<uint32_t>(arrival) - p.timestamp;
    if (haveTransit_) {
      const int32_t d = static_cast<int32_t>(transit - lastTransit_);
      const uint64_t ad = d < 0 ? static_cast<uint64_t>(-static_cast<int64_t>(d)) : static_cast<uint64_t>(d);
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
    play(p.payloadType, p.timestamp, p.payload, p.payloadLength, arrival, true, events);
    return;
  }
  if (ext > maxExt_) maxExt_ = ext;
  if (ext == nextExt_ && heldCount_ == 0) {
    play(p.payloadType, p.timestamp, p.payload, p.payloadLength, arrival, false, events);
    ++nextExt_;
    return;
  }
  while (ext >= nextExt_ + kReorderWindow) {
    if (heldCount_ == 0) {
      const int64_t skip = ext - kReorderWindow + 1 - nextExt_;
      counters_.lost += static_cast<uint64_t>(skip);
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
    play(h.payloadType, h.timestamp, h.payload.data(), h.payload.size(), h.arrival, false, events);
  } else {
    ++counters_.lost;
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
  dtmfActive_ = false;
  haveTransit_ = false;
  events.push_back({LegEvent::Type::Resume, now, ssrc_, 0, 0});
}

void LegReceiver::play(uint8_t pt, uint32_t timestamp, const uint8_t* payload, size_t length, int64_t arrival,
                       bool late, std::vector<LegEvent>& events) {
  const PayloadKind kind = kinds_[pt & 0x7F];
  if (kind == PayloadKind::None) {
    ++counters_.ignored;
    return;
  }
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
    // The first packet of an SSRC is heard when it arrived; later ones follow its RTP clock.
    anchored_ = true;
    anchorExtTs_ = extTs;
    anchorPosition_ = arrival;
  }
  int64_t position = anchorPosition_ + (extTs - anchorExtTs_);
  const bool audio = kind != PayloadKind::TelephoneEvent;
  if (audio && !late && (position > arrival + kMaxSkewSamples || position < arrival - kMaxSkewSamples)) {
    // The RTP clock no longer matches the wall clock (a sender that kept its timestamps through a
    // hold, or jumped them): trust arrival time rather than overwrite or leave a long gap.
    ++counters_.reanchors;
    anchorExtTs_ = extTs;
    anchorPosition_ = arrival;
    position = arrival;
  }
  switch (kind) {
    case PayloadKind::Pcmu:
      spool_.append(position, payload, length);
      break;
    case PayloadKind::Pcma:
      spool_.appendConverted(position, length, [payload](size_t i) { return alawToUlaw(payload[i]); });
      break;
    case PayloadKind::ComfortNoise:
      // Comfort noise (RFC 3389) is recorded as silence, which is what a gap in the spool means.
      break;
    case PayloadKind::TelephoneEvent:
      telephoneEvent(timestamp, position, payload, length, events);
      break;
    case PayloadKind::None:
      break;
  }
}

void LegReceiver::telephoneEvent(uint32_t timestamp, int64_t position, const uint8_t* payload, size_t length,
                                 std::vector<LegEvent>& events) {
  // RFC 4733 section 2.3: event (8 bits), E, R, volume (6 bits), duration (16 bits).
  if (length < 4) {
    ++counters_.ignored;
    return;
  }
  const char digit = dtmfDigit(payload[0]);
  if (digit == 0) {
    ++counters_.ignored;
    return;
  }
  const bool end = (payload[1] & 0x80) != 0;
  const int64_t duration = (payload[2] << 8) | payload[3];
  if (!dtmfActive_ || timestamp != dtmfTs_) {
    endPendingDtmf(events);
    dtmfActive_ = true;
    dtmfEnded_ = false;
    dtmfTs_ = timestamp;
    dtmfDigit_ = digit;
    dtmfPosition_ = position;
    dtmfDuration_ = duration;
  } else if (!dtmfEnded_) {
    dtmfDuration_ = std::max(dtmfDuration_, duration);
  }
  if (end && !dtmfEnded_) {
    // The end packet is sent three times (RFC 4733 section 2.5.1.4); report the event once.
    reportDtmf(events);
  }
}

void LegReceiver::reportDtmf(std::vector<LegEvent>& events) {
  dtmfEnded_ = true;
  events.push_back({LegEvent::Type::Dtmf, dtmfPosition_, ssrc_, dtmfDigit_, dtmfDuration_});
  if (counters_.dtmf.size() < LegCounters::kMaxDtmf) {
    counters_.dtmf.push_back({dtmfDigit_, dtmfPosition_, dtmfDuration_});
  }
}

void LegReceiver::endPendingDtmf(std::vector<LegEvent>& events) {
  if (dtmfActive_ && !dtmfEnded_) {
    // The end packets were lost: report what was seen.
    reportDtmf(events);
  }
}

}  // namespace srs
