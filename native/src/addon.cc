// Node binding of the engine core. JavaScript sees one class (Engine), one function (mix) and the
// build's version string; packets never cross this boundary, only control calls and event batches.
#include <napi.h>

#include <algorithm>
#include <atomic>
#include <cstring>
#include <memory>
#include <string>
#include <vector>

#include "engine.h"
#include "leg.h"
#include "mixer.h"
#include "mp3.h"
#include "spool.h"

#ifndef SRS_MEDIA_VERSION
#error "SRS_MEDIA_VERSION must be defined by binding.gyp (package.json version)"
#endif

namespace {

struct EventBatch {
  std::vector<srs::MediaEventData> events;
  std::vector<srs::LiveChunk> live;
};
class EngineWrap;
void callJs(Napi::Env env, Napi::Function unused, EngineWrap* wrap, EventBatch* batch);
using EventTsfn = Napi::TypedThreadSafeFunction<EngineWrap, EventBatch, callJs>;

Napi::Error codedError(Napi::Env env, const std::string& code, const std::string& message, int port = 0) {
  Napi::Error e = Napi::Error::New(env, message);
  e.Set("code", Napi::String::New(env, code));
  if (port != 0) e.Set("port", Napi::Number::New(env, port));
  return e;
}

// A payload type's meaning: an old kind name ("PCMU") or { codec, clockRate, channels?, fmtp? }.
srs::PayloadFormat formatFromValue(Napi::Env env, Napi::Value v) {
  std::string codec;
  uint32_t clockRate = 8000;
  uint32_t channels = 1;
  std::string fmtp;
  if (v.IsString()) {
    codec = v.As<Napi::String>().Utf8Value();
  } else if (v.IsObject()) {
    Napi::Object o = v.As<Napi::Object>();
    codec = o.Get("codec").ToString().Utf8Value();
    if (o.Get("clockRate").IsNumber()) clockRate = o.Get("clockRate").As<Napi::Number>().Uint32Value();
    if (o.Get("channels").IsNumber()) channels = o.Get("channels").As<Napi::Number>().Uint32Value();
    if (o.Get("fmtp").IsString()) fmtp = o.Get("fmtp").As<Napi::String>().Utf8Value();
  } else {
    throw Napi::TypeError::New(env, "a payload type maps to a kind name or a { codec, clockRate } object");
  }
  srs::PayloadFormat f;
  std::string error;
  if (!srs::parsePayloadFormat(codec, clockRate, channels, fmtp, &f, &error)) throw Napi::TypeError::New(env, error);
  return f;
}

srs::PayloadTable parsePayloadTable(Napi::Env env, Napi::Object pts) {
  srs::PayloadTable table{};
  Napi::Array keys = pts.GetPropertyNames();
  for (uint32_t k = 0; k < keys.Length(); ++k) {
    const std::string key = keys.Get(k).ToString().Utf8Value();
    const int pt = std::atoi(key.c_str());
    if (pt < 0 || pt > 127 || std::to_string(pt) != key) {
      throw Napi::RangeError::New(env, "payload type must be 0..127, got '" + key + "'");
    }
    table[static_cast<size_t>(pt)] = formatFromValue(env, pts.Get(key));
  }
  return table;
}

// { suite, keySalt: Buffer, mki?: { value, length }, unencryptedSrtp?, unencryptedSrtcp?,
// unauthenticatedSrtp? } -> SrtpConfig. Error messages never carry key bytes.
std::shared_ptr<srs::SrtpConfig> parseSrtp(Napi::Env env, Napi::Value v) {
  if (!v.IsObject()) throw Napi::TypeError::New(env, "srtp must be an object");
  Napi::Object o = v.As<Napi::Object>();
  auto c = std::make_shared<srs::SrtpConfig>();
  if (!srs::parseSrtpSuite(o.Get("suite").ToString().Utf8Value(), &c->suite)) {
    throw Napi::RangeError::New(env, "unknown SRTP suite");
  }
  Napi::Value key = o.Get("keySalt");
  if (!key.IsBuffer()) throw Napi::TypeError::New(env, "srtp.keySalt must be a Buffer");
  Napi::Buffer<uint8_t> b = key.As<Napi::Buffer<uint8_t>>();
  if (b.Length() != srs::srtpKeySaltLength(c->suite)) {
    throw Napi::RangeError::New(env, "srtp.keySalt has the wrong length for the suite");
  }
  std::memcpy(c->keySalt.data(), b.Data(), b.Length());
  c->keySaltLength = b.Length();
  Napi::Value mki = o.Get("mki");
  if (mki.IsObject()) {
    Napi::Object m = mki.As<Napi::Object>();
    const int64_t length = m.Get("length").ToNumber().Int64Value();
    const int64_t value = m.Get("value").ToNumber().Int64Value();
    if (length < 1 || length > 4 || value < 0 || value >= (int64_t{1} << (8 * length))) {
      c->wipe();
      throw Napi::RangeError::New(env, "srtp.mki must have a length of 1..4 bytes and a value that fits");
    }
    c->hasMki = true;
    c->mki = static_cast<uint32_t>(value);
    c->mkiLength = static_cast<uint8_t>(length);
  }
  c->unencryptedSrtp = o.Get("unencryptedSrtp").ToBoolean().Value();
  c->unencryptedSrtcp = o.Get("unencryptedSrtcp").ToBoolean().Value();
  c->unauthenticatedSrtp = o.Get("unauthenticatedSrtp").ToBoolean().Value();
  return c;
}

Napi::Array codecNames(Napi::Env env, uint32_t seen) {
  Napi::Array a = Napi::Array::New(env);
  uint32_t n = 0;
  for (int k = 1; k < srs::kPayloadKindCount; ++k) {
    const auto kind = static_cast<srs::PayloadKind>(k);
    if ((seen & (1u << k)) != 0 && kind != srs::PayloadKind::TelephoneEvent && kind != srs::PayloadKind::ComfortNoise) {
      a.Set(n++, srs::payloadKindName(kind));
    }
  }
  return a;
}

class EngineWrap : public Napi::ObjectWrap<EngineWrap> {
 public:
  static constexpr size_t kMaxQueuedBatches = 64;  // event batches (one per 150 ms tick) queued for JS
  static Napi::Function Init(Napi::Env env) {
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

  // new Engine(bindAddress: string, onEvents: (events: object[]) => void)
  explicit EngineWrap(const Napi::CallbackInfo& info) : Napi::ObjectWrap<EngineWrap>(info), env_(info.Env()) {
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

  ~EngineWrap() override {
    if (!tearingDown_) {
      if (engine_) engine_->close();
      if (tsfnLive_) tsfn_.Release();
      tsfnLive_ = false;
    }
    if (hookAdded_) napi_remove_env_cleanup_hook(env_, &EngineWrap::onEnvCleanup, this);
  }

  srs::Engine& engine() { return *engine_; }  // for EndWorker

  void deliver(Napi::Env env, EventBatch* batch) {
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
    if (tsfn_.NonBlockingCall(p) != napi_ok) {
      delete p;
      eventBatchesDropped_.fetch_add(1, std::memory_order_relaxed);
    }
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

  static Napi::Array dtmfToJs(Napi::Env env, const srs::LegCounters& c) {
    Napi::Array a = Napi::Array::New(env, c.dtmf.size());
    for (size_t j = 0; j < c.dtmf.size(); ++j) {
      Napi::Object d = Napi::Object::New(env);
      d.Set("digit", std::string(1, c.dtmf[j].digit));
      d.Set("atMs", static_cast<double>(c.dtmf[j].atSamples) * 1000.0 / srs::kSampleRate);
      d.Set("durationMs", static_cast<double>(c.dtmf[j].durationSamples) * 1000.0 / srs::kSampleRate);
      a.Set(static_cast<uint32_t>(j), d);
    }
    return a;
  }

 public:  // for EndWorker too
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
      lo.Set("packetsRejected", static_cast<double>(l.rejected));
      lo.Set("spoolDamagedMs", static_cast<double>(l.damagedSamples) * 1000.0 / srs::kSampleRate);
      Napi::Array spans = Napi::Array::New(env, l.damagedSpans.size());
      for (size_t j = 0; j < l.damagedSpans.size(); ++j) {
        Napi::Array span = Napi::Array::New(env, 2);
        span.Set(0u, static_cast<double>(l.damagedSpans[j].first) * 1000.0 / srs::kSampleRate);
        span.Set(1u, static_cast<double>(l.damagedSpans[j].second) * 1000.0 / srs::kSampleRate);
        spans.Set(static_cast<uint32_t>(j), span);
      }
      lo.Set("spoolDamagedSpansMs", spans);
      lo.Set("ssrcsOverflow", static_cast<double>(c.ssrcsOverflow));
      lo.Set("packetsPaused", static_cast<double>(c.paused));
      lo.Set("rtcpPackets", static_cast<double>(c.rtcp));
      lo.Set("jitterMs", static_cast<double>(c.jitterQ4) / 16.0 * 1000.0 / srs::kSampleRate);
      lo.Set("srtpAuthFailures", static_cast<double>(c.srtpAuthFailures));
      lo.Set("srtpReplayDrops", static_cast<double>(c.srtpReplayDrops));
      lo.Set("packetsUndecodable", static_cast<double>(c.undecodable));
      lo.Set("codecs", codecNames(env, c.codecsSeen));
      lo.Set("dtmf", dtmfToJs(env, c));
      legs.Set(static_cast<uint32_t>(i), lo);
    }
    o.Set("legs", legs);
    return o;
  }

 private:
  void requireOpen(Napi::Env env) {
    if (closed_) throw codedError(env, "ERR_CLOSED", "the media engine is closed");
  }

  static std::vector<srs::LegConfig> parseLegs(Napi::Env env, Napi::Value value) {
    if (!value.IsArray()) throw Napi::TypeError::New(env, "legs must be an array");
    std::vector<srs::LegConfig> out;
    Napi::Array legs = value.As<Napi::Array>();
    for (uint32_t i = 0; i < legs.Length(); ++i) {
      Napi::Object leg = legs.Get(i).As<Napi::Object>();
      srs::LegConfig lc;
      lc.legId = leg.Get("legId").As<Napi::String>().Utf8Value();
      const int64_t port = leg.Get("port").As<Napi::Number>().Int64Value();
      if (port < 1 || port > 65535) throw Napi::RangeError::New(env, "port out of range");
      lc.port = static_cast<uint16_t>(port);
      // Ingress trust (optional): the SRC's SDP address and port, and the re-latch silence.
      if (leg.Has("remoteHost") && leg.Get("remoteHost").IsString()) {
        lc.remoteHost = leg.Get("remoteHost").As<Napi::String>().Utf8Value();
      }
      if (leg.Has("remotePort") && leg.Get("remotePort").IsNumber()) {
        const int64_t rp = leg.Get("remotePort").As<Napi::Number>().Int64Value();
        lc.remotePort = rp >= 0 && rp <= 65535 ? static_cast<uint16_t>(rp) : 0;
      }
      if (leg.Has("relatchMs") && leg.Get("relatchMs").IsNumber()) {
        lc.relatchMs = std::max<int64_t>(0, leg.Get("relatchMs").As<Napi::Number>().Int64Value());
      }
      lc.payloadKinds = parsePayloadTable(env, leg.Get("payloadTypes").As<Napi::Object>());
      Napi::Value srtp = leg.Get("srtp");
      if (!srtp.IsUndefined() && !srtp.IsNull()) lc.srtp = parseSrtp(env, srtp);
      out.push_back(std::move(lc));
    }
    return out;
  }

  // addLegs(recordingId, legs: [{ legId, port, payloadTypes }]) -> undefined; throws like openSession
  Napi::Value AddLegs(const Napi::CallbackInfo& info) {
    Napi::Env env = info.Env();
    requireOpen(env);
    if (info.Length() < 2 || !info[0].IsString()) throw Napi::TypeError::New(env, "addLegs(recordingId, legs)");
    srs::EngineError error;
    if (!engine_->addLegs(info[0].As<Napi::String>().Utf8Value(), parseLegs(env, info[1]), &error)) {
      throw codedError(env, error.code, error.message, error.port);
    }
    return env.Undefined();
  }

  // rekey(recordingId, legId, srtp | null) -> boolean (false: no such session or leg)
  Napi::Value Rekey(const Napi::CallbackInfo& info) {
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

  // removeLegs(recordingId, legIds: string[]) -> boolean (false: no such session)
  Napi::Value RemoveLegs(const Napi::CallbackInfo& info) {
    Napi::Env env = info.Env();
    if (closed_) return Napi::Boolean::New(env, false);
    if (info.Length() < 2 || !info[0].IsString() || !info[1].IsArray()) {
      throw Napi::TypeError::New(env, "removeLegs(recordingId, legIds)");
    }
    std::vector<std::string> legIds;
    Napi::Array a = info[1].As<Napi::Array>();
    for (uint32_t i = 0; i < a.Length(); ++i) legIds.push_back(a.Get(i).ToString().Utf8Value());
    return Napi::Boolean::New(env, engine_->removeLegs(info[0].As<Napi::String>().Utf8Value(), legIds));
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

  Napi::Value CloseSession(const Napi::CallbackInfo& info) {
    Napi::Env env = info.Env();
    if (closed_) return env.Undefined();
    srs::SessionStatsData stats;
    if (!engine_->closeSession(info[0].As<Napi::String>().Utf8Value(), &stats)) return env.Undefined();
    updateRef(env);
    return statsToJs(env, stats);
  }

  // endSession(recordingId) -> Promise<stats | undefined>: the session stops now (as closeSession);
  // its last records and session.json are written on the libuv pool, and the promise resolves once
  // they are on disk.
  Napi::Value EndSession(const Napi::CallbackInfo& info);

  // saveMeta(recordingId, text) -> boolean (false: no such session): session.json's new contents,
  // written by the engine's worker.
  Napi::Value SaveMeta(const Napi::CallbackInfo& info) {
    Napi::Env env = info.Env();
    if (closed_) return Napi::Boolean::New(env, false);
    if (info.Length() < 2 || !info[0].IsString() || !info[1].IsString()) {
      throw Napi::TypeError::New(env, "saveMeta(recordingId, text)");
    }
    return Napi::Boolean::New(
        env, engine_->saveMeta(info[0].As<Napi::String>().Utf8Value(), info[1].As<Napi::String>().Utf8Value()));
  }

  // counters(perSession: boolean) -> { packetsReceived, packetsLost, sessions?: [{ recordingId,
  // legs: [{ legId, packetsReceived, packetsLost }] }] }: every session since the start, one call.
  Napi::Value Counters(const Napi::CallbackInfo& info) {
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

  Napi::Value SessionStats(const Napi::CallbackInfo& info) {
    Napi::Env env = info.Env();
    if (closed_) return env.Undefined();
    srs::SessionStatsData stats;
    if (!engine_->sessionStats(info[0].As<Napi::String>().Utf8Value(), &stats)) return env.Undefined();
    return statsToJs(env, stats);
  }

  // setPaused(recordingId, legIds: string[] (empty: all), paused: boolean) -> number (the time of the
  // pause or resume in samples since the session's t0) or false (unknown session or leg)
  Napi::Value SetPaused(const Napi::CallbackInfo& info) {
    Napi::Env env = info.Env();
    if (closed_) return Napi::Boolean::New(env, false);
    if (info.Length() < 3 || !info[0].IsString() || !info[1].IsArray() || !info[2].IsBoolean()) {
      throw Napi::TypeError::New(env, "setPaused(recordingId, legIds, paused)");
    }
    std::vector<std::string> legIds;
    Napi::Array a = info[1].As<Napi::Array>();
    for (uint32_t i = 0; i < a.Length(); ++i) legIds.push_back(a.Get(i).ToString().Utf8Value());
    int64_t at = 0;
    if (!engine_->setPaused(info[0].As<Napi::String>().Utf8Value(), legIds, info[2].As<Napi::Boolean>().Value(),
                            &at)) {
      return Napi::Boolean::New(env, false);
    }
    return Napi::Number::New(env, static_cast<double>(at));
  }

  // setWatched(recordingId, watched: boolean) -> boolean (false: unknown session)
  Napi::Value SetWatched(const Napi::CallbackInfo& info) {
    Napi::Env env = info.Env();
    if (closed_) return Napi::Boolean::New(env, false);
    if (info.Length() < 2 || !info[0].IsString() || !info[1].IsBoolean()) {
      throw Napi::TypeError::New(env, "setWatched(recordingId, watched)");
    }
    return Napi::Boolean::New(
        env, engine_->setWatched(info[0].As<Napi::String>().Utf8Value(), info[1].As<Napi::Boolean>().Value()));
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

  // testFault(kind: "worker-exit"): test-only fault injection (the worker thread dies as it would on
  // an unexpected exception). Used by the end-to-end tests through SRS_TEST_ENGINE_FAULT only.
  Napi::Value TestFault(const Napi::CallbackInfo& info) {
    Napi::Env env = info.Env();
    if (closed_ || info.Length() < 1 || !info[0].IsString()) return Napi::Boolean::New(env, false);
    return Napi::Boolean::New(env, engine_->injectFault(info[0].As<Napi::String>().Utf8Value()));
  }

  napi_env env_;
  std::unique_ptr<srs::Engine> engine_;
  EventTsfn tsfn_;
  // Read by the worker thread (forward), written by the JS thread: atomics.
  std::atomic<bool> tsfnLive_{false};
  std::atomic<uint64_t> eventBatchesDropped_{0};  // batches refused by the full JS queue
  bool refed_ = false;
  bool closed_ = false;
  std::atomic<bool> tearingDown_{false};
  bool hookAdded_ = false;
  Napi::FunctionReference listener_;
};

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

  void OnOK() override { deferred_.Resolve(wrap_->statsToJs(Env(), stats_)); }

  void OnError(const Napi::Error& e) override { deferred_.Reject(e.Value()); }

 private:
  Napi::Promise::Deferred deferred_;
  Napi::ObjectReference self_;
  EngineWrap* wrap_;
  std::unique_ptr<srs::Engine::PendingClose> pending_;
  srs::SessionStatsData stats_;
};

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

void callJs(Napi::Env env, Napi::Function, EngineWrap* wrap, EventBatch* batch) {
  if (env == nullptr || wrap == nullptr) {
    delete batch;  // the function is being torn down
    return;
  }
  wrap->deliver(env, batch);
}

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
      // The Buffer owns a heap vector holding the bytes; its finalizer deletes the vector.
      auto* owned = new std::vector<uint8_t>(std::move(wav_));
      Napi::Buffer<uint8_t> data;
      try {
        data = Napi::Buffer<uint8_t>::New(env, owned->data(), owned->size(),
                                          [](Napi::Env, uint8_t*, std::vector<uint8_t>* v) { delete v; }, owned);
      } catch (...) {
        delete owned;
        throw;
      }
      o.Set("data", data);
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

// Test-only, deterministic: runs one leg's receive logic (the same LegReceiver the worker uses) over
// packets with given arrival times, without sockets or threads, writing the leg's spool file.
// simulateLeg(spoolPath, payloadTypes: { [pt]: kind }, ops: [{ at: samples, data?: Buffer }])
//   op with data: a datagram arriving at `at`; op without: the worker's tick at `at` (release held
//   packets, then flush the pending records to the spool). At the end: finish and flush.
// -> { packetsReceived, packetsLost, packetsDuplicate, packetsLate, packetsIgnored, reanchors, ssrcs,
//      events: [{ type, atSamples, ssrc, digit, durationSamples }] }
Napi::Value SimulateLeg(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  if (info.Length() < 3 || !info[0].IsString() || !info[1].IsObject() || !info[2].IsArray()) {
    throw Napi::TypeError::New(env, "simulateLeg(spoolPath, payloadTypes, ops)");
  }
  const std::string path = info[0].As<Napi::String>().Utf8Value();
  const srs::PayloadTable kinds = parsePayloadTable(env, info[1].As<Napi::Object>());
  if (int err = srs::createSpoolFile(path)) throw codedError(env, "ERRNO", "cannot create spool: " + std::to_string(err));
  auto leg = std::make_unique<srs::LegReceiver>(kinds);
  std::vector<srs::LegEvent> events;
  auto flush = [&]() {
    srs::SpoolBuffer& sp = leg->spool();
    if (sp.empty()) return;
    if (int err = srs::appendToFile(path, sp.bytes().data(), sp.bytes().size())) {
      throw codedError(env, "ERRNO", "cannot append to spool: " + std::to_string(err));
    }
    sp.clear();
  };
  Napi::Array ops = info[2].As<Napi::Array>();
  for (uint32_t i = 0; i < ops.Length(); ++i) {
    Napi::Object op = ops.Get(i).As<Napi::Object>();
    const int64_t at = op.Get("at").As<Napi::Number>().Int64Value();
    Napi::Value data = op.Get("data");
    if (data.IsBuffer()) {
      Napi::Buffer<uint8_t> b = data.As<Napi::Buffer<uint8_t>>();
      std::vector<uint8_t> copy(b.Data(), b.Data() + b.Length());  // the receiver works in place
      leg->onDatagram(copy.data(), copy.size(), at, events);
    } else if (op.Has("pause") && op.Get("pause").ToBoolean().Value()) {
      leg->pause(at, events);
    } else if (op.Has("resume") && op.Get("resume").ToBoolean().Value()) {
      leg->resume(at, events);
    } else {
      leg->tick(at, events);
      flush();
    }
  }
  leg->finish(events);
  flush();
  const srs::LegCounters& c = leg->counters();
  Napi::Object o = Napi::Object::New(env);
  o.Set("packetsReceived", static_cast<double>(c.received));
  o.Set("packetsLost", static_cast<double>(c.lost));
  o.Set("packetsDuplicate", static_cast<double>(c.duplicate));
  o.Set("packetsLate", static_cast<double>(c.late));
  o.Set("packetsIgnored", static_cast<double>(c.ignored));
  o.Set("reanchors", static_cast<double>(c.reanchors));
  o.Set("packetsPaused", static_cast<double>(c.paused));
  o.Set("packetsUndecodable", static_cast<double>(c.undecodable));
  o.Set("codecs", codecNames(env, c.codecsSeen));
  o.Set("jitterQ4", static_cast<double>(c.jitterQ4));
  Napi::Array ssrcs = Napi::Array::New(env, c.ssrcs.size());
  for (size_t j = 0; j < c.ssrcs.size(); ++j) ssrcs.Set(static_cast<uint32_t>(j), static_cast<double>(c.ssrcs[j]));
  o.Set("ssrcs", ssrcs);
  Napi::Array dtmf = Napi::Array::New(env, c.dtmf.size());
  for (size_t j = 0; j < c.dtmf.size(); ++j) {
    Napi::Object d = Napi::Object::New(env);
    d.Set("digit", std::string(1, c.dtmf[j].digit));
    d.Set("atSamples", static_cast<double>(c.dtmf[j].atSamples));
    d.Set("durationSamples", static_cast<double>(c.dtmf[j].durationSamples));
    dtmf.Set(static_cast<uint32_t>(j), d);
  }
  o.Set("dtmf", dtmf);
  Napi::Array ev = Napi::Array::New(env, events.size());
  for (size_t j = 0; j < events.size(); ++j) {
    const srs::LegEvent& e = events[j];
    Napi::Object eo = Napi::Object::New(env);
    const char* type = "dtmf";
    switch (e.type) {
      case srs::LegEvent::Type::FirstPacket: type = "first-packet"; break;
      case srs::LegEvent::Type::SsrcChange: type = "ssrc-change"; break;
      case srs::LegEvent::Type::Dtmf: type = "dtmf"; break;
      case srs::LegEvent::Type::Pause: type = "pause"; break;
      case srs::LegEvent::Type::Resume: type = "resume"; break;
    }
    eo.Set("type", type);
    eo.Set("atSamples", static_cast<double>(e.atSamples));
    eo.Set("ssrc", static_cast<double>(e.ssrc));
    eo.Set("digit", e.digit ? std::string(1, e.digit) : std::string());
    eo.Set("durationSamples", static_cast<double>(e.durationSamples));
    ev.Set(static_cast<uint32_t>(j), eo);
  }
  o.Set("events", ev);
  return o;
}

// Test-only: depacketizeAmr(payload: Buffer, wideband, octetAlign) -> { frames: Buffer, count } | null
// (the parity tests compare it with src/media/reference/amr.ts).
Napi::Value DepacketizeAmr(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  if (info.Length() < 3 || !info[0].IsBuffer()) throw Napi::TypeError::New(env, "depacketizeAmr(payload, wideband, octetAlign)");
  Napi::Buffer<uint8_t> b = info[0].As<Napi::Buffer<uint8_t>>();
  std::vector<uint8_t> frames;
  size_t count = 0;
  if (!srs::depacketizeAmr(b.Data(), b.Length(), info[1].ToBoolean().Value(), info[2].ToBoolean().Value(), &frames,
                           &count)) {
    return env.Null();
  }
  Napi::Object o = Napi::Object::New(env);
  o.Set("frames", Napi::Buffer<uint8_t>::Copy(env, frames.data(), frames.size()));
  o.Set("count", static_cast<double>(count));
  return o;
}

Napi::Object Init(Napi::Env env, Napi::Object exports) {
  exports.Set("depacketizeAmr", Napi::Function::New(env, DepacketizeAmr, "depacketizeAmr"));
  exports.Set("simulateLeg", Napi::Function::New(env, SimulateLeg, "simulateLeg"));
  exports.Set("Engine", EngineWrap::Init(env));
  exports.Set("mix", Napi::Function::New(env, Mix, "mix"));
  exports.Set("version", Napi::String::New(env, SRS_MEDIA_VERSION));
  srs::registerMp3(env, exports);
  return exports;
}

}  // namespace

NODE_API_MODULE(srs_media, Init)
