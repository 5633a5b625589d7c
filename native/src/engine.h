// The engine core, independent of Node: sessions of legs, one UDP socket per leg, one worker thread
// running epoll + recvmmsg over every socket, batched spool writes and batched events.
//
// Threading: control calls (openSession, closeSession, sessionStats, close) come from one caller
// thread and take `mu_`; the worker takes `mu_` while it handles a batch of ready sockets and while it
// stages the pending spool records (every kTickMs). Spool files are written by a third thread, the
// writer, from a bounded queue (kMaxWriterQueueBytes) that the worker fills under `mu_`; the writer
// writes under `ioMu_` alone, so a slow disk never stalls packet processing or the control thread:
// it shows as a growing queue (writerQueueBytes), and past the bound as damaged spans on the legs.
// closeSession queues its final write behind the worker's batches and waits for it, so a leg's
// batches reach its file in order and every staged byte is on disk when closeSession returns.
// Epoll carries a leg key, never a pointer, so a leg closed between epoll_wait and the lock is simply
// not found.
//
// No control call touches the disk on the caller's thread except closeSession and the rare pause and
// removeLegs: a leg's spool file is created (with its directory when missing) by the worker in its
// next pass after openSession or addLegs (at most a tick later), and session.json (saveMeta) is
// written by the worker too (tmp file + rename, in the same ordered batches), so the Node event loop
// does no file work per call. beginClose/finishClose split closeSession so that the final write can
// run on another thread (the addon's endSession runs it on the libuv pool).
//
// Spool faults: a leg's file that could not be created (disk full, no inodes, EMFILE) is created by
// its next batch (an append that finds no file creates it, header and data), so only the batches of
// the fault are lost and marked damaged. A leg's last batch is fdatasync'ed by the writer when the
// leg closes, so an ended call's spool survives a power cut. A fourth thread, the marker, looks once
// a second for sessions with more than a second of audio waiting in the writer's queue (a slow or
// stalled disk) and writes <spoolDir>/spool-pending.json (tmp + fdatasync + rename) saying up to
// where each leg's audio was handed to the writer: after a kill -9, recovery marks what the dead
// process still held as damaged instead of ending the recording early without a word.
#pragma once

#include <array>
#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <deque>
#include <functional>
#include <memory>
#include <mutex>
#include <string>
#include <thread>
#include <unordered_map>
#include <vector>

#include <sys/socket.h>
#include <sys/uio.h>

#include "latch.h"
#include "leg.h"

namespace srs {

struct LegConfig {
  std::string legId;
  uint16_t port = 0;
  // Ingress trust (latch.h): the SRC's address from the SDP (c= and m= port; empty or 0.0.0.0 when
  // unusable: the first source is latched), and the silence after which another source may re-latch
  // (0 = never).
  std::string remoteHost;
  uint16_t remotePort = 0;
  int64_t relatchMs = 0;
  PayloadTable payloadKinds{};
  // SRTP parameters (nullptr: plain RTP). Shared by copies of the config, so the one wipe when the
  // leg's SRTP context is made clears every copy of the key.
  std::shared_ptr<SrtpConfig> srtp;
};

struct SessionConfig {
  std::string recordingId;
  std::string spoolDir;
  std::vector<LegConfig> legs;
  // Also bind each leg's port+1 and drain (count) the RTCP that arrives there. Off by default: one
  // more descriptor per leg against the 20,000 open-file limit.
  bool rtcp = false;
};

struct LegStatsData {
  std::string legId;
  LegCounters counters;
  uint64_t spoolErrors = 0;
  int lastSpoolError = 0;
  uint64_t rejected = 0;  // RTP/RTCP datagrams from a source other than the latched SRC (dropped)
  // Audio lost to spool write failures (disk full...): total samples and the first spans [from, to).
  uint64_t damagedSamples = 0;
  std::vector<std::pair<uint64_t, uint64_t>> damagedSpans;
};

struct SessionStatsData {
  std::string recordingId;
  int64_t openedAtMs = 0;  // epoch ms
  std::vector<LegStatsData> legs;
};

struct MediaEventData {
  enum class Type { FirstPacket, SsrcChange, Dtmf, Pause, Resume } type;
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

// Live tap: the spool records a watched session's legs produced since the last tick (same format as
// the spool file's records: u32 offset, u16 count, u-law bytes), handed over once per tick.
struct LiveChunk {
  std::string recordingId;
  std::string legId;
  std::vector<uint8_t> records;
};

using EventSink = std::function<void(std::vector<MediaEventData>&&)>;
using LiveSink = std::function<void(std::vector<LiveChunk>&&)>;

class Engine {
 public:
  static constexpr int kTickMs = 150;            // event batch, reorder give-up and live-tap interval
  // Spools are written every kFlushTicks ticks (450 ms; every tick for a watched session), so a
  // crash loses under half a second of audio while 4,000 legs cost ~9,000 open-append-close a
  // second rather than 27,000 (measured: about 0.4 us of CPU per received packet at 2,000 calls).
  static constexpr int kFlushTicks = 3;
  static constexpr int kRecvBatch = 32;          // datagrams per recvmmsg call
  // Once every ready socket is drained, the worker lets datagrams gather this long before the next
  // round, so one recvmmsg takes a few of them instead of one (a 20 ms stream brings ~2 per round).
  // Arrival times come from the kernel's receive timestamps, so the timeline does not move; a pause,
  // a removed leg and a close drain the socket first, so nothing queued is lost.
  static constexpr int kCoalesceMs = 40;
  static constexpr size_t kMaxDatagram = 2048;   // larger datagrams are truncated and ignored
  static constexpr int kSocketReceiveBuffer = 256 * 1024;
  static constexpr size_t kFlushBytes = 64 * 1024;  // flush a leg early when this much is pending
  // The marker thread's interval, and the backlog (samples handed to the writer, not yet written)
  // past which a session's spool-pending.json is written.
  static constexpr int kMarkerIntervalMs = 1000;
  static constexpr uint64_t kMarkerBacklogSamples = 8000;

  // Throws std::runtime_error if epoll or the wake-up eventfd cannot be created.
  Engine(std::string bindAddress, EventSink sink, LiveSink live = nullptr);
  ~Engine();
  Engine(const Engine&) = delete;
  Engine& operator=(const Engine&) = delete;

  bool openSession(const SessionConfig& config, int64_t* openedAtMs, EngineError* error);
  bool closeSession(const std::string& recordingId, SessionStatsData* stats);
  // closeSession in two steps: beginClose stops the session (sockets drained and closed, the
  // session's last records and session.json staged; nullptr for an unknown session) on the caller's
  // thread; finishClose writes what was staged (after any batch the worker has in flight) and fills
  // in the final stats, on any thread, once.
  struct PendingClose;
  std::unique_ptr<PendingClose> beginClose(const std::string& recordingId);
  void finishClose(PendingClose& pending, SessionStatsData* stats);
  // Replaces the session's session.json contents; the worker writes it (tmp + rename) soon after,
  // and closeSession/beginClose stage the latest version. False for an unknown session.
  bool saveMeta(const std::string& recordingId, std::string text);
  // Packets received and lost on every leg of every session since the engine started (closed
  // sessions included), in one call; with `perSession`, each open session's per-leg counters too.
  void counters(uint64_t* received, uint64_t* lost, std::vector<SessionStatsData>* perSession,
                uint64_t* rejected = nullptr, uint64_t* spoolErrors = nullptr, uint64_t* damagedSamples = nullptr);
  // Adds legs to an open session (a stream added by re-INVITE): same t0, same spool directory, so
  // they are part of the mix. Fails (nothing changed) as openSession does, or ERR_NO_SESSION.
  bool addLegs(const std::string& recordingId, const std::vector<LegConfig>& legs, EngineError* error);
  // Stops receiving on the named legs (a stream removed by re-INVITE): sockets closed, what was
  // received stays in the spool and in the stats. Unknown legIds are ignored; false if no session.
  bool removeLegs(const std::string& recordingId, const std::vector<std::string>& legIds);
  bool sessionStats(const std::string& recordingId, SessionStatsData* stats);
  // Pauses (or resumes) recording of the named legs, or of every leg when `legIds` is empty.
  // Returns false if the session (or a named leg) is unknown.
  // `atSamples`, when given, receives the session-timeline time of the pause or resume.
  bool setPaused(const std::string& recordingId, const std::vector<std::string>& legIds, bool paused,
                 int64_t* atSamples = nullptr);
  size_t activeSessions();
  // Live tap on or off for a session (only watched sessions pay for copying their audio out).
  bool setWatched(const std::string& recordingId, bool watched);
  // A leg's new SRTP key from a re-INVITE (nullptr: plain RTP from now on), applied to packets from
  // now on without a gap; `config` is wiped. False with `error` set for an unknown session or leg
  // (code ERR_NO_SESSION / ERR_NO_LEG) or a key libsrtp refuses.
  bool rekey(const std::string& recordingId, const std::string& legId, SrtpConfig* config, EngineError* error);
  // Stops the worker, closes every session (spools flushed) and hands the last events to the sink on
  // the calling thread. Safe to call twice.
  void close();
  // Why the worker thread stopped on its own (an exception, epoll failing), or empty while it runs.
  // A dead worker receives nothing: the caller must refuse calls rather than record silence.
  std::string workerFailure();
  // Events dropped because more than kMaxPendingEvents waited for one tick (an event storm).
  uint64_t eventsDropped() const { return eventsDropped_.load(std::memory_order_relaxed); }
  static constexpr size_t kMaxPendingEvents = 100000;
  static constexpr size_t kMaxWriterQueueBytes = 64u << 20;  // spool bytes waiting for the writer
  // Spool bytes waiting for the writer thread now, the most ever, and batches dropped at the bound.
  uint64_t writerQueueBytes() const { return wqBytesNow_.load(std::memory_order_relaxed); }
  uint64_t writerQueuePeak() const { return wqBytesPeak_.load(std::memory_order_relaxed); }
  uint64_t writerDroppedBatches() const { return droppedBatches_.load(std::memory_order_relaxed); }
  // Test-only fault injection: "worker-exit" makes the worker thread die at its next pass;
  // "writer-stall" / "writer-resume" stop and restart the spool writer (a disk that stops answering).
  bool injectFault(const std::string& kind);

 private:
  struct Session;
  // How far a leg's audio has been written (the writer's side; read by the marker thread).
  struct LegProgress {
    std::atomic<uint64_t> written{0};  // end (samples) of the latest-ending record written
  };
  struct Leg {
    Session* session = nullptr;
    std::string legId;
    std::shared_ptr<const std::string> spoolPath;
    uint64_t key = 0;
    int fd = -1;
    int rtcpFd = -1;  // port+1, only when the session asked for RTCP
    LegReceiver receiver;
    SourceLatch latch;
    uint64_t rejected = 0;
    uint64_t damagedSamples = 0;
    std::vector<std::pair<uint64_t, uint64_t>> damagedSpans;
    uint64_t spoolErrors = 0;
    int lastSpoolError = 0;
    bool created = false;  // its spool file is created by the first staged write
    uint64_t stagedTo = 0;  // end (samples) of the latest-ending record handed to the writer
    std::shared_ptr<LegProgress> progress = std::make_shared<LegProgress>();
    explicit Leg(const PayloadTable& kinds) : receiver(kinds) {}
  };
  struct Session {
    std::string recordingId;
    std::chrono::steady_clock::time_point t0;
    int64_t openedAtMs = 0;
    std::string spoolDir;
    bool rtcp = false;
    bool watched = false;
    std::string meta;        // session.json contents not yet staged
    bool metaDirty = false;  // listed in dirtyMeta_
    uint64_t markedTo = 0;   // the furthest position spool-pending.json was written with
    std::vector<std::unique_ptr<Leg>> legs;
  };

  // Spool records copied out of a leg under `mu_`, written to its file under `ioMu_` alone.
  struct Staged {
    std::shared_ptr<const std::string> path;
    uint64_t key;
    size_t pos;
    size_t length;
    bool create;  // the leg's first write: create the file (and its directory) with the header
    bool sync;    // the leg's last write: fdatasync the file
    uint64_t to;  // end (samples) of the latest-ending record in this batch (0: none)
    std::shared_ptr<LegProgress> progress;
  };
  struct StagedMeta {
    std::string dir;
    std::string text;
  };
  struct StagedWrites {
    std::vector<uint8_t> bytes;
    std::vector<Staged> files;
    std::vector<StagedMeta> metas;
    bool empty() const { return files.empty() && metas.empty(); }
    void clear() {
      bytes.clear();
      files.clear();
      metas.clear();
    }
  };
  struct WriteFailure {
    uint64_t key;
    int error;
    uint64_t from = 0;  // the lost batch's span on the timeline (samples)
    uint64_t to = 0;
    uint64_t samples = 0;
  };
  static constexpr size_t kMaxDamagedSpans = 16;  // spans kept per leg; the total counts them all
  static void noteFailure(const WriteFailure& f, uint64_t* damagedSamples,
                          std::vector<std::pair<uint64_t, uint64_t>>* spans);
  static WriteFailure failureOf(const Staged& f, const uint8_t* data, int err);

  // The spool writer thread: every spool and session.json write goes through its queue, in the order
  // handed over, so neither the receive worker nor the JS thread waits for the disk. The queue is
  // bounded (kMaxWriterQueueBytes): past it the worker drops a batch's audio, marking the legs
  // damaged with the span (never silently), and keeps the session.json updates.
  struct WriteJob {
    StagedWrites staged;
    size_t bytes = 0;
    std::vector<WriteFailure> failures;
    bool report = false;  // a worker batch: failures are counted on the legs by the writer
    bool done = false;
  };
  std::shared_ptr<WriteJob> enqueueWrite(StagedWrites&& w, bool report);
  void waitWritten(const std::shared_ptr<WriteJob>& job);
  void writerRun();
  void dropFilesLocked(StagedWrites& w);

  void run();
  void runLoop();
  void receive(Leg& leg, int64_t maxRounds, StagedWrites& out);
  void drainRtcp(Leg& leg);
  static constexpr uint64_t kRtcpKeyBit = 1ULL << 62;  // epoll key of a leg's RTCP socket
  int64_t samplesSince(const Session& s, std::chrono::steady_clock::time_point now) const;
  // `sync`: the leg's last write (its file is fdatasync'ed, even with nothing new to append).
  void stageLeg(Leg& leg, StagedWrites& out, bool sync = false);
  static void stageMeta(Session& s, StagedWrites& out);
  static void writeStaged(const StagedWrites& w, std::vector<WriteFailure>* failures);
  void collect(Leg& leg, std::vector<LegEvent>& legEvents);
  void closeSessionLocked(Session& s, StagedWrites& out);
  void closeLegLocked(Leg& leg, StagedWrites& out, std::vector<LegEvent>& legEvents);
  bool addLegsLocked(Session& session, const std::vector<LegConfig>& legs, EngineError* error);
  void statsLocked(const Session& s, SessionStatsData* stats) const;
  // The marker thread (see the top of this file).
  void markerRun();
  void writeMarkers();

  std::string bindAddress_;
  EventSink sink_;
  LiveSink liveSink_;
  std::vector<LiveChunk> pendingLive_;
  std::mutex mu_;
  std::mutex ioMu_;
  std::unordered_map<std::string, std::unique_ptr<Session>> sessions_;
  std::unordered_map<uint64_t, Leg*> legsByKey_;
  std::vector<uint64_t> uncreated_;        // legs whose spool file the worker is to create now
  std::vector<std::string> dirtyMeta_;     // sessions whose session.json the worker is to write
  uint64_t closedReceived_ = 0;            // counters of closed sessions' legs
  uint64_t closedLost_ = 0;
  uint64_t closedRejected_ = 0;
  uint64_t closedSpoolErrors_ = 0;
  uint64_t closedDamaged_ = 0;
  uint64_t nextKey_ = 1;
  std::vector<MediaEventData> pendingEvents_;
  int epollFd_ = -1;
  int wakeFd_ = -1;
  std::atomic<bool> running_{false};
  std::atomic<int> fault_{0};
  std::atomic<uint64_t> eventsDropped_{0};
  std::mutex failureMu_;
  std::string workerFailure_;
  std::thread writer_;
  std::mutex wqMu_;
  std::condition_variable wqCv_;
  std::condition_variable wqDone_;
  std::deque<std::shared_ptr<WriteJob>> wq_;
  size_t wqBytes_ = 0;
  bool writerStop_ = false;
  bool writerStalled_ = false;  // test-only fault: a disk that stops answering
  std::atomic<uint64_t> wqBytesNow_{0};
  std::atomic<uint64_t> wqBytesPeak_{0};
  std::atomic<uint64_t> droppedBatches_{0};
  bool closed_ = false;
  std::thread worker_;
  std::thread marker_;
  std::mutex markerMu_;
  std::condition_variable markerCv_;
  bool markerStop_ = false;

  // Worker-owned receive buffers.
  std::vector<uint8_t> recvBuffers_;
  static constexpr size_t kCtrlSize = 64;  // room for one SCM_TIMESTAMPNS per datagram
  std::vector<mmsghdr> recvMsgs_;
  std::vector<uint8_t> recvCtrl_;
  std::vector<iovec> recvIovs_;
  std::vector<sockaddr_storage> recvNames_;  // each datagram's source address (ingress latching)

 public:
  struct PendingClose {
    std::unique_ptr<Session> session;
    StagedWrites staged;
  };
};

}  // namespace srs
