#include "spool.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>

namespace srs {

namespace {
const char kMagic[8] = {'S', 'R', 'S', 'P', 'O', 'O', 'L', '1'};

void putLe32(uint8_t* p, uint32_t v) {
  p[0] = static_cast<uint8_t>(v);
  p[1] = static_cast<uint8_t>(v >> 8);
  p[2] = static_cast<uint8_t>(v >> 16);
  p[3] = static_cast<uint8_t>(v >> 24);
}
void putLe16(uint8_t* p, uint16_t v) {
  p[0] = static_cast<uint8_t>(v);
  p[1] = static_cast<uint8_t>(v >> 8);
}
uint32_t getLe32(const uint8_t* p) {
  return static_cast<uint32_t>(p[0]) | (static_cast<uint32_t>(p[1]) << 8) |
         (static_cast<uint32_t>(p[2]) << 16) | (static_cast<uint32_t>(p[3]) << 24);
}
uint16_t getLe16(const uint8_t* p) { return static_cast<uint16_t>(p[0] | (p[1] << 8)); }

}  // namespace

int createSpoolFile(const std::string& path) {
  const int fd = ::open(path.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
  if (fd < 0) return errno;
  uint8_t header[kSpoolHeaderSize];
  std::memcpy(header, kMagic, 8);
  putLe32(header + 8, kSampleRate);
  putLe32(header + 12, 0);
  const int err = writeAll(fd, header, sizeof header);
  ::close(fd);
  return err;
}

namespace {
// mkdir -p: 0 when the directory exists at the end.
int makeDirs(const std::string& dir) {
  if (dir.empty()) return ENOENT;
  if (::mkdir(dir.c_str(), 0700) == 0 || errno == EEXIST) return 0;
  if (errno != ENOENT) return errno;
  const size_t slash = dir.find_last_of('/');
  if (slash == std::string::npos || slash == 0) return ENOENT;
  if (const int err = makeDirs(dir.substr(0, slash))) return err;
  if (::mkdir(dir.c_str(), 0700) == 0 || errno == EEXIST) return 0;
  return errno;
}

std::string parentOf(const std::string& path) {
  const size_t slash = path.find_last_of('/');
  return slash == std::string::npos ? std::string(".") : path.substr(0, slash);
}
}  // namespace

int createSpoolFileWith(const std::string& path, const uint8_t* data, size_t length, bool sync) {
  int fd = ::open(path.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_APPEND | O_CLOEXEC, 0600);
  if (fd < 0 && errno == ENOENT) {
    if (const int err = makeDirs(parentOf(path))) return err;
    fd = ::open(path.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_APPEND | O_CLOEXEC, 0600);
  }
  if (fd < 0) return errno;
  uint8_t header[kSpoolHeaderSize];
  std::memcpy(header, kMagic, 8);
  putLe32(header + 8, kSampleRate);
  putLe32(header + 12, 0);
  int err = writeAll(fd, header, sizeof header);
  if (err != 0) {
    // Not even the header fits (disk full): no file rather than a torn one.
    ::close(fd);
    ::unlink(path.c_str());
    return err;
  }
  if (length > 0) err = writeAll(fd, data, length);
  // A short write is cut back to the header: never a torn record a reader could misread.
  if (err != 0 && ::ftruncate(fd, static_cast<off_t>(kSpoolHeaderSize)) != 0) {
    // Left as it is: the reader drops a trailing partial record.
  }
  if (err == 0 && sync && ::fdatasync(fd) != 0) err = errno;
  ::close(fd);
  return err;
}

int replaceFile(const std::string& dir, const std::string& name, const std::string& text) {
  const std::string path = dir + "/" + name;
  const std::string tmp = path + ".tmp";
  int fd = ::open(tmp.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
  if (fd < 0 && errno == ENOENT) {
    if (const int err = makeDirs(dir)) return err;
    fd = ::open(tmp.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
  }
  if (fd < 0) return errno;
  const int err = writeAll(fd, reinterpret_cast<const uint8_t*>(text.data()), text.size());
  ::close(fd);
  if (err != 0) return err;
  if (::rename(tmp.c_str(), path.c_str()) != 0) return errno;
  return 0;
}

int replaceFileSynced(const std::string& dir, const std::string& name, const std::string& text) {
  const std::string path = dir + "/" + name;
  const std::string tmp = path + ".tmp";
  const int fd = ::open(tmp.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
  if (fd < 0) return errno;
  int err = writeAll(fd, reinterpret_cast<const uint8_t*>(text.data()), text.size());
  if (err == 0 && ::fdatasync(fd) != 0) err = errno;
  ::close(fd);
  if (err != 0) return err;
  if (::rename(tmp.c_str(), path.c_str()) != 0) return errno;
  return 0;
}

int appendToFile(const std::string& path, const uint8_t* data, size_t length, bool sync) {
  const int fd = ::open(path.c_str(), O_WRONLY | O_APPEND | O_CLOEXEC);
  if (fd < 0) return errno;
  // One writer per file (the engine's ordered batches), so the size before is where this batch starts.
  struct stat st {};
  const bool sized = ::fstat(fd, &st) == 0;
  int err = writeAll(fd, data, length);
  // A short write (disk full) is cut back: the file ends on a whole record, never a torn one.
  if (err != 0 && sized && ::ftruncate(fd, st.st_size) != 0) {
    // Left as it is: the reader drops a trailing partial record.
  }
  if (err == 0 && sync && ::fdatasync(fd) != 0) err = errno;
  ::close(fd);
  return err;
}

void SpoolBuffer::append(int64_t offset, const uint8_t* ulaw, size_t count) {
  if (offset < 0) {
    const size_t skip = static_cast<size_t>(-offset);
    if (skip >= count) return;
    ulaw += skip;
    count -= skip;
    offset = 0;
  }
  appendBytes(offset, ulaw, count);
}

void SpoolBuffer::appendBytes(int64_t offset, const uint8_t* p, size_t count) {
  // Offsets are u32 samples (about 149 hours at 8 kHz); anything beyond is dropped.
  while (count > 0 && offset <= static_cast<int64_t>(UINT32_MAX)) {
    if (lastHeader_ != SIZE_MAX && offset == lastEnd_) {
      uint8_t* header = bytes_.data() + lastHeader_;
      const size_t have = getLe16(header + 4);
      const size_t take = std::min(count, kMaxRecordSamples - have);
      if (take > 0) {
        putLe16(header + 4, static_cast<uint16_t>(have + take));
        bytes_.insert(bytes_.end(), p, p + take);
        p += take;
        count -= take;
        offset += static_cast<int64_t>(take);
        lastEnd_ = offset;
        maxEnd_ = std::max(maxEnd_, offset);
        continue;
      }
    }
    const size_t take = std::min(count, kMaxRecordSamples);
    lastHeader_ = bytes_.size();
    bytes_.resize(bytes_.size() + kSpoolRecordHeaderSize);
    putLe32(bytes_.data() + lastHeader_, static_cast<uint32_t>(offset));
    putLe16(bytes_.data() + lastHeader_ + 4, static_cast<uint16_t>(take));
    bytes_.insert(bytes_.end(), p, p + take);
    p += take;
    count -= take;
    offset += static_cast<int64_t>(take);
    lastEnd_ = offset;
    maxEnd_ = std::max(maxEnd_, offset);
  }
}

void SpoolBuffer::clear() {
  bytes_.clear();
  lastHeader_ = SIZE_MAX;
  lastEnd_ = -1;
  maxEnd_ = 0;
}

int readSpoolFile(const std::string& path, SpoolContents* out, std::string* error) {
  const int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) return errno;
  struct stat st {};
  if (::fstat(fd, &st) != 0) {
    const int err = errno;
    ::close(fd);
    return err;
  }
  out->data.resize(static_cast<size_t>(st.st_size));
  size_t got = 0;
  while (got < out->data.size()) {
    const ssize_t n = ::read(fd, out->data.data() + got, out->data.size() - got);
    if (n < 0) {
      if (errno == EINTR) continue;
      const int err = errno;
      ::close(fd);
      return err;
    }
    if (n == 0) break;  // the file shrank while reading: use what was there
    got += static_cast<size_t>(n);
  }
  ::close(fd);
  out->data.resize(got);

  const std::vector<uint8_t>& d = out->data;
  if (d.size() < kSpoolHeaderSize || std::memcmp(d.data(), kMagic, 8) != 0) {
    *error = path + ": not a spool file (bad or missing SRSPOOL1 header)";
    return -1;
  }
  if (getLe32(d.data() + 8) != kSampleRate) {
    *error = path + ": unsupported sample rate";
    return -1;
  }
  size_t pos = kSpoolHeaderSize;
  uint32_t order = 0;
  while (pos < d.size()) {
    if (pos + kSpoolRecordHeaderSize > d.size()) {
      out->truncated = true;
      break;
    }
    const uint32_t offset = getLe32(d.data() + pos);
    const uint16_t count = getLe16(d.data() + pos + 4);
    if (pos + kSpoolRecordHeaderSize + count > d.size()) {
      out->truncated = true;
      break;
    }
    if (count > 0) out->records.push_back({offset, count, pos + kSpoolRecordHeaderSize, order++});
    pos += kSpoolRecordHeaderSize + count;
  }
  return 0;
}

int writeAll(int fd, const uint8_t* data, size_t length) {
  while (length > 0) {
    const ssize_t n = ::write(fd, data, length);
    if (n < 0) {
      if (errno == EINTR) continue;
      return errno;
    }
    data += n;
    length -= static_cast<size_t>(n);
  }
  return 0;
}

}  // namespace srs
