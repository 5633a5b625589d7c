// The Node binding of the engine core. JavaScript sees one class (Engine), one function (mix), the
// test-only entries and the build's version string; packets never cross this boundary, only control
// calls and event batches. Each part adds its exports: the Engine class (addon_engine.cc,
// addon_engine_calls.cc), mix (addon_mix.cc), simulateLeg and depacketizeAmr (addon_testing.cc);
// MP3 encoding registers itself from mp3.cc (registerMp3).
#pragma once

#include <napi.h>

namespace srs::addon {

void registerEngine(Napi::Env env, Napi::Object exports);
void registerMix(Napi::Env env, Napi::Object exports);
void registerTestEntries(Napi::Env env, Napi::Object exports);

}  // namespace srs::addon
