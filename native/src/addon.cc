// Node binding of the engine core. JavaScript sees one class (Engine), one function (mix) and the
// build's version string; packets never cross this boundary, only control calls and event batches.
#include <napi.h>

#include <memory>
#include <string>
#include <vector>

#include "engine.h"
#include "mixer.h"

#ifndef SRS_MEDIA_VERSION
#error "SRS_MEDIA_VERSION must be defined by binding.gyp (package.json version)"
#endif

namespace {

using EventBatch = std::vector<srs::MediaEventData>;
class EngineWrap;
void callJs(Napi::Env env, Napi::Function unused, EngineWrap* wrap, EventBatch* batch);
using EventTsfn = Napi::TypedThreadSafeFunction<EngineWrap, EventBatch, callJs>;

Napi::Error codedError(Napi::Env env, const std::string& code, const std::string& message, int port = 0) {
  Napi::Error e = Napi::Error::New(env, message);
  e.Set("code", Napi::String::New(env, code));
  if (port != 0) e.Set("port", Napi::Number::New(env, port));
  return e;
}

srs::PayloadKind kindFromName(Napi::Env env, const std::string& name) {
  if (name == "PCMU") return srs::PayloadKind::Pcmu;
  if (name == "PCMA") return srs::PayloadKind::Pcma;
  if (name == "telephone-event") return srs::PayloadKind::TelephoneEvent;
  if (name == "CN") return srs::PayloadKind::ComfortNoise;
  throw Napi::TypeError::New(env, "unknown payload kind '" + name + "'");
}

class EngineWrap : public Napi::ObjectWrap<EngineWrap> {
 public:
  static Napi::Function Init(Napi::Env env) {
    return DefineClass(env, "Engine",
                       {
                           InstanceMethod<&EngineWrap::OpenSession>("openSession"),
                           InstanceMethod<&EngineWrap::CloseSession>("closeSession"),
                           InstanceMethod<&EngineWrap::SessionStats>("sessionStats"),
                           InstanceMethod<&EngineWrap::ActiveSessions>("activeSessions"),
                           InstanceMethod<&EngineWrap::Close>("close"),
                       });
  }

  // new Engine(bindAddress: string, onEvents: (events: object[]) => void)
  explicit EngineWrap(const Napi::CallbackInfo& info) : Napi::ObjectWrap<EngineWrap>(info), env_(info.Env()) {
    Napi::Env env = info.Env();
    if (info.Length() < 2 || !info[0].IsString() || !info[1].IsFunction()) {
      throw Napi::TypeError::New(env, "Engine(bindAddress: string, onEvents: function)");
    }
    listener_ = Napi::Persistent(info[1].As<Napi::Function>());
    tsfn_ = EventTsfn::New(env, "srs-media-events", 0, 1, this);
    tsfnLive_ = true;
    tsfn_.Unref(env);  // keep the process alive only while sessions are open
    // Registered after the thread-safe function, so this hook runs before its teardown (hooks run in
    // reverse order): the worker thread is stopped before the function it calls goes away.
    napi_add_env_cleanup_hook(env_, &EngineWrap::onEnvCleanup, this);
    hookAdded_ = true;
    try {
      engine_ = std::make_unique<srs::Engine>(info[0].As<Napi::String>().Utf8Value(),
                                              [this](EventBatch&& batch) { forward(std::move(batch)); });
    } catch (const std::exception& e) {
      tsfn_.Release();
      tsfnLive_ = false;
      throw codedError(env, "ERR_MEDIA_ENGINE", e.what());
    }
  }

  ~EngineWrap() override {
    if (!tearingDown_) {
      if (engine_) engine_->close();
      if (tsfnLive_) tsfn_.Release();
      tsfnLive_ = false;
    }
    if (hookAdded_) napi_remove_env_cleanup_hook(env_, &EngineWrap::onEnvCleanup, this);
  }

  void deliver(Napi::Env env, EventBatch* batch) {
    std::unique_ptr<EventBatch> owned(batch);
    if (listener_.IsEmpty()) return;
    Napi::Array events = Napi::Array::New(env, owned->size());
    uint32_t i = 0;
    for (const srs::MediaEventData& m : *owned) {
      Napi::Object o = Napi::Object::New(env);
      switch (m.type) {
        case srs::MediaEventData::Type::FirstPacket: o.Set("type", "first-packet"); break;
        case srs::MediaEventData::Type::SsrcChange: o.Set("type", "ssrc-change"); break;
        case srs::MediaEventData::Type::Dtmf: o.Set("type", "dtmf"); break;
      }
      o.Set("recordingId", m.recordingId);
      o.Set("legId", m.legId);
      o.Set("atMs", m.atMs);
      if (m.type == srs::MediaEventData::Type::SsrcChange) o.Set("ssrc", static_cast<double>(m.ssrc));
      if (m.type == srs::MediaEventData::Type::Dtmf) {
        o.Set("digit", std::string(1, m.digit));
        o.Set("durationMs", m.durationMs);
      }
      events.Set(i++, o);
    }
    try {
      listener_.Call({events});
    } catch (const Napi::Error& e) {
      e.ThrowAsJavaScriptException();  // surfaces as an uncaught exception, as an event listener would
    }
  }

 private:
  static void onEnvCleanup(void* arg) {
    auto* self = static_cast<EngineWrap*>(arg);
    self->tearingDown_ = true;  // events from here on are dropped
    if (self->engine_) self->engine_->close();
    self->tsfnLive_ = false;  // Node finalizes the thread-safe function itself
    self->hookAdded_ = false;
  }

  void forward(EventBatch&& batch) {
    if (tearingDown_ || !tsfnLive_) return;
    auto* p = new EventBatch(std::move(batch));
    if (tsfn_.NonBlockingCall(p) != napi_ok) delete p;
  }

  void updateRef(Napi::Env env) {
    if (!tsfnLive_) return;
    const bool want = engine_->activeSessions() > 0;
    if (want == refed_) return;
    if (want) {
      tsfn_.Ref(env);
    } else {
      tsfn_.Unref(env);
    }
    refed_ = want;
  }

  Napi::Object statsToJs(Napi::Env env, const srs::SessionStatsData& s) {
    Napi::Object o = Napi::Object::New(env);
    o.Set("recordingId", s.recordingId);
    o.Set("openedAtMs", static_cast<double>(s.openedAtMs));
    Napi::Array legs = Napi::Array::New(env, s.legs.size());
    for (size_t i = 0; i < s.legs.size(); ++i) {
      const srs::LegStatsData& l = s.legs[i];
      const srs::LegCounters& c = l.counters;
      Napi::Object lo = Napi::Object::New(env);
      lo.Set("legId", l.legId);
      lo.Set("packetsReceived", static_cast<double>(c.received));
      lo.Set("packetsLost", static_cast<double>(c.lost));
      lo.Set("packetsDuplicate", static_cast<double>(c.duplicate));
      lo.Set("packetsLate", static_cast<double>(c.late));
      lo.Set("packetsIgnored", static_cast<double>(c.ignored));
      Napi::Array ssrcs = Napi::Array::New(env, c.ssrcs.size());
      for (size_t j = 0; j < c.ssrcs.size(); ++j) ssrcs.Set(static_cast<uint32_t>(j), static_cast<double>(c.ssrcs[j]));
      lo.Set("ssrcs", ssrcs);
      if (c.firstPacketAt < 0) {
        lo.Set("firstPacketMs", env.Null());
      } else {
        lo.Set("firstPacketMs", static_cast<double>(c.firstPacketAt) * 1000.0 / srs::kSampleRate);
      }
      lo.Set("reanchors", static_cast<double>(c.reanchors));
      lo.Set("spoolErrors", static_cast<double>(l.spoolErrors));
      legs.Set(static_cast<uint32_t>(i), lo);
    }
    o.Set("legs", legs);
    return o;
  }

  void requireOpen(Napi::Env env) {
    if (closed_) throw codedError(env, "ERR_CLOSED", "the media engine is closed");
  }

  // openSession({ recordingId, spoolDir, legs: [{ legId, port, payloadTypes: { [pt]: kind } }] }) -> openedAtMs
  Napi::Value OpenSession(const Napi::CallbackInfo& info) {
    Napi::Env env = info.Env();
    requireOpen(env);
    if (info.Length() < 1 || !info[0].IsObject()) throw Napi::TypeError::New(env, "openSession(options)");
    Napi::Object opts = info[0].As<Napi::Object>();
    srs::SessionConfig config;
    config.recordingId = opts.Get("recordingId").As<Napi::String>().Utf8Value();
    config.spoolDir = opts.Get("spoolDir").As<Napi::String>().Utf8Value();
    Napi::Array legs = opts.Get("legs").As<Napi::Array>();
    for (uint32_t i = 0; i < legs.Length(); ++i) {
      Napi::Object leg = legs.Get(i).As<Napi::Object>();
      srs::LegConfig lc;
      lc.legId = leg.Get("legId").As<Napi::String>().Utf8Value();
      const int64_t port = leg.Get("port").As<Napi::Number>().Int64Value();
      if (port < 1 || port > 65535) throw Napi::RangeError::New(env, "port out of range");
      lc.port = static_cast<uint16_t>(port);
      lc.payloadKinds.fill(srs::PayloadKind::None);
      Napi::Object pts = leg.Get("payloadTypes").As<Napi::Object>();
      Napi::Array keys = pts.GetPropertyNames();
      for (uint32_t k = 0; k < keys.Length(); ++k) {
        const std::string key = keys.Get(k).ToString().Utf8Value();
        const int pt = std::atoi(key.c_str());
        if (pt < 0 || pt > 127 || std::to_string(pt) != key) {
          throw Napi::RangeError::New(env, "payload type must be 0..127, got '" + key + "'");
        }
        lc.payloadKinds[static_cast<size_t>(pt)] = kindFromName(env, pts.Get(key).ToString().Utf8Value());
      }
      config.legs.push_back(lc);
    }
    int64_t openedAtMs = 0;
    srs::EngineError error;
    if (!engine_->openSession(config, &openedAtMs, &error)) {
      throw codedError(env, error.code, error.message, error.port);
    }
    updateRef(env);
    return Napi::Number::New(env, static_cast<double>(openedAtMs));
  }

  Napi::Value CloseSession(const Napi::CallbackInfo& info) {
    Napi::Env env = info.Env();
    if (closed_) return env.Undefined();
    srs::SessionStatsData stats;
    if (!engine_->closeSession(info[0].As<Napi::String>().Utf8Value(), &stats)) return env.Undefined();
    updateRef(env);
    return statsToJs(env, stats);
  }

  Napi::Value SessionStats(const Napi::CallbackInfo& info) {
    Napi::Env env = info.Env();
    if (closed_) return env.Undefined();
    srs::SessionStatsData stats;
    if (!engine_->sessionStats(info[0].As<Napi::String>().Utf8Value(), &stats)) return env.Undefined();
    return statsToJs(env, stats);
  }

  Napi::Value ActiveSessions(const Napi::CallbackInfo& info) {
    return Napi::Number::New(info.Env(), closed_ ? 0.0 : static_cast<double>(engine_->activeSessions()));
  }

  Napi::Value Close(const Napi::CallbackInfo& info) {
    Napi::Env env = info.Env();
    if (closed_) return env.Undefined();
    closed_ = true;
    engine_->close();  // last events go through the thread-safe function before it is released
    if (tsfnLive_) {
      if (refed_) tsfn_.Unref(env);
      refed_ = false;
      tsfn_.Release();
      tsfnLive_ = false;
    }
    return env.Undefined();
  }

  napi_env env_;
  std::unique_ptr<srs::Engine> engine_;
  EventTsfn tsfn_;
  bool tsfnLive_ = false;
  bool refed_ = false;
  bool closed_ = false;
  bool tearingDown_ = false;
  bool hookAdded_ = false;
  Napi::FunctionReference listener_;
};

void callJs(Napi::Env env, Napi::Function, EngineWrap* wrap, EventBatch* batch) {
  if (env == nullptr || wrap == nullptr) {
    delete batch;  // the function is being torn down
    return;
  }
  wrap->deliver(env, batch);
}

// A mix on the libuv thread pool. Inputs are copied into plain strings; Execute never touches V8.
class MixWorker : public Napi::AsyncWorker {
 public:
  MixWorker(Napi::Env env, std::string spoolDir, std::string wavPath)
      : Napi::AsyncWorker(env, "srs-media-mix"),
        deferred_(Napi::Promise::Deferred::New(env)),
        spoolDir_(std::move(spoolDir)),
        wavPath_(std::move(wavPath)) {}

  Napi::Promise promise() { return deferred_.Promise(); }

  void Execute() override {
    if (!srs::mixSpoolDir(spoolDir_, wavPath_, &outcome_, &failure_)) SetError(failure_.message);
  }

  void OnOK() override {
    Napi::Env env = Env();
    Napi::Object o = Napi::Object::New(env);
    o.Set("wavPath", wavPath_);
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
  std::string wavPath_;
  srs::MixOutcome outcome_;
  srs::MixFailure failure_;
};

// mix(spoolDir: string, wavPath: string) -> Promise<{ wavPath, samples, legs, truncatedSpools }>
Napi::Value Mix(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  if (info.Length() < 2 || !info[0].IsString() || !info[1].IsString()) {
    throw Napi::TypeError::New(env, "mix(spoolDir: string, wavPath: string)");
  }
  auto* worker = new MixWorker(env, info[0].As<Napi::String>().Utf8Value(), info[1].As<Napi::String>().Utf8Value());
  Napi::Promise promise = worker->promise();
  worker->Queue();
  return promise;
}

Napi::Object Init(Napi::Env env, Napi::Object exports) {
  exports.Set("Engine", EngineWrap::Init(env));
  exports.Set("mix", Napi::Function::New(env, Mix, "mix"));
  exports.Set("version", Napi::String::New(env, SRS_MEDIA_VERSION));
  return exports;
}

}  // namespace

NODE_API_MODULE(srs_media, Init)
