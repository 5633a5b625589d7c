// The engine's spool writer thread (see engine.h): a bounded, ordered queue of staged spool and
// session.json writes, drained by one thread so that neither the receive worker nor the JS thread
// waits for the disk; failures are noted on the legs as damaged spans. Also the marker thread, which
// writes spool-pending.json for sessions whose audio waits in that queue (see engine.h).
#include <algorithm>
#include <cerrno>
#include <chrono>
#include <string>

#include "engine.h"

namespace srs {

void Engine::noteFailure(const WriteFailure& f, uint64_t* damagedSamples,
                         std::vector<std::pair<uint64_t, uint64_t>>* spans) {
  *damagedSamples += f.samples;
  if (f.samples == 0) return;
  // Adjacent failed batches make one span.
  if (!spans->empty() && spans->back().second >= f.from) {
    spans->back().second = std::max(spans->back().second, f.to);
  } else if (spans->size() < kMaxDamagedSpans) {
    spans->push_back({f.from, f.to});
  }
}

Engine::WriteFailure Engine::failureOf(const Staged& f, const uint8_t* data, int err) {
  WriteFailure wf{f.key, err};
  wf.from = UINT64_MAX;
  for (size_t p = 0; p + kSpoolRecordHeaderSize <= f.length;) {
    const uint8_t* r = data + p;
    const uint64_t off = uint64_t{r[0]} | uint64_t{r[1]} << 8 | uint64_t{r[2]} << 16 | uint64_t{r[3]} << 24;
    const uint64_t count = uint64_t{r[4]} | uint64_t{r[5]} << 8;
    wf.from = std::min(wf.from, off);
    wf.to = std::max(wf.to, off + count);
    wf.samples += count;
    p += kSpoolRecordHeaderSize + count;
  }
  if (wf.from == UINT64_MAX) wf.from = 0;
  return wf;
}

std::shared_ptr<Engine::WriteJob> Engine::enqueueWrite(StagedWrites&& w, bool report) {
  auto job = std::make_shared<WriteJob>();
  job->bytes = w.bytes.size();
  job->staged = std::move(w);
  job->report = report;
  {
    std::lock_guard<std::mutex> lock(wqMu_);
    if (!writerStop_) {
      wq_.push_back(job);
      wqBytes_ += job->bytes;
      wqBytesNow_.store(wqBytes_, std::memory_order_relaxed);
      if (wqBytes_ > wqBytesPeak_.load(std::memory_order_relaxed)) wqBytesPeak_.store(wqBytes_);
      wqCv_.notify_one();
      return job;
    }
  }
  // The writer has stopped (engine closed): write on this thread.
  std::lock_guard<std::mutex> io(ioMu_);
  writeStaged(job->staged, &job->failures);
  job->done = true;
  return job;
}

void Engine::waitWritten(const std::shared_ptr<WriteJob>& job) {
  std::unique_lock<std::mutex> lock(wqMu_);
  wqDone_.wait(lock, [&] { return job->done; });
}

void Engine::writerRun() {
  for (;;) {
    std::shared_ptr<WriteJob> job;
    {
      std::unique_lock<std::mutex> lock(wqMu_);
      wqCv_.wait(lock, [&] { return writerStop_ || (!wq_.empty() && !writerStalled_); });
      if (wq_.empty()) return;  // stopped and drained
      job = wq_.front();
    }
    {
      std::lock_guard<std::mutex> io(ioMu_);
      writeStaged(job->staged, &job->failures);
    }
    job->staged.clear();
    if (job->report && !job->failures.empty()) {
      std::lock_guard<std::mutex> lock(mu_);
      for (const WriteFailure& f : job->failures) {
        auto it = legsByKey_.find(f.key);
        if (it == legsByKey_.end()) continue;
        ++it->second->spoolErrors;
        it->second->lastSpoolError = f.error;
        noteFailure(f, &it->second->damagedSamples, &it->second->damagedSpans);
      }
    }
    {
      std::lock_guard<std::mutex> lock(wqMu_);
      wq_.pop_front();
      wqBytes_ -= job->bytes;
      wqBytesNow_.store(wqBytes_, std::memory_order_relaxed);
      job->done = true;
    }
    wqDone_.notify_all();
  }
}

void Engine::writeStaged(const StagedWrites& w, std::vector<WriteFailure>* failures) {
  // Spool files first: a new session's create makes its directory.
  for (const Staged& f : w.files) {
    const uint8_t* data = w.bytes.data() + f.pos;
    int err = f.create ? createSpoolFileWith(*f.path, data, f.length, f.sync)
                       : appendToFile(*f.path, data, f.length, f.sync);
    // No file: its create failed (disk full, no inodes, EMFILE): this batch creates it, header and data,
    // so a fault loses its own batches only, never the rest of the leg.
    if (err == ENOENT && !f.create) err = createSpoolFileWith(*f.path, data, f.length, f.sync);
    // On disk: no longer pending (a lost batch stays pending, so the marker still covers it).
    if (err == 0 && f.progress && f.to > f.progress->written.load(std::memory_order_relaxed)) {
      f.progress->written.store(f.to, std::memory_order_relaxed);
    }
    // The batch is gone (cut back, never torn): note which span of the timeline it held.
    if (err != 0 && failures != nullptr) failures->push_back(failureOf(f, data, err));
  }
  for (const StagedMeta& m : w.metas) {
    // session.json only dates and describes the legs: the audio is in the spools. A failure here
    // leaves the previous version (recovery falls back on the catalogue's start time).
    replaceFile(m.dir, "session.json", m.text);
  }
}

void Engine::dropFilesLocked(StagedWrites& w) {
  // Over the writer's bound (a stalled disk): this batch's audio is dropped, never silently.
  for (const Staged& f : w.files) {
    auto it = legsByKey_.find(f.key);
    if (it == legsByKey_.end()) continue;
    Leg& leg = *it->second;
    ++leg.spoolErrors;
    leg.lastSpoolError = ENOBUFS;
    noteFailure(failureOf(f, w.bytes.data() + f.pos, ENOBUFS), &leg.damagedSamples, &leg.damagedSpans);
    if (f.create) leg.created = false;  // the next batch creates the file
  }
  droppedBatches_.fetch_add(1, std::memory_order_relaxed);
  w.files.clear();
  w.bytes.clear();
}

namespace {

// `s` as a JSON string literal.
std::string jsonString(const std::string& s) {
  std::string out = "\"";
  for (const char c : s) {
    if (c == '"' || c == '\\') {
      out += '\\';
      out += c;
    } else if (static_cast<unsigned char>(c) < 0x20) {
      static const char kHex[] = "0123456789abcdef";
      out += "\\u00";
      out += kHex[(c >> 4) & 0xf];
      out += kHex[c & 0xf];
    } else {
      out += c;
    }
  }
  return out + "\"";
}

}  // namespace

void Engine::markerRun() {
  std::unique_lock<std::mutex> lock(markerMu_);
  while (!markerStop_) {
    markerCv_.wait_for(lock, std::chrono::milliseconds(kMarkerIntervalMs), [&] { return markerStop_; });
    if (markerStop_) break;
    lock.unlock();
    writeMarkers();
    lock.lock();
  }
}

void Engine::writeMarkers() {
  // Sessions whose writer backlog is over a second: their marker text, built under mu_ (a few
  // counters per leg), written outside it.
  std::vector<std::pair<std::string, std::string>> markers;
  const int64_t nowMs = std::chrono::duration_cast<std::chrono::milliseconds>(
                            std::chrono::system_clock::now().time_since_epoch())
                            .count();
  {
    std::lock_guard<std::mutex> lock(mu_);
    for (auto& entry : sessions_) {
      Session& s = *entry.second;
      bool behind = false;
      uint64_t furthest = 0;
      for (const auto& leg : s.legs) {
        if (leg->stagedTo > leg->progress->written.load(std::memory_order_relaxed) + kMarkerBacklogSamples) {
          behind = true;
        }
        furthest = std::max(furthest, leg->stagedTo);
      }
      // Written again only when there is more to say (at most once per interval).
      if (!behind || furthest <= s.markedTo) continue;
      s.markedTo = furthest;
      std::string text = "{\"recordingId\":" + jsonString(s.recordingId) + ",\"atMs\":" + std::to_string(nowMs) +
                         ",\"sampleRate\":8000,\"legs\":{";
      bool first = true;
      for (const auto& leg : s.legs) {
        if (!first) text += ",";
        first = false;
        text += jsonString(leg->legId) + ":{\"writtenTo\":" +
                std::to_string(leg->progress->written.load(std::memory_order_relaxed)) +
                ",\"pendingTo\":" + std::to_string(leg->stagedTo) + "}";
      }
      text += "}}\n";
      markers.emplace_back(s.spoolDir, std::move(text));
    }
  }
  // Not behind the writer's queue: on a slow disk these small writes still get through. A directory
  // already wiped (the call ended and was stored) is not made again.
  for (const auto& m : markers) replaceFileSynced(m.first, kPendingMarkerName, m.second);
}

}  // namespace srs
