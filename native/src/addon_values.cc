// See addon_values.h.
#include "addon_values.h"

#include <algorithm>
#include <cstdlib>
#include <cstring>

namespace srs::addon {

Napi::Error codedError(Napi::Env env, const std::string& code, const std::string& message, int port) {
  Napi::Error e = Napi::Error::New(env, message);
  e.Set("code", Napi::String::New(env, code));
  if (port != 0) e.Set("port", Napi::Number::New(env, port));
  return e;
}

namespace {

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

Napi::Array dtmfToJs(Napi::Env env, const srs::LegCounters& c) {
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

}  // namespace

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

std::vector<srs::LegConfig> parseLegs(Napi::Env env, Napi::Value value) {
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
    lo.Set("aheadMs", static_cast<double>(c.maxAhead) * 1000.0 / srs::kSampleRate);
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

Napi::Buffer<uint8_t> bufferOwning(Napi::Env env, std::vector<uint8_t>&& bytes) {
  auto* owned = new std::vector<uint8_t>(std::move(bytes));
  try {
    return Napi::Buffer<uint8_t>::New(env, owned->data(), owned->size(),
                                      [](Napi::Env, uint8_t*, std::vector<uint8_t>* v) { delete v; }, owned);
  } catch (...) {
    delete owned;
    throw;
  }
}

}  // namespace srs::addon
