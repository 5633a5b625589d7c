// Benchmark helper for `npm run bench:media` (built by bench/media.ts with g++):
//
// <ports> is a file with one UDP port per line (one per leg), as the engine bound them.
//
//   rtpbench send <host> <ports> <legs> <seconds> <pps|max> [codec]
//       One UDP socket sends RTP (PT 0, 160-byte u-law payload, 20 ms) to the first <legs> ports with
//       sendmmsg: `pps` packets per second per leg spread over 1 ms slots, or
//       as fast as it can ("max"). Prints JSON: packets sent, errors, CPU seconds.
//       codec: "pcmu" (default); "g729" (PT 18, two 10-byte frames); "opus:<file>" (PT 111, 20 ms
//       payloads cycled from <file>: u16 little-endian length + bytes each); "srtp" (PCMU protected
//       with AES_CM_128_HMAC_SHA1_80 under the key kBenchKey; built with libsrtp2).
//   rtpbench sink <host> <ports> <legs> <seconds> [basePort]
//       The bare baseline: binds the listed ports (or, given basePort, the first <legs> free even
//       ports from there, written to <ports> before "ready") and receives with epoll + recvmmsg, counting
//       datagrams and doing nothing else. Prints JSON once the senders have gone quiet for 1 s (or
//       after `seconds` + 5 s): packets received, CPU seconds.
#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/epoll.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include <srtp2/srtp.h>

#include <cerrno>
#include <fstream>
#include <iterator>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <string>
#include <vector>

namespace {

double now() {
  timespec ts{};
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return static_cast<double>(ts.tv_sec) + static_cast<double>(ts.tv_nsec) / 1e9;
}

double cpuSeconds() {
  rusage ru{};
  getrusage(RUSAGE_SELF, &ru);
  return static_cast<double>(ru.ru_utime.tv_sec + ru.ru_stime.tv_sec) +
         static_cast<double>(ru.ru_utime.tv_usec + ru.ru_stime.tv_usec) / 1e6;
}

sockaddr_in addr(const char* host, int port) {
  sockaddr_in a{};
  a.sin_family = AF_INET;
  a.sin_port = htons(static_cast<uint16_t>(port));
  if (inet_pton(AF_INET, host, &a.sin_addr) != 1) {
    std::fprintf(stderr, "bad IPv4 address %s\n", host);
    std::exit(2);
  }
  return a;
}

constexpr size_t kPacket = 12 + 160 + SRTP_MAX_TRAILER_LEN;  // room for any payload and an SRTP trailer
// The fixed master key + salt of the SRTP runs (bench/media.ts gives the engine the same).
constexpr uint8_t kBenchKey[30] = {1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15,
                                   16, 17, 18, 19, 20, 21, 22, 23, 24, 25, 26, 27, 28, 29, 30};

struct Codec {
  uint8_t pt = 0;
  uint32_t tsStep = 160;
  std::vector<std::vector<uint8_t>> payloads;  // cycled; default one 160-byte u-law payload
  bool srtp = false;
  std::vector<srtp_t> contexts;  // one per leg (libsrtp looks streams up in a list: one each keeps it O(1))
};

srtp_t makeProtector() {
  srtp_policy_t policy;
  std::memset(&policy, 0, sizeof policy);
  srtp_crypto_policy_set_rtp_default(&policy.rtp);
  srtp_crypto_policy_set_rtcp_default(&policy.rtcp);
  policy.ssrc.type = ssrc_any_outbound;
  policy.key = const_cast<uint8_t*>(kBenchKey);
  policy.window_size = 128;
  srtp_t s = nullptr;
  return srtp_create(&s, &policy) == srtp_err_status_ok ? s : nullptr;
}

bool loadCodec(const char* name, Codec* c) {
  const std::string n = name == nullptr ? "pcmu" : name;
  if (n == "pcmu" || n == "srtp") {
    c->payloads.assign(1, std::vector<uint8_t>(160, 0xFF));
    if (n == "srtp") {
      if (srtp_init() != srtp_err_status_ok) return false;
      c->srtp = true;
    }
    return true;
  }
  if (n == "g729") {
    // Any 80 bits decode as a G.729 frame, and decoding costs the same whatever they are.
    c->pt = 18;
    std::vector<uint8_t> p(20);
    for (size_t i = 0; i < p.size(); ++i) p[i] = static_cast<uint8_t>(i * 37 + 11);
    c->payloads.assign(1, p);
    return true;
  }
  if (n.rfind("opus:", 0) == 0) {
    c->pt = 111;
    c->tsStep = 960;
    std::ifstream in(n.substr(5), std::ios::binary);
    const std::vector<uint8_t> all((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
    for (size_t pos = 0; pos + 2 <= all.size();) {
      const size_t len = all[pos] | (all[pos + 1] << 8);
      if (pos + 2 + len > all.size() || len > 160) break;
      c->payloads.emplace_back(all.begin() + static_cast<long>(pos) + 2, all.begin() + static_cast<long>(pos + 2 + len));
      pos += 2 + len;
    }
    return !c->payloads.empty();
  }
  return false;
}

std::vector<int> readPorts(const char* file, int legs) {
  std::vector<int> ports;
  FILE* f = std::fopen(file, "r");
  if (f == nullptr) {
    std::perror(file);
    std::exit(2);
  }
  int p = 0;
  while (static_cast<int>(ports.size()) < legs && std::fscanf(f, "%d", &p) == 1) ports.push_back(p);
  std::fclose(f);
  if (static_cast<int>(ports.size()) < legs) {
    std::fprintf(stderr, "%s lists %zu ports, %d needed\n", file, ports.size(), legs);
    std::exit(2);
  }
  return ports;
}

int send(const char* host, const std::vector<int>& ports, int legs, double seconds, int pps, const char* codecName) {
  Codec codec;
  if (!loadCodec(codecName, &codec)) return std::fprintf(stderr, "bad codec %s\n", codecName), 1;
  std::vector<size_t> lengths(static_cast<size_t>(legs), kPacket);
  std::vector<uint32_t> counts(static_cast<size_t>(legs), 0);
  if (codec.srtp) {
    for (int i = 0; i < legs; ++i) {
      codec.contexts.push_back(makeProtector());
      if (codec.contexts.back() == nullptr) return std::fprintf(stderr, "srtp_create failed\n"), 1;
    }
  }
  const int fd = ::socket(AF_INET, SOCK_DGRAM, 0);
  if (fd < 0) return std::perror("socket"), 1;
  const int sndbuf = 4 << 20;
  ::setsockopt(fd, SOL_SOCKET, SO_SNDBUF, &sndbuf, sizeof sndbuf);
  std::vector<sockaddr_in> to(static_cast<size_t>(legs));
  std::vector<uint8_t> packets(static_cast<size_t>(legs) * kPacket, 0xFF);
  std::vector<uint16_t> seq(static_cast<size_t>(legs));
  std::vector<uint32_t> ts(static_cast<size_t>(legs));
  for (int i = 0; i < legs; ++i) {
    to[static_cast<size_t>(i)] = addr(host, ports[static_cast<size_t>(i)]);
    uint8_t* p = &packets[static_cast<size_t>(i) * kPacket];
    p[0] = 0x80;
    p[1] = codec.pt;
    const uint32_t ssrc = 0x10000000u + static_cast<uint32_t>(i);
    p[8] = static_cast<uint8_t>(ssrc >> 24);
    p[9] = static_cast<uint8_t>(ssrc >> 16);
    p[10] = static_cast<uint8_t>(ssrc >> 8);
    p[11] = static_cast<uint8_t>(ssrc);
    seq[static_cast<size_t>(i)] = static_cast<uint16_t>(i * 7);
    ts[static_cast<size_t>(i)] = static_cast<uint32_t>(i) * 1000u;
  }
  constexpr int kBatch = 256;
  mmsghdr msgs[kBatch];
  iovec iovs[kBatch];
  uint64_t sent = 0;
  uint64_t errors = 0;
  auto stamp = [&](int i) {
    uint8_t* p = &packets[static_cast<size_t>(i) * kPacket];
    const uint16_t s = seq[static_cast<size_t>(i)]++;
    const uint32_t t = ts[static_cast<size_t>(i)];
    ts[static_cast<size_t>(i)] += codec.tsStep;
    p[2] = static_cast<uint8_t>(s >> 8);
    p[3] = static_cast<uint8_t>(s);
    p[4] = static_cast<uint8_t>(t >> 24);
    p[5] = static_cast<uint8_t>(t >> 16);
    p[6] = static_cast<uint8_t>(t >> 8);
    p[7] = static_cast<uint8_t>(t);
    const std::vector<uint8_t>& payload = codec.payloads[counts[static_cast<size_t>(i)]++ % codec.payloads.size()];
    std::memcpy(p + 12, payload.data(), payload.size());
    int len = static_cast<int>(12 + payload.size());
    if (codec.srtp && srtp_protect(codec.contexts[static_cast<size_t>(i)], p, &len) != srtp_err_status_ok) len = 12;
    lengths[static_cast<size_t>(i)] = static_cast<size_t>(len);
  };
  // Sends legs [list] in sendmmsg batches; packets that fail (ENOBUFS, EAGAIN) are counted, not retried.
  std::vector<int> list;
  auto flush = [&]() {
    size_t off = 0;
    while (off < list.size()) {
      const int n = static_cast<int>(std::min<size_t>(kBatch, list.size() - off));
      for (int k = 0; k < n; ++k) {
        const int i = list[off + static_cast<size_t>(k)];
        stamp(i);
        iovs[k].iov_base = &packets[static_cast<size_t>(i) * kPacket];
        iovs[k].iov_len = lengths[static_cast<size_t>(i)];
        std::memset(&msgs[k], 0, sizeof msgs[k]);
        msgs[k].msg_hdr.msg_name = &to[static_cast<size_t>(i)];
        msgs[k].msg_hdr.msg_namelen = sizeof(sockaddr_in);
        msgs[k].msg_hdr.msg_iov = &iovs[k];
        msgs[k].msg_hdr.msg_iovlen = 1;
      }
      int done = 0;
      while (done < n) {
        const int r = ::sendmmsg(fd, msgs + done, static_cast<unsigned>(n - done), 0);
        if (r < 0) {
          if (errno == EINTR) continue;
          ++errors;  // this datagram is dropped; go on with the next
          ++done;
          continue;
        }
        done += r;
        sent += static_cast<uint64_t>(r);
      }
      off += static_cast<size_t>(n);
    }
    list.clear();
  };
  const double cpu0 = cpuSeconds();
  const double start = now();
  const double end = start + seconds;
  if (pps <= 0) {
    int next = 0;
    while (now() < end) {
      for (int k = 0; k < 1024; ++k) {
        list.push_back(next);
        next = (next + 1) % legs;
      }
      flush();
    }
  } else {
    // Leg i sends in 1 ms slot (i % slots) of every period: 50 pps = one packet per 20 ms period.
    const int slots = std::max(1, 1000 / pps);
    long tick = 0;
    for (;;) {
      const double due = start + static_cast<double>(tick) / 1000.0;
      if (due >= end) break;
      const double wait = due - now();
      if (wait > 0) {
        timespec req{static_cast<time_t>(wait), static_cast<long>((wait - static_cast<double>(static_cast<time_t>(wait))) * 1e9)};
        nanosleep(&req, nullptr);
      }
      const int slot = static_cast<int>(tick % slots);
      for (int i = slot; i < legs; i += slots) list.push_back(i);
      flush();
      ++tick;
    }
  }
  const double elapsed = now() - start;
  std::printf("{\"sent\":%llu,\"errors\":%llu,\"seconds\":%.3f,\"cpuSeconds\":%.3f}\n",
              static_cast<unsigned long long>(sent), static_cast<unsigned long long>(errors), elapsed,
              cpuSeconds() - cpu0);
  ::close(fd);
  return 0;
}

// coalesceMs > 0: after a pass that drained every ready socket, wait out the rest of that many ms
// before the next one, as the engine does (Engine::kCoalesceMs), so that one recvmmsg takes the
// datagrams that gathered instead of one. Every second, a line "p <seconds since ready> <received>"
// (receive rate over a window, for the keep-up check).
int sink(const char* host, std::vector<int> ports, int legs, double seconds, int basePort, const char* portsOut,
         int coalesceMs) {
  const int ep = ::epoll_create1(0);
  std::vector<int> fds;
  int next = basePort;
  for (int i = 0; i < legs; ++i) {
    const int fd = ::socket(AF_INET, SOCK_DGRAM | SOCK_NONBLOCK, 0);
    if (fd < 0) return std::perror("socket"), 1;
    const int rcvbuf = 256 * 1024;  // as the engine sets it
    ::setsockopt(fd, SOL_SOCKET, SO_RCVBUF, &rcvbuf, sizeof rcvbuf);
    for (;;) {
      const int port = basePort > 0 ? next : ports[static_cast<size_t>(i)];
      sockaddr_in a = addr(host, port);
      if (::bind(fd, reinterpret_cast<sockaddr*>(&a), sizeof a) == 0) {
        if (basePort > 0) ports.push_back(port);
        next += 2;
        break;
      }
      if (basePort > 0 && errno == EADDRINUSE && next + 2 < 65535) {
        next += 2;  // another process holds it: take the next one
        continue;
      }
      std::fprintf(stderr, "bind %d: %s\n", port, std::strerror(errno));
      return 1;
    }
    epoll_event ev{};
    ev.events = EPOLLIN;
    ev.data.u32 = static_cast<uint32_t>(i);
    ::epoll_ctl(ep, EPOLL_CTL_ADD, fd, &ev);
    fds.push_back(fd);
  }
  if (basePort > 0) {
    FILE* f = std::fopen(portsOut, "w");
    if (f == nullptr) return std::perror(portsOut), 1;
    for (int p : ports) std::fprintf(f, "%d\n", p);
    std::fclose(f);
  }
  std::printf("ready\n");
  std::fflush(stdout);
  constexpr int kBatch = 32;
  static uint8_t buffers[kBatch][2048];
  mmsghdr msgs[kBatch];
  iovec iovs[kBatch];
  uint64_t received = 0;
  const double cpu0 = cpuSeconds();
  double first = 0;
  double last = now();
  const double hardEnd = now() + seconds + 5;
  epoll_event events[64];
  const double ready = now();
  double nextProgress = ready + 1;
  double roundStart = ready;
  for (;;) {
    const int n = ::epoll_wait(ep, events, 64, 100);
    const double t = now();
    if (t >= nextProgress) {
      std::printf("p %.3f %llu\n", t - ready, static_cast<unsigned long long>(received));
      std::fflush(stdout);
      nextProgress += 1;
    }
    if (n <= 0) {
      if ((first > 0 && t - last > 1.0) || t > hardEnd) break;
      continue;
    }
    for (int e = 0; e < n; ++e) {
      const int fd = fds[events[e].data.u32];
      for (int round = 0; round < 4; ++round) {
        for (int k = 0; k < kBatch; ++k) {
          iovs[k].iov_base = buffers[k];
          iovs[k].iov_len = sizeof buffers[k];
          std::memset(&msgs[k], 0, sizeof msgs[k]);
          msgs[k].msg_hdr.msg_iov = &iovs[k];
          msgs[k].msg_hdr.msg_iovlen = 1;
        }
        const int r = ::recvmmsg(fd, msgs, kBatch, MSG_DONTWAIT, nullptr);
        if (r <= 0) break;
        received += static_cast<uint64_t>(r);
        if (r < kBatch) break;
      }
    }
    if (first == 0) first = t;
    last = t;
    if (coalesceMs > 0 && n < 64) {
      const double rest = roundStart + coalesceMs / 1000.0 - now();
      if (rest > 0) {
        timespec req{0, static_cast<long>(rest * 1e9)};
        nanosleep(&req, nullptr);
      }
      roundStart = now();
    }
  }
  std::printf("{\"received\":%llu,\"seconds\":%.3f,\"cpuSeconds\":%.3f}\n", static_cast<unsigned long long>(received),
              last - first, cpuSeconds() - cpu0);
  for (int fd : fds) ::close(fd);
  ::close(ep);
  return 0;
}

}  // namespace

int main(int argc, char** argv) {
  if (argc >= 7 && std::strcmp(argv[1], "send") == 0) {
    const bool max = std::strcmp(argv[6], "max") == 0;
    const int legs = std::atoi(argv[4]);
    return send(argv[2], readPorts(argv[3], legs), legs, std::atof(argv[5]), max ? 0 : std::atoi(argv[6]),
                argc >= 8 ? argv[7] : nullptr);
  }
  if (argc >= 6 && std::strcmp(argv[1], "sink") == 0) {
    const int legs = std::atoi(argv[4]);
    const int basePort = argc >= 7 ? std::atoi(argv[6]) : 0;
    const int coalesceMs = argc >= 8 ? std::atoi(argv[7]) : 0;
    return sink(argv[2], basePort > 0 ? std::vector<int>{} : readPorts(argv[3], legs), legs, std::atof(argv[5]),
                basePort, argv[3], coalesceMs);
  }
  std::fprintf(stderr,
               "usage: rtpbench send <host> <portsFile> <legs> <seconds> <pps|max>\n"
               "       rtpbench sink <host> <portsFile> <legs> <seconds> [basePort [coalesceMs]]\n");
  return 2;
}
