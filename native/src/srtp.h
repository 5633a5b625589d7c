// SRTP/SRTCP receive side of one leg (RFC 3711, RFC 6188 AES-256, RFC 7714 AES-GCM, RFC 4568 SDES
// session parameters and MKI) over libsrtp2. Packets are authenticated and decrypted in place, in
// the worker, before RTP parsing. The master key is copied into libsrtp's session and our copy is
// wiped at once; libsrtp wipes its own key material when the session is freed (leg close, rekey).
#pragma once

#include <array>
#include <cstddef>
#include <cstdint>
#include <memory>
#include <string>

namespace srs {

enum class SrtpSuite : uint8_t { AesCm128Sha80, AesCm128Sha32, AesCm256Sha80, AesCm256Sha32, AeadAes128Gcm, AeadAes256Gcm };

struct SrtpConfig {
  SrtpSuite suite = SrtpSuite::AesCm128Sha80;
  std::array<uint8_t, 46> keySalt{};  // master key || master salt
  size_t keySaltLength = 0;
  bool hasMki = false;
  uint32_t mki = 0;
  uint8_t mkiLength = 0;  // bytes in every packet (1..4)
  bool unencryptedSrtp = false;
  bool unencryptedSrtcp = false;
  bool unauthenticatedSrtp = false;
  // Overwrites the key bytes (not optimised away); also done on destruction.
  void wipe();
  SrtpConfig() = default;
  SrtpConfig(const SrtpConfig&) = delete;
  SrtpConfig& operator=(const SrtpConfig&) = delete;
  ~SrtpConfig() { wipe(); }
};

// Parses a suite name as in SDP ("AES_CM_128_HMAC_SHA1_80"); false for an unknown one.
bool parseSrtpSuite(const std::string& name, SrtpSuite* out);
// Master key + salt bytes the suite needs.
size_t srtpKeySaltLength(SrtpSuite suite);

class SrtpReceiver {
 public:
  enum class Result { Ok, AuthFailure, Replay, Malformed };

  // Wipes `config` whatever happens. nullptr (with `error` set, never naming key bytes) on failure.
  static std::unique_ptr<SrtpReceiver> create(SrtpConfig& config, std::string* error);
  // A receiver that has no key of its own (SRTP turned off by a re-INVITE) but still takes the
  // packets of the previous key that are in flight.
  static std::unique_ptr<SrtpReceiver> plainAfter(std::unique_ptr<SrtpReceiver> previous);
  ~SrtpReceiver();
  SrtpReceiver(const SrtpReceiver&) = delete;
  SrtpReceiver& operator=(const SrtpReceiver&) = delete;

  // A new key from now on (re-INVITE); packets of the old key still in flight are taken by the old
  // context until the new one has authenticated kRekeyOverlap packets. The stream's rollover
  // counter carries over. False (the old key stays) when the new context cannot be made.
  static constexpr int kRekeyOverlap = 50;
  bool rekey(SrtpConfig& config, uint32_t ssrc, std::string* error);

  // In place; `length` becomes the plain packet's length.
  Result unprotectRtp(uint8_t* data, size_t* length);
  Result unprotectRtcp(uint8_t* data, size_t* length);
  bool plain() const { return session_ == nullptr; }

 private:
  struct Context;
  SrtpReceiver() = default;
  Result tryContexts(uint8_t* data, size_t* length, bool rtcp);

  Context* session_ = nullptr;   // current key (nullptr: plain RTP from now on)
  Context* previous_ = nullptr;  // previous key during a rekey's overlap
  // The new key with the rollover counter restarted at 0, beside session_ (which carries it over):
  // senders differ on whether a new SDES key starts a new ROC; the first to authenticate wins.
  Context* fresh_ = nullptr;
  int sincePrevious_ = 0;
};

}  // namespace srs
