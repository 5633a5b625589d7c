// MP3 encoding in-process with LAME (Debian libmp3lame), for the post-call pipeline: the mixed WAV
// becomes a mono CBR MP3 without a process per recording. The encoder itself is mp3_encode.h; this
// is its Node binding, on the libuv pool.
#pragma once

#include <napi.h>

#include "mp3_encode.h"

namespace srs {

// Adds to the addon's exports:
//   encodeMp3(input: Buffer | path, { bitrateKbps, sampleRate, quality, background?, outPath? })
//     -> Promise<Buffer> (the MP3), or with `outPath` Promise<number> (the size of the new file);
//   mp3CpuSeconds() (CPU time spent encoding so far), mp3BackgroundEncodes() and lameVersion.
void registerMp3(Napi::Env env, Napi::Object exports);

}  // namespace srs
