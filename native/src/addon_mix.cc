// The binding's mix(): the mixer (mixer.h) on the libuv pool, into a WAV file or into memory.
#include <napi.h>

#include <cstdint>
#include <string>
#include <utility>
#include <vector>

#include "addon.h"
#include "addon_values.h"
#include "mixer.h"

namespace srs::addon {

namespace {

// A mix on the libuv thread pool. Inputs are copied into plain strings; Execute never touches V8.
// An empty wavPath mixes into memory: the WAV bytes are handed to JavaScript as a Buffer that takes
// over the vector (no copy), and no plaintext audio is written to disk.
class MixWorker : public Napi::AsyncWorker {
 public:
  MixWorker(Napi::Env env, std::string spoolDir, std::string wavPath, std::vector<std::vector<std::string>> channels,
            std::vector<srs::MixCut> cuts)
      : Napi::AsyncWorker(env, "srs-media-mix"),
        deferred_(Napi::Promise::Deferred::New(env)),
        spoolDir_(std::move(spoolDir)),
        wavPath_(std::move(wavPath)),
        channels_(std::move(channels)),
        cuts_(std::move(cuts)) {}

  Napi::Promise promise() { return deferred_.Promise(); }

  void Execute() override {
    const bool ok = wavPath_.empty()
                        ? srs::mixSpoolDirToMemory(spoolDir_, &wav_, &outcome_, &failure_, channels_, cuts_)
                        : srs::mixSpoolDir(spoolDir_, wavPath_, &outcome_, &failure_, channels_, cuts_);
    if (!ok) SetError(failure_.message);
  }

  void OnOK() override {
    Napi::Env env = Env();
    Napi::Object o = Napi::Object::New(env);
    if (wavPath_.empty()) {
      o.Set("data", bufferOwning(env, std::move(wav_)));  // no copy
    } else {
      o.Set("wavPath", wavPath_);
    }
    o.Set("samples", static_cast<double>(outcome_.samples));
    o.Set("legs", static_cast<double>(outcome_.legs));
    o.Set("truncatedSpools", static_cast<double>(outcome_.truncatedSpools));
    deferred_.Resolve(o);
  }

  void OnError(const Napi::Error& e) override {
    Napi::Env env = Env();
    deferred_.Reject(codedError(env, failure_.code.empty() ? "ERR_MIX" : failure_.code, e.Message()).Value());
  }

 private:
  Napi::Promise::Deferred deferred_;
  std::string spoolDir_;
  std::string wavPath_;  // empty: into memory (wav_)
  std::vector<std::vector<std::string>> channels_;
  std::vector<srs::MixCut> cuts_;
  std::vector<uint8_t> wav_;
  srs::MixOutcome outcome_;
  srs::MixFailure failure_;
};

// mix(spoolDir: string, wavPath: string | null | undefined, channels?: string[][], cuts?: [from, to][])
// -> Promise<{ wavPath, samples, legs, truncatedSpools }>, or with no wavPath (null, undefined, '')
// Promise<{ data: Buffer, samples, legs, truncatedSpools }>: the WAV mixed into memory. channels:
// legIds per output channel (default: one channel, every leg); cuts: timeline intervals in samples
// left out of the file.
Napi::Value Mix(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  if (info.Length() < 1 || !info[0].IsString() ||
      !(info.Length() < 2 || info[1].IsString() || info[1].IsNull() || info[1].IsUndefined())) {
    throw Napi::TypeError::New(
        env, "mix(spoolDir: string, wavPath?: string | null, channels?: string[][], cuts?: number[][])");
  }
  std::vector<srs::MixCut> cuts;
  if (info.Length() >= 4 && info[3].IsArray()) {
    Napi::Array arr = info[3].As<Napi::Array>();
    for (uint32_t i = 0; i < arr.Length(); ++i) {
      Napi::Value v = arr.Get(i);
      if (!v.IsArray() || v.As<Napi::Array>().Length() != 2) throw Napi::TypeError::New(env, "cuts must be [from, to][]");
      Napi::Array pair = v.As<Napi::Array>();
      const double from = pair.Get(uint32_t{0}).ToNumber().DoubleValue();
      const double to = pair.Get(uint32_t{1}).ToNumber().DoubleValue();
      if (!(from >= 0) || !(to >= from) || to > 9.0e15) throw Napi::RangeError::New(env, "cuts: 0 <= from <= to");
      cuts.push_back({static_cast<uint64_t>(from), static_cast<uint64_t>(to)});
    }
  }
  std::vector<std::vector<std::string>> channels;
  if (info.Length() >= 3 && info[2].IsArray()) {
    Napi::Array chans = info[2].As<Napi::Array>();
    for (uint32_t c = 0; c < chans.Length(); ++c) {
      if (!chans.Get(c).IsArray()) throw Napi::TypeError::New(env, "channels must be string[][]");
      Napi::Array legIds = chans.Get(c).As<Napi::Array>();
      channels.emplace_back();
      for (uint32_t i = 0; i < legIds.Length(); ++i) channels.back().push_back(legIds.Get(i).ToString().Utf8Value());
    }
  }
  std::string wavPath = info.Length() >= 2 && info[1].IsString() ? info[1].As<Napi::String>().Utf8Value() : "";
  auto* worker = new MixWorker(env, info[0].As<Napi::String>().Utf8Value(), std::move(wavPath), std::move(channels),
                               std::move(cuts));
  Napi::Promise promise = worker->promise();
  worker->Queue();
  return promise;
}

}  // namespace

void registerMix(Napi::Env env, Napi::Object exports) {
  exports.Set("mix", Napi::Function::New(env, Mix, "mix"));
}

}  // namespace srs::addon
