// MP3 encoding with LAME, in memory or block by block between files (see mp3_encode.h).
#include "mp3_encode.h"

#include <fcntl.h>
#include <lame/lame.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <memory>

#include "g711.h"

namespace srs {

namespace {

constexpr uint16_t kFormatPcm = 1;
constexpr uint16_t kFormatMulaw = 7;
constexpr uint16_t kFormatExtensible = 0xFFFE;
constexpr size_t kBlockFrames = 8192;  // PCM frames handed to LAME per call (and read per block from a file)

uint16_t rd16(const uint8_t* p) { return static_cast<uint16_t>(p[0] | (p[1] << 8)); }
uint32_t rd32(const uint8_t* p) { return rd16(p) | (static_cast<uint32_t>(rd16(p + 2)) << 16); }

// Plaintext audio does not outlive the encode: explicit_bzero is never optimised away.
template <typename T>
void wipe(std::vector<T>* v) {
  if (!v->empty()) explicit_bzero(v->data(), v->size() * sizeof(T));
}

struct WavFormat {
  uint16_t format = 0;
  uint16_t channels = 0;
  uint32_t sampleRate = 0;
  uint16_t bitsPerSample = 0;
  uint64_t dataOffset = 0;
  uint64_t dataBytes = 0;
};

// Walks the RIFF chunks of an input of `total` bytes through `read(pos, n, out)` (the bytes read,
// fewer at the end): the whole image in memory, or a file read a header at a time.
template <typename Read>
bool parseWav(Read read, uint64_t total, WavFormat* w, std::string* error) {
  uint8_t head[12];
  if (total < 12 || read(0, 12, head) != 12 || std::memcmp(head, "RIFF", 4) != 0 ||
      std::memcmp(head + 8, "WAVE", 4) != 0) {
    *error = "not a RIFF/WAVE file";
    return false;
  }
  bool haveFmt = false;
  bool haveData = false;
  uint64_t pos = 12;
  while (pos + 8 <= total) {
    uint8_t chunk[8];
    if (read(pos, 8, chunk) != 8) break;
    const uint32_t size = rd32(chunk + 4);
    const uint64_t avail = total - (pos + 8);
    if (std::memcmp(chunk, "fmt ", 4) == 0) {
      if (size < 16 || avail < 16) break;
      uint8_t body[26];
      const size_t want = static_cast<size_t>(std::min<uint64_t>({size, avail, sizeof body}));
      if (read(pos + 8, want, body) != want) break;
      w->format = rd16(body);
      w->channels = rd16(body + 2);
      w->sampleRate = rd32(body + 4);
      w->bitsPerSample = rd16(body + 14);
      if (w->format == kFormatExtensible && want >= 26) w->format = rd16(body + 24);
      haveFmt = true;
    } else if (std::memcmp(chunk, "data", 4) == 0) {
      if (!haveFmt) break;
      w->dataOffset = pos + 8;
      // A writer that could not seek back leaves 0 or 0xFFFFFFFF: take what is there.
      w->dataBytes = (size == 0 || size > avail) ? avail : size;
      haveData = true;
      break;
    }
    pos += 8 + static_cast<uint64_t>(size) + (size & 1);
  }
  if (!haveFmt || !haveData) {
    *error = "WAV without a fmt and data chunk";
    return false;
  }
  const bool mulaw = w->format == kFormatMulaw && w->bitsPerSample == 8;
  const bool pcm16 = w->format == kFormatPcm && w->bitsPerSample == 16;
  if (!mulaw && !pcm16) {
    *error = "WAV format " + std::to_string(w->format) + "/" + std::to_string(w->bitsPerSample) +
             " bits is not supported (u-law or 16-bit PCM)";
    return false;
  }
  if (w->channels < 1 || w->channels > 2 || w->sampleRate < 8000 || w->sampleRate > 48000) {
    *error = "WAV with " + std::to_string(w->channels) + " channels at " + std::to_string(w->sampleRate) +
             " Hz is not supported (1-2 channels, 8-48 kHz)";
    return false;
  }
  return true;
}

size_t frameBytesOf(const WavFormat& w) { return (w.format == kFormatMulaw ? 1u : 2u) * w.channels; }

struct LameDeleter {
  void operator()(lame_global_flags* g) const { lame_close(g); }
};

// Encodes the WAV's frames: `next(n)` hands out the next n frames (nullptr: a read failed, *error
// set), `emit(bytes, n)` takes the MP3 as it comes (false: a write failed, *error set), and
// `tag(bytes, n)` the Info frame after the flush, to go over the first frame written.
template <typename Next, typename Emit, typename Tag>
bool encodeFrames(const WavFormat& w, const Mp3Settings& s, Next next, Emit emit, Tag tag, std::string* error) {
  std::unique_ptr<lame_global_flags, LameDeleter> gf(lame_init());
  if (!gf) {
    *error = "lame_init failed";
    return false;
  }
  lame_global_flags* g = gf.get();
  // The input is downmixed here (mono in, mono out): LAME's own stereo input path is not needed.
  lame_set_num_channels(g, 1);
  lame_set_mode(g, MONO);
  lame_set_in_samplerate(g, static_cast<int>(w.sampleRate));
  lame_set_out_samplerate(g, s.sampleRate);
  lame_set_VBR(g, vbr_off);
  lame_set_brate(g, s.bitrateKbps);
  lame_set_quality(g, s.quality);
  // The Info frame (first frame) carries the encoder delay and padding, so that decoders trim
  // them and the audio keeps its times; it is written over the first frame after the flush.
  lame_set_bWriteVbrTag(g, 1);
  lame_set_write_id3tag_automatic(g, 0);
  if (lame_init_params(g) < 0) {
    *error = "LAME rejected " + std::to_string(s.bitrateKbps) + " kbit/s at " + std::to_string(s.sampleRate) +
             " Hz (quality " + std::to_string(s.quality) + ")";
    return false;
  }
  const size_t bytesPerSample = w.format == kFormatMulaw ? 1 : 2;
  const size_t frameBytes = frameBytesOf(w);
  const uint64_t frames = w.dataBytes / frameBytes;
  const int16_t* const ulaw = ulawDecodeTable();
  std::vector<short> pcm(kBlockFrames);
  // LAME's worst case is 1.25 bytes per output sample + 7200; resampling up (8 kHz in, 44.1 kHz
  // out) makes more output samples per block than input frames.
  const size_t outPerBlock = (kBlockFrames * static_cast<size_t>(s.sampleRate) + w.sampleRate - 1) / w.sampleRate;
  std::vector<unsigned char> out(std::max(kBlockFrames, outPerBlock) * 5 / 4 + 7200);
  bool ok = true;
  for (uint64_t done = 0; ok && done < frames;) {
    const size_t n = static_cast<size_t>(std::min<uint64_t>(kBlockFrames, frames - done));
    const uint8_t* src = next(n);
    if (src == nullptr) {
      ok = false;
      break;
    }
    for (size_t i = 0; i < n; ++i) {
      int v = 0;
      for (uint16_t c = 0; c < w.channels; ++c) {
        const uint8_t* p = src + i * frameBytes + c * bytesPerSample;
        v += bytesPerSample == 1 ? ulaw[*p] : static_cast<int16_t>(rd16(p));
      }
      pcm[i] = static_cast<short>(v / w.channels);
    }
    const int r = lame_encode_buffer(g, pcm.data(), nullptr, static_cast<int>(n), out.data(),
                                     static_cast<int>(out.size()));
    if (r < 0) {
      *error = "lame_encode_buffer failed (" + std::to_string(r) + ")";
      ok = false;
    } else if (r > 0) {
      ok = emit(out.data(), static_cast<size_t>(r));
    }
    done += n;
  }
  if (ok) {
    const int r = lame_encode_flush(g, out.data(), static_cast<int>(out.size()));
    if (r < 0) {
      *error = "lame_encode_flush failed (" + std::to_string(r) + ")";
      ok = false;
    } else if (r > 0) {
      ok = emit(out.data(), static_cast<size_t>(r));
    }
  }
  if (ok) {
    const size_t n = lame_get_lametag_frame(g, out.data(), out.size());
    if (n > 0) ok = tag(out.data(), n);
  }
  wipe(&pcm);
  wipe(&out);
  return ok;
}

// A WAV file read a block at a time: the descriptor, its size, and one block's buffer.
class WavFile {
 public:
  explicit WavFile(std::string path) : path_(std::move(path)) {}
  ~WavFile() {
    wipe(&block_);
    if (fd_ >= 0) ::close(fd_);
  }
  WavFile(const WavFile&) = delete;
  WavFile& operator=(const WavFile&) = delete;

  bool open(WavFormat* w, std::string* error) {
    fd_ = ::open(path_.c_str(), O_RDONLY | O_CLOEXEC);
    if (fd_ < 0) return fail("cannot open", error);
    struct stat st {};
    if (::fstat(fd_, &st) != 0) return fail("cannot stat", error);
    (void)::posix_fadvise(fd_, 0, 0, POSIX_FADV_SEQUENTIAL);
    const auto read = [&](uint64_t pos, size_t n, uint8_t* out) { return readAt(pos, n, out); };
    if (!parseWav(read, static_cast<uint64_t>(st.st_size), w, error)) {
      // A bad header is named by the caller, as for a WAV in memory; a failed read names the file.
      return errno_ != 0 ? fail("cannot read", error) : false;
    }
    next_ = w->dataOffset;
    block_.resize(kBlockFrames * frameBytesOf(*w));
    return true;
  }

  // The next `bytes` of the data chunk, or nullptr (read error, or the file shrank meanwhile).
  const uint8_t* next(size_t bytes, std::string* error) {
    if (readAt(next_, bytes, block_.data()) != bytes) {
      if (errno_ == 0) *error = "cannot read " + path_ + ": short file";
      else fail("cannot read", error);
      return nullptr;
    }
    next_ += bytes;
    return block_.data();
  }

 private:
  std::string path_;
  int fd_ = -1;
  int errno_ = 0;
  uint64_t next_ = 0;
  std::vector<uint8_t> block_;

  size_t readAt(uint64_t pos, size_t n, uint8_t* out) {
    size_t got = 0;
    while (got < n) {
      const ssize_t r = ::pread(fd_, out + got, n - got, static_cast<off_t>(pos + got));
      if (r < 0 && errno == EINTR) continue;
      if (r < 0) errno_ = errno;
      if (r <= 0) break;
      got += static_cast<size_t>(r);
    }
    return got;
  }

  bool fail(const char* what, std::string* error) {
    *error = std::string(what) + " " + path_ + ": " + std::strerror(errno_ != 0 ? errno_ : errno);
    return false;
  }
};

// Encodes `in` (memory or file), handing the MP3 to `emit` and the Info frame to `tag`; `begin`
// runs once the input is known good, before the first frame (it may reserve, or create the file).
template <typename Begin, typename Emit, typename Tag>
bool encodeInput(const WavInput& in, const Mp3Settings& s, Begin begin, Emit emit, Tag tag, std::string* error) {
  WavFormat w;
  if (in.path.empty()) {
    const uint64_t n = in.length;
    const auto read = [&](uint64_t pos, size_t len, uint8_t* out) -> size_t {
      if (pos >= n) return 0;
      const size_t k = static_cast<size_t>(std::min<uint64_t>(len, n - pos));
      std::memcpy(out, in.data + pos, k);
      return k;
    };
    if (!parseWav(read, n, &w, error) || !begin(w, error)) return false;
    const uint8_t* src = in.data + w.dataOffset;
    const size_t frameBytes = frameBytesOf(w);
    const auto next = [&](size_t frames) {
      const uint8_t* p = src;
      src += frames * frameBytes;
      return p;
    };
    return encodeFrames(w, s, next, emit, tag, error);
  }
  WavFile file(in.path);
  if (!file.open(&w, error) || !begin(w, error)) return false;
  const size_t frameBytes = frameBytesOf(w);
  const auto next = [&](size_t frames) { return file.next(frames * frameBytes, error); };
  return encodeFrames(w, s, next, emit, tag, error);
}

bool writeAll(int fd, const unsigned char* p, size_t n, uint64_t at, bool positioned) {
  while (n > 0) {
    const ssize_t r = positioned ? ::pwrite(fd, p, n, static_cast<off_t>(at)) : ::write(fd, p, n);
    if (r < 0 && errno == EINTR) continue;
    if (r < 0) return false;
    if (r == 0) {
      errno = EIO;
      return false;
    }
    p += r;
    n -= static_cast<size_t>(r);
    at += static_cast<uint64_t>(r);
  }
  return true;
}

}  // namespace

bool encodeWavToMp3(const WavInput& in, const Mp3Settings& s, std::vector<uint8_t>* mp3, std::string* error) {
  mp3->clear();
  const auto begin = [&](const WavFormat& w, std::string*) {
    // The MP3's size at a constant bit rate, so that the vector never grows (and copies) on the way.
    const uint64_t frames = w.dataBytes / frameBytesOf(w);
    mp3->reserve(static_cast<size_t>(frames * static_cast<uint64_t>(s.bitrateKbps) * 125 / w.sampleRate + 8192));
    return true;
  };
  const auto emit = [&](const unsigned char* p, size_t n) {
    mp3->insert(mp3->end(), p, p + n);
    return true;
  };
  const auto tag = [&](const unsigned char* p, size_t n) {
    if (n <= mp3->size()) std::memcpy(mp3->data(), p, n);
    return true;
  };
  if (!encodeInput(in, s, begin, emit, tag, error)) return false;
  if (mp3->empty()) {
    *error = "LAME produced no MP3 frames";
    return false;
  }
  return true;
}

bool encodeWavToMp3(const uint8_t* wav, size_t length, const Mp3Settings& s, std::vector<uint8_t>* mp3,
                    std::string* error) {
  WavInput in;
  in.data = wav;
  in.length = length;
  return encodeWavToMp3(in, s, mp3, error);
}

void (*mp3FailedFileHook)(const std::string& path) = nullptr;

bool encodeWavToMp3File(const WavInput& in, const Mp3Settings& s, const std::string& outPath, uint64_t* bytes,
                        std::string* error) {
  int fd = -1;
  uint64_t written = 0;
  const auto failed = [&](const char* what) {
    *error = std::string(what) + " " + outPath + ": " + std::strerror(errno);
    return false;
  };
  // The file is made only once the input is known good (a bad WAV leaves nothing behind).
  const auto begin = [&](const WavFormat&, std::string*) {
    fd = ::open(outPath.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
    return fd >= 0 || failed("cannot create");
  };
  const auto emit = [&](const unsigned char* p, size_t n) {
    if (!writeAll(fd, p, n, 0, false)) return failed("cannot write");
    written += n;
    return true;
  };
  const auto tag = [&](const unsigned char* p, size_t n) {
    return n > written || writeAll(fd, p, n, 0, true) || failed("cannot write");
  };
  bool ok = encodeInput(in, s, begin, emit, tag, error);
  if (ok && written == 0) {
    *error = "LAME produced no MP3 frames";
    ok = false;
  }
  if (ok && ::fdatasync(fd) != 0) ok = failed("cannot sync");
  if (fd < 0) return false;  // not created: nothing of ours to remove
  if (ok) {
    ok = ::close(fd) == 0 || failed("cannot close");
    fd = -1;
    if (ok) {
      *bytes = written;
      return true;
    }
  }
  // Failed: the plaintext written so far is overwritten with zeros before the name goes. All of
  // the file's bytes, not only the whole writes counted in `written`: a write that failed part-way
  // (ENOSPC, EFBIG) left up to a chunk beyond them.
  if (fd < 0) fd = ::open(outPath.c_str(), O_WRONLY | O_CLOEXEC);
  if (fd >= 0) {
    struct stat st {};
    const uint64_t size =
        ::fstat(fd, &st) == 0 ? std::max<uint64_t>(written, static_cast<uint64_t>(st.st_size)) : written;
    std::vector<unsigned char> zeros(std::min<uint64_t>(size, 1 << 16));
    for (uint64_t at = 0; at < size;) {
      const size_t n = static_cast<size_t>(std::min<uint64_t>(zeros.size(), size - at));
      if (!writeAll(fd, zeros.data(), n, at, true)) break;
      at += n;
    }
    (void)::fdatasync(fd);
    ::close(fd);
  }
  if (mp3FailedFileHook != nullptr) mp3FailedFileHook(outPath);
  ::unlink(outPath.c_str());
  return false;
}

}  // namespace srs
