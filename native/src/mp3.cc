// In-process MP3 encoding with LAME on the libuv pool (see mp3.h).
#include "mp3.h"

#include <fcntl.h>
#include <lame/lame.h>
#include <pthread.h>
#include <sched.h>
#include <sys/stat.h>
#include <unistd.h>

#include <time.h>

#include <algorithm>
#include <atomic>
#include <cerrno>
#include <cstring>
#include <memory>
#include <system_error>
#include <thread>

#include "addon_values.h"
#include "g711.h"

namespace srs {

namespace {

constexpr uint16_t kFormatPcm = 1;
constexpr uint16_t kFormatMulaw = 7;
constexpr uint16_t kFormatExtensible = 0xFFFE;
constexpr size_t kBlockFrames = 8192;  // PCM frames handed to LAME per call

uint16_t rd16(const uint8_t* p) { return static_cast<uint16_t>(p[0] | (p[1] << 8)); }
uint32_t rd32(const uint8_t* p) { return rd16(p) | (static_cast<uint32_t>(rd16(p + 2)) << 16); }

struct WavView {
  uint16_t format = 0;
  uint16_t channels = 0;
  uint32_t sampleRate = 0;
  uint16_t bitsPerSample = 0;
  const uint8_t* data = nullptr;
  size_t dataBytes = 0;
};

bool parseWav(const uint8_t* b, size_t n, WavView* w, std::string* error) {
  if (n < 12 || std::memcmp(b, "RIFF", 4) != 0 || std::memcmp(b + 8, "WAVE", 4) != 0) {
    *error = "not a RIFF/WAVE file";
    return false;
  }
  bool haveFmt = false;
  size_t pos = 12;
  while (pos + 8 <= n) {
    const uint32_t size = rd32(b + pos + 4);
    const uint8_t* body = b + pos + 8;
    const size_t avail = n - (pos + 8);
    if (std::memcmp(b + pos, "fmt ", 4) == 0) {
      if (size < 16 || avail < 16) break;
      w->format = rd16(body);
      w->channels = rd16(body + 2);
      w->sampleRate = rd32(body + 4);
      w->bitsPerSample = rd16(body + 14);
      if (w->format == kFormatExtensible && size >= 26 && avail >= 26) w->format = rd16(body + 24);
      haveFmt = true;
    } else if (std::memcmp(b + pos, "data", 4) == 0) {
      if (!haveFmt) break;
      w->data = body;
      // A writer that could not seek back leaves 0 or 0xFFFFFFFF: take what is there.
      w->dataBytes = (size == 0 || size > avail) ? avail : size;
      break;
    }
    pos += 8 + static_cast<size_t>(size) + (size & 1);
  }
  if (!haveFmt || w->data == nullptr) {
    *error = "WAV without a fmt and data chunk";
    return false;
  }
  const bool mulaw = w->format == kFormatMulaw && w->bitsPerSample == 8;
  const bool pcm16 = w->format == kFormatPcm && w->bitsPerSample == 16;
  if (!mulaw && !pcm16) {
    *error = "WAV format " + std::to_string(w->format) + "/" + std::to_string(w->bitsPerSample) +
             " bits is not supported (u-law or 16-bit PCM)";
    return false;
  }
  if (w->channels < 1 || w->channels > 2 || w->sampleRate < 8000 || w->sampleRate > 48000) {
    *error = "WAV with " + std::to_string(w->channels) + " channels at " + std::to_string(w->sampleRate) +
             " Hz is not supported (1-2 channels, 8-48 kHz)";
    return false;
  }
  return true;
}

struct LameDeleter {
  void operator()(lame_global_flags* g) const { lame_close(g); }
};

void appendEncoded(std::vector<uint8_t>* mp3, const std::vector<unsigned char>& buf, int n) {
  if (n > 0) mp3->insert(mp3->end(), buf.begin(), buf.begin() + n);
}

}  // namespace

bool encodeWavToMp3(const uint8_t* wav, size_t length, const Mp3Settings& s, std::vector<uint8_t>* mp3,
                    std::string* error) {
  WavView w;
  if (!parseWav(wav, length, &w, error)) return false;
  std::unique_ptr<lame_global_flags, LameDeleter> gf(lame_init());
  if (!gf) {
    *error = "lame_init failed";
    return false;
  }
  lame_global_flags* g = gf.get();
  // The input is downmixed here (mono in, mono out): LAME's own stereo input path is not needed.
  lame_set_num_channels(g, 1);
  lame_set_mode(g, MONO);
  lame_set_in_samplerate(g, static_cast<int>(w.sampleRate));
  lame_set_out_samplerate(g, s.sampleRate);
  lame_set_VBR(g, vbr_off);
  lame_set_brate(g, s.bitrateKbps);
  lame_set_quality(g, s.quality);
  // The Info frame (first frame) carries the encoder delay and padding, so that decoders trim
  // them and the audio keeps its times; it is filled in after the flush (the MP3 is in memory).
  lame_set_bWriteVbrTag(g, 1);
  lame_set_write_id3tag_automatic(g, 0);
  if (lame_init_params(g) < 0) {
    *error = "LAME rejected " + std::to_string(s.bitrateKbps) + " kbit/s at " + std::to_string(s.sampleRate) +
             " Hz (quality " + std::to_string(s.quality) + ")";
    return false;
  }
  const size_t bytesPerSample = w.format == kFormatMulaw ? 1 : 2;
  const size_t frameBytes = bytesPerSample * w.channels;
  const size_t frames = w.dataBytes / frameBytes;
  const int16_t* const ulaw = ulawDecodeTable();
  std::vector<short> pcm(kBlockFrames);
  // LAME's worst case is 1.25 bytes per output sample + 7200; resampling up (8 kHz in, 44.1 kHz
  // out) makes more output samples per block than input frames.
  const size_t outPerBlock = (kBlockFrames * static_cast<size_t>(s.sampleRate) + w.sampleRate - 1) / w.sampleRate;
  std::vector<unsigned char> out(std::max(kBlockFrames, outPerBlock) * 5 / 4 + 7200);
  mp3->clear();
  mp3->reserve(frames * static_cast<size_t>(s.bitrateKbps) * 125 / w.sampleRate + 8192);
  for (size_t done = 0; done < frames;) {
    const size_t n = std::min(kBlockFrames, frames - done);
    const uint8_t* src = w.data + done * frameBytes;
    for (size_t i = 0; i < n; ++i) {
      int v = 0;
      for (uint16_t c = 0; c < w.channels; ++c) {
        const uint8_t* p = src + i * frameBytes + c * bytesPerSample;
        v += bytesPerSample == 1 ? ulaw[*p] : static_cast<int16_t>(rd16(p));
      }
      pcm[i] = static_cast<short>(v / w.channels);
    }
    const int r = lame_encode_buffer(g, pcm.data(), nullptr, static_cast<int>(n), out.data(),
                                     static_cast<int>(out.size()));
    if (r < 0) {
      *error = "lame_encode_buffer failed (" + std::to_string(r) + ")";
      return false;
    }
    appendEncoded(mp3, out, r);
    done += n;
  }
  const int r = lame_encode_flush(g, out.data(), static_cast<int>(out.size()));
  if (r < 0) {
    *error = "lame_encode_flush failed (" + std::to_string(r) + ")";
    return false;
  }
  appendEncoded(mp3, out, r);
  const size_t tag = lame_get_lametag_frame(g, out.data(), out.size());
  if (tag > 0 && tag <= mp3->size()) std::memcpy(mp3->data(), out.data(), tag);
  std::fill(pcm.begin(), pcm.end(), 0);  // plaintext audio does not outlive the call
  return true;
}

namespace {

// CPU time spent encoding (this thread's, per encode), summed over the process: benchmarks and the
// metrics read the encoder's cost apart from the rest of the server.
std::atomic<uint64_t> encodeCpuNanos{0};

uint64_t threadCpuNanos() {
  timespec ts{};
  clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
  return static_cast<uint64_t>(ts.tv_sec) * 1000000000ull + static_cast<uint64_t>(ts.tv_nsec);
}

bool readWholeFile(const std::string& path, std::vector<uint8_t>* out, std::string* error) {
  const int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) {
    *error = "cannot open " + path + ": " + std::strerror(errno);
    return false;
  }
  struct stat st {};
  if (::fstat(fd, &st) != 0) {
    *error = "cannot stat " + path + ": " + std::strerror(errno);
    ::close(fd);
    return false;
  }
  out->resize(static_cast<size_t>(st.st_size));
  size_t got = 0;
  while (got < out->size()) {
    const ssize_t n = ::read(fd, out->data() + got, out->size() - got);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) {
      *error = "cannot read " + path + ": " + (n < 0 ? std::strerror(errno) : "short file");
      ::close(fd);
      return false;
    }
    got += static_cast<size_t>(n);
  }
  ::close(fd);
  return true;
}

// Encodes that ran on a SCHED_IDLE thread, and those that asked for one but could not get it.
std::atomic<uint64_t> backgroundEncodes{0};
std::atomic<uint64_t> backgroundRefused{0};

// The input is copied out of V8 (a Buffer) or named by path (read here, on the pool); the MP3 is
// handed to JavaScript as a Buffer owning the vector.
// A background encode runs on a thread of its own under SCHED_IDLE (sched(7)): it gets only CPU
// that nothing else on the machine wants, so it cannot slow the live calls. The pool thread waits
// for it (asleep, no CPU); a thread of the pool itself is never lowered, since an unprivileged
// process cannot raise it back.
class Mp3Worker : public Napi::AsyncWorker {
 public:
  Mp3Worker(Napi::Env env, std::vector<uint8_t> wav, std::string path, Mp3Settings settings, bool background)
      : Napi::AsyncWorker(env, "srs-media-mp3"),
        deferred_(Napi::Promise::Deferred::New(env)),
        wav_(std::move(wav)),
        path_(std::move(path)),
        settings_(settings),
        background_(background) {}

  Napi::Promise promise() { return deferred_.Promise(); }

  void Execute() override {
    std::string error;
    bool ok = false;
    bool done = false;
    if (background_) {
      try {
        std::thread idle([&] {
          sched_param p{};
          p.sched_priority = 0;
          if (pthread_setschedparam(pthread_self(), SCHED_IDLE, &p) == 0) {
            backgroundEncodes.fetch_add(1, std::memory_order_relaxed);
          } else {
            backgroundRefused.fetch_add(1, std::memory_order_relaxed);
          }
          ok = encode(&error);
        });
        idle.join();
        done = true;
      } catch (const std::system_error&) {
        // No thread to be had (resource limits): encode here, at normal priority.
        backgroundRefused.fetch_add(1, std::memory_order_relaxed);
      }
    }
    if (!done) ok = encode(&error);
    if (!ok) SetError(error);
    else if (mp3_.empty()) SetError("LAME produced no MP3 frames");
  }

  void OnOK() override {
    deferred_.Resolve(addon::bufferOwning(Env(), std::move(mp3_)));
  }

  void OnError(const Napi::Error& e) override {
    Napi::Error err = Napi::Error::New(Env(), e.Message());
    err.Set("code", Napi::String::New(Env(), "ERR_MP3"));
    deferred_.Reject(err.Value());
  }

 private:
  Napi::Promise::Deferred deferred_;
  std::vector<uint8_t> wav_;
  std::string path_;  // non-empty: read the WAV from this file
  Mp3Settings settings_;
  bool background_;
  std::vector<uint8_t> mp3_;

  // Reads (if named by path) and encodes on the calling thread; its CPU time is the encoder's.
  bool encode(std::string* error) {
    const uint64_t started = threadCpuNanos();
    bool ok = path_.empty() || readWholeFile(path_, &wav_, error);
    if (ok) ok = encodeWavToMp3(wav_.data(), wav_.size(), settings_, &mp3_, error);
    std::fill(wav_.begin(), wav_.end(), 0);
    wav_.clear();
    wav_.shrink_to_fit();
    encodeCpuNanos.fetch_add(threadCpuNanos() - started, std::memory_order_relaxed);
    return ok;
  }
};

int intOption(Napi::Object o, const char* name, int fallback, int lo, int hi) {
  Napi::Value v = o.Get(name);
  if (v.IsUndefined()) return fallback;
  if (!v.IsNumber()) throw Napi::TypeError::New(o.Env(), std::string("encodeMp3: ") + name + " must be a number");
  const double d = v.As<Napi::Number>().DoubleValue();
  if (!(d >= lo && d <= hi) || d != static_cast<int>(d)) {
    throw Napi::RangeError::New(o.Env(), std::string("encodeMp3: ") + name + " must be an integer " +
                                             std::to_string(lo) + ".." + std::to_string(hi));
  }
  return static_cast<int>(d);
}

Napi::Value EncodeMp3(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  if (info.Length() < 2 || !(info[0].IsBuffer() || info[0].IsString()) || !info[1].IsObject()) {
    throw Napi::TypeError::New(env, "encodeMp3(wav: Buffer | path, { bitrateKbps, sampleRate, quality })");
  }
  Napi::Object o = info[1].As<Napi::Object>();
  Mp3Settings s;
  s.bitrateKbps = intOption(o, "bitrateKbps", 32, 8, 320);
  s.sampleRate = intOption(o, "sampleRate", 8000, 8000, 48000);
  s.quality = intOption(o, "quality", 7, 0, 9);
  Napi::Value bg = o.Get("background");
  if (!bg.IsUndefined() && !bg.IsBoolean()) throw Napi::TypeError::New(env, "encodeMp3: background must be a boolean");
  const bool background = bg.IsBoolean() && bg.As<Napi::Boolean>().Value();
  std::vector<uint8_t> wav;
  std::string path;
  if (info[0].IsBuffer()) {
    Napi::Buffer<uint8_t> b = info[0].As<Napi::Buffer<uint8_t>>();
    wav.assign(b.Data(), b.Data() + b.Length());
  } else {
    path = info[0].As<Napi::String>().Utf8Value();
    if (path.empty()) throw Napi::TypeError::New(env, "encodeMp3: empty path");
  }
  auto* worker = new Mp3Worker(env, std::move(wav), std::move(path), s, background);
  Napi::Promise promise = worker->promise();
  worker->Queue();
  return promise;
}

Napi::Value EncoderCpuSeconds(const Napi::CallbackInfo& info) {
  return Napi::Number::New(info.Env(), static_cast<double>(encodeCpuNanos.load(std::memory_order_relaxed)) / 1e9);
}

// { idle, refused }: background encodes that ran under SCHED_IDLE, and those refused it.
Napi::Value BackgroundEncodes(const Napi::CallbackInfo& info) {
  Napi::Object o = Napi::Object::New(info.Env());
  o.Set("idle", Napi::Number::New(info.Env(), static_cast<double>(backgroundEncodes.load(std::memory_order_relaxed))));
  o.Set("refused", Napi::Number::New(info.Env(), static_cast<double>(backgroundRefused.load(std::memory_order_relaxed))));
  return o;
}

}  // namespace

void registerMp3(Napi::Env env, Napi::Object exports) {
  exports.Set("encodeMp3", Napi::Function::New(env, EncodeMp3, "encodeMp3"));
  exports.Set("mp3CpuSeconds", Napi::Function::New(env, EncoderCpuSeconds, "mp3CpuSeconds"));
  exports.Set("mp3BackgroundEncodes", Napi::Function::New(env, BackgroundEncodes, "mp3BackgroundEncodes"));
  exports.Set("lameVersion", Napi::String::New(env, get_lame_version()));
}

}  // namespace srs
