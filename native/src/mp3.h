// MP3 encoding in-process with LAME (Debian libmp3lame), for the post-call pipeline: the mixed WAV
// (u-law or 16-bit PCM, mono or stereo) becomes a mono CBR MP3 without a process per recording.
#pragma once

#include <napi.h>

#include <cstdint>
#include <string>
#include <vector>

namespace srs {

struct Mp3Settings {
  int bitrateKbps = 32;
  int sampleRate = 8000;  // output rate; LAME resamples when it differs from the WAV's
  int quality = 7;        // LAME's algorithm quality: 0 best and slowest .. 9 fastest
};

// Encodes a whole RIFF/WAVE image. On failure returns false with *error set (the input is named
// by the caller). Never touches V8: runs on the libuv pool.
bool encodeWavToMp3(const uint8_t* wav, size_t length, const Mp3Settings& settings, std::vector<uint8_t>* mp3,
                    std::string* error);

// Adds encodeMp3(input: Buffer | string, { bitrateKbps, sampleRate, quality }) -> Promise<Buffer>
// mp3CpuSeconds() (CPU time spent encoding so far) and lameVersion to the addon's exports.
void registerMp3(Napi::Env env, Napi::Object exports);

}  // namespace srs
