#include "codec.h"

#include <algorithm>
#include <cctype>
#include <cmath>
#include <cstring>

extern "C" {
#include <libavcodec/avcodec.h>
#include <libavutil/channel_layout.h>
#include <libavutil/log.h>
#include <libswresample/swresample.h>
}

namespace srs {

namespace {

constexpr int64_t kOutRate = 8000;  // the engine's timeline and spool rate

std::string lower(const std::string& s) {
  std::string out(s);
  for (char& c : out) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return out;
}

// The value of `name` in an a=fmtp parameter list ("a=1; b=2"), or "" when absent.
std::string fmtpValue(const std::string& fmtp, const std::string& name) {
  const std::string text = lower(fmtp);
  size_t pos = 0;
  while (pos < text.size()) {
    size_t end = text.find(';', pos);
    if (end == std::string::npos) end = text.size();
    std::string item = text.substr(pos, end - pos);
    item.erase(0, item.find_first_not_of(" \t"));
    const size_t eq = item.find('=');
    if (eq != std::string::npos) {
      std::string key = item.substr(0, eq);
      key.erase(key.find_last_not_of(" \t") + 1);
      if (key == name) {
        std::string value = item.substr(eq + 1);
        value.erase(0, value.find_first_not_of(" \t"));
        value.erase(value.find_last_not_of(" \t") + 1);
        return value;
      }
    }
    pos = end + 1;
  }
  return "";
}

// RFC 4867 section 3.6 tables (AMR: 3GPP TS 26.101; AMR-WB: TS 26.201).
constexpr int kAmrBits[16] = {95, 103, 118, 134, 148, 159, 204, 244, 39, 43, 38, 37, -1, -1, -1, 0};
constexpr int kAmrWbBits[16] = {132, 177, 253, 285, 317, 365, 397, 461, 477, 40, -1, -1, -1, -1, 0, 0};

// Reads bits MSB first.
struct BitReader {
  const uint8_t* p;
  size_t bits;
  size_t pos = 0;
  bool read(unsigned n, unsigned* v) {
    if (pos + n > bits) return false;
    unsigned out = 0;
    for (unsigned i = 0; i < n; ++i, ++pos) out = (out << 1) | ((p[pos >> 3] >> (7 - (pos & 7))) & 1u);
    *v = out;
    return true;
  }
};

bool silenceOnly(bool wideband, unsigned ft) {
  // SID (comfort noise) and NO_DATA / SPEECH_LOST frames: recorded as silence.
  return wideband ? ft >= 9 : ft >= 8;
}

}  // namespace

const char* payloadKindName(PayloadKind kind) {
  switch (kind) {
    case PayloadKind::Pcmu: return "PCMU";
    case PayloadKind::Pcma: return "PCMA";
    case PayloadKind::TelephoneEvent: return "telephone-event";
    case PayloadKind::ComfortNoise: return "CN";
    case PayloadKind::G722: return "G722";
    case PayloadKind::G729: return "G729";
    case PayloadKind::Opus: return "opus";
    case PayloadKind::AmrNb: return "AMR";
    case PayloadKind::AmrWb: return "AMR-WB";
    case PayloadKind::Ilbc: return "iLBC";
    case PayloadKind::G726_32: return "G726-32";
    case PayloadKind::None: break;
  }
  return "";
}

bool needsDecoder(PayloadKind kind) {
  return kind != PayloadKind::None && kind != PayloadKind::Pcmu && kind != PayloadKind::Pcma &&
         kind != PayloadKind::TelephoneEvent && kind != PayloadKind::ComfortNoise;
}

bool parsePayloadFormat(const std::string& codec, uint32_t clockRate, uint32_t channels, const std::string& fmtp,
                        PayloadFormat* out, std::string* error) {
  static const PayloadKind kAll[] = {PayloadKind::Pcmu, PayloadKind::Pcma,  PayloadKind::TelephoneEvent,
                                     PayloadKind::ComfortNoise, PayloadKind::G722, PayloadKind::G729,
                                     PayloadKind::Opus, PayloadKind::AmrNb, PayloadKind::AmrWb,
                                     PayloadKind::Ilbc, PayloadKind::G726_32};
  const std::string name = lower(codec);
  PayloadFormat f;
  for (PayloadKind k : kAll) {
    if (lower(payloadKindName(k)) == name) f.kind = k;
  }
  if (f.kind == PayloadKind::None) {
    *error = "unknown codec '" + codec + "'";
    return false;
  }
  if (clockRate < 1000 || clockRate > 192000) {
    *error = "bad clock rate for " + codec;
    return false;
  }
  f.clockRate = clockRate;
  f.channels = static_cast<uint8_t>(std::min<uint32_t>(std::max<uint32_t>(channels, 1), 8));
  f.octetAlign = fmtpValue(fmtp, "octet-align") == "1";
  f.ilbcMode = fmtpValue(fmtp, "mode") == "20" ? 20 : 30;
  *out = f;
  return true;
}

int amrFrameBits(bool wideband, unsigned ft) { return (wideband ? kAmrWbBits : kAmrBits)[ft & 15]; }

bool depacketizeAmr(const uint8_t* payload, size_t length, bool wideband, bool octetAlign,
                    std::vector<uint8_t>* frames, size_t* count) {
  frames->clear();
  *count = 0;
  BitReader r{payload, length * 8};
  unsigned cmr;
  if (!r.read(4, &cmr)) return false;
  if (octetAlign) r.pos = 8;  // CMR and 4 reserved bits
  // Table of contents: F (more follow), FT, Q; octet-aligned entries carry two padding bits.
  unsigned tocFt[64];
  bool tocQ[64];
  size_t n = 0;
  for (;;) {
    unsigned f, ft, q;
    if (!r.read(1, &f) || !r.read(4, &ft) || !r.read(1, &q)) return false;
    if (octetAlign) r.pos += 2;
    if (n == 64 || amrFrameBits(wideband, ft) < 0) return false;
    tocFt[n] = ft;
    tocQ[n] = q != 0;
    ++n;
    if (f == 0) break;
  }
  for (size_t i = 0; i < n; ++i) {
    const int bits = amrFrameBits(wideband, tocFt[i]);
    const size_t bytes = (static_cast<size_t>(bits) + 7) / 8;
    if (r.pos + static_cast<size_t>(bits) > r.bits) return false;
    frames->push_back(static_cast<uint8_t>((tocFt[i] << 3) | (tocQ[i] ? 4 : 0)));
    const size_t at = frames->size();
    frames->resize(at + bytes, 0);
    for (int b = 0; b < bits; ++b) {
      unsigned v = 0;
      r.read(1, &v);
      if (v) (*frames)[at + static_cast<size_t>(b) / 8] |= static_cast<uint8_t>(0x80u >> (b & 7));
    }
    if (octetAlign) r.pos = (r.pos + 7) & ~size_t{7};
  }
  *count = n;
  return true;
}

std::unique_ptr<Decoder> Decoder::create(const PayloadFormat& format) {
  if (!needsDecoder(format.kind)) return nullptr;
  std::unique_ptr<Decoder> d(new Decoder(format));
  const int blockAlign = format.kind == PayloadKind::Ilbc ? (format.ilbcMode == 20 ? 38 : 50) : 0;
  if (!d->open(blockAlign)) return nullptr;
  return d;
}

Decoder::~Decoder() {
  closeCodec();
  swr_free(&swr_);
}

void Decoder::closeCodec() {
  avcodec_free_context(&ctx_);
  av_packet_free(&packet_);
  av_frame_free(&frame_);
}

bool Decoder::open(int blockAlign) {
  static const bool quiet = [] {
    av_log_set_level(AV_LOG_QUIET);  // a corrupt packet is counted, not printed per packet
    return true;
  }();
  (void)quiet;
  closeCodec();
  AVCodecID id = AV_CODEC_ID_NONE;
  int rate = 8000;
  int channels = 1;
  switch (format_.kind) {
    case PayloadKind::G722: id = AV_CODEC_ID_ADPCM_G722; rate = 16000; break;
    case PayloadKind::G729: id = AV_CODEC_ID_G729; break;
    case PayloadKind::Opus: id = AV_CODEC_ID_OPUS; rate = 48000; channels = 2; break;
    case PayloadKind::AmrNb: id = AV_CODEC_ID_AMR_NB; break;
    case PayloadKind::AmrWb: id = AV_CODEC_ID_AMR_WB; rate = 16000; break;
    case PayloadKind::Ilbc: id = AV_CODEC_ID_ILBC; break;
    // RFC 3551 section 4.5.4 packs G.726 codewords from the least significant bit of each octet.
    case PayloadKind::G726_32: id = AV_CODEC_ID_ADPCM_G726LE; break;
    default: return false;
  }
  const AVCodec* codec = avcodec_find_decoder(id);
  if (codec == nullptr) return false;
  ctx_ = avcodec_alloc_context3(codec);
  packet_ = av_packet_alloc();
  frame_ = av_frame_alloc();
  if (ctx_ == nullptr || packet_ == nullptr || frame_ == nullptr) return false;
  ctx_->sample_rate = rate;
  av_channel_layout_default(&ctx_->ch_layout, channels);
  if (format_.kind == PayloadKind::G726_32) ctx_->bits_per_coded_sample = 4;
  if (blockAlign > 0) ctx_->block_align = blockAlign;
  blockAlign_ = blockAlign;
  if (avcodec_open2(ctx_, codec, nullptr) < 0) {
    closeCodec();
    return false;
  }
  return true;
}

void Decoder::discontinuity() {
  if (swr_ != nullptr) swr_init(swr_);  // re-initialising drops the filter's buffered history
}

bool Decoder::resample(std::vector<int16_t>* out, int64_t* duration) {
  const int rate = frame_->sample_rate > 0 ? frame_->sample_rate : ctx_->sample_rate;
  const int channels = frame_->ch_layout.nb_channels > 0 ? frame_->ch_layout.nb_channels : 1;
  const int n = frame_->nb_samples;
  if (rate == kOutRate && channels == 1) {
    // Narrowband mono (G.729, AMR, iLBC, G.726): only the sample format changes, so no resampler
    // (its filter tables would be most of the leg's memory).
    const size_t at = out->size();
    if (frame_->format == AV_SAMPLE_FMT_S16 || frame_->format == AV_SAMPLE_FMT_S16P) {
      const int16_t* in = reinterpret_cast<const int16_t*>(frame_->extended_data[0]);
      out->insert(out->end(), in, in + n);
    } else if (frame_->format == AV_SAMPLE_FMT_FLT || frame_->format == AV_SAMPLE_FMT_FLTP) {
      const float* in = reinterpret_cast<const float*>(frame_->extended_data[0]);
      out->resize(at + static_cast<size_t>(n));
      for (int i = 0; i < n; ++i) {
        const float v = in[i] * 32768.0f;
        (*out)[at + static_cast<size_t>(i)] =
            static_cast<int16_t>(v >= 32767.0f ? 32767 : v <= -32768.0f ? -32768 : static_cast<int>(std::lrint(v)));
      }
    } else {
      goto convert;
    }
    *duration += n;
    return true;
  }
convert:
  if (swr_ == nullptr || swrFormat_ != frame_->format || swrRate_ != rate || swrChannels_ != channels) {
    swr_free(&swr_);
    AVChannelLayout inLayout;
    av_channel_layout_default(&inLayout, channels);
    AVChannelLayout mono = AV_CHANNEL_LAYOUT_MONO;
    // Stereo is down-mixed (each channel at half level), wideband low-passed and decimated to 8 kHz.
    if (swr_alloc_set_opts2(&swr_, &mono, AV_SAMPLE_FMT_S16, static_cast<int>(kOutRate), &inLayout,
                            static_cast<AVSampleFormat>(frame_->format), rate, 0, nullptr) < 0) {
      swr_free(&swr_);
      return false;
    }
    if (swr_init(swr_) < 0) {
      swr_free(&swr_);
      return false;
    }
    swrFormat_ = frame_->format;
    swrRate_ = rate;
    swrChannels_ = channels;
  }
  const int room = swr_get_out_samples(swr_, frame_->nb_samples);
  if (room < 0) return false;
  const size_t at = out->size();
  out->resize(at + static_cast<size_t>(room));
  uint8_t* dst = reinterpret_cast<uint8_t*>(out->data() + at);
  const int got = swr_convert(swr_, &dst, room, const_cast<const uint8_t**>(frame_->extended_data), frame_->nb_samples);
  if (got < 0) {
    out->resize(at);
    return false;
  }
  out->resize(at + static_cast<size_t>(got));
  *duration += static_cast<int64_t>(frame_->nb_samples) * kOutRate / rate;
  return true;
}

bool Decoder::feed(const uint8_t* data, size_t length, std::vector<int16_t>* out, int64_t* duration) {
  input_.assign(data, data + length);
  input_.resize(length + AV_INPUT_BUFFER_PADDING_SIZE, 0);
  packet_->data = input_.data();
  packet_->size = static_cast<int>(length);
  if (avcodec_send_packet(ctx_, packet_) < 0) return false;
  bool ok = true;
  for (;;) {
    const int r = avcodec_receive_frame(ctx_, frame_);
    if (r == AVERROR(EAGAIN) || r == AVERROR_EOF) break;
    if (r < 0) return false;
    ok = resample(out, duration) && ok;
    av_frame_unref(frame_);
  }
  return ok;
}

bool Decoder::decode(const uint8_t* payload, size_t length, std::vector<int16_t>* out, int64_t* duration) {
  *duration = 0;
  if (length == 0) return false;
  switch (format_.kind) {
    case PayloadKind::G729: {
      // RFC 3551 section 4.5.6: 10-byte frames, then an optional 2-byte Annex B SID frame, which
      // starts comfort noise: recorded as silence (nothing written, the gap is silent).
      const size_t frames = length / 10;
      const size_t rest = length % 10;
      bool ok = rest == 0 || rest == 2;
      for (size_t i = 0; i < frames; ++i) ok = feed(payload + i * 10, 10, out, duration) && ok;
      return ok;
    }
    case PayloadKind::Ilbc: {
      // RFC 3952: 38-byte (20 ms) or 50-byte (30 ms) frames; the length tells when fmtp was wrong.
      int block = blockAlign_;
      if (length % static_cast<size_t>(block) != 0) block = block == 38 ? 50 : 38;
      if (length % static_cast<size_t>(block) != 0) return false;
      if (block != blockAlign_ && !open(block)) return false;
      bool ok = true;
      for (size_t pos = 0; pos < length; pos += static_cast<size_t>(block)) {
        ok = feed(payload + pos, static_cast<size_t>(block), out, duration) && ok;
      }
      return ok;
    }
    case PayloadKind::AmrNb:
    case PayloadKind::AmrWb: {
      const bool wide = format_.kind == PayloadKind::AmrWb;
      size_t count = 0;
      if (!depacketizeAmr(payload, length, wide, format_.octetAlign, &frames_, &count)) return false;
      bool ok = true;
      size_t pos = 0;
      for (size_t i = 0; i < count; ++i) {
        const unsigned ft = frames_[pos] >> 3;
        const size_t size = 1 + (static_cast<size_t>(amrFrameBits(wide, ft)) + 7) / 8;
        if (!silenceOnly(wide, ft)) ok = feed(frames_.data() + pos, size, out, duration) && ok;
        pos += size;
      }
      return ok;
    }
    default:
      return feed(payload, length, out, duration);
  }
}

}  // namespace srs
