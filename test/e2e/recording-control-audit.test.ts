/**
 * A control action is audited before it is applied, on the real server (SIPp call, our RTP tones,
 * its embedded Postgres, the stored audio decrypted by gpg): with the audit table locked, a pause
 * leaves the call recording while its entry waits; when the entry fails, the pause is not applied
 * and the client gets 503; a second pause sent meanwhile (over the monitor socket) waits for the
 * first, then is checked against the state the first left, and applied once its own entry is
 * written, which names the socket's client address. Before, the engine was paused first and the
 * entry written last: a failed entry left the pause applied and unaudited.
 */
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { setTimeout as sleep } from 'node:timers/promises';
import { WebSocket } from 'ws';
import {
  assertPausedSpan,
  eventAt,
  startControlWorld,
  type ControlWorld,
} from '../helpers/recording-control-world.js';
import { createLogger } from '../../src/log.js';
import { openDatabase, type Database } from '../../src/store/db.js';

describe('recording control: the audit entry comes before the action', { timeout: 300000 }, () => {
  let w: ControlWorld;
  let db: Database;

  before(async () => {
    w = await startControlWorld('siprec-control-audit');
    // The server's own embedded Postgres, attached to (it stays the server's).
    db = await openDatabase({ dataDir: w.server.dataDir, log: createLogger('silent') });
  });

  after(async () => {
    await db?.close();
    await w?.close();
  });

  /** The audit inserts waiting now (on the lock). */
  const waitingInserts = async () =>
    Number(
      (
        await db.pool.query<{ n: string }>(
          `SELECT count(*) AS n FROM pg_stat_activity
            WHERE state = 'active' AND query LIKE 'INSERT INTO audit%'`,
        )
      ).rows[0]?.n,
    );
  const untilWaiting = async (what: string) => {
    for (let i = 0; (await waitingInserts()) === 0; i++) {
      assert.ok(i < 200, `${what}: no audit entry waiting on the lock`);
      await sleep(50);
    }
  };

  it('pauses only once the entry is written; a failed entry leaves the call recording (503)', async () => {
    const replies: { type: string; status?: number; result?: { state: string } }[] = [];
    const ws = new WebSocket(`ws://127.0.0.1:${w.server.httpPort}/monitor`, {
      headers: { authorization: `Bearer ${w.server.token}` },
    });
    ws.on('message', (d: Buffer, bin: boolean) => {
      if (!bin) replies.push(JSON.parse(String(d)) as (typeof replies)[number]);
    });
    await new Promise((r, j) => ws.once('open', r).once('error', j));
    const reply = async (type: string) => {
      for (let i = 0; ; i++) {
        const x = replies.find((m) => m.type === type);
        if (x) return x;
        assert.ok(i < 300, `no ${type} reply: ${JSON.stringify(replies)}`);
        await sleep(50);
      }
    };
    const state = async (id: string) => (await w.ok('GET', `/calls/${id}/control`)).state as string;

    const live = await w.placeCall(9000, async (c, t0) => {
      await sleep(Math.max(0, t0 + 1000 - Date.now()));
      const lock = await db.pool.connect();
      try {
        await lock.query('BEGIN');
        await lock.query('LOCK TABLE audit IN ACCESS EXCLUSIVE MODE');
        // The first pause (REST): its entry waits on the lock, and the call goes on recording.
        const first = w.call('POST', `/calls/${c.recordingId}/pause`);
        await untilWaiting('the first pause');
        // The second (monitor socket) waits for the first.
        ws.send(JSON.stringify({ type: 'pause', recordingId: c.recordingId }));
        await sleep(500);
        assert.equal(await state(c.recordingId), 'recording', 'paused before its audit entry was written');
        // The first entry fails: the first pause is not applied, and says so.
        await db.pool.query(
          `SELECT pg_cancel_backend(pid) FROM pg_stat_activity
            WHERE state = 'active' AND query LIKE 'INSERT INTO audit%'`,
        );
        const r1 = await first;
        assert.equal(r1.status, 503, JSON.stringify(r1.json));
        assert.match(String(r1.json.error), /not applied/);
        // The second pause passes the check (the call is recording) and waits for its own entry.
        await untilWaiting('the second pause');
        await sleep(800);
        assert.equal(await state(c.recordingId), 'recording');
      } finally {
        await lock.query('ROLLBACK').catch(() => undefined);
        lock.release();
      }
      const r2 = await reply('control');
      assert.equal(r2.result?.state, 'paused', JSON.stringify(replies));
      assert.equal(await state(c.recordingId), 'paused');
      await sleep(Math.max(0, t0 + 5500 - Date.now()));
      assert.equal((await w.call('POST', `/calls/${c.recordingId}/resume`)).status, 200);
    });
    ws.close();
    assert.equal(
      replies.find((m) => m.type === 'error'),
      undefined,
    );

    const d = await w.stored(live.recordingId);
    assert.equal(d.events.filter((e) => e.type === 'recording-paused').length, 1);
    const p = eventAt(d, 'recording-paused');
    const r = eventAt(d, 'recording-resumed');
    const x = await w.wavOf(d);
    // The tones run on through the failed pause and while the second one's entry waited.
    assert.ok(p > 2200, `paused at ${p}`);
    assertPausedSpan(x, p, r, 400);

    const audit = (await w.ok('GET', `/audit?resourceId=${live.recordingId}`)).items as {
      action: string;
      ip: string;
      via: string;
    }[];
    const acts = audit
      .filter((a) => /^recording\.(pause|resume|start|stop)/.test(a.action))
      .map((a) => `${a.action}:${a.via}:${a.ip}`);
    // One pause (the monitor's, with its client address), one resume; nothing of the failed one.
    assert.deepEqual(acts.sort(), ['recording.pause:api:127.0.0.1', 'recording.resume:api:127.0.0.1']);
  });
});
