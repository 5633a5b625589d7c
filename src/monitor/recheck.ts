import type { IncomingMessage } from 'node:http';
import type { WebSocket } from 'ws';
import type { Logger } from '../log.js';
import type { Principal } from '../store/users.js';
import type { Client, MonitorOptions } from './types.js';

/**
 * The monitor's backstop: every socket's credential and call filter read again, every `everyMs`
 * (30 s), so that expired sessions and changes made elsewhere (the CLI, another node) apply.
 *
 * The cost is bounded, whatever the number of sockets:
 * - sockets that share a credential (one session or API token in several tabs) are checked with
 *   one query, and sockets of one principal share one call-filter read;
 * - the reads run one after another, spread over the first half of the interval, never all at the
 *   same instant;
 * - a run never starts while the last one is still going (a database slower than the interval
 *   does not pile runs up); a refresh of the filters asked for (users changed through this node)
 *   while one is going runs once more after it, for all who asked meanwhile.
 */

/** Sockets under one credential: checked with one read of it. */
const credentialKey = (ws: WebSocket, c: Client, perSocket: WeakMap<WebSocket, string>): string => {
  const w = c.who;
  if ((w.via === 'session' || w.via === 'token' || w.via === 'admin-token') && w.sessionId !== undefined)
    return `${w.via}:${w.sessionId}`;
  // A peer's principal belongs to its socket's handshake.
  let k = perSocket.get(ws);
  if (!k) perSocket.set(ws, (k = `socket:${Math.random()}`));
  return k;
};

/** Who sees the same calls: one call filter read for them all. */
const principalKey = (w: Principal): string =>
  JSON.stringify([w.via, w.userId ?? w.sessionId ?? w.username, w.role, w.groups, w.numbers]);

/** Whether the principal read again is still the one the socket was opened with. */
const same = (who: Principal | null, was: Principal): boolean =>
  !!who &&
  who.userId === was.userId &&
  who.role === was.role &&
  JSON.stringify([who.groups, who.numbers]) === JSON.stringify([was.groups, was.numbers]);

export interface RecheckParts {
  clients: Map<WebSocket, Client>;
  authenticate: (req: IncomingMessage) => Promise<Principal | null>;
  filterFor: MonitorOptions['filterFor'];
  revoke: (m: { sessionId: string; reason: string }) => number;
  /** After a client's filter changed: stops a listen-in it forbids, sends a new snapshot if needed. */
  applyFilter: (ws: WebSocket, c: Client, before: string) => Promise<void>;
  /** The ids of the calls a client sees now (to tell whether a new filter changed them). */
  visibleIds: (c: Client) => string;
  everyMs: number;
  log: Logger;
}

export interface Recheck {
  /** Reads every client's call filter again (one read per principal); after the pass in progress, if any. */
  refreshFilters(): Promise<void>;
  /** One run: credentials, then filters (the timer's; tests). Resolves when done. */
  run(): Promise<void>;
  stop(): void;
}

export function startRecheck(p: RecheckParts): Recheck {
  const { clients, log } = p;
  const perSocket = new WeakMap<WebSocket, string>();
  let stopped = false;
  /** The run in progress: none starts until it ends. */
  let running: Promise<void> | undefined;
  const sleep = (ms: number) => new Promise<void>((r) => setTimeout(r, ms).unref());

  const filters = async (): Promise<void> => {
    if (!p.filterFor) return;
    const read = new Map<string, Promise<Client['filter']>>();
    for (const [ws, c] of [...clients]) {
      if (stopped) return;
      if (!clients.has(ws)) continue;
      const before = p.visibleIds(c);
      const key = principalKey(c.who);
      let f = read.get(key);
      if (!f) read.set(key, (f = p.filterFor(c.who)));
      try {
        c.filter = await f;
      } catch (err) {
        log.warn({ err, user: c.who.username }, 'monitor: could not read a call filter again');
        continue;
      }
      if (clients.has(ws)) await p.applyFilter(ws, c, before);
    }
  };

  const credentials = async (): Promise<void> => {
    const groups = new Map<string, [WebSocket, Client][]>();
    for (const [ws, c] of clients) {
      const k = credentialKey(ws, c, perSocket);
      const g = groups.get(k);
      if (g) g.push([ws, c]);
      else groups.set(k, [[ws, c]]);
    }
    // Spread over the first half of the interval (at most a second apart).
    const gap = groups.size > 1 ? Math.min(1000, p.everyMs / 2 / groups.size) : 0;
    let first = true;
    for (const g of groups.values()) {
      if (stopped) return;
      if (!first && gap > 0) await sleep(gap);
      first = false;
      const open = g.filter(([ws]) => clients.has(ws));
      const head = open[0];
      if (!head) continue;
      let who: Principal | null;
      try {
        who = await p.authenticate(head[1].req);
      } catch (err) {
        log.warn({ err }, 'monitor credential re-check failed');
        continue;
      }
      for (const [ws, c] of open)
        if (clients.has(ws) && !same(who, c.who))
          p.revoke({ sessionId: c.who.sessionId ?? '\u0000', reason: 'credential no longer valid' });
    }
  };

  /** The filter pass in progress, and one asked for meanwhile (one more after it, for all who asked). */
  let filtering: Promise<void> | undefined;
  let queued: Promise<void> | undefined;
  const refreshFilters = (): Promise<void> => {
    if (!filtering) {
      const pass = filters().finally(() => {
        if (filtering === pass) filtering = undefined;
      });
      filtering = pass;
      return pass;
    }
    queued ??= filtering
      .catch(() => undefined)
      .then(() => {
        queued = undefined;
        return refreshFilters();
      });
    return queued;
  };

  const run = (): Promise<void> => {
    // The last run still going (a slow database): no second one.
    if (running) return running;
    const r = (async () => {
      await credentials();
      // Group members and numbers changed elsewhere (the CLI, another node): the filters follow.
      await refreshFilters();
    })().finally(() => {
      running = undefined;
    });
    running = r;
    return r;
  };

  const timer = setInterval(() => {
    // The last run still going (a slow database): this one is skipped.
    if (running) return;
    run().catch((err: unknown) => log.warn({ err }, 'monitor re-check failed'));
  }, p.everyMs);
  timer.unref();

  return {
    refreshFilters,
    run,
    stop() {
      stopped = true;
      clearInterval(timer);
    },
  };
}
