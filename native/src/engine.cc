// The engine's lifecycle and its worker thread (see engine.h): construction (epoll, the wake-up
// eventfd, the receive buffers, the writer and worker threads), the worker's loop, fault injection
// and close. Sessions and legs: engine_session.cc; receiving: engine_receive.cc; per-session control
// calls and counters: engine_control.cc; the spool writer: engine_writer.cc.
#include "engine.h"

#include <poll.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <stdexcept>

#include "socket_util.h"

namespace srs {

namespace {

using Clock = std::chrono::steady_clock;

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
  marker_ = std::thread([this] { markerRun(); });
  worker_ = std::thread([this] { run(); });
}

Engine::~Engine() { close(); }

int64_t Engine::samplesSince(const Session& s, Clock::time_point now) const {
  const auto ns = std::chrono::duration_cast<std::chrono::nanoseconds>(now - s.t0).count();
  return ns * static_cast<int64_t>(kSampleRate) / 1000000000LL;
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
  {
    std::lock_guard<std::mutex> lock(markerMu_);
    markerStop_ = true;
  }
  markerCv_.notify_all();
  if (marker_.joinable()) marker_.join();
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
