// The binding's Engine class (see addon_engine.h): the calls on sessions, from opening one to ending
// it on the libuv pool (EndWorker), with pause, the live tap, re-keying, legs added and removed, and
// the stats and counters.
#include "addon_engine.h"

#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "addon_values.h"

namespace srs::addon {

namespace {

// The final write of a session ended by endSession, on the libuv pool (it waits for the worker's
// batch in flight, then writes: never on the event loop). Holds the engine object so it outlives it.
class EndWorker : public Napi::AsyncWorker {
 public:
  EndWorker(Napi::Env env, Napi::Object self, EngineWrap* wrap, std::unique_ptr<srs::Engine::PendingClose> pending)
      : Napi::AsyncWorker(env, "srs-media-end"),
        deferred_(Napi::Promise::Deferred::New(env)),
        self_(Napi::Persistent(self)),
        wrap_(wrap),
        pending_(std::move(pending)) {}

  Napi::Promise promise() { return deferred_.Promise(); }

  void Execute() override { wrap_->engine().finishClose(*pending_, &stats_); }

  void OnOK() override { deferred_.Resolve(statsToJs(Env(), stats_)); }

  void OnError(const Napi::Error& e) override { deferred_.Reject(e.Value()); }

 private:
  Napi::Promise::Deferred deferred_;
  Napi::ObjectReference self_;
  EngineWrap* wrap_;
  std::unique_ptr<srs::Engine::PendingClose> pending_;
  srs::SessionStatsData stats_;
};

std::vector<std::string> stringList(Napi::Array a) {
  std::vector<std::string> out;
  for (uint32_t i = 0; i < a.Length(); ++i) out.push_back(a.Get(i).ToString().Utf8Value());
  return out;
}

}  // namespace

void EngineWrap::requireOpen(Napi::Env env) {
  if (closed_) throw codedError(env, "ERR_CLOSED", "the media engine is closed");
}

Napi::Value EngineWrap::AddLegs(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  requireOpen(env);
  if (info.Length() < 2 || !info[0].IsString()) throw Napi::TypeError::New(env, "addLegs(recordingId, legs)");
  srs::EngineError error;
  if (!engine_->addLegs(info[0].As<Napi::String>().Utf8Value(), parseLegs(env, info[1]), &error)) {
    throw codedError(env, error.code, error.message, error.port);
  }
  return env.Undefined();
}

Napi::Value EngineWrap::Rekey(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  if (closed_) return Napi::Boolean::New(env, false);
  if (info.Length() < 3 || !info[0].IsString() || !info[1].IsString()) {
    throw Napi::TypeError::New(env, "rekey(recordingId, legId, srtp)");
  }
  std::shared_ptr<srs::SrtpConfig> config;
  if (!info[2].IsNull() && !info[2].IsUndefined()) config = parseSrtp(env, info[2]);
  srs::EngineError error;
  const bool ok = engine_->rekey(info[0].As<Napi::String>().Utf8Value(), info[1].As<Napi::String>().Utf8Value(),
                                 config.get(), &error);
  if (config) config->wipe();
  if (!ok && error.code == "ERR_SRTP") throw codedError(env, error.code, error.message);
  return Napi::Boolean::New(env, ok);
}

Napi::Value EngineWrap::RemoveLegs(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  if (closed_) return Napi::Boolean::New(env, false);
  if (info.Length() < 2 || !info[0].IsString() || !info[1].IsArray()) {
    throw Napi::TypeError::New(env, "removeLegs(recordingId, legIds)");
  }
  const std::vector<std::string> legIds = stringList(info[1].As<Napi::Array>());
  return Napi::Boolean::New(env, engine_->removeLegs(info[0].As<Napi::String>().Utf8Value(), legIds));
}

Napi::Value EngineWrap::OpenSession(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  requireOpen(env);
  if (info.Length() < 1 || !info[0].IsObject()) throw Napi::TypeError::New(env, "openSession(options)");
  Napi::Object opts = info[0].As<Napi::Object>();
  srs::SessionConfig config;
  config.recordingId = opts.Get("recordingId").As<Napi::String>().Utf8Value();
  config.spoolDir = opts.Get("spoolDir").As<Napi::String>().Utf8Value();
  config.rtcp = opts.Has("rtcp") && opts.Get("rtcp").ToBoolean().Value();
  config.legs = parseLegs(env, opts.Get("legs"));
  int64_t openedAtMs = 0;
  srs::EngineError error;
  if (!engine_->openSession(config, &openedAtMs, &error)) {
    throw codedError(env, error.code, error.message, error.port);
  }
  updateRef(env);
  return Napi::Number::New(env, static_cast<double>(openedAtMs));
}

Napi::Value EngineWrap::CloseSession(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  if (closed_) return env.Undefined();
  srs::SessionStatsData stats;
  if (!engine_->closeSession(info[0].As<Napi::String>().Utf8Value(), &stats)) return env.Undefined();
  updateRef(env);
  return statsToJs(env, stats);
}

Napi::Value EngineWrap::EndSession(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  if (info.Length() < 1 || !info[0].IsString()) throw Napi::TypeError::New(env, "endSession(recordingId)");
  Napi::Promise::Deferred none = Napi::Promise::Deferred::New(env);
  if (closed_) {
    none.Resolve(env.Undefined());
    return none.Promise();
  }
  std::unique_ptr<srs::Engine::PendingClose> pending = engine_->beginClose(info[0].As<Napi::String>().Utf8Value());
  if (!pending) {
    none.Resolve(env.Undefined());
    return none.Promise();
  }
  updateRef(env);
  auto* worker = new EndWorker(env, info.This().As<Napi::Object>(), this, std::move(pending));
  Napi::Promise promise = worker->promise();
  worker->Queue();
  return promise;
}

Napi::Value EngineWrap::SaveMeta(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  if (closed_) return Napi::Boolean::New(env, false);
  if (info.Length() < 2 || !info[0].IsString() || !info[1].IsString()) {
    throw Napi::TypeError::New(env, "saveMeta(recordingId, text)");
  }
  return Napi::Boolean::New(
      env, engine_->saveMeta(info[0].As<Napi::String>().Utf8Value(), info[1].As<Napi::String>().Utf8Value()));
}

Napi::Value EngineWrap::Counters(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  const bool perSession = info.Length() > 0 && info[0].ToBoolean().Value();
  uint64_t rx = 0;
  uint64_t lost = 0;
  uint64_t rejected = 0;
  uint64_t spoolErrors = 0;
  uint64_t damaged = 0;
  std::vector<srs::SessionStatsData> sessions;
  if (!closed_) engine_->counters(&rx, &lost, perSession ? &sessions : nullptr, &rejected, &spoolErrors, &damaged);
  Napi::Object o = Napi::Object::New(env);
  o.Set("packetsReceived", static_cast<double>(rx));
  o.Set("packetsLost", static_cast<double>(lost));
  o.Set("packetsRejected", static_cast<double>(rejected));
  o.Set("eventBatchesDropped", static_cast<double>(eventBatchesDropped_.load()));
  o.Set("spoolQueueBytes", static_cast<double>(closed_ ? 0 : engine_->writerQueueBytes()));
  o.Set("spoolQueuePeakBytes", static_cast<double>(closed_ ? 0 : engine_->writerQueuePeak()));
  o.Set("spoolBatchesDropped", static_cast<double>(closed_ ? 0 : engine_->writerDroppedBatches()));
  o.Set("eventsDropped", static_cast<double>(closed_ ? 0 : engine_->eventsDropped()));
  const std::string failure = closed_ ? std::string() : engine_->workerFailure();
  if (!failure.empty()) o.Set("workerFailure", failure);
  o.Set("spoolErrors", static_cast<double>(spoolErrors));
  o.Set("spoolDamagedMs", static_cast<double>(damaged) * 1000.0 / srs::kSampleRate);
  if (perSession) {
    Napi::Array a = Napi::Array::New(env, sessions.size());
    for (size_t i = 0; i < sessions.size(); ++i) {
      Napi::Object so = Napi::Object::New(env);
      so.Set("recordingId", sessions[i].recordingId);
      Napi::Array legs = Napi::Array::New(env, sessions[i].legs.size());
      for (size_t j = 0; j < sessions[i].legs.size(); ++j) {
        const srs::LegStatsData& l = sessions[i].legs[j];
        Napi::Object lo = Napi::Object::New(env);
        lo.Set("legId", l.legId);
        lo.Set("packetsReceived", static_cast<double>(l.counters.received));
        lo.Set("packetsLost", static_cast<double>(l.counters.lost));
        lo.Set("packetsPaused", static_cast<double>(l.counters.paused));
        lo.Set("packetsRejected", static_cast<double>(l.rejected));
        legs.Set(static_cast<uint32_t>(j), lo);
      }
      so.Set("legs", legs);
      a.Set(static_cast<uint32_t>(i), so);
    }
    o.Set("sessions", a);
  }
  return o;
}

Napi::Value EngineWrap::SessionStats(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  if (closed_) return env.Undefined();
  srs::SessionStatsData stats;
  if (!engine_->sessionStats(info[0].As<Napi::String>().Utf8Value(), &stats)) return env.Undefined();
  return statsToJs(env, stats);
}

Napi::Value EngineWrap::SetPaused(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  if (closed_) return Napi::Boolean::New(env, false);
  if (info.Length() < 3 || !info[0].IsString() || !info[1].IsArray() || !info[2].IsBoolean()) {
    throw Napi::TypeError::New(env, "setPaused(recordingId, legIds, paused)");
  }
  const std::vector<std::string> legIds = stringList(info[1].As<Napi::Array>());
  int64_t at = 0;
  if (!engine_->setPaused(info[0].As<Napi::String>().Utf8Value(), legIds, info[2].As<Napi::Boolean>().Value(),
                          &at)) {
    return Napi::Boolean::New(env, false);
  }
  return Napi::Number::New(env, static_cast<double>(at));
}

Napi::Value EngineWrap::SetWatched(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  if (closed_) return Napi::Boolean::New(env, false);
  if (info.Length() < 2 || !info[0].IsString() || !info[1].IsBoolean()) {
    throw Napi::TypeError::New(env, "setWatched(recordingId, watched)");
  }
  return Napi::Boolean::New(
      env, engine_->setWatched(info[0].As<Napi::String>().Utf8Value(), info[1].As<Napi::Boolean>().Value()));
}

}  // namespace srs::addon
