/**
 * Listen-in for monitor clients: one call at a time per client ({"type":"listen","recordingId":..,
 * "channel":"mix"|"all"|legId}), checked against the client's call filter, role and the `listen`
 * permission (audited at start and stop); audio flows as binary frames (audio.ts) and a slow
 * listener skips audio rather than grow server memory.
 */
import type { WebSocket } from 'ws';
import type { Logger } from '../log.js';
import type { ActiveCall } from '../recording/types.js';
import { FrameEncoder } from './audio.js';
import type { Client, MonitorOptions } from './types.js';

export interface ListenInOptions {
  o: Pick<MonitorOptions, 'source' | 'taps' | 'access' | 'stats' | 'onAudioLatency'>;
  log: Logger;
  /** The monitor's connected clients. */
  clients: ReadonlyMap<WebSocket, Client>;
  send: (ws: WebSocket, msg: unknown) => void;
  /** A listener with more unsent data than this is dropped. */
  maxBuffered: number;
  /** Audio frames are skipped for a listener with more unsent data than this. */
  audioSkip: number;
}

/** A live call a client may listen to, and the channel asked for (ListenIn.check). */
export interface ListenTarget {
  call: ActiveCall;
  legIds: string[];
  channel: string;
}

/** A call's listen-in channels, in order: its engine legs (positions for a node that names none). */
const legIdsOf = (call: ActiveCall): string[] => call.streams.map((s, i) => s.legId ?? `leg${i}`);

export class ListenIn {
  readonly #o: ListenInOptions['o'];
  readonly #log: Logger;
  readonly #clients: ReadonlyMap<WebSocket, Client>;
  readonly #send: (ws: WebSocket, msg: unknown) => void;
  readonly #maxBuffered: number;
  readonly #audioSkip: number;
  readonly #frames: FrameEncoder;
  #listeners = 0;

  constructor(options: ListenInOptions) {
    this.#o = options.o;
    this.#log = options.log;
    this.#clients = options.clients;
    this.#send = options.send;
    this.#maxBuffered = options.maxBuffered;
    this.#audioSkip = options.audioSkip;
    this.#frames = new FrameEncoder(options.o.onAudioLatency);
  }

  /** Clients listening now. */
  get listeners(): number {
    return this.#listeners;
  }

  /**
   * Ends `c`'s listen-in, if any, at once, and audits it with its duration and `reason`; the
   * promise settles once the entry is written (or its failure logged).
   */
  stop(c: Client, reason = 'stopped'): Promise<void> {
    if (!c.listen) return Promise.resolve();
    const id = c.listen.recordingId;
    const durationMs = Date.now() - c.listen.since;
    const channel = c.listen.channel;
    c.listen.stop();
    c.listen = null;
    const audited = (
      this.#o.access?.record(c.who, c.origin, id, 'listen-stop', { durationMs, channel, reason }) ??
      Promise.resolve()
    ).then(
      () => undefined,
      (err: unknown) => this.#log.error({ err, recordingId: id }, 'could not audit the end of a listen-in'),
    );
    this.#listeners--;
    if (![...this.#clients.values()].some((x) => x.listen?.recordingId === id && x.listen.channel === 'mix'))
      this.#frames.dropMixer(id);
    return audited;
  }

  /**
   * The live call `c` may listen to on `channel`, or the error to answer: the checks that need no
   * database (the call, the client's filter and role, the channel), with no side effect.
   */
  check(c: Client, recordingId: string, channel: string): ListenTarget | { error: string } {
    const call = this.#o.source.activeCalls().find((x) => x.recordingId === recordingId);
    if (!call || !c.filter(call.participants))
      return { error: `no live call ${recordingId} you may listen to` };
    if (c.who.role === 'record-only') return { error: 'record-only users cannot listen' };
    if (!this.#o.taps) return { error: 'listen-in is not available on this server' };
    const legIds = legIdsOf(call);
    if (channel !== 'mix' && channel !== 'all' && !legIds.includes(channel))
      return { error: `channel must be mix, all or one of ${legIds.join(', ')}` };
    return { call, legIds, channel };
  }

  /**
   * Starts `c` listening to a call `check` found (its previous listen-in ends): the `listen`
   * permission checked and the start audited, then the audio subscribed.
   */
  async start(ws: WebSocket, c: Client, target: ListenTarget): Promise<void> {
    const { call, channel } = target;
    let legIds = target.legIds;
    const recordingId = call.recordingId;
    void this.stop(c, 'switched');
    const taps = this.#o.taps;
    if (!taps) return;
    if (this.#o.access) {
      try {
        await this.#o.access.grant(c.who, c.origin, recordingId, 'listen-in', {
          channel,
          callId: call.callId,
        });
      } catch (err) {
        const status = (err as { status?: number }).status;
        if (status !== 403) this.#log.error({ err, recordingId }, 'listen-in refused: audit failed');
        return this.#send(ws, {
          type: 'error',
          recordingId,
          error: status === 403 ? (err as Error).message : 'listen-in is unavailable (audit failed)',
        });
      }
      // The socket may have closed (or been revoked) while the entry was written.
      if (ws.readyState !== ws.OPEN || !this.#clients.has(ws)) return;
      void this.stop(c, 'switched');
    }
    const t0 = this.#o.stats?.(recordingId)?.openedAt.getTime() ?? new Date(call.startedAt).getTime();
    const state = {
      recordingId,
      channel,
      stop: () => undefined as void,
      skipped: 0,
      since: Date.now(),
    };
    const announce = (at: ActiveCall): void =>
      this.#send(ws, {
        type: 'listening',
        recordingId,
        channel,
        legs: legIds.map((legId, i) => ({
          legId,
          channel: i,
          label: at.streams[i]?.label ?? null,
          participant:
            at.participants.find((p) => p.sendsLabels.includes(at.streams[i]?.label ?? '\u0000'))?.name ??
            null,
        })),
        sampleRate: 8000,
        encoding: 'PCMU',
      });
    state.stop = taps.subscribe(
      recordingId,
      (frames) => {
        if (ws.readyState !== ws.OPEN) return;
        if (ws.bufferedAmount > this.#maxBuffered) {
          ws.terminate();
          return;
        }
        if (ws.bufferedAmount > this.#audioSkip) {
          state.skipped++; // skip ahead: a slow listener loses audio, never grows our memory
          return;
        }
        // A leg the SRC added since: the channels are read again, and announced before its audio.
        if (channel === 'all' && frames.some((f) => !legIds.includes(f.legId))) {
          const now = this.#o.source.activeCalls().find((x) => x.recordingId === recordingId);
          if (now && legIdsOf(now).join() !== legIds.join()) {
            legIds = legIdsOf(now);
            announce(now);
          }
        }
        for (const b of this.#frames.encoded(recordingId, frames, channel, legIds, t0)) ws.send(b);
      },
      (end) => {
        // The node holding the call refused the relay or was lost: the client is told, not left on silence.
        if (c.listen !== state) return;
        void this.stop(c, end.reason);
        this.#send(ws, { type: 'error', recordingId, error: end.error });
      },
    );
    c.listen = state;
    this.#listeners++;
    announce(call);
  }
}
