// Spool faults of the engine (scripts/test-native-asan.sh, test-native-tsan.sh; alone with
// `stress 0 spool-faults`):
// - a leg whose spool file cannot be created once (here its directory's path is a regular file,
//   ENOTDIR, as ENOSPC or EMFILE would do) gets its file at a later batch once the path is usable:
//   only the batches of the fault are lost (and reported damaged), not the rest of the call;
// - while the spool writer is stalled with more than a second of a session's audio queued, the
//   engine writes <spoolDir>/spool-pending.json saying up to where audio was handed to the writer,
//   so recovery after a crash can report what the dead process held as damaged.
#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <iterator>
#include <string>
#include <thread>
#include <vector>

#include "engine.h"
#include "spool.h"

#include "check.h"

namespace srs_test {

namespace {

// Sends `count` 20 ms PCMU packets to `port` in real time (seq and timestamp from `first`).
void sendTone(int sock, uint16_t port, int first, int count) {
  sockaddr_in to{};
  to.sin_family = AF_INET;
  to.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  to.sin_port = htons(port);
  const std::vector<uint8_t> audio(160, 0x23);
  for (int k = first; k < first + count; ++k) {
    auto p = rtp(0, static_cast<uint16_t>(k), static_cast<uint32_t>(k * 160), 0x7a7a, audio);
    ::sendto(sock, p.data(), p.size(), 0, reinterpret_cast<sockaddr*>(&to), sizeof to);
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
}

srs::SessionConfig oneLeg(const std::string& id, const std::string& dir, uint16_t port) {
  srs::SessionConfig config;
  config.recordingId = id;
  config.spoolDir = dir;
  srs::LegConfig leg;
  leg.legId = "leg0";
  leg.port = port;
  leg.payloadKinds.fill(srs::PayloadKind::None);
  leg.payloadKinds[0] = srs::PayloadKind::Pcmu;
  config.legs.push_back(leg);
  return config;
}

// Samples held by a spool file's records, or -1 when it cannot be read.
int64_t spoolSamples(const std::string& path) {
  srs::SpoolContents c;
  std::string error;
  if (srs::readSpoolFile(path, &c, &error) != 0) return -1;
  int64_t n = 0;
  for (const auto& r : c.records) n += r.count;
  return n;
}

std::string readText(const std::string& path) {
  std::ifstream in(path);
  return std::string((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
}

// The number after `"key":` in a small JSON text, or -1.
int64_t numberAfter(const std::string& text, const std::string& key) {
  const size_t at = text.find("\"" + key + "\":");
  if (at == std::string::npos) return -1;
  return std::atoll(text.c_str() + at + key.size() + 3);
}

void checkCreateRetried(srs::Engine& engine, int sock, const std::string& root, uint16_t port) {
  const std::string dir = root + "/create-fails";
  // The spool directory's path is a regular file: the leg's create fails (ENOTDIR).
  { std::ofstream blocker(dir); }
  srs::SessionConfig config = oneLeg("create-fails", dir, port);
  int64_t openedAt = 0;
  srs::EngineError error;
  if (!engine.openSession(config, &openedAt, &error)) {
    CHECK(error.code == "EADDRINUSE");
    return;
  }
  sendTone(sock, port, 0, 10);  // 0.2 s of audio while the path is unusable
  // Wait for the failed create (and the failed first batch) to be counted.
  srs::SessionStatsData live;
  for (int i = 0; i < 50; ++i) {
    CHECK(engine.sessionStats(config.recordingId, &live));
    if (!live.legs.empty() && live.legs[0].spoolErrors >= 2) break;
    std::this_thread::sleep_for(std::chrono::milliseconds(100));
  }
  CHECK(!live.legs.empty() && live.legs[0].spoolErrors >= 1);
  ::unlink(dir.c_str());  // the fault is over
  sendTone(sock, port, 10, 50);  // 1 s of audio
  srs::SessionStatsData stats;
  CHECK(engine.closeSession(config.recordingId, &stats));
  const int64_t samples = spoolSamples(dir + "/leg0.spool");
  std::printf("create-retry: spool samples=%lld damaged=%llu spoolErrors=%llu\n", static_cast<long long>(samples),
              static_cast<unsigned long long>(stats.legs[0].damagedSamples),
              static_cast<unsigned long long>(stats.legs[0].spoolErrors));
  // Everything sent after the fault is in the file; only the fault's batch is lost.
  CHECK(samples >= 50 * 160);
  CHECK(stats.legs[0].damagedSamples <= 10 * 160);
  CHECK(samples + static_cast<int64_t>(stats.legs[0].damagedSamples) >= 60 * 160);
}

void checkPendingMarker(srs::Engine& engine, int sock, const std::string& root, uint16_t port) {
  const std::string dir = root + "/stalled-marker";
  srs::SessionConfig config = oneLeg("stalled-marker", dir, port);
  int64_t openedAt = 0;
  srs::EngineError error;
  if (!engine.openSession(config, &openedAt, &error)) {
    CHECK(error.code == "EADDRINUSE");
    return;
  }
  sendTone(sock, port, 0, 25);  // 0.5 s written normally
  std::this_thread::sleep_for(std::chrono::milliseconds(600));
  CHECK(engine.injectFault("writer-stall"));
  sendTone(sock, port, 25, 125);  // 2.5 s that wait in the writer's queue
  std::this_thread::sleep_for(std::chrono::milliseconds(1500));
  const std::string marker = readText(dir + "/" + srs::kPendingMarkerName);
  const int64_t pendingTo = numberAfter(marker, "pendingTo");
  const int64_t writtenTo = numberAfter(marker, "writtenTo");
  const int64_t onDisk = spoolSamples(dir + "/leg0.spool");
  std::printf("pending-marker: marker=%s onDisk=%lld\n", marker.c_str(), static_cast<long long>(onDisk));
  // The marker reaches past what is in the file by at least the second that made it write.
  CHECK(pendingTo >= onDisk + 8000);
  CHECK(pendingTo >= 2 * 8000);
  CHECK(writtenTo >= 0 && writtenTo < pendingTo);
  CHECK(engine.injectFault("writer-resume"));
  srs::SessionStatsData stats;
  CHECK(engine.closeSession(config.recordingId, &stats));
  CHECK(stats.legs[0].spoolErrors == 0);
  CHECK(spoolSamples(dir + "/leg0.spool") >= 150 * 160);
}

}  // namespace

void checkSpoolFaults(const std::string& root, int basePort) {
  srs::Engine engine("127.0.0.1", [](std::vector<srs::MediaEventData>&&) {});
  const int sock = ::socket(AF_INET, SOCK_DGRAM, 0);
  checkCreateRetried(engine, sock, root, static_cast<uint16_t>(basePort + 360));
  checkPendingMarker(engine, sock, root, static_cast<uint16_t>(basePort + 364));
  engine.close();
  ::close(sock);
}

}  // namespace srs_test
