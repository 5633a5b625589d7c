// Placement of a leg's audio on the session timeline when the RTP clock stops matching the wall
// clock (LegReceiver::place; docs/media-engine.md, "Timeline"). The anchor itself and the rest of
// the leg's receive logic are in leg.cc; the TypeScript twin is src/media/reference/timeline.ts.
#include <algorithm>

#include "g711.h"
#include "leg.h"

namespace srs {

int64_t LegReceiver::place(bool marker, int64_t extTs, int64_t position, int64_t arrival, int64_t ext) {
  // The RTP clock places audio until one of these says it no longer matches the wall clock:
  //  - a step back over audio already recorded (an SBC that switched media source mid-stream);
  //  - more than a second off arrival (a sender that kept its timestamps through a hold, or jumped);
  //  - a new talk spurt (marker bit) or the first audio after 60 ms or more of nothing recorded
  //    (silence, comfort noise), more than 60 ms off arrival (clock drift, a step).
  // The stream is then re-anchored on arrival time, but never behind the end of what it has
  // already recorded: a re-anchor closes a gap or opens one and never overwrites audio. A sender
  // whose clock runs fast is so pulled back in its silences, and runs ahead while it never pauses.
  const int64_t offset = position - arrival;
  const bool stepBack = audioEnd_ >= 0 && position < audioEnd_ - kOverlapSamples;
  const bool farOff = offset > kMaxSkewSamples || offset < -kMaxSkewSamples;
  const bool spurt = marker || (audioEnd_ >= 0 && position - audioEnd_ >= kSpurtSamples);
  if (!stepBack && !farOff && !(spurt && (offset > kSpurtSamples || offset < -kSpurtSamples))) return position;
  const int64_t target = std::max(arrival, audioEnd_);
  if (target == position) return position;  // already there (a fast sender that never paused)
  // A realign never pulls the stream back into a hole that packets still missing (lost, or late)
  // may fill; a jump of more than a second does, and late packets from before it are then dropped.
  if (target < position && seqGap_ && !farOff) return position;
  ++counters_.reanchors;
  havePrevAnchor_ = true;
  prevAnchorExtTs_ = anchorExtTs_;
  prevAnchorPosition_ = anchorPosition_;
  prevAnchorRate_ = anchorRate_;
  anchorExtTs_ = extTs;
  anchorPosition_ = target;
  reanchorPosition_ = target;
  reanchorExt_ = ext;
  return target;
}

bool LegReceiver::skipQuiet(PayloadKind kind, const uint8_t* payload, size_t length, int64_t position,
                            int64_t arrival, int64_t ext) {
  // A sender whose clock runs fast and that never pauses is ahead of its arrival time. Its quiet
  // packets (every sample under -54 dBFS: nothing to hear) are left out, the gap they leave being
  // silence anyway, and the stream moves back by their length: drift is taken back in silence
  // even without a talk spurt, and never over audio.
  const auto samples = static_cast<int64_t>(length);
  if (kind != PayloadKind::Pcmu && kind != PayloadKind::Pcma) return false;
  if (!farAhead(position, arrival, samples)) return false;
  for (size_t i = 0; i < length; ++i) {
    const uint8_t u = kind == PayloadKind::Pcmu ? payload[i] : alawToUlaw(payload[i]);
    const int v = ulawToLinear(u);
    if (v >= kQuietLevel || v <= -kQuietLevel) return false;
  }
  pullBack(samples, position, ext);
  return true;
}

bool LegReceiver::skipQuietDecoded(const int16_t* pcm, size_t count, int64_t duration, int64_t position,
                                   int64_t arrival, int64_t ext) {
  // The same for a coded packet, once decoded (the decoder's state has to move on with every
  // packet): its output is left out and the stream moves back by the media time it covered.
  if (count == 0 || !farAhead(position, arrival, duration)) return false;
  for (size_t i = 0; i < count; ++i) {
    if (pcm[i] >= kQuietLevel || pcm[i] <= -kQuietLevel) return false;
  }
  pullBack(duration, position, ext);
  return true;
}

bool LegReceiver::farAhead(int64_t position, int64_t arrival, int64_t samples) const {
  return samples > 0 && position - arrival >= kSpurtSamples + samples;
}

void LegReceiver::pullBack(int64_t samples, int64_t position, int64_t ext) {
  ++counters_.reanchors;
  havePrevAnchor_ = true;
  prevAnchorExtTs_ = anchorExtTs_;
  prevAnchorPosition_ = anchorPosition_;
  prevAnchorRate_ = anchorRate_;
  anchorPosition_ -= samples;
  reanchorPosition_ = position;
  reanchorExt_ = ext;
}

}  // namespace srs
