// G.711 (ITU-T G.711) u-law and A-law conversions. The recorder stores everything as u-law, so A-law
// legs are converted (A-law -> linear -> u-law) at receive time through a 256-entry table.
#pragma once

#include <cstdint>

namespace srs {

int16_t ulawToLinear(uint8_t u);
uint8_t linearToUlaw(int16_t pcm);
int16_t alawToLinear(uint8_t a);
uint8_t linearToAlaw(int16_t pcm);

// Table lookups built once (thread-safe static initialisation).
int16_t ulawDecode(uint8_t u);
uint8_t alawToUlaw(uint8_t a);
// For loops over many samples (the mixer): decode[u] is ulawToLinear(u); encode[uint16_t(pcm)] is
// linearToUlaw(pcm).
const int16_t* ulawDecodeTable();
const uint8_t* ulawEncodeTable();

}  // namespace srs
