// The mixer: reads every "<legId>.spool" file of a spool directory and writes one mono G.711 u-law
// WAV. Only reads files, so it works on a closed session and on one whose process was killed.
#pragma once

#include <cstdint>
#include <string>

namespace srs {

struct MixOutcome {
  uint64_t samples = 0;
  uint32_t legs = 0;
  uint32_t truncatedSpools = 0;  // spools that ended in a partial record (interrupted writes)
};

struct MixFailure {
  std::string code;  // "ENOENT", "ERR_SPOOL_FORMAT", "ERR_NO_SPOOL", ...
  std::string message;
};

// Writes `wavPath` atomically (temporary file, fsync, rename).
bool mixSpoolDir(const std::string& spoolDir, const std::string& wavPath, MixOutcome* out, MixFailure* failure);

}  // namespace srs
