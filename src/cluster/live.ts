import { createHmac, randomBytes, timingSafeEqual } from 'node:crypto';
import { EventEmitter } from 'node:events';
import type { IncomingMessage } from 'node:http';
import { WebSocket } from 'ws';
import type { TlsPolicy } from '../config/tls-policy.js';
import type { Logger } from '../log.js';
import type { LiveFrame } from '../media/types.js';
import type { ActiveCall, RecordingEvent } from '../recording/types.js';
import type { ClusterCall, NodesRepository } from '../store/nodes.js';
import type { Principal } from '../store/users.js';

/**
 * The cluster-wide live-call view. Each node writes its calls to `cluster_calls`
 * (src/cluster/node.ts); here a node reads the others' calls (a short poll of that table) and
 * presents local + remote calls to the monitor as one source, with call-start / call-end events
 * for remote calls. Listen-in to a remote call is relayed: this node opens a WebSocket to the
 * owning node's /monitor, authenticated as a peer by the cluster secret, asks for every leg
 * (`channel: all`) and hands the frames to the local monitor as if they were its own tap.
 */

/**
 * Peer credential: `Authorization: SRS-Cluster <node id>:<unix seconds>:<nonce>:<hex HMAC-SHA256>`,
 * the MAC over `<node id>:<unix seconds>:<nonce>` and the audience: the receiving node's id and
 * its process's instance token (`<id>/<instance>`, from the registry). Each credential opens one
 * socket: a nonce seen within the window is refused, so a header read off the cluster network
 * cannot be replayed to that node, nor (audience) to another node or to the node's next process,
 * whose memory of spent nonces is new.
 */
const SCHEME = 'SRS-Cluster';
/** A peer credential is valid this long either side of now (clock skew between nodes). */
const PEER_WINDOW_SECONDS = 60;

/** The header naming the user a peer acts for (recording control relayed for them), under the MAC. */
export const ACTING_FOR_HEADER = 'x-srs-acting-for';

/**
 * The user on whose behalf a peer node relays a control action: who they are on the relaying
 * node, how they asked (channel), from where (client address), and the secret they authenticated
 * with there (their session's, their API token, or the admin token). The owning node
 * authenticates the user with that secret itself and checks their rights: the cluster secret
 * proves which node relays, never who the user is.
 */
export interface ActingFor {
  userId: string | null;
  username: string;
  via: Principal['via'];
  channel: 'web' | 'api';
  ip: string;
  credential: string;
}

const mac = (
  secret: string,
  nodeId: string,
  ts: number,
  nonce: string,
  audience: string,
  actingFor = '',
): string =>
  createHmac('sha256', secret)
    .update(`${nodeId}:${ts}:${nonce}>${audience}${actingFor ? `\n${actingFor}` : ''}`)
    .digest('hex');

/** Who a peer credential is for: the receiving node's id and its process's instance token. */
export const peerAudience = (nodeId: string, instance: string): string => `${nodeId}/${instance}`;

/**
 * `audience`: peerAudience of the node it is sent to. `actingFor`: the ACTING_FOR_HEADER's value
 * the credential covers (peerHeaders).
 */
export function peerAuthorization(
  secret: string,
  nodeId: string,
  audience: string,
  now = Date.now(),
  actingFor = '',
): string {
  const ts = Math.floor(now / 1000);
  const nonce = randomBytes(12).toString('hex');
  return `${SCHEME} ${nodeId}:${ts}:${nonce}:${mac(secret, nodeId, ts, nonce, audience, actingFor)}`;
}

/** A peer credential acting for a user: the Authorization and the ACTING_FOR_HEADER it covers. */
export function peerHeaders(
  secret: string,
  nodeId: string,
  audience: string,
  actingFor: ActingFor,
): Record<string, string> {
  const value = Buffer.from(JSON.stringify(actingFor)).toString('base64url');
  return {
    authorization: peerAuthorization(secret, nodeId, audience, Date.now(), value),
    [ACTING_FOR_HEADER]: value,
  };
}

function parseActingFor(value: string): ActingFor | null {
  try {
    const a = JSON.parse(Buffer.from(value, 'base64url').toString()) as Partial<ActingFor>;
    if (
      (a.userId !== null && typeof a.userId !== 'string') ||
      typeof a.username !== 'string' ||
      typeof a.via !== 'string' ||
      (a.channel !== 'web' && a.channel !== 'api') ||
      typeof a.ip !== 'string' ||
      typeof a.credential !== 'string'
    )
      return null;
    return a as ActingFor;
  } catch {
    return null;
  }
}

/** Checks peer credentials; remembers the nonces it accepted within the window. */
export class PeerVerifier {
  readonly #seen = new Map<string, number>();
  /** `audience`: this node's peerAudience (its id and this process's instance token). */
  constructor(
    readonly secret: string | undefined,
    readonly audience: string,
  ) {}

  /** The peer node's id when `header` is a valid peer credential not used before, else null. */
  verify(header: string | undefined, now = Date.now(), actingFor = ''): string | null {
    const secret = this.secret;
    if (!secret || !header?.startsWith(`${SCHEME} `)) return null;
    const [nodeId, tsText, nonce, sig, extra] = header.slice(SCHEME.length + 1).split(':');
    const ts = Number(tsText);
    if (!nodeId || !nonce || !sig || extra !== undefined || !Number.isInteger(ts)) return null;
    if (Math.abs(now / 1000 - ts) > PEER_WINDOW_SECONDS) return null;
    const want = Buffer.from(mac(secret, nodeId, ts, nonce, this.audience, actingFor));
    const got = Buffer.from(sig);
    if (want.length !== got.length || !timingSafeEqual(want, got)) return null;
    for (const [n, until] of this.#seen) if (until < now) this.#seen.delete(n);
    if (this.#seen.has(nonce)) return null; // a replay
    this.#seen.set(nonce, now + 2 * PEER_WINDOW_SECONDS * 1000);
    return nodeId;
  }

  /**
   * The principal of a peer node on the monitor: it may list calls and listen in, to relay to its
   * own clients (its own users' access and audit are on that node), and nothing else.
   */
  principal(req: IncomingMessage): Principal | null {
    return this.peer(req)?.principal ?? null;
  }

  /**
   * `principal`, and the user the peer acts for when its credential names one (ACTING_FOR_HEADER,
   * covered by the MAC): such a socket relays that user's recording control.
   */
  peer(req: IncomingMessage): { principal: Principal; actingFor: ActingFor | null } | null {
    const raw = req.headers[ACTING_FOR_HEADER];
    const value = typeof raw === 'string' ? raw : '';
    const nodeId = this.verify(req.headers.authorization, Date.now(), value);
    if (!nodeId) return null;
    const actingFor = value ? parseActingFor(value) : null;
    if (value && !actingFor) return null;
    return {
      principal: {
        userId: null,
        username: `node:${nodeId}`,
        role: 'admin',
        groups: [],
        numbers: [],
        via: 'peer',
        sessionId: `peer:${nodeId}`,
      },
      actingFor,
    };
  }
}

/** Why a relayed listen-in ended on the owning node's side (the monitor's TapEnd). */
interface RelayEnd {
  error: string;
  reason: string;
}

interface LocalSource {
  activeCalls(): ActiveCall[];
  on(event: 'event', fn: (e: RecordingEvent) => void): unknown;
  off(event: 'event', fn: (e: RecordingEvent) => void): unknown;
}

export interface ClusterLiveOptions {
  nodeId: string;
  local: LocalSource;
  nodes: NodesRepository;
  /** Poll of the other nodes' calls. */
  intervalMs: number;
  secret: string | undefined;
  /** Taps of this node's calls. */
  taps: { subscribe(recordingId: string, fn: (frames: LiveFrame[]) => void): () => void } | undefined;
  /** The TLS version and ciphers of a relay to a wss:// peer (the server's policy); unset: Node's. */
  tls?: TlsPolicy | undefined;
  log: Logger;
}

/** Every node's live calls as one LiveCallSource (monitor) plus a tap hub that relays remote calls. */
export class ClusterLive extends EventEmitter {
  private remote = new Map<string, ClusterCall>();
  private readonly timer: NodeJS.Timeout;
  private readonly forward = (e: RecordingEvent): void => void this.emit('event', e);
  private readonly log: Logger;

  constructor(private readonly o: ClusterLiveOptions) {
    super();
    this.log = o.log.child({ part: 'cluster-live' });
    o.local.on('event', this.forward);
    this.timer = setInterval(() => void this.refresh(), o.intervalMs);
    this.timer.unref();
    void this.refresh();
  }

  activeCalls(): ActiveCall[] {
    return [
      ...this.o.local.activeCalls(),
      ...[...this.remote.values()].map((r) => r.call as unknown as ActiveCall),
    ];
  }

  /** The other nodes' live calls (as last read), with their node and its HTTP address. */
  remoteCalls(): ClusterCall[] {
    return [...this.remote.values()];
  }

  private async refresh(): Promise<void> {
    let rows: ClusterCall[];
    try {
      rows = await this.o.nodes.remoteCalls(this.o.nodeId);
    } catch (err) {
      this.log.warn({ err }, 'could not read the other nodes’ calls');
      return;
    }
    const next = new Map(rows.map((r) => [r.recordingId, r]));
    for (const [id, r] of this.remote)
      if (!next.has(id)) {
        const call = r.call as unknown as ActiveCall;
        const now = new Date();
        this.emit('event', {
          type: 'call-end',
          call,
          endedAt: now.toISOString(),
          durationMs: now.getTime() - new Date(call.startedAt).getTime(),
          reason: 'ended on its node',
        } satisfies RecordingEvent);
      }
    for (const [id, r] of next) {
      const was = this.remote.get(id);
      if (!was) this.emit('event', { type: 'call-start', call: r.call as unknown as ActiveCall });
      // Its node re-publishes the call when its recording control changes (src/cluster/node.ts).
      else if (JSON.stringify(was.call.control) !== JSON.stringify(r.call.control))
        this.emit('event', { type: 'call-update', call: r.call as unknown as ActiveCall });
    }
    this.remote = next;
  }

  /** Tap hub for the monitor: local calls from this node's taps, remote calls relayed from their node. */
  readonly taps = {
    subscribe: (
      recordingId: string,
      fn: (frames: LiveFrame[]) => void,
      onEnd?: (end: RelayEnd) => void,
    ): (() => void) => {
      const remote = this.remote.get(recordingId);
      if (!remote) {
        if (!this.o.taps) throw new Error('listen-in is not available on this node');
        return this.o.taps.subscribe(recordingId, fn);
      }
      return this.relay(remote, fn, onEnd);
    },
  };

  /**
   * Relays a call's audio from the node holding it. When that node refuses, cannot be reached or
   * closes the relay, `onEnd` says so (once, and never after the returned stop).
   */
  private relay(
    remote: ClusterCall,
    fn: (frames: LiveFrame[]) => void,
    onEnd: ((end: RelayEnd) => void) | undefined,
  ): () => void {
    const node = remote.nodeId;
    const log = this.log.child({ recordingId: remote.recordingId, node });
    if (!this.o.secret) {
      log.warn('listen-in to another node needs SRS_CLUSTER_SECRET on both nodes');
      const later = setImmediate(() =>
        onEnd?.({
          error: 'listen-in to another node needs SRS_CLUSTER_SECRET on both nodes',
          reason: 'no cluster secret',
        }),
      );
      return () => clearImmediate(later);
    }
    const url = `${remote.httpAddress.replace(/^http/, 'ws').replace(/\/$/, '')}/monitor`;
    const ws = new WebSocket(url, {
      headers: {
        authorization: peerAuthorization(
          this.o.secret,
          this.o.nodeId,
          peerAudience(remote.nodeId, remote.instance),
        ),
      },
      ...this.o.tls,
    });
    let ended = false;
    const end = (error: string, reason: string): void => {
      if (ended) return;
      ended = true;
      log.warn({ error }, 'listen-in relay ended by the node holding the call');
      ws.terminate();
      onEnd?.({ error, reason });
    };
    ws.on('open', () =>
      ws.send(JSON.stringify({ type: 'listen', recordingId: remote.recordingId, channel: 'all' })),
    );
    ws.on('unexpected-response', (req, res) => {
      req.destroy();
      end(
        `node ${node} holding the call refused the relay (${res.statusCode ?? 0})`,
        `relay refused by node ${node}`,
      );
    });
    ws.on('close', () =>
      end(`node ${node} holding the call closed the relay`, `relay closed by node ${node}`),
    );
    let batch: LiveFrame[] = [];
    const legOf = new Map<number, string>();
    const flush = (): void => {
      const frames = batch;
      batch = [];
      if (frames.length > 0) fn(frames);
    };
    ws.on('message', (data: Buffer, isBinary: boolean) => {
      if (!isBinary) {
        let msg: { type?: string; error?: string; legs?: { legId?: unknown; channel?: unknown }[] } = {};
        try {
          msg = JSON.parse(String(data)) as typeof msg;
        } catch {
          return;
        }
        if (msg.type === 'error')
          return end(
            `node ${node} holding the call refused the listen-in: ${msg.error ?? 'no reason given'}`,
            `refused by node ${node}`,
          );
        // Which engine leg each channel carries (the legs since the SRC's last change of streams).
        if (msg.type === 'listening' && Array.isArray(msg.legs))
          for (const l of msg.legs)
            if (typeof l.channel === 'number' && typeof l.legId === 'string') legOf.set(l.channel, l.legId);
        return;
      }
      // encodeAudioFrame (src/monitor): u8 version, u8 channel (leg index), u16, u32 offset, u32 latency.
      if (data.length < 12 || data[0] !== 1) return;
      // The owning node sends each leg's frame of a span as a message of its own, back to back;
      // the monitor's mixer takes one batch for all the legs of a span, so the frames of one read
      // go on as one batch (one frame at a time, the mixer kept the first party of each span only).
      if (batch.length === 0) setImmediate(flush);
      const ch = data[1] as number;
      batch.push({
        legId: legOf.get(ch) ?? `leg${ch}`,
        offset: data.readUInt32LE(4),
        ulaw: data.subarray(12),
      });
    });
    ws.on('error', (err) =>
      end(`node ${node} holding the call is not reachable: ${err.message}`, `node ${node} not reachable`),
    );
    log.info('listen-in relayed from the node holding the call');
    return () => {
      ended = true;
      ws.close();
    };
  }

  close(): void {
    clearInterval(this.timer);
    this.o.local.off('event', this.forward);
  }
}
