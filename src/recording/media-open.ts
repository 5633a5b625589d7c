/**
 * Opening a call's media: each stream's leg spec (payload types, SRTP key copy, ingress trust) on
 * ports from the pool, retried on other ports when another process holds one.
 */
import { CapacityError } from '../errors.js';
import { PortInUseError, type PortPool } from '../media/index.js';
import type { LegSpec, MediaEngine, PayloadKind, PayloadSpec } from '../media/types.js';
import type { StreamOffer } from './types.js';

/** What opening media needs of the recording service's options. */
export interface MediaOpenDeps {
  engine: MediaEngine;
  ports: PortPool;
  /** Drain and count RTCP on each stream's port+1. */
  rtcp?: boolean;
  /** Silence (ms) after which another source may take over a leg; 0 = never. */
  relatchMs?: number;
}

/**
 * How many port blocks to try when another process holds a port of the pool. The pool walks on
 * from the last block, so this many attempts step over a run of ~2 x 64 ports held by someone else
 * (another recorder or test server sharing the range) instead of answering 503.
 */
const BIND_ATTEMPTS = 64;

/** The engine's payload map of a stream: every answered payload type, plus the static 0, 8 and 13. */
function payloadTypes(s: StreamOffer): Record<number, PayloadKind | PayloadSpec> {
  const map: Record<number, PayloadKind | PayloadSpec> = { 0: 'PCMU', 8: 'PCMA', 13: 'CN' };
  for (const [pt, spec] of Object.entries(s.payloads ?? {})) map[Number(pt)] = { ...spec };
  if (s.payloads === undefined && s.pt !== undefined && (s.codec === 'PCMU' || s.codec === 'PCMA'))
    map[s.pt] = s.codec;
  if (s.telephoneEventPt != null) map[s.telephoneEventPt] = 'telephone-event';
  // Real SRCs send telephone-event on PT 101 without listing it in the SDP (SIPREC-NOTES.md).
  if (map[101] === undefined) map[101] = 'telephone-event';
  return map;
}

/** A leg's spec: ports, payload types and, for SRTP, a copy of the SRC's key (the engine keeps its own). */
function legSpec(legId: string, port: number, s: StreamOffer, relatchMs?: number): LegSpec {
  const leg: LegSpec = { legId, port, payloadTypes: payloadTypes(s) };
  if (s.srtp) leg.srtp = { ...s.srtp, keySalt: Buffer.from(s.srtp.keySalt) };
  // Ingress trust: the engine takes RTP/RTCP only from the SRC (native/src/latch.h).
  if (s.remoteHost) {
    leg.remoteHost = s.remoteHost;
    leg.remotePort = s.remotePort ?? 0;
  }
  if (relatchMs) leg.relatchMs = relatchMs;
  return leg;
}

/**
 * Opens legs `leg<firstLeg>`... for `streams` on newly allocated ports with `open` (default: a new
 * engine session) and returns the ports; CapacityError when no block of ports can be bound.
 */
export function openMedia(
  deps: MediaOpenDeps,
  recordingId: string,
  spoolDir: string,
  streams: StreamOffer[],
  open: (legs: LegSpec[]) => void = (legs) =>
    deps.engine.openSession({ recordingId, spoolDir, legs, rtcp: deps.rtcp === true }),
  firstLeg = 0,
): number[] {
  for (let attempt = 1; ; attempt++) {
    const ports = deps.ports.allocate(streams.length);
    const legs: LegSpec[] = streams.map((s, i) =>
      legSpec(`leg${firstLeg + i}`, ports[i] as number, s, deps.relatchMs),
    );
    try {
      open(legs);
      return ports;
    } catch (err) {
      deps.ports.release(ports);
      if (err instanceof PortInUseError && attempt < BIND_ATTEMPTS) continue;
      if (err instanceof PortInUseError) throw new CapacityError(`no bindable RTP ports: ${err.message}`);
      throw err;
    }
  }
}
