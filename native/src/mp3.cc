// In-process MP3 encoding with LAME on the libuv pool (see mp3.h).
#include "mp3.h"

#include <lame/lame.h>
#include <pthread.h>
#include <sched.h>
#include <string.h>
#include <time.h>

#include <atomic>
#include <system_error>
#include <thread>

#include "addon_values.h"

namespace srs {

namespace {

// CPU time spent encoding (this thread's, per encode), summed over the process: benchmarks and the
// metrics read the encoder's cost apart from the rest of the server.
std::atomic<uint64_t> encodeCpuNanos{0};

uint64_t threadCpuNanos() {
  timespec ts{};
  clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
  return static_cast<uint64_t>(ts.tv_sec) * 1000000000ull + static_cast<uint64_t>(ts.tv_nsec);
}

// Encodes that ran on a SCHED_IDLE thread, and those that asked for one but could not get it.
std::atomic<uint64_t> backgroundEncodes{0};
std::atomic<uint64_t> backgroundRefused{0};

// The input is copied out of V8 (a Buffer) or named by path (read here, on the pool, a block at a
// time); the MP3 is handed to JavaScript as a Buffer owning the vector, or written to `outPath`
// (then the promise resolves with its size).
// A background encode runs on a thread of its own under SCHED_IDLE (sched(7)): it gets only CPU
// that nothing else on the machine wants, so it cannot slow the live calls. The pool thread waits
// for it (asleep, no CPU); a thread of the pool itself is never lowered, since an unprivileged
// process cannot raise it back.
class Mp3Worker : public Napi::AsyncWorker {
 public:
  Mp3Worker(Napi::Env env, std::vector<uint8_t> wav, std::string path, std::string outPath, Mp3Settings settings,
            bool background)
      : Napi::AsyncWorker(env, "srs-media-mp3"),
        deferred_(Napi::Promise::Deferred::New(env)),
        wav_(std::move(wav)),
        path_(std::move(path)),
        outPath_(std::move(outPath)),
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
  }

  void OnOK() override {
    if (outPath_.empty()) deferred_.Resolve(addon::bufferOwning(Env(), std::move(mp3_)));
    else deferred_.Resolve(Napi::Number::New(Env(), static_cast<double>(bytes_)));
  }

  void OnError(const Napi::Error& e) override {
    Napi::Error err = Napi::Error::New(Env(), e.Message());
    err.Set("code", Napi::String::New(Env(), "ERR_MP3"));
    deferred_.Reject(err.Value());
  }

 private:
  Napi::Promise::Deferred deferred_;
  std::vector<uint8_t> wav_;
  std::string path_;     // non-empty: read the WAV from this file
  std::string outPath_;  // non-empty: write the MP3 to this new file
  Mp3Settings settings_;
  bool background_;
  std::vector<uint8_t> mp3_;
  uint64_t bytes_ = 0;

  // Reads (if named by path) and encodes on the calling thread; its CPU time is the encoder's.
  bool encode(std::string* error) {
    const uint64_t started = threadCpuNanos();
    WavInput in;
    in.data = wav_.data();
    in.length = wav_.size();
    in.path = path_;
    const bool ok = outPath_.empty() ? encodeWavToMp3(in, settings_, &mp3_, error)
                                     : encodeWavToMp3File(in, settings_, outPath_, &bytes_, error);
    if (!wav_.empty()) explicit_bzero(wav_.data(), wav_.size());
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

// A path option or argument: a non-empty string without NUL (open(2) would stop at it).
std::string pathValue(Napi::Env env, Napi::Value v, const char* name) {
  std::string p = v.IsString() ? v.As<Napi::String>().Utf8Value() : std::string();
  if (p.empty() || p.find('\0') != std::string::npos)
    throw Napi::TypeError::New(env, std::string("encodeMp3: ") + name + " must be a non-empty string without NUL");
  return p;
}

Napi::Value EncodeMp3(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  if (info.Length() < 2 || !(info[0].IsBuffer() || info[0].IsString()) || !info[1].IsObject()) {
    throw Napi::TypeError::New(env,
                               "encodeMp3(wav: Buffer | path, { bitrateKbps, sampleRate, quality, background?, "
                               "outPath? })");
  }
  Napi::Object o = info[1].As<Napi::Object>();
  Mp3Settings s;
  s.bitrateKbps = intOption(o, "bitrateKbps", 32, 8, 320);
  s.sampleRate = intOption(o, "sampleRate", 8000, 8000, 48000);
  s.quality = intOption(o, "quality", 7, 0, 9);
  Napi::Value bg = o.Get("background");
  if (!bg.IsUndefined() && !bg.IsBoolean()) throw Napi::TypeError::New(env, "encodeMp3: background must be a boolean");
  const bool background = bg.IsBoolean() && bg.As<Napi::Boolean>().Value();
  Napi::Value out = o.Get("outPath");
  std::string outPath = out.IsUndefined() ? std::string() : pathValue(env, out, "outPath");
  std::vector<uint8_t> wav;
  std::string path;
  if (info[0].IsBuffer()) {
    Napi::Buffer<uint8_t> b = info[0].As<Napi::Buffer<uint8_t>>();
    wav.assign(b.Data(), b.Data() + b.Length());
  } else {
    path = pathValue(env, info[0], "path");
  }
  auto* worker = new Mp3Worker(env, std::move(wav), std::move(path), std::move(outPath), s, background);
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
