import { randomBytes } from 'node:crypto';
import type { Logger } from '../log.js';
import type { ActiveCall, RecordingEvent } from '../recording/types.js';
import type { Database } from '../store/db.js';
import { clusterListener, type ClusterListener, type NodesRepository } from '../store/nodes.js';
import type { ClusterConfig } from '../config/cluster.js';

/**
 * This process as a member of the cluster: registers in Postgres, heartbeats with the calls in
 * use, publishes its live calls to the cluster-wide registry, and drains on request (the flag that
 * `srs node drain` or the API sets): new calls refused (OPTIONS and INVITE 503), live calls left
 * to end, this node's recordings waited for until stored, then `drained` resolves and the server
 * exits.
 *
 * States: created -> up -> draining -> stopped (stop() from any state ends in stopped).
 */

export interface ClusterNodeOptions {
  config: ClusterConfig;
  /** This process's token in the registry (a random one when not given). */
  instance?: string;
  nodes: NodesRepository;
  /** For LISTEN srs_cluster (a dedicated connection). */
  pool: Database['pool'];
  addresses: { sip: string; media: string; http: string };
  maxSessions: number;
  /** The finalize queue of this node's data directory, kept in the registry (`srs node forget`). */
  finalizeQueue?: string;
  live: {
    readonly activeCount: number;
    activeCalls(): ActiveCall[];
    on(event: 'event', fn: (e: RecordingEvent) => void): unknown;
    off(event: 'event', fn: (e: RecordingEvent) => void): unknown;
  };
  log: Logger;
}

const DRAIN_POLL_MS = 500;

export class ClusterNode {
  readonly id: string;
  readonly instance: string;
  private state: 'created' | 'up' | 'draining' | 'stopped' = 'created';
  private timer: NodeJS.Timeout | undefined;
  private readonly listener: ClusterListener;
  /** Recordings this node started since it came up, until they are stored (the drain waits for them). */
  private readonly mine = new Set<string>();
  private resolveDrained!: () => void;
  private drainLoop: Promise<void> | undefined;
  /** Resolves when a drain has finished: no live call, this node's recordings stored. */
  readonly drained = new Promise<void>((r) => (this.resolveDrained = r));
  private readonly log: Logger;
  private readonly onEvent = (e: RecordingEvent): void => this.track(e);

  constructor(private readonly o: ClusterNodeOptions) {
    this.id = o.config.nodeId;
    this.instance = o.instance ?? randomBytes(8).toString('hex');
    this.log = o.log.child({ part: 'cluster', nodeId: this.id });
    this.listener = clusterListener(
      o.pool,
      (payload) => {
        if (payload === `drain:${this.id}`) this.drain('request');
      },
      (err) =>
        this.log.warn({ err: err.message }, 'cluster LISTEN connection lost; listening again at a heartbeat'),
    );
  }

  /**
   * Another process registered as this node's id while this one was taken for dead (frozen, or cut
   * from the database, past 3 heartbeats): this process is out of the registry for good.
   */
  private displaced = false;

  /** Why a new call is refused now (draining, or the id taken over), or null when it is welcome. */
  get refusal(): string | null {
    if (this.displaced) return `node id ${this.id} is held by another process`;
    return this.state === 'draining' || this.state === 'stopped' ? `node ${this.id} is draining` : null;
  }

  /** Up or draining: registered, heartbeating (state may change while a heartbeat awaits). */
  private get running(): boolean {
    return this.state === 'up' || this.state === 'draining';
  }

  get draining(): boolean {
    return this.state === 'draining';
  }

  private register(): Promise<void> {
    const o = this.o;
    return o.nodes.register({
      id: this.id,
      instance: this.instance,
      sipAddress: o.addresses.sip,
      mediaAddress: o.addresses.media,
      httpAddress: o.addresses.http,
      maxSessions: o.maxSessions,
      heartbeatSeconds: o.config.heartbeatSeconds,
      finalizeQueue: o.finalizeQueue,
    });
  }

  async start(): Promise<void> {
    const o = this.o;
    await this.register();
    await o.nodes.clearCalls(this.id);
    this.state = 'up';
    o.live.on('event', this.onEvent);
    for (const c of o.live.activeCalls()) this.track({ type: 'call-start', call: c });
    await this.listener
      .listen()
      .catch((err: unknown) =>
        this.log.warn({ err }, 'LISTEN srs_cluster failed; drains are seen at the next heartbeat'),
      );
    this.timer = setInterval(() => void this.beat(), o.config.heartbeatSeconds * 1000);
    this.timer.unref();
    this.log.info({ sip: o.addresses.sip, http: o.addresses.http }, 'node registered in the cluster');
  }

  /** Registry writes in order: a short call's delete never overtakes its insert. */
  private writes: Promise<unknown> = Promise.resolve();

  /** The recording control state last published per live call (re-published when it changes). */
  private readonly published = new Map<string, string>();

  private track(e: RecordingEvent): void {
    const { nodes } = this.o;
    const id = e.call.recordingId;
    const report = (err: unknown): void => this.log.warn({ err, recordingId: id }, 'live-call registry');
    if (e.type === 'call-start') this.mine.add(id);
    const control = JSON.stringify(e.call.control ?? null);
    if (e.type === 'call-update' && (!this.published.has(id) || this.published.get(id) === control)) return;
    if (e.type === 'call-end') this.published.delete(id);
    else this.published.set(id, control);
    // A call-update: its control changed (a pause, say), so that other nodes show its state.
    const write =
      e.type === 'call-end'
        ? () => nodes.removeCall(id)
        : () => nodes.addCall(this.id, id, { ...e.call, nodeId: this.id }, new Date(e.call.startedAt));
    // Out of the registry: this process's calls are not written under the id another process holds.
    this.writes = this.writes.then(() => (this.displaced ? undefined : write())).catch(report);
  }

  private async beat(): Promise<void> {
    if (this.state !== 'up' && this.state !== 'draining') return;
    try {
      const { drainRequested, held } = await this.o.nodes.heartbeat(
        this.id,
        this.instance,
        this.o.live.activeCount,
      );
      if (!held) {
        if (!this.displaced && (await this.rejoin())) return;
        if (!this.displaced) {
          const other = await this.o.nodes.get(this.id).catch(() => undefined);
          this.log.error(
            {
              otherSip: other?.sipAddress,
              otherHttp: other?.httpAddress,
              liveCalls: this.o.live.activeCount,
            },
            `node id ${this.id} was taken over by another process while this one missed its heartbeats: new calls refused here, live calls left to end; stop this process, or give each node its own SRS_NODE_ID`,
          );
        }
        this.displaced = true;
        return;
      }
      if (drainRequested) this.drain('request');
      else await this.prune();
      await this.syncCalls();
      // LISTEN again after a lost connection: drains are seen at once again, not at a heartbeat.
      if (!this.listener.listening && this.running)
        await this.listener
          .listen()
          .then(() => this.log.info('cluster LISTEN connection back'))
          .catch((err: unknown) =>
            this.log.warn({ err }, 'LISTEN srs_cluster failed; trying at the next heartbeat'),
          );
    } catch (err) {
      this.log.warn({ err }, 'heartbeat failed');
    }
  }

  /**
   * This process missed its heartbeats long enough to be forgotten (`srs node forget`: its row is
   * gone, nobody else holds the id): it registers again, as a restart would, and republishes its
   * live calls. False when the row is there (another process holds the id) or the id was taken
   * between the two steps.
   */
  private async rejoin(): Promise<boolean> {
    if ((await this.o.nodes.get(this.id)) !== undefined) return false;
    try {
      await this.register();
    } catch {
      return false;
    }
    this.log.warn(
      { liveCalls: this.o.live.activeCount },
      `node id ${this.id} was forgotten (srs node forget) while this process missed its heartbeats: registered again`,
    );
    if (this.state === 'draining') await this.o.nodes.setState(this.id, this.instance, 'draining');
    await this.syncCalls();
    return true;
  }

  /**
   * The registry's rows of this node made to match its live calls, in line with the other writes:
   * a call-end whose delete failed (the database away) would otherwise be listed by every other
   * node for as long as this node heartbeats, and a call-start whose insert failed never.
   */
  private syncCalls(): Promise<unknown> {
    const { nodes, live } = this.o;
    this.writes = this.writes
      .then(async () => {
        const calls = live.activeCalls();
        const held = new Set(
          await nodes.syncCalls(
            this.id,
            calls.map((c) => c.recordingId),
          ),
        );
        for (const c of calls)
          if (!held.has(c.recordingId))
            await nodes.addCall(this.id, c.recordingId, { ...c, nodeId: this.id }, new Date(c.startedAt));
      })
      .catch((err: unknown) => this.log.warn({ err }, 'live-call registry'));
    return this.writes;
  }

  /** Forgets the recordings of this node that are stored (or failed); returns how many are left. */
  private async prune(): Promise<number> {
    const live = new Set(this.o.live.activeCalls().map((c) => c.recordingId));
    const ended = [...this.mine].filter((id) => !live.has(id));
    const left = new Set(await this.o.nodes.unfinished(ended));
    for (const id of ended) if (!left.has(id)) this.mine.delete(id);
    return left.size;
  }

  /** Starts draining (once): refuses new calls, waits for live calls and this node's recordings. */
  drain(why: string): Promise<void> {
    if (this.state !== 'up') return this.drained;
    this.state = 'draining';
    this.log.warn({ why, liveCalls: this.o.live.activeCount }, 'draining: new calls refused');
    this.drainLoop = (async () => {
      await this.o.nodes.setState(this.id, this.instance, 'draining').catch((err: unknown) => {
        this.log.warn({ err }, 'could not store the draining state');
      });
      const limit = this.o.config.drainTimeoutSeconds;
      const until = limit > 0 ? Date.now() + limit * 1000 : Infinity;
      let lastLog = 0;
      for (;;) {
        if (this.state !== 'draining') return;
        const live = this.o.live.activeCount;
        let left = -1;
        if (live === 0) {
          left = await this.prune().catch(() => -1);
          if (left === 0) break;
        }
        if (Date.now() > until) {
          this.log.warn({ liveCalls: live }, 'drain timeout: stopping with calls or recordings left');
          break;
        }
        if (Date.now() - lastLog > 5000) {
          lastLog = Date.now();
          this.log.info({ liveCalls: live, recordingsToStore: left }, 'draining');
        }
        await new Promise((r) => setTimeout(r, DRAIN_POLL_MS));
      }
      this.log.warn('drained: no live call, every recording of this node stored');
      this.resolveDrained();
    })();
    return this.drained;
  }

  /** Leaves the cluster: state stopped, live calls forgotten. Safe to call twice. */
  async stop(): Promise<void> {
    if (this.state === 'stopped' || this.state === 'created') return;
    this.state = 'stopped';
    clearInterval(this.timer);
    this.o.live.off('event', this.onEvent);
    await this.drainLoop?.catch(() => undefined);
    await this.writes;
    await this.listener.close();
    if (this.displaced) return;
    await this.o.nodes.clearCalls(this.id).catch(() => undefined);
    await this.o.nodes.setState(this.id, this.instance, 'stopped').catch((err: unknown) => {
      this.log.warn({ err }, 'could not store the stopped state');
    });
  }
}
