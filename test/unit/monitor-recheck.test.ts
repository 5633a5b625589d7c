/**
 * The monitor's periodic re-check of every socket's credential and call filter (src/monitor/
 * recheck.ts) against a real Postgres (sessions, API tokens and group members in the catalogue,
 * the console's Authenticator and call filter), through real WebSockets; a counting wrapper on the
 * users repository counts the queries it sends:
 * - six sockets of one API token (a supervisor's: its filter reads the group's numbers) cost one
 *   credential query and one filter query per run, not six of each;
 * - six sockets of six sessions are checked one after another, never all at the same moment;
 * - while the database is stalled, no second run starts on top of the first.
 */
import assert from 'node:assert/strict';
import { EventEmitter } from 'node:events';
import { mkdtemp, rm } from 'node:fs/promises';
import { createServer, type Server } from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { setTimeout as sleep } from 'node:timers/promises';
import WebSocket from 'ws';
import { Authenticator } from '../../src/api/auth.js';
import { createLogger } from '../../src/log.js';
import { attachMonitor, type Monitor } from '../../src/monitor/index.js';
import type { ActiveCall, RecordingEvent } from '../../src/recording/types.js';
import { openDatabase, type Database } from '../../src/store/db.js';
import { participantFilter, type UsersRepository } from '../../src/store/users.js';
import { seedDataDir } from '../helpers/pg-template.js';

class Source extends EventEmitter<{ event: [RecordingEvent] }> {
  activeCalls(): ActiveCall[] {
    return [];
  }
}

type Counted = 'sessionUser' | 'tokenUser' | 'numbersOfGroups';

describe(
  'live monitor: the periodic re-check costs a bounded number of queries',
  { timeout: 120_000 },
  () => {
    let dir: string;
    let db: Database;
    let server: Server;
    let port = 0;
    let users: UsersRepository;
    let auth: Authenticator;
    let userId = '';
    const calls: Record<Counted, number> = { sessionUser: 0, tokenUser: 0, numbersOfGroups: 0 };
    let inFlight = 0;
    let maxInFlight = 0;
    /** While set, every counted query waits for it (a stalled database). */
    let stall: Promise<void> | null = null;
    const reset = () => {
      calls.sessionUser = calls.tokenUser = calls.numbersOfGroups = 0;
      maxInFlight = inFlight;
    };

    const counted =
      <A extends unknown[], R>(name: Counted, f: (...a: A) => Promise<R>) =>
      async (...a: A): Promise<R> => {
        calls[name]++;
        inFlight++;
        maxInFlight = Math.max(maxInFlight, inFlight);
        try {
          if (stall) await stall;
          return await f(...a);
        } finally {
          inFlight--;
        }
      };

    const start = (recheckMs: number): Monitor =>
      attachMonitor({
        server,
        token: 'admin-token-of-the-test',
        source: new Source(),
        log: createLogger('silent'),
        authenticate: (req) => auth.authenticate(req, true),
        filterFor: (who) => participantFilter(users, who),
        recheckMs,
      });

    /** Opens a socket with this bearer credential; resolves once its snapshot came. */
    const open = async (bearer: string): Promise<WebSocket> => {
      const ws = new WebSocket(`ws://127.0.0.1:${port}/monitor`, {
        headers: { authorization: `Bearer ${bearer}` },
      });
      await new Promise<void>((resolve, reject) => {
        ws.once('message', () => resolve());
        ws.once('error', reject);
        ws.once('close', (code) => reject(new Error(`closed ${code}`)));
      });
      return ws;
    };
    const closeAll = async (sockets: WebSocket[]) => {
      for (const ws of sockets) ws.close();
      await Promise.all(
        sockets.map(
          (ws) => new Promise((r) => (ws.readyState === ws.CLOSED ? r(null) : ws.once('close', r))),
        ),
      );
    };

    before(async () => {
      dir = await mkdtemp(join(tmpdir(), 'srs-mon-recheck-'));
      await seedDataDir(dir);
      db = await openDatabase({ dataDir: dir, log: createLogger('silent') });
      const sup = await db.users.create({
        username: 'sup',
        role: 'supervisor',
        group: 'sales',
        numbers: ['100'],
      });
      await db.users.create({ username: 'agent', role: 'user', group: 'sales', numbers: ['101'] });
      userId = sup.id;
      users = {
        ...db.users,
        sessionUser: counted('sessionUser', db.users.sessionUser),
        tokenUser: counted('tokenUser', db.users.tokenUser),
        numbersOfGroups: counted('numbersOfGroups', db.users.numbersOfGroups),
      };
      auth = new Authenticator({ users, adminToken: 'admin-token-of-the-test', sessionTtlMs: 3_600_000 });
      server = createServer((_q, r) => r.end());
      await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
      const a = server.address();
      port = typeof a === 'object' && a ? a.port : 0;
    });
    after(async () => {
      await new Promise((r) => server.close(r));
      await db?.close();
      await rm(dir, { recursive: true, force: true });
    });

    it('six sockets of one API token: one credential query and one filter query per run', async () => {
      const monitor = start(1000);
      const { token } = await db.users.createToken(userId, 'six tabs');
      const sockets: WebSocket[] = [];
      try {
        for (let i = 0; i < 6; i++) sockets.push(await open(token));
        reset();
        // Three runs, or four (every second over 3.5 s).
        await sleep(3500);
        assert.ok(calls.tokenUser >= 2, `the re-check ran: ${calls.tokenUser} credential queries`);
        assert.ok(
          calls.tokenUser <= 4,
          `one credential query per run, not six: ${calls.tokenUser} in 3-4 runs`,
        );
        assert.ok(calls.numbersOfGroups <= 4, `one filter query per run, not six: ${calls.numbersOfGroups}`);
        assert.equal(monitor.clients, 6, 'the sockets are still open (the token is valid)');
      } finally {
        await closeAll(sockets);
        await monitor.close();
      }
    });

    it('six sockets of six sessions: checked one after another, never all at once', async () => {
      const monitor = start(1200);
      const sockets: WebSocket[] = [];
      try {
        for (let i = 0; i < 6; i++) {
          const s = await db.users.createSession(userId, 3_600_000, '127.0.0.1', 'test');
          sockets.push(await open(s.token));
        }
        reset();
        await sleep(2600);
        assert.ok(calls.sessionUser >= 6, `a run checked every session: ${calls.sessionUser}`);
        assert.equal(maxInFlight, 1, 'one credential query at a time');
      } finally {
        await closeAll(sockets);
        await monitor.close();
      }
    });

    it('a stalled database: no second run starts while the first waits', async () => {
      const monitor = start(200);
      const { token } = await db.users.createToken(userId, 'stalled');
      const sockets: WebSocket[] = [];
      let release = () => {};
      try {
        for (let i = 0; i < 6; i++) {
          const s = await db.users.createSession(userId, 3_600_000, '127.0.0.1', 'test');
          sockets.push(await open(i % 2 ? s.token : token));
        }
        stall = new Promise<void>((r) => (release = r));
        reset();
        // About seven intervals while the first query of the first run waits.
        await sleep(1500);
        const during = calls.sessionUser + calls.tokenUser + calls.numbersOfGroups;
        assert.equal(during, 1, `one query waiting, no run started on top of it: ${during}`);
        stall = null;
        release();
        await sleep(600);
        assert.ok(calls.sessionUser + calls.tokenUser > 1, 'the runs go on once the database answers');
      } finally {
        stall = null;
        release();
        await closeAll(sockets);
        await monitor.close();
      }
    });
  },
);
