/**
 * The recordings search has a time limit (limits.searchTimeoutMs, SRS_SEARCH_TIMEOUT_MS), against
 * the real server (`srs serve`, embedded Postgres). The search is made slow on purpose, the same
 * way on any machine: the test holds a lock on a table the search reads (ACCESS EXCLUSIVE, in a
 * transaction of its own), so the search's query waits. Without a limit the request waited as long
 * as the lock was held; now the query is stopped and the answer is a 503 that says so, not a 500 and
 * not "the database is unavailable". The same search answers 200 once the table is free.
 */
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { createLogger } from '../../src/log.js';
import { openDatabase, type Database } from '../../src/store/db.js';
import { startTestServer, type TestServer } from '../helpers/server.js';
import { callServer, type Reply } from '../helpers/server-client.js';

/** How long the test holds a lock at most: far past the server's limit below (500 ms). */
const HOLD_MS = 20000;

describe('api search time limit', { timeout: 300000 }, () => {
  let server: TestServer;
  let base: string;
  let db: Database;
  const search = (query: string): Promise<Reply> =>
    callServer(base, 'GET', `/api/v1/recordings${query}`, { bearer: server.token });

  /**
   * `query` searched while `table` is locked by another transaction; the lock ends when the answer
   * comes, or after HOLD_MS. The answer, and whether it came while the lock was still held.
   */
  const searchWhileLocked = async (table: string, query: string) => {
    const c = await db.pool.connect();
    try {
      await c.query('BEGIN');
      await c.query(`LOCK TABLE ${table} IN ACCESS EXCLUSIVE MODE`);
      const reply = search(query);
      let held = true;
      const released = new Promise<void>((resolve) =>
        setTimeout(() => {
          held = false;
          resolve();
        }, HOLD_MS),
      );
      const first = await Promise.race([reply.then(() => 'answer'), released.then(() => 'hold')]);
      const whileHeld = first === 'answer' && held;
      await c.query('ROLLBACK');
      return { reply: await reply, whileHeld };
    } finally {
      c.release();
    }
  };

  before(async () => {
    server = await startTestServer({ SRS_SEARCH_TIMEOUT_MS: '500' });
    await server.waitFor(/SIPREC recording server ready/, 60000);
    base = `http://127.0.0.1:${server.httpPort}`;
    db = await openDatabase({ dataDir: server.dataDir, log: createLogger('silent') });
    assert.equal(db.ownsEmbedded, false);
    await db.pool.query(
      `INSERT INTO recordings (id, call_id, src_address, started_at, ended_at, duration_ms, state, stored_at)
       SELECT gen_random_uuid(), 'slow-' || i || '@pbx', '127.0.0.1:5060', now(), now(), 60000, 'stored', now()
       FROM generate_series(1, 20) AS i`,
    );
  });

  after(async () => {
    await db?.close();
    await server?.stop();
  });

  for (const [table, what] of [
    ['recordings', 'the count'],
    ['recording_categories', 'the page'],
  ] as const) {
    it(`stops a search whose query waits past the limit (${what}) with a 503 that says so`, async () => {
      const { reply, whileHeld } = await searchWhileLocked(table, '?caller=/^slow/');
      assert.equal(reply.status, 503, `${table}: ${reply.text}`);
      assert.match(String(reply.json.error), /search took longer than 0\.5 s/);
      assert.doesNotMatch(String(reply.json.error), /database is unavailable/);
      assert.ok(whileHeld, 'answered while the lock was still held');
      const free = await search('?caller=/^slow/');
      assert.equal(free.status, 200, free.text);
      assert.equal((free.json.items ?? []).length, 0, 'no stored caller number: the regex finds none');
      const all = await search('');
      assert.equal(all.status, 200, all.text);
      assert.equal(all.json.total, 20);
    });
  }

  it('logs no request failure for a stopped search, and the OpenAPI document lists the 503', async () => {
    assert.doesNotMatch(server.output(), /"request failed"/);
    const doc = await callServer(base, 'GET', '/api/v1/openapi.json', { bearer: server.token });
    const paths = doc.json.paths as Record<
      string,
      { get?: { responses?: Record<string, { description?: string }> } }
    >;
    assert.match(String(paths['/recordings']?.get?.responses?.['503']?.description), /time limit/);
  });
});
