#include "engine.h"

#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <sys/socket.h>
#include <unistd.h>

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

Engine::Engine(std::string bindAddress, EventSink sink) : bindAddress_(std::move(bindAddress)), sink_(std::move(sink)) {
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
  running_ = true;
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

  auto fail = [&](const EngineError& e, size_t spoolsCreated) {
    for (auto& leg : session->legs) {
      if (leg->fd >= 0) ::close(leg->fd);
    }
    for (size_t i = 0; i < spoolsCreated; ++i) ::unlink(session->legs[i]->spoolPath.c_str());
    *error = e;
    return false;
  };

  BindAddress addr;
  parseBindAddress(bindAddress_, &addr);
  for (const LegConfig& lc : config.legs) {
    auto leg = std::make_unique<Leg>(lc.payloadKinds);
    leg->session = session.get();
    leg->legId = lc.legId;
    leg->spoolPath = config.spoolDir + "/" + lc.legId + ".spool";
    leg->fd = ::socket(addr.family, SOCK_DGRAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    if (leg->fd < 0) {
      const int err = errno;
      session->legs.push_back(std::move(leg));
      return fail({errnoCode(err), std::string("socket: ") + std::strerror(err), lc.port}, 0);
    }
    const int rcvbuf = kSocketReceiveBuffer;
    ::setsockopt(leg->fd, SOL_SOCKET, SO_RCVBUF, &rcvbuf, sizeof rcvbuf);
    setPort(&addr, lc.port);
    if (::bind(leg->fd, reinterpret_cast<const sockaddr*>(&addr.storage), addr.length) != 0) {
      const int err = errno;
      session->legs.push_back(std::move(leg));
      return fail({errnoCode(err),
                   "cannot bind UDP " + bindAddress_ + ":" + std::to_string(lc.port) + ": " + std::strerror(err),
                   lc.port},
                  0);
    }
    session->legs.push_back(std::move(leg));
  }
  for (size_t i = 0; i < session->legs.size(); ++i) {
    const int err = createSpoolFile(session->legs[i]->spoolPath);
    if (err != 0) {
      return fail({errnoCode(err), "cannot create spool file " + session->legs[i]->spoolPath + ": " + std::strerror(err),
                   0},
                  i);
    }
  }
  for (auto& leg : session->legs) {
    leg->key = nextKey_++;
    epoll_event ev{};
    ev.events = EPOLLIN;
    ev.data.u64 = leg->key;
    if (::epoll_ctl(epollFd_, EPOLL_CTL_ADD, leg->fd, &ev) != 0) {
      const int err = errno;
      for (auto& l : session->legs) {
        if (l->key != 0) {
          ::epoll_ctl(epollFd_, EPOLL_CTL_DEL, l->fd, nullptr);
          legsByKey_.erase(l->key);
        }
      }
      return fail({errnoCode(err), std::string("epoll_ctl: ") + std::strerror(err), 0}, session->legs.size());
    }
    legsByKey_[leg->key] = leg.get();
  }
  *openedAtMs = epochMs;
  sessions_[config.recordingId] = std::move(session);
  return true;
}

void Engine::receive(Leg& leg, int64_t maxRounds) {
  mmsghdr msgs[kRecvBatch];
  iovec iovs[kRecvBatch];
  std::vector<LegEvent> legEvents;
  for (int64_t round = 0; round < maxRounds; ++round) {
    for (int i = 0; i < kRecvBatch; ++i) {
      iovs[i].iov_base = recvBuffers_.data() + static_cast<size_t>(i) * kMaxDatagram;
      iovs[i].iov_len = kMaxDatagram;
      std::memset(&msgs[i], 0, sizeof msgs[i]);
      msgs[i].msg_hdr.msg_iov = &iovs[i];
      msgs[i].msg_hdr.msg_iovlen = 1;
    }
    const int n = ::recvmmsg(leg.fd, msgs, kRecvBatch, MSG_DONTWAIT, nullptr);
    if (n <= 0) break;
    const int64_t arrival = samplesSince(*leg.session, Clock::now());
    for (int i = 0; i < n; ++i) {
      if (msgs[i].msg_hdr.msg_flags & MSG_TRUNC) {
        leg.receiver.onDatagram(nullptr, 0, arrival, legEvents);  // counted as ignored
        continue;
      }
      leg.receiver.onDatagram(static_cast<const uint8_t*>(iovs[i].iov_base), msgs[i].msg_len, arrival, legEvents);
    }
    if (n < kRecvBatch) break;
  }
  collect(leg, legEvents);
  if (leg.receiver.spool().bytes().size() >= kFlushBytes) flushLeg(leg);
}

void Engine::collect(Leg& leg, std::vector<LegEvent>& legEvents) {
  for (const LegEvent& e : legEvents) {
    MediaEventData m{};
    switch (e.type) {
      case LegEvent::Type::FirstPacket: m.type = MediaEventData::Type::FirstPacket; break;
      case LegEvent::Type::SsrcChange: m.type = MediaEventData::Type::SsrcChange; break;
      case LegEvent::Type::Dtmf: m.type = MediaEventData::Type::Dtmf; break;
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

void Engine::flushLeg(Leg& leg) {
  SpoolBuffer& spool = leg.receiver.spool();
  if (spool.empty()) return;
  const int err = appendToFile(leg.spoolPath, spool.bytes().data(), spool.bytes().size());
  if (err != 0) {
    ++leg.spoolErrors;
    leg.lastSpoolError = err;
  }
  spool.clear();
}

void Engine::run() {
  epoll_event events[64];
  Clock::time_point nextTick = Clock::now() + std::chrono::milliseconds(kTickMs);
  std::vector<LegEvent> legEvents;
  while (running_.load()) {
    const auto wait = std::chrono::duration_cast<std::chrono::milliseconds>(nextTick - Clock::now()).count();
    const int n = ::epoll_wait(epollFd_, events, 64, wait > 0 ? static_cast<int>(wait) : 0);
    if (n < 0 && errno != EINTR) break;
    std::vector<MediaEventData> batch;
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
        auto it = legsByKey_.find(key);
        // A few rounds per wake-up keep one busy leg from starving the others (epoll is level-triggered).
        if (it != legsByKey_.end()) receive(*it->second, 4);
      }
      const Clock::time_point now = Clock::now();
      if (now >= nextTick) {
        for (auto& entry : sessions_) {
          Session& s = *entry.second;
          const int64_t at = samplesSince(s, now);
          for (auto& leg : s.legs) {
            leg->receiver.tick(at, legEvents);
            collect(*leg, legEvents);
            flushLeg(*leg);
          }
        }
        batch.swap(pendingEvents_);
        nextTick = now + std::chrono::milliseconds(kTickMs);
      }
    }
    if (!batch.empty() && sink_) sink_(std::move(batch));
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
    stats->legs.push_back(std::move(d));
  }
}

void Engine::closeSessionLocked(Session& s, SessionStatsData* stats) {
  std::vector<LegEvent> legEvents;
  for (auto& leg : s.legs) {
    ::epoll_ctl(epollFd_, EPOLL_CTL_DEL, leg->fd, nullptr);
    legsByKey_.erase(leg->key);
    receive(*leg, 64);  // what is already queued in the socket belongs to the recording
    ::close(leg->fd);
    leg->fd = -1;
    leg->receiver.finish(legEvents);
    collect(*leg, legEvents);
    flushLeg(*leg);
  }
  if (stats != nullptr) statsLocked(s, stats);
}

bool Engine::closeSession(const std::string& recordingId, SessionStatsData* stats) {
  std::lock_guard<std::mutex> lock(mu_);
  auto it = sessions_.find(recordingId);
  if (it == sessions_.end()) return false;
  closeSessionLocked(*it->second, stats);
  sessions_.erase(it);
  return true;
}

bool Engine::sessionStats(const std::string& recordingId, SessionStatsData* stats) {
  std::lock_guard<std::mutex> lock(mu_);
  auto it = sessions_.find(recordingId);
  if (it == sessions_.end()) return false;
  statsLocked(*it->second, stats);
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
    for (auto& entry : sessions_) closeSessionLocked(*entry.second, nullptr);
    sessions_.clear();
    last.swap(pendingEvents_);
  }
  ::close(epollFd_);
  ::close(wakeFd_);
  epollFd_ = -1;
  wakeFd_ = -1;
  if (!last.empty() && sink_) sink_(std::move(last));
}

}  // namespace srs
