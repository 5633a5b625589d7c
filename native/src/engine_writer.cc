// The engine's spool writer thread (see engine.h): a bounded, ordered queue of staged spool and
// session.json writes, drained by one thread so that neither the receive worker nor the JS thread
// waits for the disk; failures are noted on the legs as damaged spans.
#include <algorithm>
#include <cerrno>

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

}  // namespace srs
