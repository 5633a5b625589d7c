// Stress and fuzz test of the engine core, meant to run under AddressSanitizer and UBSan
// (scripts/test-native-asan.sh). It opens and closes thousands of sessions while RTP (and SRTP)
// flows, mixes some of them, and feeds the RTP parser, the SRTP layer, the AMR depacketizer and the
// codec decoders random and mutated datagrams.
// The fuzz cases are in fuzz.cc.
#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <iterator>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include <srtp2/srtp.h>

#include "engine.h"
#include "g711.h"
#include "leg.h"
#include "mixer.h"
#include "rtp.h"
#include "srtp.h"
#include "check.h"

namespace srs_test {
int failures = 0;
}  // namespace srs_test

using srs_test::failures;
using srs_test::protect;
using srs_test::protector;
using srs_test::rtp;
using srs_test::srtpConfig;

namespace {

std::vector<uint8_t> readFile(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  return std::vector<uint8_t>(std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>());
}

// Mixes `spoolDir` into memory with the same arguments as the file `wavPath` was mixed with and
// checks the bytes are the same, the allocation was exact (header + samples * channels + pad) and
// the outcome matches.
void checkMemoryMix(const std::string& spoolDir, const std::string& wavPath, const srs::MixOutcome& fileOutcome,
                    const std::vector<std::vector<std::string>>& channels = {},
                    const std::vector<srs::MixCut>& cuts = {}) {
  const std::vector<uint8_t> file = readFile(wavPath);
  std::vector<uint8_t> wav;
  srs::MixOutcome out;
  srs::MixFailure failure;
  CHECK(srs::mixSpoolDirToMemory(spoolDir, &wav, &out, &failure, channels, cuts));
  CHECK(wav.size() == file.size() && !file.empty() && std::memcmp(wav.data(), file.data(), file.size()) == 0);
  const size_t nch = channels.empty() ? 1 : channels.size();
  const size_t bytes = static_cast<size_t>(out.samples) * nch;
  CHECK(wav.size() == 58 + bytes + (bytes & 1));
  CHECK(wav.capacity() == wav.size());
  CHECK(out.samples == fileOutcome.samples && out.legs == fileOutcome.legs &&
        out.truncatedSpools == fileOutcome.truncatedSpools);
}

}  // namespace

int main(int argc, char** argv) {
  const int sessions = argc > 1 ? std::atoi(argv[1]) : 3000;
  // `stress 0 spool-faults`: the spool fault checks alone (spool_faults.cc).
  const bool spoolFaultsOnly = argc > 2 && std::string(argv[2]) == "spool-faults";
  if (!spoolFaultsOnly) {
    srs_test::checkG711();
    srs_test::checkPlacement();
    srs_test::fuzzReceiver();
    srs_test::fuzzCodecsAndSrtp();
  }

  char tmpl[] = "/tmp/srs-native-XXXXXX";
  const char* root = ::mkdtemp(tmpl);
  CHECK(root != nullptr);
  if (root == nullptr) return 1;
  if (!spoolFaultsOnly) srs_test::checkMp3Files(root);

  std::atomic<uint64_t> eventCount{0};
  std::atomic<uint64_t> liveChunks{0};
  srs::Engine engine(
      "127.0.0.1", [&](std::vector<srs::MediaEventData>&& batch) { eventCount += batch.size(); },
      [&](std::vector<srs::LiveChunk>&& live) { liveChunks += live.size(); });
  const int sender = ::socket(AF_INET, SOCK_DGRAM, 0);
  // A second host on the same network (127.0.0.2 is loopback too).
  const int foreign = ::socket(AF_INET, SOCK_DGRAM, 0);
  {
    sockaddr_in from{};
    from.sin_family = AF_INET;
    ::inet_pton(AF_INET, "127.0.0.2", &from.sin_addr);
    if (::bind(foreign, reinterpret_cast<sockaddr*>(&from), sizeof from) != 0) std::perror("bind 127.0.0.2");
  }
  sockaddr_in to{};
  to.sin_family = AF_INET;
  to.sin_addr.s_addr = htonl(INADDR_LOOPBACK);

  // Ports another process holds (the tree's other tests run at the same time) move the block.
  int basePort = 41000 + 2 * (::getpid() % 2000);
  int moves = 0;
  std::vector<uint8_t> payload(160);
  for (size_t i = 0; i < payload.size(); ++i) payload[i] = srs::linearToUlaw(static_cast<int16_t>((i % 16) * 1000));
  int mixes = 0;
  uint64_t closedReceived = 0;
  for (int s = 0; s < sessions; ++s) {
    srs::SessionConfig config;
    config.recordingId = "rec" + std::to_string(s);
    config.spoolDir = std::string(root) + "/s" + std::to_string(s);
    config.rtcp = s % 3 == 0;
    const bool paused = s % 11 == 5;
    // Every fourth session's legs are SRTP (the sender protects with libsrtp).
    const bool secure = s % 4 == 1;
    uint8_t key[46];
    for (size_t k = 0; k < sizeof key; ++k) key[k] = static_cast<uint8_t>(s * 31 + static_cast<int>(k));
    ::mkdir(config.spoolDir.c_str(), 0750);
    for (int l = 0; l < 2; ++l) {
      srs::LegConfig leg;
      leg.legId = "leg" + std::to_string(l);
      leg.port = static_cast<uint16_t>(basePort + 4 * (s % 50) + 2 * l);
      leg.payloadKinds.fill(srs::PayloadKind::None);
      leg.payloadKinds[0] = srs::PayloadKind::Pcmu;
      leg.payloadKinds[8] = srs::PayloadKind::Pcma;
      leg.payloadKinds[101] = srs::PayloadKind::TelephoneEvent;
      if (secure) leg.srtp = srtpConfig(srs::SrtpSuite::AesCm128Sha80, key);
      leg.remoteHost = "127.0.0.1";  // the SRC's SDP address: the leg latches on it (latch.h)
      config.legs.push_back(leg);
    }
    int64_t openedAt = 0;
    srs::EngineError error;
    if (!engine.openSession(config, &openedAt, &error)) {
      if (error.code == "EADDRINUSE" && ++moves <= 20) {
        basePort = 41000 + (basePort - 41000 + 1000) % 18000;
        --s;
        continue;
      }
      std::fprintf(stderr, "open %d failed: %s %s\n", s, error.code.c_str(), error.message.c_str());
      ++failures;
      continue;
    }
    // session.json contents go to the worker (written in its next pass or at the close).
    CHECK(engine.saveMeta(config.recordingId, "{\"session\": " + std::to_string(s) + "}\n"));
    CHECK(!engine.saveMeta("no-such", "{}"));
    // A second open of the same id must fail cleanly.
    srs::EngineError dup;
    CHECK(!engine.openSession(config, &openedAt, &dup) && dup.code == "ERR_SESSION_EXISTS");
    if (s % 5 == 0) CHECK(engine.setWatched(config.recordingId, true));
    if (paused) {
      CHECK(engine.setPaused(config.recordingId, {}, true));
      CHECK(!engine.setPaused(config.recordingId, {"no-such-leg"}, false));
    }
    srtp_t srtpSender = secure ? protector(srs::SrtpSuite::AesCm128Sha80, key) : nullptr;
    if (secure) CHECK(config.legs[0].srtp->keySaltLength == 0);  // the engine wiped the config's key
    for (int l = 0; l < 2; ++l) {
      if (config.rtcp) {
        const uint8_t rr[] = {0x80, 201, 0, 1, 0, 0, 0, 1};
        to.sin_port = htons(static_cast<uint16_t>(config.legs[static_cast<size_t>(l)].port + 1));
        ::sendto(sender, rr, sizeof rr, 0, reinterpret_cast<sockaddr*>(&to), sizeof to);
        ::sendto(sender, rr, sizeof rr, 0, reinterpret_cast<sockaddr*>(&to), sizeof to);
      }
      to.sin_port = htons(config.legs[static_cast<size_t>(l)].port);
      for (int k = 0; k < 5; ++k) {
        auto p = rtp(l == 0 ? 0 : 8, static_cast<uint16_t>(k), static_cast<uint32_t>(k * 160), 7u + static_cast<uint32_t>(l),
                     payload, k % 3, k % 2 == 1, k == 4 ? 3 : 0);
        if (secure) p = protect(srtpSender, p);
        ::sendto(sender, p.data(), p.size(), 0, reinterpret_cast<sockaddr*>(&to), sizeof to);
      }
      const uint8_t junk[] = {1, 2, 3};
      ::sendto(sender, junk, sizeof junk, 0, reinterpret_cast<sockaddr*>(&to), sizeof to);
      // Another host's RTP into the leg: dropped and counted, never recorded.
      auto intruder = rtp(0, 1, 160, 0x66666666u, payload);
      ::sendto(foreign, intruder.data(), intruder.size(), 0, reinterpret_cast<sockaddr*>(&to), sizeof to);
    }
    if (srtpSender != nullptr) srtp_dealloc(srtpSender);
    if (s % 7 == 0) {
      srs::SessionStatsData live;
      CHECK(engine.sessionStats(config.recordingId, &live));
    }
    if (s % 9 == 1) {
      // A re-INVITE's new key (or plain RTP) mid-session; unknown sessions and legs fail cleanly.
      auto next = srtpConfig(srs::SrtpSuite::AesCm256Sha32, key);
      next->keySaltLength = 46;
      srs::EngineError e;
      CHECK(engine.rekey(config.recordingId, "leg0", next.get(), &e) && next->keySaltLength == 0);
      CHECK(engine.rekey(config.recordingId, "leg1", nullptr, &e));
      CHECK(!engine.rekey(config.recordingId, "nope", nullptr, &e) && e.code == "ERR_NO_LEG");
      CHECK(!engine.rekey("nope", "leg0", nullptr, &e) && e.code == "ERR_NO_SESSION");
    }
    bool grown = s % 13 == 0;
    if (grown) {
      // A stream added by re-INVITE, then one removed; a duplicate legId and a taken port fail cleanly.
      srs::LegConfig extra = config.legs[0];
      extra.srtp.reset();  // that key was used (and wiped) by leg0: the added stream is plain
      extra.legId = "leg2";
      extra.port = static_cast<uint16_t>(basePort + 400);
      srs::EngineError e;
      grown = engine.addLegs(config.recordingId, {extra}, &e);
      CHECK(grown || e.code == "EADDRINUSE");  // taken by another process: skip this round
    }
    if (grown) {
      srs::LegConfig extra = config.legs[0];
      extra.srtp.reset();  // that key was used (and wiped) by leg0: the added stream is plain
      extra.legId = "leg2";
      extra.port = static_cast<uint16_t>(basePort + 400);
      srs::EngineError e;
      CHECK(!engine.addLegs(config.recordingId, {extra}, &e) && e.code == "EINVAL");
      srs::LegConfig clash = extra;
      clash.legId = "leg3";
      CHECK(!engine.addLegs(config.recordingId, {clash}, &e) && e.code == "EADDRINUSE");
      CHECK(!engine.addLegs("no-such", {clash}, &e) && e.code == "ERR_NO_SESSION");
      to.sin_port = htons(extra.port);
      auto p = rtp(0, 1, 160, 99, payload);
      ::sendto(sender, p.data(), p.size(), 0, reinterpret_cast<sockaddr*>(&to), sizeof to);
      CHECK(engine.removeLegs(config.recordingId, {"leg2", "unknown"}));
    }
    srs::SessionStatsData stats;
    if (s % 2 == 1) {
      // Closed in two steps, the write on another thread (the addon's endSession on the libuv pool).
      std::unique_ptr<srs::Engine::PendingClose> pending = engine.beginClose(config.recordingId);
      CHECK(pending != nullptr);
      CHECK(engine.beginClose(config.recordingId) == nullptr);
      if (pending) {
        std::thread writer([&] { engine.finishClose(*pending, &stats); });
        writer.join();
      }
    } else {
      CHECK(engine.closeSession(config.recordingId, &stats));
    }
    {
      // The worker (or the close) created the spools and wrote session.json's last version.
      std::ifstream meta(config.spoolDir + "/session.json");
      std::string text((std::istreambuf_iterator<char>(meta)), std::istreambuf_iterator<char>());
      CHECK(text == "{\"session\": " + std::to_string(s) + "}\n");
      struct stat st {};
      CHECK(::stat((config.spoolDir + "/leg0.spool").c_str(), &st) == 0 && st.st_size >= 16);
    }
    for (const auto& leg : stats.legs) closedReceived += leg.counters.received;
    CHECK(stats.legs.size() == (grown ? 3u : 2u));
    if (grown) {
      CHECK(stats.legs[2].counters.received == 1);
      stats.legs.pop_back();
    }
    for (const auto& leg : stats.legs) {
      CHECK(leg.counters.received == (paused ? 0u : 5u));
      CHECK(leg.counters.paused == (paused ? 5u : 0u));
      CHECK(leg.counters.ignored == 1);
      // Plain RTCP on an SRTP leg does not authenticate: counted as failures, not as RTCP.
      CHECK(leg.counters.rtcp == (config.rtcp && !secure ? 2u : 0u));
      CHECK(leg.counters.srtpAuthFailures == (config.rtcp && secure ? 2u : 0u));
      CHECK(leg.rejected == 1);
    }
    if (s % 100 == 0) {
      srs::MixOutcome stereo;
      srs::MixFailure failure;
      CHECK(srs::mixSpoolDir(config.spoolDir, config.spoolDir + "/stereo.wav", &stereo, &failure, {{"leg0"}, {"leg1"}}));
      checkMemoryMix(config.spoolDir, config.spoolDir + "/stereo.wav", stereo, {{"leg0"}, {"leg1"}});
      CHECK(!srs::mixSpoolDir(config.spoolDir, config.spoolDir + "/bad.wav", &stereo, &failure, {{"leg9"}}));
      {
        // The same failure into memory, and nothing left in the vector.
        std::vector<uint8_t> wav{1, 2, 3};
        srs::MixOutcome o;
        srs::MixFailure f;
        CHECK(!srs::mixSpoolDirToMemory(config.spoolDir, &wav, &o, &f, {{"leg9"}}));
        CHECK(f.code == failure.code && f.message == failure.message && wav.empty());
        CHECK(!srs::mixSpoolDirToMemory(config.spoolDir + "/missing", &wav, &o, &f));
        CHECK(f.code == "ENOENT" && wav.empty());
      }
      // Pause "cut" mode: overlapping, unsorted and out-of-range cuts; the file is shorter by what they cover.
      srs::MixOutcome full;
      srs::MixOutcome cut;
      const std::vector<srs::MixCut> cuts = {{300, 500}, {100, 200}, {150, 250}, {1u << 30, (1u << 30) + 10}};
      CHECK(srs::mixSpoolDir(config.spoolDir, config.spoolDir + "/full.wav", &full, &failure, {{"leg1"}}));
      checkMemoryMix(config.spoolDir, config.spoolDir + "/full.wav", full, {{"leg1"}});
      CHECK(srs::mixSpoolDir(config.spoolDir, config.spoolDir + "/cut.wav", &cut, &failure, {{"leg1"}}, cuts));
      checkMemoryMix(config.spoolDir, config.spoolDir + "/cut.wav", cut, {{"leg1"}}, cuts);
      CHECK(full.samples < 500 || cut.samples == full.samples - 350);
    }
    if (s % 100 == 0) {
      srs::MixOutcome out;
      srs::MixFailure failure;
      const bool ok = srs::mixSpoolDir(config.spoolDir, config.spoolDir + "/mix.wav", &out, &failure);
      CHECK(ok);
      if (ok) {
        checkMemoryMix(config.spoolDir, config.spoolDir + "/mix.wav", out);
        CHECK(out.legs == (grown ? 3u : 2u));
        CHECK(paused ? out.samples == 0 : out.samples >= 800);
        ++mixes;
      }
    }
  }
  srs_test::checkSpoolFaults(root, basePort);
  {
    // Totals of every session in one call (closed ones included).
    uint64_t received = 0;
    uint64_t lost = 0;
    std::vector<srs::SessionStatsData> open;
    engine.counters(&received, &lost, &open);
    CHECK(received == closedReceived);
    CHECK(open.empty());
  }
  {
    // A disk that stops answering: the writer stalls, the worker keeps receiving, the queue grows
    // (the metric), and once the disk answers again every byte reaches the file, in order.
    srs::SessionConfig config;
    config.recordingId = "stalled-disk";
    config.spoolDir = std::string(root) + "/stalled-disk";
    srs::LegConfig leg;
    leg.legId = "leg0";
    leg.port = static_cast<uint16_t>(basePort + 320);
    leg.payloadKinds.fill(srs::PayloadKind::None);
    leg.payloadKinds[0] = srs::PayloadKind::Pcmu;
    config.legs.push_back(leg);
    int64_t openedAt = 0;
    srs::EngineError error;
    if (engine.openSession(config, &openedAt, &error)) {
      CHECK(engine.injectFault("writer-stall"));
      to.sin_port = htons(leg.port);
      std::vector<uint8_t> audio(160, 0x55);
      for (int k = 0; k < 50; ++k) {
        auto p = rtp(0, static_cast<uint16_t>(k), static_cast<uint32_t>(k * 160), 0x5151, audio);
        ::sendto(sender, p.data(), p.size(), 0, reinterpret_cast<sockaddr*>(&to), sizeof to);
      }
      // Several flush ticks: the batches wait in the writer's queue, the packets are all received.
      std::this_thread::sleep_for(std::chrono::milliseconds(1000));
      srs::SessionStatsData live;
      CHECK(engine.sessionStats(config.recordingId, &live) && live.legs[0].counters.received == 50);
      CHECK(engine.writerQueueBytes() >= 50 * 160);
      CHECK(engine.injectFault("writer-resume"));
      srs::SessionStatsData stats;
      CHECK(engine.closeSession(config.recordingId, &stats));
      CHECK(engine.writerQueueBytes() == 0);
      CHECK(engine.writerQueuePeak() >= 50 * 160);
      CHECK(stats.legs[0].spoolErrors == 0);
      struct stat st {};
      CHECK(::stat((config.spoolDir + "/leg0.spool").c_str(), &st) == 0 &&
            st.st_size >= static_cast<off_t>(16 + 50 * 160));
    } else {
      CHECK(error.code == "EADDRINUSE");
    }
  }
  // Sessions left open are closed by close(); close() twice is safe.
  {
    srs::SessionConfig config;
    config.recordingId = "left-open";
    config.spoolDir = std::string(root);
    srs::LegConfig leg;
    leg.legId = "x";
    leg.port = static_cast<uint16_t>(basePort + 300);
    config.legs.push_back(leg);
    int64_t openedAt = 0;
    srs::EngineError error;
    CHECK(engine.openSession(config, &openedAt, &error) || error.code == "EADDRINUSE");
  }
  engine.close();
  engine.close();
  CHECK(engine.activeSessions() == 0);
  ::close(sender);
  ::close(foreign);
  const std::string cleanup = std::string("rm -rf ") + root;
  if (std::system(cleanup.c_str()) != 0) std::fprintf(stderr, "could not remove %s\n", root);

  std::printf("sessions=%d mixes=%d events=%llu liveChunks=%llu failures=%d\n", sessions, mixes,
              static_cast<unsigned long long>(eventCount.load()), static_cast<unsigned long long>(liveChunks.load()),
              failures);
  return failures == 0 ? 0 : 1;
}
