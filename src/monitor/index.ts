import type { IncomingMessage, Server } from 'node:http';
import { timingSafeEqual } from 'node:crypto';
import type { Duplex } from 'node:stream';
import { WebSocketServer, type WebSocket } from 'ws';
import type { Logger } from '../log.js';
import type { SessionStats } from '../media/types.js';
import type { ActiveCall, RecordingEvent } from '../recording/types.js';
import { ADMIN_TOKEN_PRINCIPAL, type Principal } from '../store/users.js';
import { LiveMixer, type LiveFrame, type TapHub } from './tap.js';

export { TapHub, LiveMixer } from './tap.js';

/** The read-only face of the recording service the monitor needs. */
export interface LiveCallSource {
  activeCalls(): ActiveCall[];
  on(event: 'event', listener: (e: RecordingEvent) => void): unknown;
  off(event: 'event', listener: (e: RecordingEvent) => void): unknown;
}

export type CallFilter = (participants: readonly { aor: string | null }[]) => boolean;

export interface MonitorOptions {
  server: Server;
  path?: string;
  /** The admin token (a getter follows its rotations); accepted as admin in the Authorization header only. */
  token: string | (() => string);
  /** Resolves a connection's principal (session cookie, API token, ?token=); null refuses it. */
  authenticate?: (req: IncomingMessage) => Promise<Principal | null>;
  /** Which calls a principal may see (default: all). */
  filterFor?: (who: Principal) => Promise<CallFilter>;
  source: LiveCallSource;
  /** Media counters of a live call (for the snapshot and the events a client is sent). */
  stats?: (recordingId: string) => SessionStats | undefined;
  /**
   * Every live call's per-leg counters in one call, read by the media-health poll instead of
   * `stats` call by call (MediaEngine.liveCounters).
   */
  counters?: () => ReadonlyMap<string, readonly LegHealthCounters[]>;
  /** Live audio for listen-in; without it listen requests are refused. */
  taps?: Pick<TapHub, 'subscribe'>;
  log: Logger;
  /** A client whose unsent data exceeds this is dropped rather than grow server memory. */
  maxBufferedBytes?: number;
  /** Audio frames are skipped (not queued) for a client with more unsent data than this. */
  audioSkipBytes?: number;
  /** Media-health poll interval (default 1000 ms). */
  statsIntervalMs?: number;
  /**
   * Recording control: messages {"type":"pause"|"resume"|"start"|"stop","recordingId"}
   * are passed here; the reply is {"type":"control",...} or an error.
   */
  control?: (
    who: Principal,
    action: 'pause' | 'resume' | 'start' | 'stop',
    recordingId: string,
  ) => Promise<unknown>;
  /** Called with the measured latency of each audio frame sent (ms from the audio's arrival). */
  onAudioLatency?: (ms: number) => void;
  /**
   * The audio access path (src/api/access.ts): listen-in checks the `listen` permission and is
   * audited at start, and at stop with its duration. Without it listen-in is not audited.
   */
  access?: ListenAccess;
  /** The client address of a handshake (trusted proxies; default the socket's peer). */
  clientIp?: (req: IncomingMessage) => string;
  /** Every connection's credential is checked again this often (default 30 s); a dead one closes. */
  recheckMs?: number;
}

/** What the monitor needs of the audio access path. */
export interface ListenAccess {
  grant(
    who: Principal,
    origin: { ip: string; userAgent?: string },
    recordingId: string,
    purpose: 'listen-in',
    details?: Record<string, unknown>,
  ): Promise<void>;
  record(
    who: Principal,
    origin: { ip: string; userAgent?: string },
    recordingId: string,
    purpose: 'listen-stop',
    details?: Record<string, unknown>,
  ): Promise<void>;
}

export interface Monitor {
  readonly clients: number;
  readonly listeners: number;
  /** Closes at once the sockets of a user (all sessions) or of one session / API token. */
  revoke(match: { userId?: string; sessionId?: string; reason: string }): number;
  /** Re-reads every connection's call filter (users, groups or numbers changed). */
  refreshFilters(): Promise<void>;
  close(): Promise<void>;
}

interface Client {
  who: Principal;
  filter: CallFilter;
  origin: { ip: string; userAgent: string };
  /** The handshake, kept to check the credential again. */
  req: IncomingMessage;
  listen: {
    recordingId: string;
    channel: string;
    stop: () => void;
    skipped: number;
    since: number;
  } | null;
}

function sameSecret(a: string, b: string): boolean {
  const x = Buffer.from(a);
  const y = Buffer.from(b);
  return x.length === y.length && timingSafeEqual(x, y);
}

function reject(socket: Duplex, status: number, reason: string): void {
  socket.end(`HTTP/1.1 ${status} ${reason}\r\nConnection: close\r\nContent-Length: 0\r\n\r\n`);
}

/** Audio frame on the wire: u8 version (1), u8 channel (leg index, 255 = mix), u16 reserved,
 *  u32 sample offset from the call's t0, u32 latency in ms (arrival of the frame's oldest audio to
 *  send), u-law bytes. */
export const AUDIO_HEADER = 12;
export const MIX_CHANNEL = 255;

export function encodeAudioFrame(
  channel: number,
  offset: number,
  latencyMs: number,
  ulaw: Uint8Array,
): Buffer {
  const b = Buffer.allocUnsafe(AUDIO_HEADER + ulaw.length);
  b[0] = 1;
  b[1] = channel;
  b.writeUInt16LE(0, 2);
  b.writeUInt32LE(offset >>> 0, 4);
  b.writeUInt32LE(Math.max(0, Math.min(0xffffffff, Math.round(latencyMs))), 8);
  b.set(ulaw, AUDIO_HEADER);
  return b;
}

interface MediaHealth {
  legId: string;
  packetsReceived: number;
  packetsLost: number;
  lossPercent: number;
}

interface LegHealthCounters {
  legId: string;
  packetsReceived: number;
  packetsLost: number;
}

function healthOf(stats: { legs: readonly LegHealthCounters[] } | undefined): MediaHealth[] {
  return (stats?.legs ?? []).map((l) => ({
    legId: l.legId,
    packetsReceived: l.packetsReceived,
    packetsLost: l.packetsLost,
    lossPercent:
      l.packetsReceived + l.packetsLost > 0
        ? Math.round((10000 * l.packetsLost) / (l.packetsReceived + l.packetsLost)) / 100
        : 0,
  }));
}

/**
 * WebSocket live monitor on the HTTP server (noServer mode). Authenticated clients get a snapshot
 * of the active calls they may see, then call-start / call-update / call-end as state changes.
 * A client may listen to one call at a time: {"type":"listen","recordingId":..,"channel":"mix"|
 * "all"|legId} and {"type":"unlisten"}; audio then flows as binary frames (see encodeAudioFrame).
 */
export function attachMonitor(o: MonitorOptions): Monitor {
  const path = o.path ?? '/monitor';
  const maxBuffered = o.maxBufferedBytes ?? 1 << 20;
  const audioSkip = o.audioSkipBytes ?? 64 * 1024;
  const log = o.log.child({ part: 'monitor' });
  const wss = new WebSocketServer({ noServer: true, maxPayload: 64 * 1024 });
  const clients = new Map<WebSocket, Client>();
  let listeners = 0;

  const authenticate = async (req: IncomingMessage): Promise<Principal | null> => {
    // The admin token only in the Authorization header (a URL ends up in logs).
    const auth = req.headers.authorization;
    const token = auth?.startsWith('Bearer ') ? auth.slice(7).trim() : null;
    if (token && sameSecret(token, typeof o.token === 'function' ? o.token() : o.token))
      return ADMIN_TOKEN_PRINCIPAL;
    return o.authenticate ? o.authenticate(req) : null;
  };

  const onUpgrade = (req: IncomingMessage, socket: Duplex, head: Buffer): void => {
    const url = new URL(req.url ?? '/', 'http://x');
    if (url.pathname !== path) return reject(socket, 404, 'Not Found');
    authenticate(req).then(
      async (who) => {
        if (!who) {
          log.warn({ from: req.socket.remoteAddress }, 'monitor connection refused: no valid credential');
          return reject(socket, 401, 'Unauthorized');
        }
        const filter = o.filterFor ? await o.filterFor(who) : () => true;
        const origin = {
          ip: o.clientIp ? o.clientIp(req) : (req.socket.remoteAddress ?? ''),
          userAgent: String(req.headers['user-agent'] ?? '').slice(0, 200),
        };
        wss.handleUpgrade(req, socket, head, (ws) => {
          clients.set(ws, { who, filter, origin, req, listen: null });
          wss.emit('connection', ws, req);
        });
      },
      (err: unknown) => {
        log.error({ err }, 'monitor authentication failed');
        reject(socket, 503, 'Service Unavailable');
      },
    );
  };
  o.server.on('upgrade', onUpgrade);

  const sendText = (ws: WebSocket, text: string): void => {
    if (ws.readyState !== ws.OPEN) return;
    if (ws.bufferedAmount > maxBuffered) {
      log.warn('monitor client too slow; dropped');
      ws.terminate();
      return;
    }
    ws.send(text);
  };
  const send = (ws: WebSocket, msg: unknown): void => sendText(ws, JSON.stringify(msg));

  const view = (c: ActiveCall) => ({
    ...c,
    durationMs: Date.now() - new Date(c.startedAt).getTime(),
    paused: (c as { paused?: boolean }).paused ?? false,
    media: healthOf(o.stats?.(c.recordingId)),
  });

  const stopListening = (c: Client, reason = 'stopped'): void => {
    if (!c.listen) return;
    const id = c.listen.recordingId;
    const durationMs = Date.now() - c.listen.since;
    const channel = c.listen.channel;
    c.listen.stop();
    c.listen = null;
    o.access
      ?.record(c.who, c.origin, id, 'listen-stop', { durationMs, channel, reason })
      .catch((err: unknown) => log.error({ err, recordingId: id }, 'could not audit the end of a listen-in'));
    listeners--;
    if (![...clients.values()].some((x) => x.listen?.recordingId === id && x.listen.channel === 'mix'))
      mixers.delete(id);
  };

  // Per batch, the frames of each channel mode are mixed and encoded once, whatever the number of
  // listeners (hundreds on one call share the same Buffers).
  const batchCache = new WeakMap<LiveFrame[], Map<string, Buffer[]>>();
  const mixers = new Map<string, LiveMixer>();
  const encoded = (
    recordingId: string,
    frames: LiveFrame[],
    channel: string,
    legIds: string[],
    t0: number,
  ): Buffer[] => {
    let perChannel = batchCache.get(frames);
    if (!perChannel) {
      perChannel = new Map();
      batchCache.set(frames, perChannel);
    }
    const hit = perChannel.get(channel);
    if (hit) return hit;
    const now = Date.now();
    const enc = (f: LiveFrame, ch: number): Buffer => {
      // Worst case in the frame: from the arrival of its oldest audio (the engine places audio on the
      // call's wall-clock timeline, so offset / 8 ms after t0 is when it arrived) to now.
      const latency = now - (t0 + f.offset / 8);
      o.onAudioLatency?.(latency);
      return encodeAudioFrame(ch, f.offset, latency, f.ulaw);
    };
    const out: Buffer[] = [];
    if (channel === 'mix') {
      let m = mixers.get(recordingId);
      if (!m) {
        m = new LiveMixer();
        mixers.set(recordingId, m);
      }
      const mixed = m.mix(frames);
      if (mixed) out.push(enc(mixed, MIX_CHANNEL));
    } else {
      for (const f of frames) {
        if (channel !== 'all' && f.legId !== channel) continue;
        const idx = legIds.indexOf(f.legId);
        out.push(enc(f, idx < 0 ? 254 : idx));
      }
    }
    perChannel.set(channel, out);
    return out;
  };

  const startListening = async (
    ws: WebSocket,
    c: Client,
    recordingId: string,
    channel: string,
  ): Promise<void> => {
    stopListening(c, 'switched');
    const call = o.source.activeCalls().find((x) => x.recordingId === recordingId);
    if (!call || !c.filter(call.participants))
      return send(ws, { type: 'error', error: `no live call ${recordingId} you may listen to` });
    if (c.who.role === 'record-only')
      return send(ws, { type: 'error', error: 'record-only users cannot listen' });
    if (!o.taps) return send(ws, { type: 'error', error: 'listen-in is not available on this server' });
    const legIds = call.streams.map((_s, i) => `leg${i}`);
    if (channel !== 'mix' && channel !== 'all' && !legIds.includes(channel))
      return send(ws, { type: 'error', error: `channel must be mix, all or one of ${legIds.join(', ')}` });
    if (o.access) {
      try {
        await o.access.grant(c.who, c.origin, recordingId, 'listen-in', { channel, callId: call.callId });
      } catch (err) {
        const status = (err as { status?: number }).status;
        if (status !== 403) log.error({ err, recordingId }, 'listen-in refused: audit failed');
        return send(ws, {
          type: 'error',
          error: status === 403 ? (err as Error).message : 'listen-in is unavailable (audit failed)',
        });
      }
      // The socket may have closed (or been revoked) while the entry was written.
      if (ws.readyState !== ws.OPEN || !clients.has(ws)) return;
      stopListening(c, 'switched');
    }
    const t0 = o.stats?.(recordingId)?.openedAt.getTime() ?? new Date(call.startedAt).getTime();
    const state = {
      recordingId,
      channel,
      stop: () => undefined as void,
      skipped: 0,
      since: Date.now(),
    };
    state.stop = o.taps.subscribe(recordingId, (frames) => {
      if (ws.readyState !== ws.OPEN) return;
      if (ws.bufferedAmount > maxBuffered) {
        ws.terminate();
        return;
      }
      if (ws.bufferedAmount > audioSkip) {
        state.skipped++; // skip ahead: a slow listener loses audio, never grows our memory
        return;
      }
      for (const b of encoded(recordingId, frames, channel, legIds, t0)) ws.send(b);
    });
    c.listen = state;
    listeners++;
    send(ws, {
      type: 'listening',
      recordingId,
      channel,
      legs: legIds.map((legId, i) => ({
        legId,
        channel: i,
        label: call.streams[i]?.label ?? null,
        participant:
          call.participants.find((p) => p.sendsLabels.includes(call.streams[i]?.label ?? '\u0000'))?.name ??
          null,
      })),
      sampleRate: 8000,
      encoding: 'PCMU',
    });
  };

  wss.on('connection', (ws: WebSocket, req: IncomingMessage) => {
    const c = clients.get(ws);
    if (!c) return ws.terminate();
    log.info({ from: req.socket.remoteAddress, user: c.who.username }, 'monitor client connected');
    send(ws, {
      type: 'snapshot',
      calls: o.source
        .activeCalls()
        .filter((x) => c.filter(x.participants))
        .map(view),
    });
    ws.on('message', (data, isBinary) => {
      const text = isBinary ? '' : String(data);
      if (text === 'ping') return send(ws, { type: 'pong' });
      let msg: { type?: unknown; recordingId?: unknown; channel?: unknown };
      try {
        msg = JSON.parse(text) as typeof msg;
      } catch {
        return send(ws, { type: 'error', error: 'messages are JSON objects (or "ping")' });
      }
      if (msg.type === 'listen' && typeof msg.recordingId === 'string') {
        startListening(ws, c, msg.recordingId, typeof msg.channel === 'string' ? msg.channel : 'mix').catch(
          (err: unknown) => log.error({ err }, 'listen-in failed'),
        );
        return;
      }
      if (
        (msg.type === 'pause' || msg.type === 'resume' || msg.type === 'start' || msg.type === 'stop') &&
        typeof msg.recordingId === 'string'
      ) {
        const action = msg.type;
        if (!o.control) return send(ws, { type: 'error', error: 'recording control is not available' });
        o.control(c.who, action, msg.recordingId).then(
          (r) => send(ws, { type: 'control', action, result: r }),
          (err: unknown) =>
            send(ws, {
              type: 'error',
              action,
              recordingId: msg.recordingId,
              status: (err as { status?: number }).status ?? 500,
              error: err instanceof Error ? err.message : String(err),
            }),
        );
        return;
      }
      if (msg.type === 'unlisten') {
        stopListening(c);
        return send(ws, { type: 'unlistened' });
      }
      return send(ws, {
        type: 'error',
        error: 'unknown message; use listen, unlisten, pause, resume, start, stop or ping',
      });
    });
    ws.on('close', () => {
      stopListening(c, 'disconnected');
      clients.delete(ws);
    });
  });

  const onEvent = (e: RecordingEvent): void => {
    if (clients.size === 0) return; // nothing to build per call while nobody watches
    const call = (e as { call?: ActiveCall }).call;
    // One serialisation per event whatever the number of watchers.
    const text = JSON.stringify(call ? { ...e, call: view(call) } : e);
    for (const [ws, c] of clients) {
      if (call && !c.filter(call.participants)) continue;
      if (!call && c.who.role !== 'admin') continue;
      sendText(ws, text);
      if (e.type === 'call-end' && c.listen?.recordingId === call?.recordingId)
        stopListening(c, 'call ended');
    }
  };
  o.source.on('event', onEvent);

  // Media health: publish a call-update when a call's loss counters change.
  const lastHealth = new Map<string, string>();
  const statsTimer = setInterval(() => {
    if ((!o.stats && !o.counters) || clients.size === 0) return;
    // One engine call for every live call when the batched counters are there.
    const all = o.counters?.();
    const statsOf = (id: string) => {
      if (!all) return o.stats?.(id);
      const legs = all.get(id);
      return legs && { legs };
    };
    const live = new Set<string>();
    for (const call of o.source.activeCalls()) {
      live.add(call.recordingId);
      const media = healthOf(statsOf(call.recordingId));
      const key = JSON.stringify(media.map((m) => [m.packetsLost, m.packetsReceived > 0]));
      if (lastHealth.get(call.recordingId) === key) continue;
      lastHealth.set(call.recordingId, key);
      const text = JSON.stringify({ type: 'call-update', call: view(call) });
      for (const [ws, c] of clients) if (c.filter(call.participants)) sendText(ws, text);
    }
    for (const id of lastHealth.keys()) if (!live.has(id)) lastHealth.delete(id);
  }, o.statsIntervalMs ?? 1000);
  statsTimer.unref();

  const revoke = (m: { userId?: string; sessionId?: string; reason: string }): number => {
    let n = 0;
    for (const [ws, c] of clients) {
      const hit =
        (m.userId !== undefined && c.who.userId === m.userId) ||
        (m.sessionId !== undefined && c.who.sessionId === m.sessionId);
      if (!hit) continue;
      n++;
      stopListening(c, m.reason);
      clients.delete(ws);
      send(ws, { type: 'revoked', reason: m.reason });
      ws.close(4401, m.reason.slice(0, 100));
      // A client that does not complete the closing handshake is cut off.
      setTimeout(() => ws.terminate(), 1000).unref();
    }
    if (n > 0) log.info({ ...m, sockets: n }, 'monitor sockets closed: access changed');
    return n;
  };
  const refreshFilters = async (): Promise<void> => {
    if (!o.filterFor) return;
    for (const c of clients.values()) c.filter = await o.filterFor(c.who);
  };
  // The backstop: every credential is checked again (expired sessions, changes made on another node).
  const recheck = setInterval(() => {
    for (const [ws, c] of clients)
      authenticate(c.req).then(
        (who) => {
          if (!clients.has(ws)) return;
          const same =
            who &&
            who.userId === c.who.userId &&
            who.role === c.who.role &&
            JSON.stringify([who.groups, who.numbers]) === JSON.stringify([c.who.groups, c.who.numbers]);
          if (!same) revoke({ sessionId: c.who.sessionId ?? '\u0000', reason: 'credential no longer valid' });
        },
        (err: unknown) => log.warn({ err }, 'monitor credential re-check failed'),
      );
  }, o.recheckMs ?? 30_000);
  recheck.unref();

  return {
    revoke,
    refreshFilters,
    get clients() {
      return clients.size;
    },
    get listeners() {
      return listeners;
    },
    close() {
      clearInterval(statsTimer);
      clearInterval(recheck);
      o.source.off('event', onEvent);
      o.server.off('upgrade', onUpgrade);
      for (const c of clients.values()) stopListening(c);
      for (const ws of wss.clients) ws.close(1001, 'server shutting down');
      return new Promise((resolve) => wss.close(() => resolve()));
    },
  };
}
