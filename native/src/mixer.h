// The mixer: reads every "<legId>.spool" file of a spool directory and writes one G.711 u-law WAV,
// to a file or into memory. Only reads files, so it works on a closed session and on one whose
// process was killed.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

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

// Writes `wavPath` atomically (temporary file, fsync, rename). `channels` lists, per output channel,
// the legIds mixed into it (interleaved u-law, one byte per channel per frame): empty means one
// channel with every leg (the mono mix); {{"leg0"}, {"leg1"}} is a stereo file with one party per
// channel; {{"leg1"}} is leg1's own file. Every file of one spool directory has the same length
// (the end of the latest audio of any leg), so files of one recording line up.
//
// `cuts` lists timeline intervals [from, to) in samples (any order, may overlap or reach past the
// end) that are left out of the file: the audio after a cut follows the audio before it directly
// (the pause "cut" mode). Every file mixed with the same cuts still has the same length.
struct MixCut {
  uint64_t from;
  uint64_t to;
};
bool mixSpoolDir(const std::string& spoolDir, const std::string& wavPath, MixOutcome* out, MixFailure* failure,
                 const std::vector<std::vector<std::string>>& channels = {}, const std::vector<MixCut>& cuts = {});

// The same mix into memory: `*wav` receives exactly the bytes mixSpoolDir would write to the file
// (allocated once, at its final size), and nothing touches the disk except reading the spools. On
// failure `*wav` is empty; the failure codes are the same as mixSpoolDir's (plus "ENOMEM").
bool mixSpoolDirToMemory(const std::string& spoolDir, std::vector<uint8_t>* wav, MixOutcome* out,
                         MixFailure* failure, const std::vector<std::vector<std::string>>& channels = {},
                         const std::vector<MixCut>& cuts = {});

}  // namespace srs
