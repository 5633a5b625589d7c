// Timeline placement of the RTP receiver (LegReceiver::place, docs/media-engine.md "Timeline"), fed
// with exact arrival times: a re-anchor never goes over audio already recorded. A sender whose clock
// runs 5 % fast keeps all its audio and is realigned at its next talk spurt; timestamps stepping
// back 800 ms (with and without the marker bit) are placed after the audio already there; a slow
// sender is brought forward in its silences; packets that arrive late after a re-anchor never
// overwrite the audio placed since.

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <cstring>
#include <string>
#include <vector>

extern "C" {
#include <libavcodec/avcodec.h>
#include <libavutil/channel_layout.h>
}

#include "codec.h"
#include "leg.h"
#include "spool.h"

#include "check.h"

namespace srs_test {

namespace {

// The pending spool records of a leg, read back: samples written in all, samples covered (a sample
// written twice counts once), and where a byte value was first written (packets are filled with one).
struct Written {
  int64_t total = 0;
  int64_t covered = 0;
  int64_t end = 0;
  std::vector<std::pair<int64_t, uint8_t>> firsts;  // offset of the first sample of each record, its byte
  int64_t firstOf(uint8_t fill) const {
    int64_t at = -1;
    for (const auto& f : firsts)
      if (f.second == fill && (at < 0 || f.first < at)) at = f.first;
    return at;
  }
};

Written readBack(const srs::SpoolBuffer& spool) {
  Written w;
  const std::vector<uint8_t>& b = spool.bytes();
  std::vector<std::pair<int64_t, int64_t>> spans;
  for (size_t i = 0; i + 6 <= b.size();) {
    const int64_t offset = static_cast<int64_t>(b[i]) | static_cast<int64_t>(b[i + 1]) << 8 |
                           static_cast<int64_t>(b[i + 2]) << 16 | static_cast<int64_t>(b[i + 3]) << 24;
    const int64_t count = static_cast<int64_t>(b[i + 4]) | static_cast<int64_t>(b[i + 5]) << 8;
    // Where each run of one byte value starts within the record.
    for (int64_t k = 0; k < count; ++k) {
      const uint8_t v = b[i + 6 + static_cast<size_t>(k)];
      if (k == 0 || v != b[i + 5 + static_cast<size_t>(k)]) w.firsts.emplace_back(offset + k, v);
    }
    spans.emplace_back(offset, offset + count);
    w.total += count;
    i += 6 + static_cast<size_t>(count);
  }
  std::sort(spans.begin(), spans.end());
  int64_t upTo = 0;
  for (const auto& s : spans) {
    const int64_t from = std::max(s.first, upTo);
    if (s.second > from) w.covered += s.second - from;
    upTo = std::max(upTo, s.second);
  }
  w.end = upTo;
  return w;
}

struct Leg {
  srs::PayloadTable formats{};
  std::unique_ptr<srs::LegReceiver> rx;
  std::vector<srs::LegEvent> events;
  Leg() {
    formats[0] = srs::PayloadKind::Pcmu;
    rx = std::make_unique<srs::LegReceiver>(formats);
  }
  // A 20 ms PCMU packet whose 160 bytes are all `fill` (only the first byte is read back).
  void send(uint16_t seq, uint32_t ts, int64_t arrival, bool marker = false, uint8_t fill = 0x55) {
    std::vector<uint8_t> p = rtp(0, seq, ts, 0x5eed, std::vector<uint8_t>(160, fill));
    if (marker) p[1] |= 0x80;
    rx->onDatagram(p.data(), p.size(), arrival, events);
  }
  void tick(int64_t now) { rx->tick(now, events); }
};

// 20 ms G.722 payloads from libavcodec's encoder (an independent sender): a 1 kHz tone at -12 dBFS,
// or digital silence, one encoder for the whole stream as a real sender has.
class G722Sender {
 public:
  G722Sender() {
    const AVCodec* codec = avcodec_find_encoder(AV_CODEC_ID_ADPCM_G722);
    CHECK(codec != nullptr);
    ctx_ = avcodec_alloc_context3(codec);
    ctx_->sample_rate = 16000;
    ctx_->sample_fmt = AV_SAMPLE_FMT_S16;
    av_channel_layout_default(&ctx_->ch_layout, 1);
    CHECK(avcodec_open2(ctx_, codec, nullptr) == 0);
    frame_ = av_frame_alloc();
    packet_ = av_packet_alloc();
  }
  ~G722Sender() {
    av_packet_free(&packet_);
    av_frame_free(&frame_);
    avcodec_free_context(&ctx_);
  }
  G722Sender(const G722Sender&) = delete;
  G722Sender& operator=(const G722Sender&) = delete;
  std::vector<uint8_t> next(bool loud) {
    frame_->nb_samples = 320;
    frame_->format = AV_SAMPLE_FMT_S16;
    frame_->sample_rate = 16000;
    av_channel_layout_default(&frame_->ch_layout, 1);
    CHECK(av_frame_get_buffer(frame_, 0) == 0);
    auto* x = reinterpret_cast<int16_t*>(frame_->data[0]);
    for (int i = 0; i < 320; ++i, ++n_)
      x[i] = loud ? static_cast<int16_t>(8192 * std::sin(2 * M_PI * 1000 * static_cast<double>(n_) / 16000)) : 0;
    CHECK(avcodec_send_frame(ctx_, frame_) == 0);
    av_frame_unref(frame_);
    std::vector<uint8_t> out;
    while (avcodec_receive_packet(ctx_, packet_) == 0) {
      out.insert(out.end(), packet_->data, packet_->data + packet_->size);
      av_packet_unref(packet_);
    }
    return out;
  }

 private:
  AVCodecContext* ctx_ = nullptr;
  AVFrame* frame_ = nullptr;
  AVPacket* packet_ = nullptr;
  int64_t n_ = 0;
};

}  // namespace

void checkPlacement() {
  {
    // 5 % fast: 20 ms packets every 19 ms for 30 s. Before, the stream jumped 1 s back at ~20 s.
    Leg leg;
    for (int i = 0; i < 1500; ++i) leg.send(static_cast<uint16_t>(i), 1000u + 160u * i, 152 * i);
    const Written w = readBack(leg.rx->spool());
    CHECK(w.total == 1500 * 160);
    CHECK(w.covered == w.total);  // nothing written twice
    CHECK(leg.rx->counters().reanchors == 0);
    CHECK(leg.rx->counters().maxAhead >= 1500 * 8);  // it ran ahead of arrival by its drift
  }
  {
    // 10 s 5 % fast (0.5 s ahead), a pause of 1 s (1.05 s of its own clock), then a talk spurt: it is
    // placed where it arrived (before: 0.55 s later, by its timestamps).
    Leg leg;
    for (int i = 0; i < 500; ++i) leg.send(static_cast<uint16_t>(i), 160u * i, 152 * i);
    const int64_t resumeAt = 152 * 499 + 8000;
    for (int i = 0; i < 50; ++i)
      leg.send(static_cast<uint16_t>(500 + i), 160u * (500 + i) + 8400, resumeAt + 152 * i, i == 0, 0x11);
    const Written w = readBack(leg.rx->spool());
    CHECK(w.covered == w.total);
    CHECK(leg.rx->counters().reanchors == 1);
    CHECK(w.firstOf(0x11) == resumeAt);
  }
  {
    // 5 % fast without a pause, one packet in five quiet (u-law 0xFF is 0): the quiet ones are left
    // out while the stream is ahead, so it stays within about 100 ms of arrival time (60 ms, the
    // quiet packet, the drift until the next one, the packet itself), and every other packet is
    // written whole.
    Leg leg;
    int64_t worstLead = 0;
    int loud = 0;
    for (int i = 0; i < 1500; ++i) {
      const bool quiet = i % 5 == 4;
      loud += quiet ? 0 : 1;
      leg.send(static_cast<uint16_t>(i), 160u * i, 152 * i, false, quiet ? 0xFF : 0x55);
      worstLead = std::max(worstLead, leg.rx->spool().maxEnd() - 152 * i);
    }
    const Written w = readBack(leg.rx->spool());
    CHECK(w.covered == w.total);
    CHECK(w.total >= loud * 160);
    CHECK(worstLead <= 480 + 160 + 5 * 8 + 160);  // before: 1500 * 8 samples (1.5 s) by the end
  }
  {
    // The same with a coded stream: G.722, 5 % fast for 30 s without a pause or a marker, two
    // packets in ten silent. Its quiet packets are decoded (the decoder's state moves on) and their
    // output left out while the stream is ahead. Before, it was 1.5 s ahead by the end.
    srs::PayloadTable formats{};
    std::string error;
    CHECK(srs::parsePayloadFormat("G722", 8000, 1, "", &formats[9], &error));
    srs::LegReceiver rx(formats);
    std::vector<srs::LegEvent> events;
    G722Sender sender;
    int64_t worstLead = 0;
    int loud = 0;
    for (int i = 0; i < 1500; ++i) {
      const bool quiet = i % 10 >= 8;
      loud += quiet ? 0 : 1;
      std::vector<uint8_t> p = rtp(9, static_cast<uint16_t>(i), 160u * i, 0x722, sender.next(!quiet));
      CHECK(p.size() == 12 + 160);
      rx.onDatagram(p.data(), p.size(), 152 * i, events);
      worstLead = std::max(worstLead, rx.spool().maxEnd() - 152 * i);
    }
    const Written w = readBack(rx.spool());
    CHECK(w.covered == w.total);
    CHECK(w.total >= loud * 160 - 160);  // the loud packets are all there (less the resampler's delay)
    CHECK(rx.counters().reanchors > 0);
    CHECK(rx.counters().undecodable == 0);
    CHECK(worstLead <= 480 + 2 * 160 + 10 * 8 + 160);
  }
  for (const bool marker : {true, false}) {
    // 2 s, then the timestamps step back 800 ms (same SSRC, sequence goes on). Before, 0.8 s of the
    // first 2 s was overwritten (no re-anchor below 1 s).
    Leg leg;
    for (int i = 0; i < 100; ++i) leg.send(static_cast<uint16_t>(100 + i), 50000u + 160u * i, 160 * i);
    for (int i = 0; i < 100; ++i)
      leg.send(static_cast<uint16_t>(200 + i), 50000u + 16000u - 6400u + 160u * i, 16000 + 160 * i, marker && i == 0,
               0x22);
    const Written w = readBack(leg.rx->spool());
    CHECK(w.total == 200 * 160);
    CHECK(w.covered == w.total);
    CHECK(leg.rx->counters().reanchors == 1);
    CHECK(w.firstOf(0x22) == 16000);  // right after the first 2 s
  }
  {
    // 5 % slow (a 20 ms packet every 21 ms), with a 200 ms pause every 50 packets: the lag behind
    // arrival is taken back at the pauses, so it stays under 60 ms plus one stretch's drift.
    Leg leg;
    int64_t arrival = 0;
    uint32_t ts = 7;
    int64_t worstLag = 0;
    for (int i = 0; i < 500; ++i) {
      const bool spurt = i > 0 && i % 50 == 0;
      if (spurt) {
        arrival += 1600;
        ts += 1600 * 20 / 21;
      }
      leg.send(static_cast<uint16_t>(i), ts, arrival, spurt);
      const Written w = readBack(leg.rx->spool());
      worstLag = std::max(worstLag, arrival - (w.end - 160));
      arrival += 168;
      ts += 160;
    }
    const Written w = readBack(leg.rx->spool());
    CHECK(w.covered == w.total);
    CHECK(worstLag <= 480 + 50 * 8);  // before: 500 packets * 8 samples (0.5 s) by the end
  }
  {
    // A fast sender loses four packets that come back late, after the reorder window gave up: the
    // packet after the hole is not pulled back into it, so the late ones fit where they belong.
    Leg leg;
    for (int i = 0; i < 200; ++i) leg.send(static_cast<uint16_t>(i), 160u * i, 152 * i);
    for (int i = 204; i < 230; ++i) leg.send(static_cast<uint16_t>(i), 160u * i, 152 * i);
    leg.tick(152 * 230);
    for (int i = 200; i < 204; ++i) leg.send(static_cast<uint16_t>(i), 160u * i, 152 * 230 + i, false, 0x33);
    const Written w = readBack(leg.rx->spool());
    CHECK(w.total == 230 * 160);
    CHECK(w.covered == w.total);
    CHECK(leg.rx->counters().late == 4);
  }
  {
    // A step back after loss: the late packets from before the step are dropped (counted lost)
    // rather than written over the audio placed after it.
    Leg leg;
    for (int i = 0; i < 100; ++i) leg.send(static_cast<uint16_t>(i), 160u * i, 160 * i);
    for (int i = 102; i < 130; ++i)
      leg.send(static_cast<uint16_t>(i), 160u * i - 6400u, 160 * i, i == 102);
    leg.tick(160 * 131);
    for (int i = 100; i < 102; ++i) leg.send(static_cast<uint16_t>(i), 160u * i, 160 * 131, false, 0x44);
    const Written w = readBack(leg.rx->spool());
    CHECK(w.covered == w.total);
    CHECK(leg.rx->counters().late == 2);
  }
}

}  // namespace srs_test
