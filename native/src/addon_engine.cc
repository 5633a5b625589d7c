// The binding's Engine class (see addon_engine.h): construction and teardown, the event batches the
// worker hands over (forwarded to the JavaScript listener), the process reference while sessions
// are open, close and test-only fault injection.
#include "addon_engine.h"

#include <string>
#include <utility>

#include "addon.h"
#include "addon_values.h"

namespace srs::addon {

Napi::Function EngineWrap::Init(Napi::Env env) {
  return DefineClass(env, "Engine",
                     {
                         InstanceMethod<&EngineWrap::OpenSession>("openSession"),
                         InstanceMethod<&EngineWrap::CloseSession>("closeSession"),
                         InstanceMethod<&EngineWrap::EndSession>("endSession"),
                         InstanceMethod<&EngineWrap::SaveMeta>("saveMeta"),
                         InstanceMethod<&EngineWrap::Counters>("counters"),
                         InstanceMethod<&EngineWrap::SessionStats>("sessionStats"),
                         InstanceMethod<&EngineWrap::SetPaused>("setPaused"),
                         InstanceMethod<&EngineWrap::SetWatched>("setWatched"),
                         InstanceMethod<&EngineWrap::Rekey>("rekey"),
                         InstanceMethod<&EngineWrap::AddLegs>("addLegs"),
                         InstanceMethod<&EngineWrap::RemoveLegs>("removeLegs"),
                         InstanceMethod<&EngineWrap::ActiveSessions>("activeSessions"),
                         InstanceMethod<&EngineWrap::Close>("close"),
                         InstanceMethod<&EngineWrap::TestFault>("testFault"),
                     });
}

EngineWrap::EngineWrap(const Napi::CallbackInfo& info) : Napi::ObjectWrap<EngineWrap>(info), env_(info.Env()) {
  Napi::Env env = info.Env();
  if (info.Length() < 2 || !info[0].IsString() || !info[1].IsFunction()) {
    throw Napi::TypeError::New(env, "Engine(bindAddress: string, onEvents: function)");
  }
  listener_ = Napi::Persistent(info[1].As<Napi::Function>());
  // Bounded: a JS thread that stalls for ~10 s of batches makes the worker drop (and count) events
  // rather than queue without limit.
  tsfn_ = EventTsfn::New(env, "srs-media-events", kMaxQueuedBatches, 1, this);
  tsfnLive_ = true;
  tsfn_.Unref(env);  // keep the process alive only while sessions are open
  // Registered after the thread-safe function, so this hook runs before its teardown (hooks run in
  // reverse order): the worker thread is stopped before the function it calls goes away.
  napi_add_env_cleanup_hook(env_, &EngineWrap::onEnvCleanup, this);
  hookAdded_ = true;
  try {
    engine_ = std::make_unique<srs::Engine>(info[0].As<Napi::String>().Utf8Value(),
                                            [this](std::vector<srs::MediaEventData>&& events) {
                                              forward(EventBatch{std::move(events), {}});
                                            },
                                            [this](std::vector<srs::LiveChunk>&& live) {
                                              forward(EventBatch{{}, std::move(live)});
                                            });
  } catch (const std::exception& e) {
    tsfn_.Release();
    tsfnLive_ = false;
    throw codedError(env, "ERR_MEDIA_ENGINE", e.what());
  }
}

EngineWrap::~EngineWrap() {
  if (!tearingDown_) {
    if (engine_) engine_->close();
    if (tsfnLive_) tsfn_.Release();
    tsfnLive_ = false;
  }
  if (hookAdded_) napi_remove_env_cleanup_hook(env_, &EngineWrap::onEnvCleanup, this);
}

void EngineWrap::deliver(Napi::Env env, EventBatch* batch) {
  std::unique_ptr<EventBatch> owned(batch);
  if (listener_.IsEmpty()) return;
  Napi::Array events = Napi::Array::New(env, owned->events.size());
  uint32_t i = 0;
  for (const srs::MediaEventData& m : owned->events) {
    Napi::Object o = Napi::Object::New(env);
    switch (m.type) {
      case srs::MediaEventData::Type::FirstPacket: o.Set("type", "first-packet"); break;
      case srs::MediaEventData::Type::SsrcChange: o.Set("type", "ssrc-change"); break;
      case srs::MediaEventData::Type::Dtmf: o.Set("type", "dtmf"); break;
      case srs::MediaEventData::Type::Pause: o.Set("type", "pause"); break;
      case srs::MediaEventData::Type::Resume: o.Set("type", "resume"); break;
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
  // Live tap chunks: { recordingId, legId, records: Buffer } (spool-record format).
  Napi::Array live = Napi::Array::New(env, owned->live.size());
  uint32_t j = 0;
  for (srs::LiveChunk& c : owned->live) {
    Napi::Object o = Napi::Object::New(env);
    o.Set("recordingId", c.recordingId);
    o.Set("legId", c.legId);
    o.Set("records", Napi::Buffer<uint8_t>::Copy(env, c.records.data(), c.records.size()));
    live.Set(j++, o);
  }
  try {
    listener_.Call({events, live});
  } catch (const Napi::Error& e) {
    e.ThrowAsJavaScriptException();  // surfaces as an uncaught exception, as an event listener would
  }
}

void EngineWrap::onEnvCleanup(void* arg) {
  auto* self = static_cast<EngineWrap*>(arg);
  self->tearingDown_ = true;  // events from here on are dropped
  if (self->engine_) self->engine_->close();
  self->tsfnLive_ = false;  // Node finalizes the thread-safe function itself
  self->hookAdded_ = false;
}

void EngineWrap::forward(EventBatch&& batch) {
  if (tearingDown_ || !tsfnLive_) return;
  auto* p = new EventBatch(std::move(batch));
  if (tsfn_.NonBlockingCall(p) != napi_ok) {
    delete p;
    eventBatchesDropped_.fetch_add(1, std::memory_order_relaxed);
  }
}

void EngineWrap::updateRef(Napi::Env env) {
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

Napi::Value EngineWrap::ActiveSessions(const Napi::CallbackInfo& info) {
  return Napi::Number::New(info.Env(), closed_ ? 0.0 : static_cast<double>(engine_->activeSessions()));
}

Napi::Value EngineWrap::Close(const Napi::CallbackInfo& info) {
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

Napi::Value EngineWrap::TestFault(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  if (closed_ || info.Length() < 1 || !info[0].IsString()) return Napi::Boolean::New(env, false);
  return Napi::Boolean::New(env, engine_->injectFault(info[0].As<Napi::String>().Utf8Value()));
}

void callJs(Napi::Env env, Napi::Function, EngineWrap* wrap, EventBatch* batch) {
  if (env == nullptr || wrap == nullptr) {
    delete batch;  // the function is being torn down
    return;
  }
  wrap->deliver(env, batch);
}

void registerEngine(Napi::Env env, Napi::Object exports) { exports.Set("Engine", EngineWrap::Init(env)); }

}  // namespace srs::addon
