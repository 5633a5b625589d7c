#include "srtp.h"

#include <cstring>
#include <mutex>

#include <srtp2/crypto_types.h>
#include <srtp2/srtp.h>

namespace srs {

namespace {

void wipeBytes(void* p, size_t n) {
  volatile uint8_t* v = static_cast<volatile uint8_t*>(p);
  while (n-- > 0) *v++ = 0;
}

bool libraryReady() {
  static std::once_flag once;
  static bool ok = false;
  std::call_once(once, [] { ok = srtp_init() == srtp_err_status_ok; });
  return ok;
}

void setPolicy(srtp_crypto_policy_t* p, SrtpSuite suite, bool rtcp) {
  switch (suite) {
    case SrtpSuite::AesCm128Sha80: srtp_crypto_policy_set_aes_cm_128_hmac_sha1_80(p); break;
    // RFC 4568 section 6.2.2: the _32 suites still authenticate SRTCP with an 80-bit tag.
    case SrtpSuite::AesCm128Sha32:
      if (rtcp) srtp_crypto_policy_set_aes_cm_128_hmac_sha1_80(p);
      else srtp_crypto_policy_set_aes_cm_128_hmac_sha1_32(p);
      break;
    case SrtpSuite::AesCm256Sha80: srtp_crypto_policy_set_aes_cm_256_hmac_sha1_80(p); break;
    case SrtpSuite::AesCm256Sha32:
      if (rtcp) srtp_crypto_policy_set_aes_cm_256_hmac_sha1_80(p);
      else srtp_crypto_policy_set_aes_cm_256_hmac_sha1_32(p);
      break;
    case SrtpSuite::AeadAes128Gcm: srtp_crypto_policy_set_aes_gcm_128_16_auth(p); break;
    case SrtpSuite::AeadAes256Gcm: srtp_crypto_policy_set_aes_gcm_256_16_auth(p); break;
  }
}

}  // namespace

struct SrtpReceiver::Context {
  srtp_t session = nullptr;
  // _32 suites: SRTCP with a 32-bit tag as well (ffmpeg sends that; RFC 4568 and libsrtp use 80).
  srtp_t rtcp32 = nullptr;
  bool mki = false;
  ~Context() {
    if (session != nullptr) srtp_dealloc(session);
    if (rtcp32 != nullptr) srtp_dealloc(rtcp32);
  }
};

void SrtpConfig::wipe() {
  wipeBytes(keySalt.data(), keySalt.size());
  keySaltLength = 0;
}

bool parseSrtpSuite(const std::string& name, SrtpSuite* out) {
  static const struct {
    const char* name;
    SrtpSuite suite;
  } kSuites[] = {
      {"AES_CM_128_HMAC_SHA1_80", SrtpSuite::AesCm128Sha80}, {"AES_CM_128_HMAC_SHA1_32", SrtpSuite::AesCm128Sha32},
      {"AES_256_CM_HMAC_SHA1_80", SrtpSuite::AesCm256Sha80}, {"AES_256_CM_HMAC_SHA1_32", SrtpSuite::AesCm256Sha32},
      {"AEAD_AES_128_GCM", SrtpSuite::AeadAes128Gcm},        {"AEAD_AES_256_GCM", SrtpSuite::AeadAes256Gcm},
  };
  for (const auto& s : kSuites) {
    if (name == s.name) {
      *out = s.suite;
      return true;
    }
  }
  return false;
}

size_t srtpKeySaltLength(SrtpSuite suite) {
  switch (suite) {
    case SrtpSuite::AesCm128Sha80:
    case SrtpSuite::AesCm128Sha32: return 30;
    case SrtpSuite::AesCm256Sha80:
    case SrtpSuite::AesCm256Sha32: return 46;
    case SrtpSuite::AeadAes128Gcm: return 28;
    case SrtpSuite::AeadAes256Gcm: return 44;
  }
  return 0;
}

namespace {

// Makes a libsrtp session for `c` (inbound, any SSRC); with `ssrc` and a non-zero `roc`, a stream
// for that SSRC whose rollover counter is set (a rekey in the middle of a long call).
srtp_t makeSession(const SrtpConfig& c, bool haveSsrc, uint32_t ssrc, uint32_t roc, std::string* error,
                   bool rtcpTag32 = false) {
  if (!libraryReady()) {
    *error = "libsrtp could not be initialised";
    return nullptr;
  }
  if (c.keySaltLength != srtpKeySaltLength(c.suite)) {
    *error = "SRTP master key and salt have the wrong length for the suite";
    return nullptr;
  }
  uint8_t key[46];
  std::memcpy(key, c.keySalt.data(), c.keySaltLength);
  uint8_t mkiId[4];
  for (int i = 0; i < c.mkiLength && i < 4; ++i) {
    mkiId[i] = static_cast<uint8_t>(c.mki >> (8 * (c.mkiLength - 1 - i)));
  }
  srtp_master_key_t master{key, mkiId, c.mkiLength};
  srtp_master_key_t* masters[1] = {&master};
  srtp_policy_t policy;
  std::memset(&policy, 0, sizeof policy);
  setPolicy(&policy.rtp, c.suite, false);
  setPolicy(&policy.rtcp, c.suite, !rtcpTag32);
  if (c.unencryptedSrtp) policy.rtp.sec_serv = sec_serv_auth;
  if (c.unauthenticatedSrtp) {
    policy.rtp.sec_serv = c.unencryptedSrtp ? sec_serv_none : sec_serv_conf;
    policy.rtp.auth_type = SRTP_NULL_AUTH;
    policy.rtp.auth_key_len = 0;
    policy.rtp.auth_tag_len = 0;
  }
  if (c.unencryptedSrtcp) policy.rtcp.sec_serv = sec_serv_auth;
  policy.ssrc.type = ssrc_any_inbound;
  if (c.hasMki) {
    policy.keys = masters;
    policy.num_master_keys = 1;
  } else {
    policy.key = key;
  }
  policy.window_size = 1024;  // a reordered packet up to 1024 behind is still accepted
  policy.allow_repeat_tx = 0;
  srtp_t session = nullptr;
  srtp_err_status_t st = srtp_create(&session, &policy);
  if (st == srtp_err_status_ok && haveSsrc && roc != 0) {
    srtp_policy_t one = policy;
    one.ssrc.type = ssrc_specific;
    one.ssrc.value = ssrc;
    st = srtp_add_stream(session, &one);
    if (st == srtp_err_status_ok) st = srtp_set_stream_roc(session, ssrc, roc);
  }
  wipeBytes(key, sizeof key);
  wipeBytes(&master, sizeof master);
  if (st != srtp_err_status_ok) {
    if (session != nullptr) srtp_dealloc(session);
    *error = "libsrtp refused the SRTP parameters (error " + std::to_string(static_cast<int>(st)) + ")";
    return nullptr;
  }
  return session;
}

bool hasShortTag(SrtpSuite suite) { return suite == SrtpSuite::AesCm128Sha32 || suite == SrtpSuite::AesCm256Sha32; }

}  // namespace

std::unique_ptr<SrtpReceiver> SrtpReceiver::create(SrtpConfig& config, std::string* error) {
  srtp_t s = makeSession(config, false, 0, 0, error);
  srtp_t alt = s != nullptr && hasShortTag(config.suite) ? makeSession(config, false, 0, 0, error, true) : nullptr;
  const bool mki = config.hasMki;
  config.wipe();
  if (s == nullptr) return nullptr;
  std::unique_ptr<SrtpReceiver> r(new SrtpReceiver());
  r->session_ = new Context();
  r->session_->session = s;
  r->session_->rtcp32 = alt;
  r->session_->mki = mki;
  return r;
}

std::unique_ptr<SrtpReceiver> SrtpReceiver::plainAfter(std::unique_ptr<SrtpReceiver> previous) {
  std::unique_ptr<SrtpReceiver> r(new SrtpReceiver());
  if (previous) {
    r->previous_ = previous->session_;
    previous->session_ = nullptr;
  }
  return r;
}

SrtpReceiver::~SrtpReceiver() {
  delete session_;
  delete previous_;
  delete fresh_;
}

bool SrtpReceiver::rekey(SrtpConfig& config, uint32_t ssrc, std::string* error) {
  uint32_t roc = 0;
  bool haveRoc = false;
  Context* from = session_ != nullptr ? session_ : previous_;
  if (from != nullptr) haveRoc = srtp_get_stream_roc(from->session, ssrc, &roc) == srtp_err_status_ok;
  srtp_t s = makeSession(config, haveRoc, ssrc, roc, error);
  srtp_t fresh = nullptr;
  if (s != nullptr && haveRoc && roc != 0) fresh = makeSession(config, false, 0, 0, error);
  srtp_t alt = s != nullptr && hasShortTag(config.suite) ? makeSession(config, false, 0, 0, error, true) : nullptr;
  const bool mki = config.hasMki;
  config.wipe();
  if (s == nullptr) return false;
  Context* next = new Context();
  next->session = s;
  next->rtcp32 = alt;
  next->mki = mki;
  delete fresh_;
  fresh_ = nullptr;
  if (fresh != nullptr) {
    fresh_ = new Context();
    fresh_->session = fresh;
    fresh_->mki = mki;
  }
  if (session_ != nullptr) {
    delete previous_;
    previous_ = session_;
  }
  session_ = next;
  sincePrevious_ = 0;
  return true;
}

SrtpReceiver::Result SrtpReceiver::tryContexts(uint8_t* data, size_t* length, bool rtcp) {
  if (*length > 2048 || *length < 12) return Result::Malformed;
  // A failed AEAD check may leave the buffer changed: keep the original for the other key.
  uint8_t copy[2048];
  if (previous_ != nullptr || fresh_ != nullptr || rtcp) std::memcpy(copy, data, *length);
  const size_t original = *length;
  auto run = [&](Context* c, uint8_t* buf, int* len) {
    const unsigned mki = c->mki ? 1u : 0u;
    if (!rtcp) return srtp_unprotect_mki(c->session, buf, len, mki);
    srtp_err_status_t st = srtp_unprotect_rtcp_mki(c->session, buf, len, mki);
    if (st != srtp_err_status_ok && c->rtcp32 != nullptr) {
      std::memcpy(buf, copy, original);
      *len = static_cast<int>(original);
      const srtp_err_status_t st32 = srtp_unprotect_rtcp_mki(c->rtcp32, buf, len, mki);
      if (st32 == srtp_err_status_ok) st = st32;
    }
    return st;
  };
  srtp_err_status_t st = srtp_err_status_auth_fail;
  int len = static_cast<int>(*length);
  if (session_ != nullptr) {
    st = run(session_, data, &len);
    if (st != srtp_err_status_ok && fresh_ != nullptr && st != srtp_err_status_replay_fail &&
        st != srtp_err_status_replay_old) {
      std::memcpy(data, copy, *length);
      len = static_cast<int>(*length);
      if (run(fresh_, data, &len) == srtp_err_status_ok) {
        // The sender restarted its rollover counter with the new key.
        delete session_;
        session_ = fresh_;
        fresh_ = nullptr;
        st = srtp_err_status_ok;
      }
    }
    if (st == srtp_err_status_ok) {
      if (previous_ != nullptr && ++sincePrevious_ >= kRekeyOverlap) {
        delete previous_;
        previous_ = nullptr;
      }
      if (fresh_ != nullptr && !rtcp) {
        delete fresh_;  // the carried-over counter was right
        fresh_ = nullptr;
      }
      *length = static_cast<size_t>(len);
      return Result::Ok;
    }
  }
  if (previous_ != nullptr && st != srtp_err_status_replay_fail && st != srtp_err_status_replay_old) {
    std::memcpy(data, copy, *length);
    len = static_cast<int>(*length);
    const srtp_err_status_t old = run(previous_, data, &len);
    if (old == srtp_err_status_ok) {
      *length = static_cast<size_t>(len);
      return Result::Ok;
    }
    if (session_ == nullptr) {
      // SRTP was turned off: a packet the old key does not take is plain RTP.
      std::memcpy(data, copy, *length);
      if (++sincePrevious_ >= kRekeyOverlap) {
        delete previous_;
        previous_ = nullptr;
      }
      return Result::Ok;
    }
    if (old == srtp_err_status_replay_fail || old == srtp_err_status_replay_old) st = old;
  }
  if (session_ == nullptr && previous_ == nullptr) return Result::Ok;  // plain RTP
  if (st == srtp_err_status_replay_fail || st == srtp_err_status_replay_old) return Result::Replay;
  if (st == srtp_err_status_auth_fail || st == srtp_err_status_bad_mki || st == srtp_err_status_cipher_fail) {
    return Result::AuthFailure;
  }
  return Result::Malformed;
}

SrtpReceiver::Result SrtpReceiver::unprotectRtp(uint8_t* data, size_t* length) {
  return tryContexts(data, length, false);
}

SrtpReceiver::Result SrtpReceiver::unprotectRtcp(uint8_t* data, size_t* length) {
  if (*length < 8) return Result::Malformed;
  return tryContexts(data, length, true);
}

}  // namespace srs
