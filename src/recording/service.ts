import { randomUUID } from 'node:crypto';
import { EventEmitter } from 'node:events';
import { join } from 'node:path';
import { CapacityError, InvalidStateError } from '../errors.js';
import type { Logger } from '../log.js';
import type { LegSpec, MediaEngine, PayloadKind } from '../media/types.js';
import { PortInUseError, type PortPool } from '../media/index.js';
import type {
  ActiveCall,
  FinalizeQueuePort,
  RecordingEvent,
  RecordingStorePort,
  StartRecordingRequest,
  StartedRecording,
  StreamOffer,
} from './types.js';

export interface RecordingServiceOptions {
  engine: MediaEngine;
  ports: PortPool;
  store: RecordingStorePort;
  finalize: FinalizeQueuePort;
  dataDir: string;
  maxSessions: number;
  log: Logger;
}

interface LiveSession {
  call: ActiveCall;
  ports: number[];
  startedAtMs: number;
  ending: boolean;
}

/** How many port blocks to try when another process holds a port of the pool. */
const BIND_ATTEMPTS = 8;

function payloadTypes(s: StreamOffer): Record<number, PayloadKind> {
  const map: Record<number, PayloadKind> = { 0: 'PCMU', 8: 'PCMA', 13: 'CN' };
  map[s.pt] = s.codec;
  if (s.telephoneEventPt !== null) map[s.telephoneEventPt] = 'telephone-event';
  // Real SRCs send telephone-event on PT 101 without listing it in the SDP (SIPREC-NOTES.md).
  if (map[101] === undefined) map[101] = 'telephone-event';
  return map;
}

/**
 * The live registry of recording sessions: starts the media for a new SIPREC session, writes the
 * catalogue row, and on the end of the call closes the media and hands the recording to the
 * pipeline. Emits `event` with RecordingEvent for the monitor.
 */
export class RecordingService extends EventEmitter<{ event: [RecordingEvent] }> {
  readonly #o: RecordingServiceOptions;
  readonly #live = new Map<string, LiveSession>();
  #closed = false;

  constructor(options: RecordingServiceOptions) {
    super();
    this.#o = options;
  }

  get activeCount(): number {
    return this.#live.size;
  }

  activeCalls(): ActiveCall[] {
    return [...this.#live.values()].map((s) => s.call);
  }

  async start(req: StartRecordingRequest): Promise<StartedRecording> {
    if (this.#closed) throw new InvalidStateError('recording service is shutting down');
    if (this.#live.size >= this.#o.maxSessions) {
      throw new CapacityError(`concurrent session limit reached (${this.#o.maxSessions})`);
    }
    const recordingId = randomUUID();
    const spoolDir = join(this.#o.dataDir, 'spool', recordingId);
    const log = this.#o.log.child({ recordingId, callId: req.callId });

    const ports = this.#openMedia(recordingId, spoolDir, req.streams);
    const startedAt = new Date();
    const streams = req.streams.map((s, i) => ({
      label: s.label ?? String(s.index),
      streamId: null,
      legId: `leg${i}`,
      codec: s.codec,
      port: ports[i] as number,
    }));
    try {
      await this.#o.store.create({
        id: recordingId,
        sessionId: req.sessionId,
        callId: req.callId,
        srcAddress: req.srcAddress,
        startedAt,
        participants: req.participants,
        streams,
        metadataXml: req.metadataXml,
      });
    } catch (err) {
      this.#o.engine.closeSession(recordingId);
      this.#o.ports.release(ports);
      throw err;
    }
    const call: ActiveCall = {
      recordingId,
      callId: req.callId,
      sessionId: req.sessionId,
      srcAddress: req.srcAddress,
      startedAt: startedAt.toISOString(),
      participants: req.participants,
      streams: streams.map((s) => ({ label: s.label, codec: s.codec, port: s.port })),
    };
    this.#live.set(recordingId, { call, ports, startedAtMs: startedAt.getTime(), ending: false });
    log.info({ ports, streams: streams.length }, 'recording started');
    this.emit('event', { type: 'call-start', call });
    return { recordingId, ports };
  }

  #openMedia(recordingId: string, spoolDir: string, streams: StreamOffer[]): number[] {
    for (let attempt = 1; ; attempt++) {
      const ports = this.#o.ports.allocate(streams.length);
      const legs: LegSpec[] = streams.map((s, i) => ({
        legId: `leg${i}`,
        port: ports[i] as number,
        payloadTypes: payloadTypes(s),
      }));
      try {
        this.#o.engine.openSession({ recordingId, spoolDir, legs });
        return ports;
      } catch (err) {
        this.#o.ports.release(ports);
        if (err instanceof PortInUseError && attempt < BIND_ATTEMPTS) continue;
        if (err instanceof PortInUseError) throw new CapacityError(`no bindable RTP ports: ${err.message}`);
        throw err;
      }
    }
  }

  /** Ends a call (BYE, CANCEL, ACK timeout, shutdown). Safe to call more than once. */
  async end(recordingId: string, reason: string): Promise<void> {
    const s = this.#live.get(recordingId);
    if (!s || s.ending) return;
    s.ending = true;
    const log = this.#o.log.child({ recordingId, callId: s.call.callId });
    const stats = this.#o.engine.closeSession(recordingId) ?? null;
    this.#o.ports.release(s.ports);
    const endedAt = new Date();
    const durationMs = endedAt.getTime() - s.startedAtMs;
    try {
      await this.#o.store.markEnded(recordingId, endedAt, durationMs, stats);
      await this.#o.finalize.enqueueFinalize(recordingId);
      log.info({ durationMs, reason, legs: stats?.legs }, 'recording ended');
    } catch (err) {
      // The spool is on disk; startup recovery finalizes recordings left in state 'recording'.
      log.error({ err }, 'could not hand the recording to the pipeline; it will be recovered at next start');
    } finally {
      this.#live.delete(recordingId);
      this.emit('event', {
        type: 'call-end',
        call: s.call,
        endedAt: endedAt.toISOString(),
        durationMs,
        reason,
      });
    }
  }

  /** Stops taking calls and ends every live one (their spools go to the pipeline). */
  async close(): Promise<void> {
    this.#closed = true;
    await Promise.all([...this.#live.keys()].map((id) => this.end(id, 'shutdown')));
  }
}
