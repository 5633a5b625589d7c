// MP3 encoding with LAME (Debian libmp3lame), without Node: the mixed WAV (u-law or 16-bit PCM, mono
// or stereo) becomes a mono CBR MP3. The input is a WAV image in memory or a file read block by
// block; the output a vector in memory or a file written block by block. A file in and a file out
// hold only a few blocks in memory whatever the recording's length (docs/pipeline-and-keys.md).
// Runs on the libuv pool (mp3.cc) and in the native tests; never touches V8.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

namespace srs {

struct Mp3Settings {
  int bitrateKbps = 32;
  int sampleRate = 8000;  // output rate; LAME resamples when it differs from the WAV's
  int quality = 7;        // LAME's algorithm quality: 0 best and slowest .. 9 fastest
};

// The WAV to encode: `length` bytes at `data`, or (when `path` is not empty) the file at `path`.
struct WavInput {
  const uint8_t* data = nullptr;
  size_t length = 0;
  std::string path;
};

// Encodes into memory. On failure returns false with *error set (a file input is named in it).
bool encodeWavToMp3(const WavInput& in, const Mp3Settings& settings, std::vector<uint8_t>* mp3, std::string* error);

// The same, the WAV image in memory (the fast path of short recordings).
bool encodeWavToMp3(const uint8_t* wav, size_t length, const Mp3Settings& settings, std::vector<uint8_t>* mp3,
                    std::string* error);

// Encodes into a new file `outPath` (O_CREAT | O_EXCL, mode 0600): the frames are written as they
// come, the Info frame is written back at offset 0 after the flush, and the file is fdatasync'ed
// before this returns true with its size in *bytes. On failure the file (if this call created it) is
// overwritten with zeros and removed; a file that was already there is left alone.
bool encodeWavToMp3File(const WavInput& in, const Mp3Settings& settings, const std::string& outPath, uint64_t* bytes,
                        std::string* error);

// Tests only: when set, called with the path of a failed encode's file once it is zeroed, just
// before its name is removed (native/test/mp3_files.cc reads it there).
extern void (*mp3FailedFileHook)(const std::string& path);

}  // namespace srs
