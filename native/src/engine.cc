#include "engine.h"

#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <stdexcept>

namespace srs {

namespace {

using Clock = std::chrono::steady_clock;

std::string errnoCode(int err) {
  switch (err) {
    case EADDRINUSE: return "EADDRINUSE";
    case EADDRNOTAVAIL: return "EADDRNOTAVAIL";
    case EACCES: return "EACCES";
    case EPERM: return "EPERM";
    case EEXIST: return "EEXIST";
    case ENOENT: return "ENOENT";
    case ENOTDIR: return "ENOTDIR";
    case EMFILE: return "EMFILE";
    case ENFILE: return "ENFILE";
    case ENOSPC: return "ENOSPC";
    case EINVAL: return "EINVAL";
    default: return "ERRNO_" + std::to_string(err);
  }
}

bool validLegId(const std::string& id) {
  if (id.empty() || id == "." || id == ".." || id.size() > 200) return false;
  for (char c : id) {
    if (c == '/' || c == '\0') return false;
  }
  return true;
}

struct BindAddress {
  sockaddr_storage storage{};
  socklen_t length = 0;
  int family = AF_INET;
};

bool parseBindAddress(const std::string& text, BindAddress* out) {
  auto* v4 = reinterpret_cast<sockaddr_in*>(&out->storage);
  if (inet_pton(AF_INET, text.c_str(), &v4->sin_addr) == 1) {
    v4->sin_family = AF_INET;
    out->family = AF_INET;
    out->length = sizeof(sockaddr_in);
    return true;
  }
  auto* v6 = reinterpret_cast<sockaddr_in6*>(&out->storage);
  if (inet_pton(AF_INET6, text.c_str(), &v6->sin6_addr) == 1) {
    v6->sin6_family = AF_INET6;
    out->family = AF_INET6;
    out->length = sizeof(sockaddr_in6);
    return true;
  }
  return false;
}

void setPort(BindAddress* a, uint16_t port) {
  if (a->family == AF_INET) {
    reinterpret_cast<sockaddr_in*>(&a->storage)->sin_port = htons(port);
  } else {
    reinterpret_cast<sockaddr_in6*>(&a->storage)->sin6_port = htons(port);
  }
}

}  // namespace

Engine::Engine(std::string bindAddress, EventSink sink, LiveSink live)
    : bindAddress_(std::move(bindAddress)), sink_(std::move(sink)), liveSink_(std::move(live)) {
  BindAddress probe;
  if (!parseBindAddress(bindAddress_, &probe)) {
    throw std::invalid_argument("bind address is not an IPv4 or IPv6 address: " + bindAddress_);
  }
  epollFd_ = ::epoll_create1(EPOLL_CLOEXEC);
  if (epollFd_ < 0) throw std::runtime_error(std::string("epoll_create1: ") + std::strerror(errno));
  wakeFd_ = ::eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
  if (wakeFd_ < 0) {
    const int err = errno;
    ::close(epollFd_);
    throw std::runtime_error(std::string("eventfd: ") + std::strerror(err));
  }
  epoll_event ev{};
  ev.events = EPOLLIN;
  ev.data.u64 = 0;  // key 0 is the wake-up descriptor
  ::epoll_ctl(epollFd_, EPOLL_CTL_ADD, wakeFd_, &ev);
  recvBuffers_.resize(static_cast<size_t>(kRecvBatch) * kMaxDatagram);
  recvMsgs_.resize(kRecvBatch);
  recvCtrl_.resize(kRecvBatch * kCtrlSize);
  recvIovs_.resize(kRecvBatch);
  recvNames_.resize(kRecvBatch);
  for (size_t i = 0; i < kRecvBatch; ++i) {
    recvIovs_[i].iov_base = recvBuffers_.data() + i * kMaxDatagram;
    recvIovs_[i].iov_len = kMaxDatagram;
    std::memset(&recvMsgs_[i], 0, sizeof recvMsgs_[i]);
    recvMsgs_[i].msg_hdr.msg_iov = &recvIovs_[i];
    recvMsgs_[i].msg_hdr.msg_iovlen = 1;
    recvMsgs_[i].msg_hdr.msg_control = recvCtrl_.data() + i * kCtrlSize;
    recvMsgs_[i].msg_hdr.msg_controllen = kCtrlSize;
    recvMsgs_[i].msg_hdr.msg_name = &recvNames_[i];
    recvMsgs_[i].msg_hdr.msg_namelen = sizeof(sockaddr_storage);
  }
  running_ = true;
  writer_ = std::thread([this] { writerRun(); });
  worker_ = std::thread([this] { run(); });
}

Engine::~Engine() { close(); }

int64_t Engine::samplesSince(const Session& s, Clock::time_point now) const {
  const auto ns = std::chrono::duration_cast<std::chrono::nanoseconds>(now - s.t0).count();
  return ns * static_cast<int64_t>(kSampleRate) / 1000000000LL;
}

bool Engine::openSession(const SessionConfig& config, int64_t* openedAtMs, EngineError* error) {
  const Clock::time_point t0 = Clock::now();
  const int64_t epochMs = std::chrono::duration_cast<std::chrono::milliseconds>(
                              std::chrono::system_clock::now().time_since_epoch())
                              .count();
  if (config.recordingId.empty()) {
    *error = {"EINVAL", "recordingId must not be empty", 0};
    return false;
  }
  for (size_t i = 0; i < config.legs.size(); ++i) {
    if (!validLegId(config.legs[i].legId)) {
      *error = {"EINVAL", "legId is not usable as a file name: '" + config.legs[i].legId + "'", 0};
      return false;
    }
    for (size_t j = 0; j < i; ++j) {
      if (config.legs[j].legId == config.legs[i].legId) {
        *error = {"EINVAL", "duplicate legId '" + config.legs[i].legId + "'", 0};
        return false;
      }
    }
  }

  std::lock_guard<std::mutex> lock(mu_);
  if (closed_) {
    *error = {"ERR_CLOSED", "the media engine is closed", 0};
    return false;
  }
  if (sessions_.count(config.recordingId) != 0) {
    *error = {"ERR_SESSION_EXISTS", "a session is already open for recording " + config.recordingId, 0};
    return false;
  }

  auto session = std::make_unique<Session>();
  session->recordingId = config.recordingId;
  session->t0 = t0;
  session->openedAtMs = epochMs;

  session->spoolDir = config.spoolDir;
  session->rtcp = config.rtcp;
  if (!addLegsLocked(*session, config.legs, error)) return false;
  *openedAtMs = epochMs;
  sessions_[config.recordingId] = std::move(session);
  return true;
}

bool Engine::addLegsLocked(Session& session, const std::vector<LegConfig>& legs, EngineError* error) {
  const size_t first = session.legs.size();
  // Undoes everything done for the new legs (the session's existing legs are untouched).
  auto fail = [&](const EngineError& e) {
    for (size_t i = first; i < session.legs.size(); ++i) {
      Leg& leg = *session.legs[i];
      if (leg.key != 0) {
        ::epoll_ctl(epollFd_, EPOLL_CTL_DEL, leg.fd, nullptr);
        if (leg.rtcpFd >= 0) ::epoll_ctl(epollFd_, EPOLL_CTL_DEL, leg.rtcpFd, nullptr);
        legsByKey_.erase(leg.key);
      }
      if (leg.fd >= 0) ::close(leg.fd);
      if (leg.rtcpFd >= 0) ::close(leg.rtcpFd);
    }
    session.legs.resize(first);
    *error = e;
    return false;
  };

  BindAddress addr;
  parseBindAddress(bindAddress_, &addr);
  for (const LegConfig& lc : legs) {
    auto leg = std::make_unique<Leg>(lc.payloadKinds);
    if (lc.srtp) {
      std::string why;
      std::unique_ptr<SrtpReceiver> srtp = SrtpReceiver::create(*lc.srtp, &why);  // wipes the key
      if (!srtp) {
        session.legs.push_back(std::move(leg));
        return fail({"ERR_SRTP", "leg '" + lc.legId + "': " + why, 0});
      }
      leg->receiver.setSrtp(std::move(srtp));
    }
    leg->session = &session;
    leg->legId = lc.legId;
    leg->spoolPath = std::make_shared<const std::string>(session.spoolDir + "/" + lc.legId + ".spool");
    leg->latch = SourceLatch(SourceAddress::parse(lc.remoteHost, lc.remotePort),
                             lc.relatchMs * static_cast<int64_t>(kSampleRate) / 1000);
    leg->fd = ::socket(addr.family, SOCK_DGRAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    if (leg->fd < 0) {
      const int err = errno;
      session.legs.push_back(std::move(leg));
      return fail({errnoCode(err), std::string("socket: ") + std::strerror(err), lc.port});
    }
    const int rcvbuf = kSocketReceiveBuffer;
    ::setsockopt(leg->fd, SOL_SOCKET, SO_RCVBUF, &rcvbuf, sizeof rcvbuf);
    const int on = 1;
    ::setsockopt(leg->fd, SOL_SOCKET, SO_TIMESTAMPNS, &on, sizeof on);
    setPort(&addr, lc.port);
    if (::bind(leg->fd, reinterpret_cast<const sockaddr*>(&addr.storage), addr.length) != 0) {
      const int err = errno;
      session.legs.push_back(std::move(leg));
      return fail({errnoCode(err),
                   "cannot bind UDP " + bindAddress_ + ":" + std::to_string(lc.port) + ": " + std::strerror(err),
                   lc.port});
    }
    if (session.rtcp) {
      leg->rtcpFd = ::socket(addr.family, SOCK_DGRAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
      if (leg->rtcpFd < 0) {
        const int err = errno;
        session.legs.push_back(std::move(leg));
        return fail({errnoCode(err), std::string("socket: ") + std::strerror(err), lc.port + 1});
      }
      setPort(&addr, static_cast<uint16_t>(lc.port + 1));
      if (::bind(leg->rtcpFd, reinterpret_cast<const sockaddr*>(&addr.storage), addr.length) != 0) {
        const int err = errno;
        session.legs.push_back(std::move(leg));
        return fail({errnoCode(err),
                     "cannot bind UDP " + bindAddress_ + ":" + std::to_string(lc.port + 1) + " (RTCP): " +
                         std::strerror(err),
                     lc.port + 1});
      }
    }
    session.legs.push_back(std::move(leg));
  }
  for (size_t i = first; i < session.legs.size(); ++i) {
    Leg& leg = *session.legs[i];
    leg.key = nextKey_++;
    epoll_event ev{};
    ev.events = EPOLLIN;
    ev.data.u64 = leg.key;
    int rc = ::epoll_ctl(epollFd_, EPOLL_CTL_ADD, leg.fd, &ev);
    if (rc == 0 && leg.rtcpFd >= 0) {
      epoll_event rev{};
      rev.events = EPOLLIN;
      rev.data.u64 = leg.key | kRtcpKeyBit;
      rc = ::epoll_ctl(epollFd_, EPOLL_CTL_ADD, leg.rtcpFd, &rev);
      if (rc != 0) ::epoll_ctl(epollFd_, EPOLL_CTL_DEL, leg.fd, nullptr);
    }
    if (rc != 0) {
      const int err = errno;
      leg.key = 0;  // not registered
      return fail({errnoCode(err), std::string("epoll_ctl: ") + std::strerror(err), 0});
    }
    legsByKey_[leg.key] = &leg;
  }
  // The files are the worker's: created in its next pass (no wake-up, which would break its receive
  // coalescing; a pass comes at least every tick), so the caller's thread does no file work.
  for (size_t i = first; i < session.legs.size(); ++i) uncreated_.push_back(session.legs[i]->key);
  return true;
}

bool Engine::addLegs(const std::string& recordingId, const std::vector<LegConfig>& legs, EngineError* error) {
  for (size_t i = 0; i < legs.size(); ++i) {
    if (!validLegId(legs[i].legId)) {
      *error = {"EINVAL", "legId is not usable as a file name: '" + legs[i].legId + "'", 0};
      return false;
    }
    for (size_t j = 0; j < i; ++j) {
      if (legs[j].legId == legs[i].legId) {
        *error = {"EINVAL", "duplicate legId '" + legs[i].legId + "'", 0};
        return false;
      }
    }
  }
  std::lock_guard<std::mutex> lock(mu_);
  auto it = sessions_.find(recordingId);
  if (it == sessions_.end()) {
    *error = {"ERR_NO_SESSION", "no open session for recording " + recordingId, 0};
    return false;
  }
  for (const LegConfig& lc : legs) {
    for (const auto& leg : it->second->legs) {
      if (leg->legId == lc.legId) {
        *error = {"EINVAL", "leg '" + lc.legId + "' already exists in recording " + recordingId, 0};
        return false;
      }
    }
  }
  return addLegsLocked(*it->second, legs, error);
}

bool Engine::removeLegs(const std::string& recordingId, const std::vector<std::string>& legIds) {
  StagedWrites staged;
  {
    std::lock_guard<std::mutex> lock(mu_);
    auto it = sessions_.find(recordingId);
    if (it == sessions_.end()) return false;
    std::vector<LegEvent> legEvents;
    for (auto& leg : it->second->legs) {
      if (leg->fd < 0 || std::find(legIds.begin(), legIds.end(), leg->legId) == legIds.end()) continue;
      // Its socket closes now; its spool stays part of the recording and its stats stay reported.
      closeLegLocked(*leg, staged, legEvents);
    }
  }
  if (!staged.empty()) enqueueWrite(std::move(staged), false);  // in order, off this thread
  return true;
}

void Engine::receive(Leg& leg, int64_t maxRounds, StagedWrites& out) {
  // The headers are set up once (constructor): recvmmsg only writes msg_len and msg_flags back.
  mmsghdr* msgs = recvMsgs_.data();
  iovec* iovs = recvIovs_.data();
  std::vector<LegEvent> legEvents;
  for (int64_t round = 0; round < maxRounds; ++round) {
    for (int i = 0; i < kRecvBatch; ++i) {
      msgs[i].msg_hdr.msg_controllen = kCtrlSize;  // the kernel shrinks it
      msgs[i].msg_hdr.msg_namelen = sizeof(sockaddr_storage);
    }
    const int n = ::recvmmsg(leg.fd, msgs, kRecvBatch, MSG_DONTWAIT, nullptr);
    if (n <= 0) break;
    const Clock::time_point now = Clock::now();
    timespec real{};
    ::clock_gettime(CLOCK_REALTIME, &real);
    const int64_t realNow = int64_t{real.tv_sec} * 1000000000LL + real.tv_nsec;
    for (int i = 0; i < n; ++i) {
      // Arrival is when the kernel received the datagram (SO_TIMESTAMPNS), not when this thread
      // got to it: on a loaded machine the worker may run tens of ms late, the timeline must not.
      Clock::time_point at = now;
      for (cmsghdr* c = CMSG_FIRSTHDR(&msgs[i].msg_hdr); c != nullptr; c = CMSG_NXTHDR(&msgs[i].msg_hdr, c)) {
        if (c->cmsg_level == SOL_SOCKET && c->cmsg_type == SCM_TIMESTAMPNS) {
          timespec ts;
          std::memcpy(&ts, CMSG_DATA(c), sizeof ts);
          const int64_t age = realNow - (int64_t{ts.tv_sec} * 1000000000LL + ts.tv_nsec);
          // A clock step could make it absurd: trust only a plausible age.
          if (age > 0 && age < 5000000000LL) at = now - std::chrono::nanoseconds(age);
        }
      }
      const int64_t arrival = samplesSince(*leg.session, at);
      // Only the latched SRC feeds the leg: anyone else's datagrams are dropped and counted.
      const uint8_t* d = static_cast<const uint8_t*>(iovs[i].iov_base);
      const bool hasSsrc = msgs[i].msg_len >= 12 && !(msgs[i].msg_hdr.msg_flags & MSG_TRUNC);
      const uint32_t ssrc = hasSsrc ? (uint32_t{d[8]} << 24 | uint32_t{d[9]} << 16 | uint32_t{d[10]} << 8 | d[11]) : 0;
      if (!leg.latch.acceptRtp(SourceAddress::from(recvNames_[i], msgs[i].msg_hdr.msg_namelen), hasSsrc, ssrc,
                               arrival)) {
        ++leg.rejected;
        continue;
      }
      if (msgs[i].msg_hdr.msg_flags & MSG_TRUNC) {
        leg.receiver.onDatagram(nullptr, 0, arrival, legEvents);  // counted as ignored
        continue;
      }
      leg.receiver.onDatagram(static_cast<uint8_t*>(iovs[i].iov_base), msgs[i].msg_len, arrival, legEvents);
    }
    if (n < kRecvBatch) break;
  }
  collect(leg, legEvents);
  if (leg.receiver.spool().bytes().size() >= kFlushBytes) stageLeg(leg, out);
}

void Engine::drainRtcp(Leg& leg) {
  // RTCP is only counted (SRTCP authenticated first): the recording needs none of it, but an
  // undrained socket would fill up.
  for (int round = 0; round < 4; ++round) {
    for (auto& m : recvMsgs_) {
      m.msg_hdr.msg_controllen = kCtrlSize;
      m.msg_hdr.msg_namelen = sizeof(sockaddr_storage);
    }
    const int n = ::recvmmsg(leg.rtcpFd, recvMsgs_.data(), kRecvBatch, MSG_DONTWAIT, nullptr);
    if (n <= 0) break;
    for (int i = 0; i < n; ++i) {
      if (!leg.latch.acceptRtcp(SourceAddress::from(recvNames_[i], recvMsgs_[i].msg_hdr.msg_namelen))) {
        ++leg.rejected;
      } else if (leg.receiver.srtp() == nullptr) {
        leg.receiver.countRtcp(1);
      } else if ((recvMsgs_[i].msg_hdr.msg_flags & MSG_TRUNC) == 0) {
        leg.receiver.onRtcp(static_cast<uint8_t*>(recvIovs_[i].iov_base), recvMsgs_[i].msg_len);
      }
    }
    if (n < kRecvBatch) break;
  }
}

bool Engine::rekey(const std::string& recordingId, const std::string& legId, SrtpConfig* config,
                   EngineError* error) {
  std::lock_guard<std::mutex> lock(mu_);
  auto it = sessions_.find(recordingId);
  if (it == sessions_.end()) {
    if (config != nullptr) config->wipe();
    *error = {"ERR_NO_SESSION", "no open session for recording " + recordingId, 0};
    return false;
  }
  for (auto& leg : it->second->legs) {
    if (leg->legId != legId || leg->fd < 0) continue;
    // What is already queued in the socket was sent before the new key: it goes through first.
    StagedWrites staged;
    if (config != nullptr || leg->receiver.srtp() != nullptr) receive(*leg, 64, staged);
    if (!staged.empty()) enqueueWrite(std::move(staged), false);  // in order, off this thread
    std::string why;
    if (!leg->receiver.rekey(config, &why)) {
      *error = {"ERR_SRTP", "leg '" + legId + "': " + why, 0};
      return false;
    }
    return true;
  }
  if (config != nullptr) config->wipe();
  *error = {"ERR_NO_LEG", "no open leg '" + legId + "' in recording " + recordingId, 0};
  return false;
}

void Engine::collect(Leg& leg, std::vector<LegEvent>& legEvents) {
  for (const LegEvent& e : legEvents) {
    if (pendingEvents_.size() >= kMaxPendingEvents) {
      eventsDropped_.fetch_add(1, std::memory_order_relaxed);
      continue;
    }
    MediaEventData m{};
    switch (e.type) {
      case LegEvent::Type::FirstPacket: m.type = MediaEventData::Type::FirstPacket; break;
      case LegEvent::Type::SsrcChange: m.type = MediaEventData::Type::SsrcChange; break;
      case LegEvent::Type::Dtmf: m.type = MediaEventData::Type::Dtmf; break;
      case LegEvent::Type::Pause: m.type = MediaEventData::Type::Pause; break;
      case LegEvent::Type::Resume: m.type = MediaEventData::Type::Resume; break;
    }
    m.recordingId = leg.session->recordingId;
    m.legId = leg.legId;
    m.atMs = static_cast<double>(e.atSamples) * 1000.0 / kSampleRate;
    m.ssrc = e.ssrc;
    m.digit = e.digit;
    m.durationMs = static_cast<double>(e.durationSamples) * 1000.0 / kSampleRate;
    pendingEvents_.push_back(std::move(m));
  }
  legEvents.clear();
}

void Engine::stageLeg(Leg& leg, StagedWrites& out) {
  SpoolBuffer& spool = leg.receiver.spool();
  if (spool.empty() && leg.created) return;
  const bool create = !leg.created;
  leg.created = true;  // whatever becomes of the write: a failure is counted, never retried as a create
  const std::vector<uint8_t>& b = spool.bytes();
  out.files.push_back({leg.spoolPath, leg.key, out.bytes.size(), b.size(), create});
  out.bytes.insert(out.bytes.end(), b.begin(), b.end());
  if (!b.empty() && leg.session->watched && liveSink_) {
    pendingLive_.push_back({leg.session->recordingId, leg.legId, b});
  }
  spool.clear();  // keeps its capacity: no allocation per flush in steady state
}

void Engine::stageMeta(Session& s, StagedWrites& out) {
  if (!s.metaDirty) return;
  s.metaDirty = false;
  out.metas.push_back({s.spoolDir, std::move(s.meta)});
  s.meta.clear();
}

void Engine::writeStaged(const StagedWrites& w, std::vector<WriteFailure>* failures) {
  // Spool files first: a new session's create makes its directory.
  for (const Staged& f : w.files) {
    const uint8_t* data = w.bytes.data() + f.pos;
    const int err = f.create ? createSpoolFileWith(*f.path, data, f.length) : appendToFile(*f.path, data, f.length);
    // The batch is gone (cut back, never torn): note which span of the timeline it held.
    if (err != 0 && failures != nullptr) failures->push_back(failureOf(f, data, err));
  }
  for (const StagedMeta& m : w.metas) {
    // session.json only dates and describes the legs: the audio is in the spools. A failure here
    // leaves the previous version (recovery falls back on the catalogue's start time).
    replaceFile(m.dir, "session.json", m.text);
  }
}

void Engine::run() {
  std::string failure;
  try {
    runLoop();
    if (running_.load()) failure = std::string("epoll_wait failed: ") + std::strerror(errno);
  } catch (const std::exception& e) {
    failure = e.what();
  } catch (...) {
    failure = "unknown exception";
  }
  if (!failure.empty()) {
    std::lock_guard<std::mutex> lock(failureMu_);
    workerFailure_ = "media engine worker stopped: " + failure;
  }
}

std::string Engine::workerFailure() {
  std::lock_guard<std::mutex> lock(failureMu_);
  return workerFailure_;
}

bool Engine::injectFault(const std::string& kind) {
  if (kind == "writer-stall" || kind == "writer-resume") {
    // A disk that stops answering (test only): the writer waits before its next job.
    {
      std::lock_guard<std::mutex> lock(wqMu_);
      writerStalled_ = kind == "writer-stall";
    }
    wqCv_.notify_all();
    return true;
  }
  if (kind != "worker-exit") return false;
  fault_.store(1);
  const uint64_t one = 1;
  if (::write(wakeFd_, &one, sizeof one) < 0) {
    // It also comes at the next tick.
  }
  return true;
}

void Engine::runLoop() {
  epoll_event events[64];
  Clock::time_point nextTick = Clock::now() + std::chrono::milliseconds(kTickMs);
  uint64_t ticks = 0;
  std::vector<LegEvent> legEvents;
  StagedWrites staged;
  Clock::time_point roundStart = Clock::now();
  while (running_.load()) {
    if (fault_.load() == 1) throw std::runtime_error("injected test fault (worker-exit)");
    const auto wait = std::chrono::duration_cast<std::chrono::milliseconds>(nextTick - Clock::now()).count();
    const int n = ::epoll_wait(epollFd_, events, 64, wait > 0 ? static_cast<int>(wait) : 0);
    if (n < 0 && errno != EINTR) break;
    // Fewer than 64: this pass handles every socket that is ready (then the round may pause).
    const bool drained = n > 0 && n < 64;
    std::vector<MediaEventData> batch;
    std::vector<LiveChunk> live;
    {
      std::lock_guard<std::mutex> lock(mu_);
      for (int i = 0; i < n; ++i) {
        const uint64_t key = events[i].data.u64;
        if (key == 0) {
          uint64_t drained;
          while (::read(wakeFd_, &drained, sizeof drained) > 0) {
          }
          continue;
        }
        auto it = legsByKey_.find(key & ~kRtcpKeyBit);
        if (it == legsByKey_.end()) continue;
        if (key & kRtcpKeyBit) {
          drainRtcp(*it->second);
          continue;
        }
        // A few rounds per wake-up keep one busy leg from starving the others (epoll is level-triggered).
        receive(*it->second, 4, staged);
      }
      for (const uint64_t key : uncreated_) {
        auto it = legsByKey_.find(key);
        if (it != legsByKey_.end()) stageLeg(*it->second, staged);  // creates it (a closed one already was)
      }
      uncreated_.clear();
      for (const std::string& id : dirtyMeta_) {
        auto it = sessions_.find(id);
        if (it != sessions_.end()) stageMeta(*it->second, staged);
      }
      dirtyMeta_.clear();
      const Clock::time_point now = Clock::now();
      if (now >= nextTick) {
        const bool flushAll = ++ticks % kFlushTicks == 0;
        for (auto& entry : sessions_) {
          Session& s = *entry.second;
          const int64_t at = samplesSince(s, now);
          for (auto& leg : s.legs) {
            leg->receiver.tick(at, legEvents);
            collect(*leg, legEvents);
            if (flushAll || s.watched) stageLeg(*leg, staged);
          }
        }
        batch.swap(pendingEvents_);
        live.swap(pendingLive_);
        nextTick = now + std::chrono::milliseconds(kTickMs);
      }
      // Handed to the writer thread before mu_ is released: a close that follows queues its own
      // final writes behind these, so each file keeps its order.
      if (!staged.empty()) {
        if (wqBytesNow_.load(std::memory_order_relaxed) + staged.bytes.size() > kMaxWriterQueueBytes) {
          dropFilesLocked(staged);
        }
        if (!staged.empty()) enqueueWrite(std::move(staged), true);
        staged = StagedWrites();
      }
    }
    if (!batch.empty() && sink_) sink_(std::move(batch));
    if (!live.empty() && liveSink_) liveSink_(std::move(live));
    if (drained) {
      // Let datagrams gather for the rest of the round (kCoalesceMs), never past the next tick; a
      // close() wakes it through the eventfd.
      const Clock::time_point until = std::min(roundStart + std::chrono::milliseconds(kCoalesceMs), nextTick);
      const auto rest = std::chrono::duration_cast<std::chrono::milliseconds>(until - Clock::now()).count();
      if (rest > 0 && running_.load()) {
        pollfd wake{wakeFd_, POLLIN, 0};
        ::poll(&wake, 1, static_cast<int>(rest));
      }
      roundStart = Clock::now();
    }
  }
}

void Engine::statsLocked(const Session& s, SessionStatsData* stats) const {
  stats->recordingId = s.recordingId;
  stats->openedAtMs = s.openedAtMs;
  stats->legs.clear();
  for (const auto& leg : s.legs) {
    LegStatsData d;
    d.legId = leg->legId;
    d.counters = leg->receiver.counters();
    d.spoolErrors = leg->spoolErrors;
    d.lastSpoolError = leg->lastSpoolError;
    d.rejected = leg->rejected;
    d.damagedSamples = leg->damagedSamples;
    d.damagedSpans = leg->damagedSpans;
    stats->legs.push_back(std::move(d));
  }
}

void Engine::closeLegLocked(Leg& leg, StagedWrites& out, std::vector<LegEvent>& legEvents) {
  ::epoll_ctl(epollFd_, EPOLL_CTL_DEL, leg.fd, nullptr);
  legsByKey_.erase(leg.key);
  receive(leg, 64, out);  // what is already queued in the socket belongs to the recording
  ::close(leg.fd);
  leg.fd = -1;
  if (leg.rtcpFd >= 0) {
    ::epoll_ctl(epollFd_, EPOLL_CTL_DEL, leg.rtcpFd, nullptr);
    drainRtcp(leg);
    ::close(leg.rtcpFd);
    leg.rtcpFd = -1;
  }
  leg.receiver.finish(legEvents);
  leg.receiver.releaseResources();  // decoders and SRTP keys go with the socket (a removed leg too)
  collect(leg, legEvents);
  stageLeg(leg, out);
}

void Engine::closeSessionLocked(Session& s, StagedWrites& out) {
  std::vector<LegEvent> legEvents;
  for (auto& leg : s.legs) {
    if (leg->fd >= 0) closeLegLocked(*leg, out, legEvents);
    stageLeg(*leg, out);  // a leg removed before its file was created still gets one
  }
  stageMeta(s, out);
  for (const auto& leg : s.legs) {
    const LegCounters& c = leg->receiver.counters();
    closedReceived_ += c.received;
    closedLost_ += c.lost;
    closedRejected_ += leg->rejected;
    closedSpoolErrors_ += leg->spoolErrors;
    closedDamaged_ += leg->damagedSamples;
  }
}

bool Engine::closeSession(const std::string& recordingId, SessionStatsData* stats) {
  std::unique_ptr<PendingClose> pending = beginClose(recordingId);
  if (!pending) return false;
  finishClose(*pending, stats);
  return true;
}

std::unique_ptr<Engine::PendingClose> Engine::beginClose(const std::string& recordingId) {
  auto pending = std::make_unique<PendingClose>();
  std::lock_guard<std::mutex> lock(mu_);
  auto it = sessions_.find(recordingId);
  if (it == sessions_.end()) return nullptr;
  closeSessionLocked(*it->second, pending->staged);
  pending->session = std::move(it->second);
  sessions_.erase(it);
  return pending;
}

void Engine::finishClose(PendingClose& pending, SessionStatsData* stats) {
  // Behind the worker's batches already queued, so the file keeps its order; this thread waits.
  // The session is out of the engine: nothing but this thread touches it now.
  std::shared_ptr<WriteJob> job = enqueueWrite(std::move(pending.staged), false);
  waitWritten(job);
  pending.staged.clear();
  const std::vector<WriteFailure>& failures = job->failures;
  for (const WriteFailure& f : failures) {
    for (auto& leg : pending.session->legs) {
      if (leg->key == f.key) {
        ++leg->spoolErrors;
        leg->lastSpoolError = f.error;
        noteFailure(f, &leg->damagedSamples, &leg->damagedSpans);
        std::lock_guard<std::mutex> lock(mu_);
        ++closedSpoolErrors_;
        closedDamaged_ += f.samples;
      }
    }
  }
  if (stats != nullptr) statsLocked(*pending.session, stats);
}

bool Engine::saveMeta(const std::string& recordingId, std::string text) {
  std::lock_guard<std::mutex> lock(mu_);
  auto it = sessions_.find(recordingId);
  if (it == sessions_.end()) return false;
  Session& s = *it->second;
  s.meta = std::move(text);
  if (!s.metaDirty) {
    s.metaDirty = true;
    dirtyMeta_.push_back(recordingId);  // written in the worker's next pass
  }
  return true;
}

void Engine::counters(uint64_t* received, uint64_t* lost, std::vector<SessionStatsData>* perSession,
                      uint64_t* rejected, uint64_t* spoolErrors, uint64_t* damagedSamples) {
  std::lock_guard<std::mutex> lock(mu_);
  uint64_t rx = closedReceived_;
  uint64_t ls = closedLost_;
  uint64_t rj = closedRejected_;
  uint64_t se = closedSpoolErrors_;
  uint64_t dm = closedDamaged_;
  if (perSession != nullptr) perSession->reserve(sessions_.size());
  for (const auto& entry : sessions_) {
    const Session& s = *entry.second;
    if (perSession != nullptr) {
      perSession->emplace_back();
      perSession->back().recordingId = s.recordingId;
    }
    for (const auto& leg : s.legs) {
      const LegCounters& c = leg->receiver.counters();
      rx += c.received;
      ls += c.lost;
      rj += leg->rejected;
      se += leg->spoolErrors;
      dm += leg->damagedSamples;
      if (perSession != nullptr) {
        LegStatsData d;
        d.legId = leg->legId;
        d.counters.received = c.received;
        d.counters.lost = c.lost;
        d.counters.paused = c.paused;
        d.rejected = leg->rejected;
        perSession->back().legs.push_back(std::move(d));
      }
    }
  }
  *received = rx;
  *lost = ls;
  if (rejected != nullptr) *rejected = rj;
  if (spoolErrors != nullptr) *spoolErrors = se;
  if (damagedSamples != nullptr) *damagedSamples = dm;
}

bool Engine::setPaused(const std::string& recordingId, const std::vector<std::string>& legIds, bool paused,
                       int64_t* atSamples) {
  std::lock_guard<std::mutex> lock(mu_);
  auto it = sessions_.find(recordingId);
  if (it == sessions_.end()) return false;
  Session& s = *it->second;
  for (const std::string& id : legIds) {
    bool found = false;
    for (auto& leg : s.legs) found = found || leg->legId == id;
    if (!found) return false;
  }
  const int64_t now = samplesSince(s, Clock::now());
  if (atSamples != nullptr) *atSamples = now;
  std::vector<LegEvent> legEvents;
  for (auto& leg : s.legs) {
    bool named = legIds.empty();
    for (const std::string& id : legIds) named = named || leg->legId == id;
    if (!named) continue;
    if (paused) {
      // What is already queued in the socket arrived before the pause: record it first.
      StagedWrites unused;
      if (!leg->receiver.paused()) receive(*leg, 64, unused);
      // receive() stages only past kFlushBytes (the whole pending buffer, so order is kept).
      if (!unused.empty()) enqueueWrite(std::move(unused), false);  // in order, off this thread
      leg->receiver.pause(now, legEvents);
    } else {
      // Datagrams that arrived while paused (some may still wait in the socket: the worker lets them
      // gather up to kCoalesceMs) are drained and counted now, never recorded.
      StagedWrites unused;
      if (leg->receiver.paused() && leg->fd >= 0) receive(*leg, 64, unused);
      if (!unused.empty()) enqueueWrite(std::move(unused), false);
      leg->receiver.resume(now, legEvents);
    }
    collect(*leg, legEvents);
  }
  return true;
}

bool Engine::sessionStats(const std::string& recordingId, SessionStatsData* stats) {
  std::lock_guard<std::mutex> lock(mu_);
  auto it = sessions_.find(recordingId);
  if (it == sessions_.end()) return false;
  statsLocked(*it->second, stats);
  return true;
}

bool Engine::setWatched(const std::string& recordingId, bool watched) {
  std::lock_guard<std::mutex> lock(mu_);
  auto it = sessions_.find(recordingId);
  if (it == sessions_.end()) return false;
  it->second->watched = watched;
  return true;
}

size_t Engine::activeSessions() {
  std::lock_guard<std::mutex> lock(mu_);
  return sessions_.size();
}

void Engine::close() {
  {
    std::lock_guard<std::mutex> lock(mu_);
    if (closed_) return;
    closed_ = true;
  }
  running_ = false;
  const uint64_t one = 1;
  if (::write(wakeFd_, &one, sizeof one) < 0) {
    // The worker also wakes up at its next tick.
  }
  if (worker_.joinable()) worker_.join();
  std::vector<MediaEventData> last;
  {
    std::lock_guard<std::mutex> lock(mu_);
    StagedWrites staged;
    for (auto& entry : sessions_) closeSessionLocked(*entry.second, staged);
    sessions_.clear();
    last.swap(pendingEvents_);
    pendingLive_.clear();
    if (!staged.empty()) enqueueWrite(std::move(staged), false);
  }
  {
    std::lock_guard<std::mutex> lock(wqMu_);
    writerStop_ = true;  // the writer drains what is queued, then exits
    writerStalled_ = false;
  }
  wqCv_.notify_all();
  if (writer_.joinable()) writer_.join();
  ::close(epollFd_);
  ::close(wakeFd_);
  epollFd_ = -1;
  wakeFd_ = -1;
  if (!last.empty() && sink_) sink_(std::move(last));
}

}  // namespace srs
