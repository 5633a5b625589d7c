// Spool file format (one file per leg, "<spoolDir>/<legId>.spool"), all integers little-endian:
//
//   header  : 8 bytes magic "SRSPOOL1", u32 sample rate (8000), u32 flags (0)
//   record* : u32 sample offset from the session's t0, u16 sample count (1..65535),
//             then `count` G.711 u-law bytes
//
// Records are appended as audio arrives and need not be in offset order. Where records of one leg
// overlap, the mixer applies them sorted by offset (then file order), so the later-starting one wins.
// A trailing partial record (a process killed mid-write) is ignored. Gaps between records are silence.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>
#include <vector>

namespace srs {

constexpr size_t kSpoolHeaderSize = 16;
constexpr size_t kSpoolRecordHeaderSize = 6;
constexpr uint32_t kSampleRate = 8000;
constexpr size_t kMaxRecordSamples = 65535;
// Written in a session's spool directory while its audio waits in the spool writer's queue (see
// engine.h): up to where each leg's audio was handed to the writer, for recovery after a crash.
constexpr const char* kPendingMarkerName = "spool-pending.json";

// Creates the spool file with its header. Fails (returns errno) if it already exists.
int createSpoolFile(const std::string& path);

// Creates the spool file with its header followed by `length` bytes of records, making its directory
// (and missing parents) first when it does not exist. Fails (returns errno) if the file exists.
// With `sync`, the data is fdatasync'ed before the file is closed.
int createSpoolFileWith(const std::string& path, const uint8_t* data, size_t length, bool sync = false);

// Replaces `<dir>/<name>` atomically (write `<name>.tmp`, rename), making `dir` when missing.
int replaceFile(const std::string& dir, const std::string& name, const std::string& text);

// Replaces `<dir>/<name>` atomically and durably (write `<name>.tmp`, fdatasync, rename); never makes
// `dir` (ENOENT when it is gone).
int replaceFileSynced(const std::string& dir, const std::string& name, const std::string& text);

// Appends bytes with open-append-close, so no descriptor is held between batches. Returns 0 or errno.
// With `sync`, the file is fdatasync'ed before it is closed (a leg's last batch).
int appendToFile(const std::string& path, const uint8_t* data, size_t length, bool sync = false);

// Writes all `length` bytes to `fd` (short writes continued, EINTR retried). Returns 0 or errno.
int writeAll(int fd, const uint8_t* data, size_t length);

// Pending, not yet written records of one leg; consecutive audio is merged into one record.
class SpoolBuffer {
 public:
  // Appends u-law samples placed at `offset` samples (negative offsets are clipped at 0).
  void append(int64_t offset, const uint8_t* ulaw, size_t count);
  // Appends `count` samples produced by `convert(i)`; used to convert A-law in place.
  template <typename F>
  void appendConverted(int64_t offset, size_t count, F convert) {
    if (offset < 0) {
      const size_t skip = static_cast<size_t>(-offset);
      if (skip >= count) return;
      for (size_t i = skip; i < count; ++i) scratch_.push_back(convert(i));
      appendBytes(0, scratch_.data(), scratch_.size());
      scratch_.clear();
      return;
    }
    for (size_t i = 0; i < count; ++i) scratch_.push_back(convert(i));
    appendBytes(offset, scratch_.data(), scratch_.size());
    scratch_.clear();
  }
  const std::vector<uint8_t>& bytes() const { return bytes_; }
  // The sample offset just after the latest-ending record pending (0 when none).
  int64_t maxEnd() const { return maxEnd_; }
  bool empty() const { return bytes_.empty(); }
  void clear();

 private:
  void appendBytes(int64_t offset, const uint8_t* p, size_t count);
  std::vector<uint8_t> bytes_;
  std::vector<uint8_t> scratch_;
  size_t lastHeader_ = SIZE_MAX;  // index of the last record header in bytes_, if any
  int64_t lastEnd_ = -1;          // sample offset just after the last record
  int64_t maxEnd_ = 0;            // sample offset just after the latest-ending record
};

struct SpoolRecord {
  uint32_t offset;
  uint16_t count;
  size_t dataPos;  // position of the u-law bytes in the file contents
  uint32_t order;  // index in file order
};

struct SpoolContents {
  std::vector<uint8_t> data;
  std::vector<SpoolRecord> records;
  bool truncated = false;  // a trailing partial record was ignored
};

// Reads a whole spool file. Returns 0, an errno, or -1 with `error` set for a format error.
int readSpoolFile(const std::string& path, SpoolContents* out, std::string* error);

}  // namespace srs
