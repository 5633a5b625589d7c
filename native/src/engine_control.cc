// Control calls on an open session (see engine.h): session.json updates, pause and resume, the live
// tap, SRTP re-keying, and the stats and counters read by the monitor.
#include "engine.h"

namespace srs {

namespace {

using Clock = std::chrono::steady_clock;

}  // namespace

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

}  // namespace srs
