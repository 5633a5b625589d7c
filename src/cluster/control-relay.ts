import { WebSocket } from 'ws';
import type { TlsPolicy } from '../config/tls-policy.js';
import type { Logger } from '../log.js';
import type { ActiveCall } from '../recording/types.js';
import type { ClusterCall } from '../store/nodes.js';
import { peerAudience, peerHeaders, type ActingFor } from './live.js';

/**
 * Recording control of a call held by another node: the action goes to the owning node's
 * /monitor over a socket authenticated by the cluster secret, whose credential names the user it
 * acts for (peerHeaders). The owning node reads that user again, checks their rights, applies and
 * audits the action, and answers as it answers its own clients. One socket per action.
 */

/** How long the owning node has to answer. */
const RELAY_TIMEOUT_MS = 10_000;

export interface ControlRelayOptions {
  nodeId: string;
  secret: string | undefined;
  /** The other nodes' live calls (ClusterLive's view of the cluster-wide registry). */
  remoteCalls(): Promise<ClusterCall[]>;
  /** The TLS version and ciphers of a relay to a wss:// peer (the server's policy); unset: Node's. */
  tls?: TlsPolicy | undefined;
  log: Logger;
}

/** The owning node's refusal or failure: the status and words it answered with. */
export class RelayError extends Error {
  constructor(
    readonly status: number,
    message: string,
  ) {
    super(message);
  }
}

export class ControlRelay {
  /** The calls `calls()` read last, by recording id (with their node's address). */
  #last = new Map<string, ClusterCall>();

  constructor(private readonly o: ControlRelayOptions) {}

  /** The other nodes' live calls. */
  async calls(): Promise<ActiveCall[]> {
    const rows = await this.o.remoteCalls();
    this.#last = new Map(rows.map((r) => [r.recordingId, r]));
    return rows.map((r) => r.call as unknown as ActiveCall);
  }

  /** Has the node holding `recordingId` apply `action` for `actingFor`; its control reply's result. */
  async act(recordingId: string, action: string, actingFor: ActingFor): Promise<Record<string, unknown>> {
    const remote =
      this.#last.get(recordingId) ?? (await this.o.remoteCalls()).find((r) => r.recordingId === recordingId);
    if (!remote) throw new RelayError(404, `no live call ${recordingId}`);
    const log = this.o.log.child({ part: 'control-relay', recordingId, node: remote.nodeId });
    if (!this.o.secret)
      throw new RelayError(
        503,
        `the call is on node ${remote.nodeId}: control there needs SRS_CLUSTER_SECRET`,
      );
    const url = `${remote.httpAddress.replace(/^http/, 'ws').replace(/\/$/, '')}/monitor`;
    const audience = peerAudience(remote.nodeId, remote.instance);
    const ws = new WebSocket(url, {
      headers: peerHeaders(this.o.secret, this.o.nodeId, audience, actingFor),
      ...this.o.tls,
    });
    try {
      return await new Promise<Record<string, unknown>>((resolve, reject) => {
        const timer = setTimeout(
          () => reject(new RelayError(504, `node ${remote.nodeId} holding the call did not answer`)),
          RELAY_TIMEOUT_MS,
        );
        const fail = (err: RelayError) => {
          clearTimeout(timer);
          reject(err);
        };
        ws.on('open', () => ws.send(JSON.stringify({ type: action, recordingId })));
        ws.on('unexpected-response', (req, res) => {
          req.destroy();
          fail(new RelayError(502, `node ${remote.nodeId} refused the relay (${res.statusCode ?? 0})`));
        });
        ws.on('error', (err) =>
          fail(
            new RelayError(502, `node ${remote.nodeId} holding the call is not reachable: ${err.message}`),
          ),
        );
        ws.on('close', () => fail(new RelayError(502, `node ${remote.nodeId} closed the relay`)));
        ws.on('message', (data: Buffer, isBinary: boolean) => {
          if (isBinary) return;
          let msg: { type?: string; action?: string; result?: unknown; status?: unknown; error?: unknown };
          try {
            msg = JSON.parse(String(data)) as typeof msg;
          } catch {
            return;
          }
          if (msg.type === 'control' && msg.action === action) {
            clearTimeout(timer);
            resolve(msg.result as Record<string, unknown>);
          } else if (msg.type === 'error' && msg.action === action)
            fail(
              new RelayError(
                typeof msg.status === 'number' ? msg.status : 502,
                typeof msg.error === 'string' ? msg.error : 'refused by the node holding the call',
              ),
            );
        });
      });
    } catch (err) {
      log.warn({ action, by: actingFor.username, err: (err as Error).message }, 'relayed control failed');
      throw err;
    } finally {
      ws.removeAllListeners('close');
      ws.on('error', () => undefined);
      ws.close();
    }
  }
}
