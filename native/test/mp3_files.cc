// The MP3 encoder between files (mp3_encode.h): a WAV read from a file block by block, and an MP3
// written to a new file, give the very bytes of the in-memory encode; the new file is 0600, an
// existing one is refused and left alone, a bad WAV leaves no file, and a write that fails half-way
// (the file size limit) zeroes every byte of the partial file and removes it.
#include <fcntl.h>
#include <signal.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cmath>
#include <cstring>
#include <fstream>
#include <iterator>
#include <string>
#include <vector>

#include "g711.h"
#include "mp3_encode.h"

#include "check.h"

namespace srs_test {

namespace {

std::vector<uint8_t> slurp(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  return std::vector<uint8_t>(std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>());
}

void spit(const std::string& path, const std::vector<uint8_t>& b) {
  std::ofstream out(path, std::ios::binary);
  out.write(reinterpret_cast<const char*>(b.data()), static_cast<std::streamsize>(b.size()));
}

void put32(std::vector<uint8_t>* b, size_t at, uint32_t v) {
  for (int i = 0; i < 4; ++i) (*b)[at + i] = static_cast<uint8_t>(v >> (8 * i));
}

// A mono u-law WAV (the mixer's 58-byte header, with a fact chunk) of `samples` of a 500 Hz tone.
std::vector<uint8_t> toneWav(uint32_t samples) {
  std::vector<uint8_t> b(58 + samples + (samples & 1), 0);
  std::memcpy(b.data(), "RIFF", 4);
  put32(&b, 4, static_cast<uint32_t>(b.size() - 8));
  std::memcpy(b.data() + 8, "WAVEfmt ", 8);
  put32(&b, 16, 18);
  b[20] = 7;  // WAVE_FORMAT_MULAW
  b[22] = 1;
  put32(&b, 24, 8000);
  put32(&b, 28, 8000);
  b[32] = 1;
  b[34] = 8;
  std::memcpy(b.data() + 38, "fact", 4);
  put32(&b, 42, 4);
  put32(&b, 46, samples);
  std::memcpy(b.data() + 50, "data", 4);
  put32(&b, 54, samples);
  for (uint32_t i = 0; i < samples; ++i) {
    b[58 + i] = srs::linearToUlaw(static_cast<int16_t>(10000 * std::sin(2 * M_PI * 500 * i / 8000.0)));
  }
  return b;
}

// What the failed encode's file held just before its name went (mp3FailedFileHook).
std::vector<uint8_t> failedFile;
void keepFailedFile(const std::string& path) { failedFile = slurp(path); }

bool exists(const std::string& path) {
  struct stat st {};
  return ::stat(path.c_str(), &st) == 0;
}

}  // namespace

void checkMp3Files(const std::string& dir) {
  const srs::Mp3Settings s;
  // 3.3 s: a few whole blocks of 8,192 frames and a partial one.
  const std::vector<uint8_t> wav = toneWav(26500);
  const std::string wavPath = dir + "/tone.wav";
  spit(wavPath, wav);
  std::string error;

  std::vector<uint8_t> inMemory;
  CHECK(srs::encodeWavToMp3(wav.data(), wav.size(), s, &inMemory, &error));
  CHECK(inMemory.size() > 10000 && inMemory[0] == 0xFF);

  srs::WavInput fromFile;
  fromFile.path = wavPath;
  std::vector<uint8_t> readByBlocks;
  CHECK(srs::encodeWavToMp3(fromFile, s, &readByBlocks, &error));
  CHECK(readByBlocks == inMemory);

  srs::WavInput fromMemory;
  fromMemory.data = wav.data();
  fromMemory.length = wav.size();
  for (const srs::WavInput* in : {&fromMemory, &fromFile}) {
    const std::string out = dir + (in == &fromFile ? "/file.mp3" : "/memory.mp3");
    uint64_t bytes = 0;
    CHECK(srs::encodeWavToMp3File(*in, s, out, &bytes, &error));
    CHECK(bytes == inMemory.size());
    CHECK(slurp(out) == inMemory);  // the Info frame written back at offset 0 included
    struct stat st {};
    CHECK(::stat(out.c_str(), &st) == 0 && (st.st_mode & 0777) == 0600);
    // An existing file is refused (O_EXCL) and left as it was.
    uint64_t again = 0;
    CHECK(!srs::encodeWavToMp3File(*in, s, out, &again, &error));
    CHECK(error.find("cannot create " + out) == 0 && error.find("exists") != std::string::npos);
    CHECK(slurp(out) == inMemory);
  }

  // A bad WAV: the error names it, and no file is made.
  std::vector<uint8_t> alaw = wav;
  alaw[20] = 6;
  const std::string alawPath = dir + "/alaw.wav";
  spit(alawPath, alaw);
  srs::WavInput bad;
  bad.path = alawPath;
  uint64_t bytes = 0;
  CHECK(!srs::encodeWavToMp3File(bad, s, dir + "/bad.mp3", &bytes, &error));
  CHECK(error.find("format 6/8 bits is not supported") != std::string::npos);
  CHECK(!exists(dir + "/bad.mp3"));
  bad.path = dir + "/missing.wav";
  CHECK(!srs::encodeWavToMp3File(bad, s, dir + "/bad.mp3", &bytes, &error));
  CHECK(error.find("cannot open " + dir + "/missing.wav") == 0);
  CHECK(!exists(dir + "/bad.mp3"));

  // A write that fails half-way (EFBIG past a 2,000-byte file size limit): the partial file goes.
  rlimit saved{};
  CHECK(::getrlimit(RLIMIT_FSIZE, &saved) == 0);
  struct sigaction ignore {};
  struct sigaction previous {};
  ignore.sa_handler = SIG_IGN;
  ::sigaction(SIGXFSZ, &ignore, &previous);
  rlimit small = saved;
  small.rlim_cur = 2000;
  CHECK(::setrlimit(RLIMIT_FSIZE, &small) == 0);
  srs::mp3FailedFileHook = keepFailedFile;
  const bool ok = srs::encodeWavToMp3File(fromFile, s, dir + "/partial.mp3", &bytes, &error);
  srs::mp3FailedFileHook = nullptr;
  ::setrlimit(RLIMIT_FSIZE, &saved);
  ::sigaction(SIGXFSZ, &previous, nullptr);
  CHECK(!ok);
  CHECK(error.find("cannot write " + dir + "/partial.mp3") == 0);
  CHECK(!exists(dir + "/partial.mp3"));
  // Every byte the failed writes left in it (the 2,000 up to the limit, a part of a chunk
  // included) was zeroed before the name went.
  CHECK(failedFile.size() == 2000);
  CHECK(std::all_of(failedFile.begin(), failedFile.end(), [](uint8_t b) { return b == 0; }));

  for (const char* f : {"/tone.wav", "/alaw.wav", "/file.mp3", "/memory.mp3"}) ::unlink((dir + f).c_str());
}

}  // namespace srs_test
