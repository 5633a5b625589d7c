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
import { run, SRS_BIN, startTestServer, type TestServer } from '../helpers/server.js';
import { callServer, type Reply } from '../helpers/server-client.js';

/** How long the test holds a lock at most: far past the server's limit below (500 ms). */
const HOLD_MS = 20000;
/** The same for a run of the CLI, which takes seconds to start on a busy machine. */
const CLI_HOLD_MS = 90000;

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
  const searchWhileLocked = (table: string, query: string) => whileLocked(table, () => search(query));
  /** `holdMs`: how long the lock is held at most (a CLI run starts slower than an HTTP request). */
  const whileLocked = async <T>(table: string, ask: () => Promise<T>, holdMs = HOLD_MS) => {
    const c = await db.pool.connect();
    try {
      await c.query('BEGIN');
      await c.query(`LOCK TABLE ${table} IN ACCESS EXCLUSIVE MODE`);
      const reply = ask();
      let held = true;
      const released = new Promise<void>((resolve) =>
        setTimeout(() => {
          held = false;
          resolve();
        }, holdMs),
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

  it('srs recordings list: --timeout sets the limit of its search; a stopped search says what to do, exit 3', async () => {
    // Without the server's 500 ms: the CLI's own default (30 s) would outlast the lock below.
    const env: Record<string, string> = { ...server.env };
    delete env.SRS_SEARCH_TIMEOUT_MS;
    const cli = (...args: string[]) =>
      run(process.execPath, [SRS_BIN, 'recordings', 'list', '--json', '--state', 'stored', ...args], {
        env,
        timeoutMs: CLI_HOLD_MS * 2,
      });
    // Every shape of bad value is in test/unit/cli-options.test.ts; the real CLI for one.
    const bad = await cli('--timeout', '0.05');
    assert.equal(bad.code, 2, `exit ${bad.code} ${bad.stderr}`);
    assert.equal(bad.stdout, '');
    assert.equal(
      bad.stderr,
      'srs: --timeout must be a number of seconds from 0.1 to 3600 (e.g. 30 or 0.5)\n',
    );
    // The lock is held until the CLI ends, or for CLI_HOLD_MS: a CLI that waits it out ends after.
    const stopped = async (args: string[], cliEnv: Record<string, string>) =>
      whileLocked(
        'recordings',
        () =>
          run(process.execPath, [SRS_BIN, 'recordings', 'list', '--json', '--state', 'stored', ...args], {
            env: cliEnv,
            timeoutMs: CLI_HOLD_MS * 2,
          }),
        CLI_HOLD_MS,
      );
    const { reply, whileHeld } = await stopped(['--timeout', '0.5'], env);
    assert.equal(reply.code, 3, `exit ${reply.code}: ${reply.stderr}`);
    assert.equal(reply.stdout, '');
    assert.match(
      reply.stderr,
      /^srs: the search took longer than 0\.5 s \(--timeout\) and was stopped: narrow it \(.*\) or raise --timeout\n$/,
    );
    assert.ok(whileHeld, 'the CLI ended while the lock was still held');
    // Without --timeout the CLI follows SRS_SEARCH_TIMEOUT_MS, as the server does.
    const viaEnv = await stopped([], { ...env, SRS_SEARCH_TIMEOUT_MS: '500' });
    assert.equal(viaEnv.reply.code, 3, `exit ${viaEnv.reply.code}: ${viaEnv.reply.stderr}`);
    assert.match(
      viaEnv.reply.stderr,
      /^srs: the search took longer than 0\.5 s \(SRS_SEARCH_TIMEOUT_MS\).* or raise --timeout\n$/,
    );
    assert.ok(viaEnv.whileHeld, 'the CLI ended while the lock was still held (SRS_SEARCH_TIMEOUT_MS)');
    const free = await cli('--timeout', '30');
    assert.equal(free.code, 0, free.stderr);
    assert.equal((JSON.parse(free.stdout) as unknown[]).length, 20);
  });

  it('srs recordings list without a search flag: --timeout limits the plain list too, exit 3', async () => {
    const env: Record<string, string> = { ...server.env };
    delete env.SRS_SEARCH_TIMEOUT_MS;
    const { reply, whileHeld } = await whileLocked(
      'recordings',
      () =>
        run(process.execPath, [SRS_BIN, 'recordings', 'list', '--json', '--timeout', '0.5'], {
          env,
          timeoutMs: CLI_HOLD_MS * 2,
        }),
      CLI_HOLD_MS,
    );
    assert.equal(reply.code, 3, `exit ${reply.code}: ${reply.stderr}`);
    assert.equal(reply.stdout, '');
    assert.match(
      reply.stderr,
      /^srs: the search took longer than 0\.5 s \(--timeout\) and was stopped: narrow it \(.*\) or raise --timeout\n$/,
    );
    assert.ok(whileHeld, 'the CLI ended while the lock was still held');
  });

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
