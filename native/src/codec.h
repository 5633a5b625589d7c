// Payload formats and audio decoding. A leg's payload types map to PayloadFormats (codec, RTP clock
// rate, fmtp options); every codec other than G.711 is decoded with libavcodec and resampled to the
// engine's 8 kHz with libswresample (a windowed-sinc low-pass, not sample dropping), so every leg
// lands on the same 8 kHz u-law timeline. A Decoder is created per leg and payload type on the
// first packet that needs it, and freed with the leg.
#pragma once

#include <array>
#include <cstddef>
#include <cstdint>
#include <memory>
#include <string>
#include <vector>

struct AVCodecContext;
struct AVPacket;
struct AVFrame;
struct SwrContext;

namespace srs {

enum class PayloadKind : uint8_t {
  None = 0,
  Pcmu,
  Pcma,
  TelephoneEvent,
  ComfortNoise,
  G722,
  G729,
  Opus,
  AmrNb,
  AmrWb,
  Ilbc,
  G726_32,
};
constexpr int kPayloadKindCount = 12;

struct PayloadFormat {
  PayloadKind kind = PayloadKind::None;
  uint32_t clockRate = 8000;  // the RTP timestamp clock (SDP rtpmap): G.722 8000, opus 48000
  uint8_t channels = 1;
  bool octetAlign = false;  // AMR (RFC 4867 fmtp octet-align=1); bandwidth-efficient otherwise
  uint8_t ilbcMode = 30;    // iLBC frame length in ms (RFC 3952 fmtp mode=, default 30)
  PayloadFormat() = default;
  // The G.711 / telephone-event / CN kinds at 8 kHz (the engine's first payload table form).
  PayloadFormat(PayloadKind k) : kind(k) {}  // NOLINT(google-explicit-constructor)
};
using PayloadTable = std::array<PayloadFormat, 128>;

// The SDP name of a kind ("PCMU", "G729", "opus", "AMR-WB", ...).
const char* payloadKindName(PayloadKind kind);
// Builds a format from an rtpmap encoding name (case-insensitive), clock rate, channel count and
// the a=fmtp text. False (with `error` set) for a codec this build does not know.
bool parsePayloadFormat(const std::string& codec, uint32_t clockRate, uint32_t channels, const std::string& fmtp,
                        PayloadFormat* out, std::string* error);
// True for the kinds decoded by a Decoder (everything but G.711, telephone-event and CN).
bool needsDecoder(PayloadKind kind);

// RFC 4867 section 4.3/4.4 (single channel, no interleaving, no CRC): splits an AMR or AMR-WB RTP
// payload into storage-format frames (RFC 4867 section 5.3: one header byte FT<<3 | Q<<2, then the
// frame's bits MSB first, zero-padded to a byte), appended to `frames` one after another; `count`
// receives the number of frames (NO_DATA frames included: each is 20 ms of the timeline). False for
// a malformed payload.
bool depacketizeAmr(const uint8_t* payload, size_t length, bool wideband, bool octetAlign,
                    std::vector<uint8_t>* frames, size_t* count);
// Speech bits of an AMR (wideband=false) or AMR-WB frame type; 0 for NO_DATA, -1 for reserved.
int amrFrameBits(bool wideband, unsigned ft);

class Decoder {
 public:
  // nullptr when libavcodec lacks the decoder or cannot open it.
  static std::unique_ptr<Decoder> create(const PayloadFormat& format);
  ~Decoder();
  Decoder(const Decoder&) = delete;
  Decoder& operator=(const Decoder&) = delete;

  // Decodes one RTP payload, appending 8 kHz mono samples to `out`; `duration` receives the media
  // time the payload covered, in 8 kHz samples (comfort-noise frames cover none). Returns false when
  // (part of) the payload could not be decoded: what could be is still appended.
  bool decode(const uint8_t* payload, size_t length, std::vector<int16_t>* out, int64_t* duration);
  // A gap or a jump in the stream: the resampler's history is dropped so unrelated audio is not blended.
  void discontinuity();

  // Where this decoder's stream continues on the 8 kHz timeline (set by the leg).
  int64_t nextInput = INT64_MIN;
  int64_t nextOutput = 0;

 private:
  explicit Decoder(const PayloadFormat& format) : format_(format) {}
  bool open(int blockAlign);
  void closeCodec();
  bool feed(const uint8_t* data, size_t length, std::vector<int16_t>* out, int64_t* duration);
  bool resample(std::vector<int16_t>* out, int64_t* duration);

  PayloadFormat format_;
  AVCodecContext* ctx_ = nullptr;
  AVPacket* packet_ = nullptr;
  AVFrame* frame_ = nullptr;
  SwrContext* swr_ = nullptr;
  int swrFormat_ = -1;
  int swrRate_ = 0;
  int swrChannels_ = 0;
  int blockAlign_ = 0;
  std::vector<uint8_t> input_;  // one frame with libavcodec's zeroed padding after it
  std::vector<uint8_t> frames_;  // AMR storage frames of the current payload
};

}  // namespace srs
