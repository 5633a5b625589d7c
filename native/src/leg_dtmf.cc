// RFC 4733 telephone events of a leg (LegReceiver's DTMF): one report per event, whether its end
// packets arrive or not. The rest of the leg's receive logic is in leg.cc.
#include <algorithm>

#include "leg.h"

namespace srs {

namespace {
char dtmfDigit(uint8_t event) {
  // RFC 4733 section 3.2, table 1: events 0-9, *, #, A-D.
  static const char kDigits[] = "0123456789*#ABCD";
  return event < 16 ? kDigits[event] : 0;
}
}  // namespace

void LegReceiver::telephoneEvent(uint32_t timestamp, int64_t position, const uint8_t* payload, size_t length,
                                 uint32_t clockRate, std::vector<LegEvent>& events) {
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
  // The duration counts ticks of the event's own clock (RFC 4733 section 2.5.1.1): 8 kHz samples here.
  int64_t duration = (payload[2] << 8) | payload[3];
  if (clockRate != kSampleRate) duration = duration * kSampleRate / clockRate;
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
