// The engine's receive path (see engine.h), run by the worker under `mu_` (and by control calls that
// drain a leg's socket first): recvmmsg batches timed by the kernel's receive timestamps, ingress
// latching, RTCP draining, leg events turned into media events, and spool records staged for the
// writer.
#include "engine.h"

#include <sys/socket.h>
#include <time.h>

#include <algorithm>
#include <cstring>

namespace srs {

namespace {

using Clock = std::chrono::steady_clock;

}  // namespace

void Engine::receive(Leg& leg, int64_t maxRounds, StagedWrites& out) {
  // The headers are set up once (constructor): recvmmsg only writes msg_len and msg_flags back.
  mmsghdr* msgs = recvMsgs_.data();
  iovec* iovs = recvIovs_.data();
  std::vector<LegEvent> legEvents;
  for (int64_t round = 0; round < maxRounds; ++round) {
    for (int i = 0; i < kRecvBatch; ++i) {
      msgs[i].msg_hdr.msg_controllen = kCtrlSize;  // the kernel shrinks it
      msgs[i].msg_hdr.msg_namelen = sizeof(sockaddr_storage);
    }
    const int n = ::recvmmsg(leg.fd, msgs, kRecvBatch, MSG_DONTWAIT, nullptr);
    if (n <= 0) break;
    const Clock::time_point now = Clock::now();
    timespec real{};
    ::clock_gettime(CLOCK_REALTIME, &real);
    const int64_t realNow = int64_t{real.tv_sec} * 1000000000LL + real.tv_nsec;
    for (int i = 0; i < n; ++i) {
      // Arrival is when the kernel received the datagram (SO_TIMESTAMPNS), not when this thread
      // got to it: on a loaded machine the worker may run tens of ms late, the timeline must not.
      Clock::time_point at = now;
      for (cmsghdr* c = CMSG_FIRSTHDR(&msgs[i].msg_hdr); c != nullptr; c = CMSG_NXTHDR(&msgs[i].msg_hdr, c)) {
        if (c->cmsg_level == SOL_SOCKET && c->cmsg_type == SCM_TIMESTAMPNS) {
          timespec ts;
          std::memcpy(&ts, CMSG_DATA(c), sizeof ts);
          const int64_t age = realNow - (int64_t{ts.tv_sec} * 1000000000LL + ts.tv_nsec);
          // A clock step could make it absurd: trust only a plausible age.
          if (age > 0 && age < 5000000000LL) at = now - std::chrono::nanoseconds(age);
        }
      }
      const int64_t arrival = samplesSince(*leg.session, at);
      // Only the latched SRC feeds the leg: anyone else's datagrams are dropped and counted.
      const uint8_t* d = static_cast<const uint8_t*>(iovs[i].iov_base);
      const bool hasSsrc = msgs[i].msg_len >= 12 && !(msgs[i].msg_hdr.msg_flags & MSG_TRUNC);
      const uint32_t ssrc = hasSsrc ? (uint32_t{d[8]} << 24 | uint32_t{d[9]} << 16 | uint32_t{d[10]} << 8 | d[11]) : 0;
      const SourceAddress from = SourceAddress::from(recvNames_[i], msgs[i].msg_hdr.msg_namelen);
      const bool truncated = (msgs[i].msg_hdr.msg_flags & MSG_TRUNC) != 0;  // counted as ignored
      uint8_t* data = truncated ? nullptr : static_cast<uint8_t*>(iovs[i].iov_base);
      const size_t length = truncated ? 0 : msgs[i].msg_len;
      const SrtpReceiver* srtp = leg.receiver.srtp();
      if (srtp != nullptr && !srtp->plain()) {
        // SRTP: a datagram from an admissible source is authenticated first, and only one that
        // authenticated latches the leg, moves the latch or keeps it fresh. A forged datagram (from
        // another host before the SRC's first packet, or during its silence) only counts as an
        // auth failure and changes nothing.
        if (!leg.latch.admits(from, arrival)) {
          ++leg.rejected;
          continue;
        }
        if (leg.receiver.onDatagram(data, length, arrival, legEvents)) {
          leg.latch.acceptRtp(from, hasSsrc, ssrc, arrival);
        }
        continue;
      }
      if (!leg.latch.acceptRtp(from, hasSsrc, ssrc, arrival)) {
        ++leg.rejected;
        continue;
      }
      leg.receiver.onDatagram(data, length, arrival, legEvents);
    }
    if (n < kRecvBatch) break;
  }
  collect(leg, legEvents);
  if (leg.receiver.spool().bytes().size() >= kFlushBytes) stageLeg(leg, out);
}

void Engine::drainRtcp(Leg& leg) {
  // RTCP is only counted (SRTCP authenticated first): the recording needs none of it, but an
  // undrained socket would fill up.
  for (int round = 0; round < 4; ++round) {
    for (auto& m : recvMsgs_) {
      m.msg_hdr.msg_controllen = kCtrlSize;
      m.msg_hdr.msg_namelen = sizeof(sockaddr_storage);
    }
    const int n = ::recvmmsg(leg.rtcpFd, recvMsgs_.data(), kRecvBatch, MSG_DONTWAIT, nullptr);
    if (n <= 0) break;
    for (int i = 0; i < n; ++i) {
      if (!leg.latch.acceptRtcp(SourceAddress::from(recvNames_[i], recvMsgs_[i].msg_hdr.msg_namelen))) {
        ++leg.rejected;
      } else if (leg.receiver.srtp() == nullptr) {
        leg.receiver.countRtcp(1);
      } else if ((recvMsgs_[i].msg_hdr.msg_flags & MSG_TRUNC) == 0) {
        leg.receiver.onRtcp(static_cast<uint8_t*>(recvIovs_[i].iov_base), recvMsgs_[i].msg_len);
      }
    }
    if (n < kRecvBatch) break;
  }
}

void Engine::collect(Leg& leg, std::vector<LegEvent>& legEvents) {
  for (const LegEvent& e : legEvents) {
    if (pendingEvents_.size() >= kMaxPendingEvents) {
      eventsDropped_.fetch_add(1, std::memory_order_relaxed);
      continue;
    }
    MediaEventData m{};
    switch (e.type) {
      case LegEvent::Type::FirstPacket: m.type = MediaEventData::Type::FirstPacket; break;
      case LegEvent::Type::SsrcChange: m.type = MediaEventData::Type::SsrcChange; break;
      case LegEvent::Type::Dtmf: m.type = MediaEventData::Type::Dtmf; break;
      case LegEvent::Type::Pause: m.type = MediaEventData::Type::Pause; break;
      case LegEvent::Type::Resume: m.type = MediaEventData::Type::Resume; break;
    }
    m.recordingId = leg.session->recordingId;
    m.legId = leg.legId;
    m.atMs = static_cast<double>(e.atSamples) * 1000.0 / kSampleRate;
    m.ssrc = e.ssrc;
    m.digit = e.digit;
    m.durationMs = static_cast<double>(e.durationSamples) * 1000.0 / kSampleRate;
    pendingEvents_.push_back(std::move(m));
  }
  legEvents.clear();
}

void Engine::stageLeg(Leg& leg, StagedWrites& out, bool sync) {
  SpoolBuffer& spool = leg.receiver.spool();
  if (spool.empty() && leg.created && !sync) return;
  const bool create = !leg.created;
  // Whatever becomes of the write: a failed create is counted, and the next batch, finding no file,
  // creates it (writeStaged).
  leg.created = true;
  const std::vector<uint8_t>& b = spool.bytes();
  const uint64_t to = static_cast<uint64_t>(spool.maxEnd());
  leg.stagedTo = std::max(leg.stagedTo, to);
  out.files.push_back({leg.spoolPath, leg.key, out.bytes.size(), b.size(), create, sync, to, leg.progress});
  out.bytes.insert(out.bytes.end(), b.begin(), b.end());
  if (!b.empty() && leg.session->watched && liveSink_) {
    pendingLive_.push_back({leg.session->recordingId, leg.legId, b});
  }
  spool.clear();  // keeps its capacity: no allocation per flush in steady state
}

void Engine::stageMeta(Session& s, StagedWrites& out) {
  if (!s.metaDirty) return;
  s.metaDirty = false;
  out.metas.push_back({s.spoolDir, std::move(s.meta)});
  s.meta.clear();
}

}  // namespace srs
