// The binding's Engine class: one srs::Engine per JavaScript object, its event and live-tap batches
// handed to a JavaScript listener through a bounded thread-safe function. Lifecycle and events:
// addon_engine.cc; the session calls: addon_engine_calls.cc.
#pragma once

#include <napi.h>

#include <atomic>
#include <cstdint>
#include <memory>
#include <vector>

#include "engine.h"

namespace srs::addon {

struct EventBatch {
  std::vector<srs::MediaEventData> events;
  std::vector<srs::LiveChunk> live;
};
class EngineWrap;
void callJs(Napi::Env env, Napi::Function unused, EngineWrap* wrap, EventBatch* batch);
using EventTsfn = Napi::TypedThreadSafeFunction<EngineWrap, EventBatch, callJs>;

class EngineWrap : public Napi::ObjectWrap<EngineWrap> {
 public:
  static constexpr size_t kMaxQueuedBatches = 64;  // event batches (one per 150 ms tick) queued for JS
  static Napi::Function Init(Napi::Env env);

  // new Engine(bindAddress: string, onEvents: (events: object[]) => void)
  explicit EngineWrap(const Napi::CallbackInfo& info);
  ~EngineWrap() override;

  srs::Engine& engine() { return *engine_; }  // for EndWorker

  void deliver(Napi::Env env, EventBatch* batch);

 private:
  static void onEnvCleanup(void* arg);
  void forward(EventBatch&& batch);
  void updateRef(Napi::Env env);
  void requireOpen(Napi::Env env);

  // addLegs(recordingId, legs: [{ legId, port, payloadTypes }]) -> undefined; throws like openSession
  Napi::Value AddLegs(const Napi::CallbackInfo& info);
  // rekey(recordingId, legId, srtp | null) -> boolean (false: no such session or leg)
  Napi::Value Rekey(const Napi::CallbackInfo& info);
  // removeLegs(recordingId, legIds: string[]) -> boolean (false: no such session)
  Napi::Value RemoveLegs(const Napi::CallbackInfo& info);
  // openSession({ recordingId, spoolDir, legs: [{ legId, port, payloadTypes: { [pt]: kind } }] }) -> openedAtMs
  Napi::Value OpenSession(const Napi::CallbackInfo& info);
  Napi::Value CloseSession(const Napi::CallbackInfo& info);
  // endSession(recordingId) -> Promise<stats | undefined>: the session stops now (as closeSession);
  // its last records and session.json are written on the libuv pool, and the promise resolves once
  // they are on disk.
  Napi::Value EndSession(const Napi::CallbackInfo& info);
  // saveMeta(recordingId, text) -> boolean (false: no such session): session.json's new contents,
  // written by the engine's worker.
  Napi::Value SaveMeta(const Napi::CallbackInfo& info);
  // counters(perSession: boolean) -> { packetsReceived, packetsLost, sessions?: [{ recordingId,
  // legs: [{ legId, packetsReceived, packetsLost }] }] }: every session since the start, one call.
  Napi::Value Counters(const Napi::CallbackInfo& info);
  Napi::Value SessionStats(const Napi::CallbackInfo& info);
  // setPaused(recordingId, legIds: string[] (empty: all), paused: boolean) -> number (the time of the
  // pause or resume in samples since the session's t0) or false (unknown session or leg)
  Napi::Value SetPaused(const Napi::CallbackInfo& info);
  // setWatched(recordingId, watched: boolean) -> boolean (false: unknown session)
  Napi::Value SetWatched(const Napi::CallbackInfo& info);
  Napi::Value ActiveSessions(const Napi::CallbackInfo& info);
  Napi::Value Close(const Napi::CallbackInfo& info);
  // testFault(kind: "worker-exit"): test-only fault injection (the worker thread dies as it would on
  // an unexpected exception). Used by the end-to-end tests through SRS_TEST_ENGINE_FAULT only.
  Napi::Value TestFault(const Napi::CallbackInfo& info);

  napi_env env_;
  std::unique_ptr<srs::Engine> engine_;
  EventTsfn tsfn_;
  // Read by the worker thread (forward), written by the JS thread: atomics.
  std::atomic<bool> tsfnLive_{false};
  std::atomic<uint64_t> eventBatchesDropped_{0};  // batches refused by the full JS queue
  bool refed_ = false;
  bool closed_ = false;
  std::atomic<bool> tearingDown_{false};
  bool hookAdded_ = false;
  Napi::FunctionReference listener_;
};

}  // namespace srs::addon
