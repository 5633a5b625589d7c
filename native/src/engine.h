// The engine core, independent of Node: sessions of legs, one UDP socket per leg, one worker thread
// running epoll + recvmmsg over every socket, batched spool writes and batched events.
//
// Threading: control calls (openSession, closeSession, sessionStats, close) come from one caller
// thread and take `mu_`; the worker takes `mu_` while it handles a batch of ready sockets and while it
// flushes (every kTickMs). Epoll carries a leg key, never a pointer, so a leg closed between
// epoll_wait and the lock is simply not found.
#pragma once

#include <array>
#include <atomic>
#include <chrono>
#include <cstdint>
#include <functional>
#include <memory>
#include <mutex>
#include <string>
#include <thread>
#include <unordered_map>
#include <vector>

#include "leg.h"

namespace srs {

struct LegConfig {
  std::string legId;
  uint16_t port = 0;
  std::array<PayloadKind, 128> payloadKinds{};
};

struct SessionConfig {
  std::string recordingId;
  std::string spoolDir;
  std::vector<LegConfig> legs;
};

struct LegStatsData {
  std::string legId;
  LegCounters counters;
  uint64_t spoolErrors = 0;
  int lastSpoolError = 0;
};

struct SessionStatsData {
  std::string recordingId;
  int64_t openedAtMs = 0;  // epoch ms
  std::vector<LegStatsData> legs;
};

struct MediaEventData {
  enum class Type { FirstPacket, SsrcChange, Dtmf } type;
  std::string recordingId;
  std::string legId;
  double atMs;
  uint32_t ssrc;
  char digit;
  double durationMs;
};

struct EngineError {
  std::string code;  // "EADDRINUSE", "EEXIST", "ERR_SESSION_EXISTS", ...
  std::string message;
  int port = 0;
};

using EventSink = std::function<void(std::vector<MediaEventData>&&)>;

class Engine {
 public:
  static constexpr int kTickMs = 150;            // spool flush and event batch interval
  static constexpr int kRecvBatch = 32;          // datagrams per recvmmsg call
  static constexpr size_t kMaxDatagram = 2048;   // larger datagrams are truncated and ignored
  static constexpr int kSocketReceiveBuffer = 256 * 1024;
  static constexpr size_t kFlushBytes = 64 * 1024;  // flush a leg early when this much is pending

  // Throws std::runtime_error if epoll or the wake-up eventfd cannot be created.
  Engine(std::string bindAddress, EventSink sink);
  ~Engine();
  Engine(const Engine&) = delete;
  Engine& operator=(const Engine&) = delete;

  bool openSession(const SessionConfig& config, int64_t* openedAtMs, EngineError* error);
  bool closeSession(const std::string& recordingId, SessionStatsData* stats);
  bool sessionStats(const std::string& recordingId, SessionStatsData* stats);
  size_t activeSessions();
  // Stops the worker, closes every session (spools flushed) and hands the last events to the sink on
  // the calling thread. Safe to call twice.
  void close();

 private:
  struct Session;
  struct Leg {
    Session* session = nullptr;
    std::string legId;
    std::string spoolPath;
    uint64_t key = 0;
    int fd = -1;
    LegReceiver receiver;
    uint64_t spoolErrors = 0;
    int lastSpoolError = 0;
    explicit Leg(const std::array<PayloadKind, 128>& kinds) : receiver(kinds) {}
  };
  struct Session {
    std::string recordingId;
    std::chrono::steady_clock::time_point t0;
    int64_t openedAtMs = 0;
    std::vector<std::unique_ptr<Leg>> legs;
  };

  void run();
  void receive(Leg& leg, int64_t maxRounds);
  int64_t samplesSince(const Session& s, std::chrono::steady_clock::time_point now) const;
  void flushLeg(Leg& leg);
  void collect(Leg& leg, std::vector<LegEvent>& legEvents);
  void closeSessionLocked(Session& s, SessionStatsData* stats);
  void statsLocked(const Session& s, SessionStatsData* stats) const;

  std::string bindAddress_;
  EventSink sink_;
  std::mutex mu_;
  std::unordered_map<std::string, std::unique_ptr<Session>> sessions_;
  std::unordered_map<uint64_t, Leg*> legsByKey_;
  uint64_t nextKey_ = 1;
  std::vector<MediaEventData> pendingEvents_;
  int epollFd_ = -1;
  int wakeFd_ = -1;
  std::atomic<bool> running_{false};
  bool closed_ = false;
  std::thread worker_;

  // Worker-owned receive buffers.
  std::vector<uint8_t> recvBuffers_;
};

}  // namespace srs
