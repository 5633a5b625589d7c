/**
 * Pure TypeScript reference implementation of the media engine's receive, timeline and mix logic
 * (native/src/{rtp,leg,spool,mixer}.cc). Tests feed it and the native engine the same packets and
 * require byte-identical WAV output; it can also serve as a slow fallback where no compiler exists.
 */
import type { PayloadKind } from '../types.js';
import { LegReceiverRef, type LegCountersRef, type LegEventRef } from './leg.js';

export { ALAW_TO_ULAW, alawToLinear, linearToUlaw, ULAW_DECODE, ulawToLinear } from './g711.js';
export { parseRtp, type RtpPacket, type RtpParse } from './rtp.js';
export { SpoolBufferRef, MAX_RECORD_SAMPLES } from './spool-buffer.js';
export { LegReceiverRef, type LegCountersRef, type LegEventRef } from './leg.js';
export { depacketizeAmrRef, type AmrFrames } from './amr.js';
export {
  keptPositions,
  legTimeline,
  mixLength,
  mixSpoolsToWav,
  ulawWavHeader,
  WAV_HEADER_SIZE,
} from './mixer.js';

/**
 * A datagram arriving at `at` (samples since t0); `pause`/`resume` of the leg at `at`; or, with
 * neither, the worker's tick at `at` (release what waited too long, flush the spool).
 */
export interface LegOp {
  at: number;
  data?: Uint8Array;
  pause?: boolean;
  resume?: boolean;
}

export interface SimulatedLeg {
  /** The whole spool file as the engine would have written it (header, then flushed records). */
  spool: Buffer;
  counters: LegCountersRef;
  events: LegEventRef[];
}

const SPOOL_HEADER = (() => {
  const h = Buffer.alloc(16);
  h.write('SRSPOOL1', 0, 'latin1');
  h.writeUInt32LE(8000, 8);
  return h;
})();

/** Runs the leg logic over `ops` exactly as the native simulateLeg does (tick = release + flush). */
export function simulateLegRef(
  payloadTypes: Readonly<Record<number, PayloadKind>>,
  ops: readonly LegOp[],
): SimulatedLeg {
  const leg = new LegReceiverRef(payloadTypes);
  const events: LegEventRef[] = [];
  const chunks: Uint8Array[] = [SPOOL_HEADER];
  for (const op of ops) {
    if (op.data) {
      leg.onDatagram(op.data, op.at, events);
    } else if (op.pause) {
      leg.pause(op.at, events);
    } else if (op.resume) {
      leg.resume(op.at, events);
    } else {
      leg.tick(op.at, events);
      if (!leg.spool.empty) chunks.push(leg.spool.take());
    }
  }
  leg.finish(events);
  if (!leg.spool.empty) chunks.push(leg.spool.take());
  return { spool: Buffer.concat(chunks), counters: leg.counters, events };
}
