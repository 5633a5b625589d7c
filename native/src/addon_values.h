// Conversions between JavaScript values and the engine core's types, shared by the binding's parts:
// coded errors, payload tables, SRTP parameters, leg configurations and session stats.
#pragma once

#include <napi.h>

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "engine.h"
#include "leg.h"

namespace srs::addon {

// An Error with `code` (and `port` when not 0) set, as the engine's callers expect.
Napi::Error codedError(Napi::Env env, const std::string& code, const std::string& message, int port = 0);

// { [pt]: kind name | { codec, clockRate, channels?, fmtp? } } -> the leg's payload table.
srs::PayloadTable parsePayloadTable(Napi::Env env, Napi::Object pts);

// { suite, keySalt: Buffer, mki?: { value, length }, unencryptedSrtp?, unencryptedSrtcp?,
// unauthenticatedSrtp? } -> SrtpConfig. Error messages never carry key bytes.
std::shared_ptr<srs::SrtpConfig> parseSrtp(Napi::Env env, Napi::Value v);

// [{ legId, port, payloadTypes, remoteHost?, remotePort?, relatchMs?, srtp? }] -> leg configurations.
std::vector<srs::LegConfig> parseLegs(Napi::Env env, Napi::Value value);

// The names of the audio codecs in a LegCounters::codecsSeen bit set.
Napi::Array codecNames(Napi::Env env, uint32_t seen);

// A session's stats as JavaScript sees them (sessionStats, closeSession, endSession).
Napi::Object statsToJs(Napi::Env env, const srs::SessionStatsData& s);

// A Buffer that takes over `bytes` without a copy: it owns a heap vector holding them, which its
// finalizer deletes.
Napi::Buffer<uint8_t> bufferOwning(Napi::Env env, std::vector<uint8_t>&& bytes);

}  // namespace srs::addon
