#include "mixer.h"

#include <dirent.h>
#include <fcntl.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <exception>
#include <string>
#include <vector>

#include "g711.h"
#include "spool.h"

namespace srs {

namespace {

constexpr size_t kBlockSamples = 16000;  // mix two seconds at a time: memory stays flat for long calls
constexpr uint16_t kWaveFormatMulaw = 7;

void le16(uint8_t* p, uint32_t v) {
  p[0] = static_cast<uint8_t>(v);
  p[1] = static_cast<uint8_t>(v >> 8);
}
void le32(uint8_t* p, uint32_t v) {
  le16(p, v & 0xFFFF);
  le16(p + 2, v >> 16);
}

// RIFF/WAVE with an 18-byte fmt chunk (cbSize 0), a fact chunk and the data chunk: 58 bytes.
constexpr size_t kWavHeaderSize = 58;
void wavHeader(uint8_t* h, uint32_t samples, uint16_t channels) {
  const uint32_t bytes = samples * channels;
  const uint32_t pad = bytes & 1;
  std::memcpy(h, "RIFF", 4);
  le32(h + 4, static_cast<uint32_t>(kWavHeaderSize - 8 + bytes + pad));
  std::memcpy(h + 8, "WAVE", 4);
  std::memcpy(h + 12, "fmt ", 4);
  le32(h + 16, 18);
  le16(h + 20, kWaveFormatMulaw);
  le16(h + 22, channels);
  le32(h + 24, kSampleRate);             // sample rate
  le32(h + 28, kSampleRate * channels);  // byte rate: 1 byte per sample per channel
  le16(h + 32, channels);                // block align
  le16(h + 34, 8);            // bits per sample
  le16(h + 36, 0);            // cbSize
  std::memcpy(h + 38, "fact", 4);
  le32(h + 42, 4);
  le32(h + 46, samples);  // sample frames
  std::memcpy(h + 50, "data", 4);
  le32(h + 54, bytes);
}

std::string errnoName(int err) {
  switch (err) {
    case ENOENT: return "ENOENT";
    case ENOTDIR: return "ENOTDIR";
    case EACCES: return "EACCES";
    case ENOSPC: return "ENOSPC";
    default: return "ERRNO_" + std::to_string(err);
  }
}

struct LegSpool {
  SpoolContents contents;
  size_t cursor = 0;  // first record that may still reach the current block
};

// Where the mixed bytes go. begin() is called once, after the inputs were checked, with the exact
// size of the WAV (header, samples, pad); then write() in order until every byte was written.
class MixSink {
 public:
  virtual ~MixSink() = default;
  virtual bool begin(size_t totalBytes, MixFailure* failure) = 0;
  virtual bool write(const uint8_t* data, size_t length, MixFailure* failure) = 0;
};

// A temporary file next to `wavPath`, fsynced and renamed over it by commit(). Dropped (closed and
// unlinked) when not committed.
class FileSink final : public MixSink {
 public:
  explicit FileSink(const std::string& wavPath)
      : wavPath_(wavPath), tmpPath_(wavPath + ".tmp" + std::to_string(::getpid())) {}
  ~FileSink() override {
    if (fd_ >= 0) {
      ::close(fd_);
      ::unlink(tmpPath_.c_str());
    }
  }
  FileSink(const FileSink&) = delete;
  FileSink& operator=(const FileSink&) = delete;

  bool begin(size_t, MixFailure* failure) override {
    fd_ = ::open(tmpPath_.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
    if (fd_ < 0) {
      const int err = errno;
      *failure = {errnoName(err), "cannot create " + tmpPath_ + ": " + std::strerror(err)};
      return false;
    }
    return true;
  }
  bool write(const uint8_t* data, size_t length, MixFailure* failure) override {
    if (const int err = writeAll(fd_, data, length)) return fail(err, failure);
    return true;
  }
  bool commit(MixFailure* failure) {
    if (::fsync(fd_) != 0) return fail(errno, failure);
    const int fd = fd_;
    fd_ = -1;
    if (::close(fd) != 0) {
      const int err = errno;
      ::unlink(tmpPath_.c_str());
      *failure = {errnoName(err), "cannot write " + wavPath_ + ": " + std::strerror(err)};
      return false;
    }
    if (::rename(tmpPath_.c_str(), wavPath_.c_str()) != 0) {
      const int err = errno;
      ::unlink(tmpPath_.c_str());
      *failure = {errnoName(err), "cannot rename " + tmpPath_ + " to " + wavPath_ + ": " + std::strerror(err)};
      return false;
    }
    return true;
  }

 private:
  bool fail(int err, MixFailure* failure) {
    ::close(fd_);
    fd_ = -1;
    ::unlink(tmpPath_.c_str());
    *failure = {errnoName(err), "cannot write " + wavPath_ + ": " + std::strerror(err)};
    return false;
  }

  std::string wavPath_;
  std::string tmpPath_;
  int fd_ = -1;
};

// A byte vector, sized once up front: the whole WAV in memory, never on disk.
class MemorySink final : public MixSink {
 public:
  explicit MemorySink(std::vector<uint8_t>* wav) : wav_(wav) {}
  bool begin(size_t totalBytes, MixFailure* failure) override {
    wav_->clear();
    try {
      wav_->reserve(totalBytes);
    } catch (const std::exception&) {  // std::bad_alloc, std::length_error
      *failure = {"ENOMEM", "cannot allocate " + std::to_string(totalBytes) + " bytes for the mix"};
      return false;
    }
    return true;
  }
  bool write(const uint8_t* data, size_t length, MixFailure*) override {
    wav_->insert(wav_->end(), data, data + length);  // within the reserved capacity: no reallocation
    return true;
  }

 private:
  std::vector<uint8_t>* wav_;
};

// The mix itself, shared by both variants: reads the spools, then writes the WAV through `sink`.
// Sets out->truncatedSpools while reading and *samples on success; out->samples and out->legs are
// left to the caller, set only once the output is complete.
bool mixInto(const std::string& spoolDir, MixSink* sink, MixOutcome* out, MixFailure* failure,
             const std::vector<std::vector<std::string>>& channels, const std::vector<MixCut>& cuts,
             uint32_t* samplesOut, uint32_t* legsOut) {
  std::vector<std::string> names;
  DIR* dir = ::opendir(spoolDir.c_str());
  if (dir == nullptr) {
    const int err = errno;
    *failure = {errnoName(err), "cannot read spool directory " + spoolDir + ": " + std::strerror(err)};
    return false;
  }
  while (dirent* entry = ::readdir(dir)) {
    const std::string name = entry->d_name;
    if (name.size() > 6 && name.compare(name.size() - 6, 6, ".spool") == 0) names.push_back(name);
  }
  ::closedir(dir);
  if (names.empty()) {
    *failure = {"ERR_NO_SPOOL", "no .spool files in " + spoolDir};
    return false;
  }
  std::sort(names.begin(), names.end());

  std::vector<LegSpool> legs(names.size());
  uint64_t total = 0;
  for (size_t i = 0; i < names.size(); ++i) {
    std::string error;
    const int err = readSpoolFile(spoolDir + "/" + names[i], &legs[i].contents, &error);
    if (err > 0) {
      *failure = {errnoName(err), "cannot read " + spoolDir + "/" + names[i] + ": " + std::strerror(err)};
      return false;
    }
    if (err < 0) {
      *failure = {"ERR_SPOOL_FORMAT", error};
      return false;
    }
    if (legs[i].contents.truncated) ++out->truncatedSpools;
    auto& recs = legs[i].contents.records;
    // By offset; for the same offset, file order, so a later record overwrites an earlier one.
    std::sort(recs.begin(), recs.end(), [](const SpoolRecord& a, const SpoolRecord& b) {
      return a.offset != b.offset ? a.offset < b.offset : a.order < b.order;
    });
    for (const SpoolRecord& r : recs) total = std::max<uint64_t>(total, uint64_t{r.offset} + r.count);
  }
  // Which legs feed which channel (by index into `names`).
  std::vector<std::vector<size_t>> chans;
  if (channels.empty()) {
    chans.emplace_back();
    for (size_t i = 0; i < names.size(); ++i) chans.back().push_back(i);
  } else {
    if (channels.size() > 8) {
      *failure = {"ERR_CHANNELS", "at most 8 channels"};
      return false;
    }
    for (const auto& ch : channels) {
      chans.emplace_back();
      for (const std::string& legId : ch) {
        const auto it = std::find(names.begin(), names.end(), legId + ".spool");
        if (it == names.end()) {
          *failure = {"ERR_NO_SPOOL", "no spool for leg '" + legId + "' in " + spoolDir};
          return false;
        }
        chans.back().push_back(static_cast<size_t>(it - names.begin()));
      }
    }
  }
  const uint16_t nch = static_cast<uint16_t>(chans.size());
  // The parts of [0, total) that are kept: the complement of the cuts, in timeline order.
  std::vector<MixCut> sorted;
  for (const MixCut& c : cuts)
    if (c.from < c.to && c.from < total) sorted.push_back({c.from, std::min(c.to, total)});
  std::sort(sorted.begin(), sorted.end(), [](const MixCut& a, const MixCut& b) { return a.from < b.from; });
  std::vector<MixCut> kept;
  uint64_t pos = 0;
  for (const MixCut& c : sorted) {
    if (c.from > pos) kept.push_back({pos, c.from});
    pos = std::max(pos, c.to);
  }
  if (pos < total) kept.push_back({pos, total});
  uint64_t outTotal = 0;
  for (const MixCut& k : kept) outTotal += k.to - k.from;
  if (outTotal * nch > UINT32_MAX - kWavHeaderSize - 1) {
    *failure = {"ERR_TOO_LONG", "the mix would not fit in a WAV file"};
    return false;
  }
  const uint32_t samples = static_cast<uint32_t>(outTotal);

  const size_t dataBytes = static_cast<size_t>(uint64_t{samples} * nch);
  if (!sink->begin(kWavHeaderSize + dataBytes + (dataBytes & 1), failure)) return false;
  uint8_t header[kWavHeaderSize];
  wavHeader(header, samples, nch);
  if (!sink->write(header, sizeof header, failure)) return false;

  // Per block: each leg's linear samples (or none), then each channel's saturated sum.
  std::vector<std::vector<int16_t>> linear(legs.size(), std::vector<int16_t>(kBlockSamples));
  std::vector<char> present(legs.size());
  std::vector<int32_t> sum(kBlockSamples);
  const int16_t* const decode = ulawDecodeTable();
  const uint8_t* const encode = ulawEncodeTable();
  std::vector<uint8_t> encoded(kBlockSamples * nch);
  for (const MixCut& part : kept) {
    for (uint64_t start = part.from; start < part.to; start += kBlockSamples) {
      const uint64_t end = std::min<uint64_t>(start + kBlockSamples, part.to);
      const size_t n = static_cast<size_t>(end - start);
      for (size_t li = 0; li < legs.size(); ++li) {
        LegSpool& ls = legs[li];
        std::vector<int16_t>& leg = linear[li];
        const auto& recs = ls.contents.records;
        // A record holds at most 65535 samples, so one starting that far back cannot reach this block.
        while (ls.cursor < recs.size() && uint64_t{recs[ls.cursor].offset} + kMaxRecordSamples < start) ++ls.cursor;
        bool any = false;
        for (size_t r = ls.cursor; r < recs.size() && recs[r].offset < end; ++r) {
          const SpoolRecord& rec = recs[r];
          const uint64_t from = std::max<uint64_t>(rec.offset, start);
          const uint64_t to = std::min<uint64_t>(uint64_t{rec.offset} + rec.count, end);
          if (from >= to) continue;
          if (!any) {
            std::fill(leg.begin(), leg.begin() + static_cast<std::ptrdiff_t>(n), 0);
            any = true;
          }
          const uint8_t* src = ls.contents.data.data() + rec.dataPos + (from - rec.offset);
          for (uint64_t s = from; s < to; ++s) leg[s - start] = decode[*src++];
        }
        present[li] = any;
      }
      for (size_t c = 0; c < nch; ++c) {
        std::fill(sum.begin(), sum.begin() + static_cast<std::ptrdiff_t>(n), 0);
        for (size_t li : chans[c]) {
          if (!present[li]) continue;
          const std::vector<int16_t>& leg = linear[li];
          for (size_t i = 0; i < n; ++i) sum[i] += leg[i];
        }
        for (size_t i = 0; i < n; ++i) {
          // Saturate: a sum beyond the int16 range is clipped, never wrapped.
          const int32_t v = std::clamp<int32_t>(sum[i], -32768, 32767);
          encoded[i * nch + c] = encode[static_cast<uint16_t>(static_cast<int16_t>(v))];
        }
      }
      if (!sink->write(encoded.data(), n * nch, failure)) return false;
    }
  }
  if (dataBytes & 1) {
    const uint8_t pad = 0;
    if (!sink->write(&pad, 1, failure)) return false;
  }
  *samplesOut = samples;
  *legsOut = static_cast<uint32_t>(legs.size());
  return true;
}

}  // namespace

bool mixSpoolDir(const std::string& spoolDir, const std::string& wavPath, MixOutcome* out, MixFailure* failure,
                 const std::vector<std::vector<std::string>>& channels, const std::vector<MixCut>& cuts) {
  FileSink sink(wavPath);
  uint32_t samples = 0;
  uint32_t legs = 0;
  if (!mixInto(spoolDir, &sink, out, failure, channels, cuts, &samples, &legs)) return false;
  if (!sink.commit(failure)) return false;
  out->samples = samples;
  out->legs = legs;
  return true;
}

bool mixSpoolDirToMemory(const std::string& spoolDir, std::vector<uint8_t>* wav, MixOutcome* out,
                         MixFailure* failure, const std::vector<std::vector<std::string>>& channels,
                         const std::vector<MixCut>& cuts) {
  MemorySink sink(wav);
  uint32_t samples = 0;
  uint32_t legs = 0;
  if (!mixInto(spoolDir, &sink, out, failure, channels, cuts, &samples, &legs)) {
    wav->clear();
    wav->shrink_to_fit();
    return false;
  }
  out->samples = samples;
  out->legs = legs;
  return true;
}

}  // namespace srs
