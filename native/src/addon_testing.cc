// Test-only entries of the binding: simulateLeg (one leg's receive logic without sockets or
// threads) and depacketizeAmr (for the parity tests with the TypeScript reference).
#include <napi.h>

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "addon.h"
#include "addon_values.h"
#include "codec.h"
#include "leg.h"
#include "spool.h"

namespace srs::addon {

namespace {

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

}  // namespace

void registerTestEntries(Napi::Env env, Napi::Object exports) {
  exports.Set("depacketizeAmr", Napi::Function::New(env, DepacketizeAmr, "depacketizeAmr"));
  exports.Set("simulateLeg", Napi::Function::New(env, SimulateLeg, "simulateLeg"));
}

}  // namespace srs::addon
