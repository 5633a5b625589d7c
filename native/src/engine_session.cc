// Sessions and legs of the engine (see engine.h): opening a session, adding and removing legs (one
// UDP socket each, and one for RTCP when asked), and closing a session in two steps (beginClose on
// the caller's thread, finishClose wherever the final write may wait).
#include "engine.h"

#include <sys/epoll.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>

#include "socket_util.h"

namespace srs {

namespace {

using Clock = std::chrono::steady_clock;

bool validLegId(const std::string& id) {
  if (id.empty() || id == "." || id == ".." || id.size() > 200) return false;
  for (char c : id) {
    if (c == '/' || c == '\0') return false;
  }
  return true;
}

// Every legId is usable as a file name and none is repeated; otherwise `error` says which.
bool validLegIds(const std::vector<LegConfig>& legs, EngineError* error) {
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
  return true;
}

}  // namespace

bool Engine::openSession(const SessionConfig& config, int64_t* openedAtMs, EngineError* error) {
  const Clock::time_point t0 = Clock::now();
  const int64_t epochMs = std::chrono::duration_cast<std::chrono::milliseconds>(
                              std::chrono::system_clock::now().time_since_epoch())
                              .count();
  if (config.recordingId.empty()) {
    *error = {"EINVAL", "recordingId must not be empty", 0};
    return false;
  }
  if (!validLegIds(config.legs, error)) return false;

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
  if (!validLegIds(legs, error)) return false;
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
  stageLeg(leg, out, true);  // its last write: fdatasync'ed by the writer (off this thread)
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

}  // namespace srs
