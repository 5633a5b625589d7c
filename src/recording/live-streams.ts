/**
 * A live call's streams (one engine leg each) and a re-INVITE's changes to them: streams removed
 * (their legs close; what they recorded stays in the mix), added on new ports on the session's
 * timeline, re-keyed, paused (silence) or resumed.
 */
import type { ActiveCall, RecordingStorePort, SessionEvent, StreamChange } from './types.js';
import { openMedia, type MediaOpenDeps } from './media-open.js';
import { holdForSrc } from './pause-owners.js';

/** One stream of a live call (an engine leg). */
export interface LiveStream {
  /** Catalogue ordinal (1-based). */
  ordinal: number;
  /** m-line index in the latest offer. */
  index: number;
  label: string;
  streamId: string | null;
  legId: string;
  codec: string;
  port: number;
  removed: boolean;
}

/** A live call as the recording service holds it. */
export interface LiveSession {
  call: ActiveCall;
  spoolDir: string;
  /** Every port held (released at the end). */
  ports: number[];
  streams: LiveStream[];
  /**
   * performance.now() at the start: a call's length is measured on the monotonic clock, so that a
   * step of the wall clock (NTP, a resumed VM) neither stretches nor ends a call.
   */
  startedMono: number;
  ending: boolean;
  /** Serialises updates of one session. */
  queue: Promise<unknown>;
  /**
   * The session's catalogue writes (events, streams, participants), in order and retried while the
   * database is away; SIP answers never wait on them. The end of the call waits for them.
   */
  writes: Promise<unknown>;
  /** Legs paused now (SIPREC pause, a=inactive): the RTP timeout does not count them silent. */
  paused: Set<string>;
  /**
   * Recording control holds the whole call (paused, stopped, never, on-demand not started): every
   * leg is paused in the engine whatever the SRC says (src/recording/pause-owners.ts).
   */
  controlHeld?: boolean;
  /** The SIP side's BYE (RecordingPort.onTerminate), once the dialog exists. */
  terminate?: (reason: string) => void;
  /** Why the server ended the call itself, once it did. */
  terminating?: string;
}

/**
 * Applies `change` to live session `s` (serialised by the caller): the media now; returns the added
 * streams' ports and the catalogue writes, for the caller to queue.
 */
export function applyStreamChange(
  deps: MediaOpenDeps & { store: RecordingStorePort },
  recordingId: string,
  s: LiveSession,
  change: StreamChange,
): { ports: number[]; write: () => Promise<void> } {
  const engine = deps.engine;
  const at = new Date();
  const events: SessionEvent[] = [];
  const removed = s.streams.filter((x) => !x.removed && change.remove.includes(x.index));
  for (const x of removed)
    events.push({ at, type: 'stream-removed', detail: { label: x.label, legId: x.legId, index: x.index } });
  // New streams open first: when their media cannot (no ports: CapacityError, the SRC gets 503 and
  // keeps its session), nothing of the change is applied, the streams it would remove included.
  let ports: number[] = [];
  let upserted: Parameters<RecordingStorePort['upsertStreams']>[1] = [];
  if (change.add.length > 0) {
    const firstLeg = s.streams.length;
    ports = openMedia(
      deps,
      recordingId,
      s.spoolDir,
      change.add,
      // While recording control holds the call, its new legs open paused.
      (legs) => engine.addLegs(recordingId, legs, { paused: s.controlHeld === true }),
      firstLeg,
    );
    s.ports.push(...ports);
    const added = change.add.map((a, i) => ({
      ordinal: s.streams.length + i + 1,
      index: a.index,
      label: a.label ?? String(a.index),
      streamId: a.streamId ?? null,
      legId: `leg${firstLeg + i}`,
      codec: a.codec,
      port: ports[i] as number,
      removed: false,
    }));
    s.streams.push(...added);
    for (const x of added)
      events.push({ at, type: 'stream-added', detail: { label: x.label, legId: x.legId, port: x.port } });
    s.call.streams = s.streams
      .filter((x) => !x.removed)
      .map((x) => ({ label: x.label, codec: x.codec, port: x.port, legId: x.legId }));
    upserted = added;
  }
  if (removed.length > 0) {
    engine.removeLegs(
      recordingId,
      removed.map((x) => x.legId),
    );
    for (const x of removed) x.removed = true;
    s.call.streams = s.streams
      .filter((x) => !x.removed)
      .map((x) => ({ label: x.label, codec: x.codec, port: x.port, legId: x.legId }));
  }
  // A new a=crypto on a kept stream: the engine switches keys between two packets (no gap).
  for (const r of change.rekey ?? []) {
    const x = s.streams.find((y) => !y.removed && y.index === r.index);
    if (!x) continue;
    const srtp = r.srtp === null ? null : { ...r.srtp, keySalt: Buffer.from(r.srtp.keySalt) };
    if (!engine.rekey(recordingId, x.legId, srtp)) continue;
    events.push({
      at,
      type: 'stream-rekeyed',
      detail: { label: x.label, legId: x.legId, index: x.index, suite: r.srtp?.suite ?? null },
    });
  }
  for (const [indexes, paused] of [
    [change.pause ?? [], true],
    [change.resume ?? [], false],
  ] as const) {
    const legs = s.streams.filter((x) => !x.removed && indexes.includes(x.index));
    if (legs.length === 0) continue;
    holdForSrc(
      engine,
      recordingId,
      s,
      legs.map((x) => x.legId),
      paused,
    );
    for (const x of legs) {
      events.push({
        at,
        type: paused ? 'stream-paused' : 'stream-resumed',
        detail: { label: x.label, legId: x.legId, index: x.index },
      });
    }
  }
  const write = async () => {
    if (upserted.length > 0) await deps.store.upsertStreams(recordingId, upserted);
    if (events.length > 0) await deps.store.addEvents(recordingId, events);
  };
  return { ports, write };
}

/** SRTP drops: the ended sessions' totals plus the live sessions' counters (read at scrape time). */
export function srtpTotals(
  engine: Pick<MediaOpenDeps['engine'], 'sessionStats'>,
  ended: { authFailures: number; replayDrops: number },
  live: Iterable<string>,
): { authFailures: number; replayDrops: number } {
  const t = { ...ended };
  for (const id of live) {
    for (const l of engine.sessionStats(id)?.legs ?? []) {
      t.authFailures += l.srtpAuthFailures ?? 0;
      t.replayDrops += l.srtpReplayDrops ?? 0;
    }
  }
  return t;
}
