/**
 * Key rotation through the API, in real `srs serve` processes on one Postgres (seed 002: key
 * rotation and re-encryption): generate a key (the server's passphrase), activate, refusals
 * (bad and unknown fingerprints, the active key, a non-admin, no passphrase), then retire the old
 * key with re-encryption. The server re-encrypting is killed (kill -9 by the test-only hook)
 * after writing a new file and again after a commit; a restart resumes on its own. Every file ends
 * moved exactly once (one audit entry each, as the admin who asked), no old ciphertext is left,
 * and real gpg opens a moved WAV with the new key: the call's tone is in it.
 */
import assert from 'node:assert/strict';
import { createHash, randomUUID } from 'node:crypto';
import { mkdir, mkdtemp, readdir, rm, stat, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { createLogger } from '../../src/log.js';
import type { Pipeline } from '../../src/pipeline/index.js';
import { openDatabase, type Database } from '../../src/store/db.js';
import { decodeUlawWav, spoolFile, tone, toneLevelDb } from '../helpers/audio.js';
import { gpgDecrypt } from '../helpers/gpg.js';
import { enqueueOnlyPipeline } from '../helpers/recording.js';
import { died, startTestServer, type TestServer } from '../helpers/server.js';
import { callServer, type CallOptions } from '../helpers/server-client.js';
import { seedDataDir } from '../helpers/pg-template.js';

const log = createLogger('silent');
const sha = (b: Uint8Array) => createHash('sha256').update(b).digest('hex');
const HZ = 700;
const CALLS = 4;

interface KeyJson {
  fingerprint: string;
  algorithm: string;
  active: boolean;
  retiredAt: string | null;
  files: number;
  reencrypt: { requestedBy: string; finishedAt: string | null; error: string | null } | null;
}

describe('keys over the API: generate, activate, retire and re-encrypt across kill -9', () => {
  let dataDir: string;
  let db: Database;
  let queue: Pipeline;
  const servers: TestServer[] = [];
  let s: TestServer;
  const env = (more: Record<string, string> = {}) => ({
    DATABASE_URL: db.connectionString,
    SRS_ADMIN_PASSWORD: 'admin-pw-for-keys',
    ...more,
  });
  const start = async (more: Record<string, string> = {}) => {
    s = await startTestServer(env(more), dataDir);
    servers.push(s);
    return s;
  };
  const api = (method: string, path: string, o: CallOptions = {}) =>
    callServer(`http://127.0.0.1:${s.httpPort}`, method, `/api/v1${path}`, { bearer: s.token, ...o });
  const keys = async () => (await api('GET', '/keys')).json.items as unknown as KeyJson[];

  before(async () => {
    dataDir = await mkdtemp(join(tmpdir(), 'srs-keys-api-'));
    await seedDataDir(dataDir);
    db = await openDatabase({ dataDir, log });
    queue = await enqueueOnlyPipeline(db, dataDir);
  });

  after(async () => {
    for (const x of servers) await x.stop('SIGKILL').catch(() => undefined);
    await queue?.stop();
    await db?.close();
    await rm(dataDir, { recursive: true, force: true });
  });

  it('rotates the key and moves every recording to it exactly once', { timeout: 300_000 }, async () => {
    await start();
    await s.waitFor(/SIPREC recording server ready/);
    const ids: string[] = [];
    for (let i = 0; i < CALLS; i++) {
      const id = randomUUID();
      ids.push(id);
      await db.recordings.create({
        id,
        sessionId: `keys-${i}`,
        callId: `keys-${i}@pbx`,
        srcAddress: '127.0.0.1:5060',
        startedAt: new Date(Date.now() - 60_000),
        participants: [{ participantId: 'a', aor: `sip:10${i}@pbx`, name: 'A', sendsLabels: ['1'] }],
        streams: [{ label: '1', streamId: 's1', legId: 'leg0', codec: 'PCMU', port: 20000 }],
        metadataXml: null,
      });
      await db.recordings.markEnded(id, new Date(), 2000, { legs: 1 });
      await mkdir(join(dataDir, 'spool', id), { recursive: true });
      await writeFile(join(dataDir, 'spool', id, 'leg0.spool'), spoolFile(tone(HZ, 2000, 8000)));
      await queue.enqueueFinalize(id);
    }
    for (const deadline = Date.now() + 60_000; ;) {
      const r = await db.pool.query(`SELECT count(*)::int AS n FROM recordings WHERE state = 'stored'`);
      if (r.rows[0].n === CALLS) break;
      assert.ok(Date.now() < deadline, 'recordings never stored');
      await new Promise((r) => setTimeout(r, 200));
    }
    const old = (await db.keys.active())!.fingerprint;
    const files = (await db.keys.filesUnder(old)).length;
    assert.equal(files, CALLS * 2);

    // Refusals first: bad input, unknown keys, the active key, a non-admin.
    assert.equal((await api('POST', '/keys', { body: { type: 'dsa' } })).status, 400);
    const bad = await api('POST', '/keys/nothex/activate');
    assert.equal(bad.status, 400);
    assert.match(bad.text, /40 hex digits/);
    assert.equal((await api('POST', `/keys/${'0'.repeat(40)}/activate`)).status, 404);
    assert.equal((await api('POST', `/keys/${'0'.repeat(40)}/retire`, { body: {} })).status, 404);
    const active = await api('POST', `/keys/${old}/retire`, { body: { reencrypt: true } });
    assert.equal(active.status, 409);
    assert.match(active.text, /active key/);
    const created = await api('POST', '/users', {
      body: { username: 'sup1', password: 'sup1-password-long', role: 'supervisor', displayName: 'S' },
    });
    assert.equal(created.status, 201, created.text);
    const login = await api('POST', '/login', {
      bearer: '',
      body: { username: 'sup1', password: 'sup1-password-long' },
    });
    assert.equal(login.status, 200, login.text);
    const cookie = (login.headers.get('set-cookie') ?? '').split(';')[0] as string;
    const denied = await api('POST', '/keys', { bearer: '', cookie, body: { type: 'curve25519' } });
    assert.equal(denied.status, 403);

    // Generate: active at once, its private key in the keys directory under the passphrase.
    const gen = await api('POST', '/keys', { body: { type: 'curve25519' } });
    assert.equal(gen.status, 201, gen.text);
    const fresh = gen.json.fingerprint as string;
    assert.match(fresh, /^[0-9A-F]{40}$/);
    assert.equal(gen.json.active, true);
    assert.equal(gen.json.algorithm, 'curve25519');
    assert.equal((await stat(join(dataDir, 'keys', `${fresh}.private.asc`))).mode & 0o777, 0o600);
    assert.equal((await db.keys.active())?.fingerprint, fresh);
    // An inactive RSA key, then back to the fresh one: activate switches the one active key.
    const rsa = await api('POST', '/keys', { body: { activate: false } });
    assert.equal(rsa.status, 201, rsa.text);
    assert.equal(rsa.json.algorithm, 'rsa4096');
    assert.equal(rsa.json.active, false);
    const act = await api('POST', `/keys/${(rsa.json.fingerprint as string).toLowerCase()}/activate`);
    assert.equal(act.status, 200, act.text);
    assert.equal((await db.keys.active())?.fingerprint, rsa.json.fingerprint);
    assert.equal((await api('POST', `/keys/${fresh}/activate`)).status, 200);
    assert.equal((await db.keys.active())?.fingerprint, fresh);

    // Retire + re-encrypt on a server that kills itself after writing the first new file.
    await s.stop();
    const a = await start({ SRS_TEST_CRASH_AFTER_STEP: 'reencrypt-written' });
    await a.waitFor(/SIPREC recording server ready/);
    const gone = died(a);
    // The answer may or may not beat the kill: what counts is the request in the catalogue.
    await api('POST', `/keys/${old}/retire`, { body: { reencrypt: true } }).catch(() => undefined);
    assert.equal(await gone, 'SIGKILL', a.output().slice(-3000));
    assert.equal((await db.keys.get(old))?.reencrypt?.requestedBy, 'admin-token');
    assert.equal((await db.keys.filesUnder(old)).length, files, 'nothing committed before the kill');
    // The next start resumes by itself, and dies after its first commit.
    const b = await start({ SRS_TEST_CRASH_AFTER_STEP: 'reencrypt-committed' });
    assert.equal(await died(b), 'SIGKILL', b.output().slice(-3000));
    assert.equal((await db.keys.filesUnder(old)).length, files - 1, 'one file moved, then killed');
    // A clean start finishes it.
    await start();
    for (const deadline = Date.now() + 60_000; ;) {
      const k = (await db.keys.get(old))?.reencrypt;
      if (k?.finishedAt) break;
      assert.ok(Date.now() < deadline, `re-encryption never finished: ${JSON.stringify(k)}`);
      await new Promise((r) => setTimeout(r, 200));
    }
    const listed = await keys();
    const o = listed.find((k) => k.fingerprint === old)!;
    assert.equal(o.files, 0);
    assert.ok(o.retiredAt);
    assert.equal(o.reencrypt?.error, null);
    assert.equal(listed.find((k) => k.fingerprint === fresh)?.files, files);
    const moved = await db.pool.query(
      `SELECT count(*)::int AS n, count(DISTINCT resource_id || (details->>'kind'))::int AS d,
         min(actor) AS actor, min(via) AS via
       FROM audit WHERE action = 'key.reencrypt' AND details->>'fromKey' = $1`,
      [old],
    );
    assert.deepEqual(moved.rows[0], { n: files, d: files, actor: 'admin-token', via: 'api' });
    const asked = await db.pool.query(
      `SELECT action FROM audit WHERE resource = 'key' AND resource_id = $1 ORDER BY id`,
      [old],
    );
    const actions = asked.rows.map((r) => r.action as string);
    assert.deepEqual(actions.slice(0, 2), ['key.retire', 'key.reencrypt.request']);
    assert.ok(actions.includes('key.reencrypt.run'));
    // One ciphertext per catalogue row on disk: the old ones are gone.
    const onDisk = (await readdir(join(dataDir, 'recordings'), { recursive: true })).filter((f) =>
      f.endsWith('.gpg'),
    );
    assert.equal(onDisk.length, files);
    // Real gpg opens a moved WAV with the new key, and the call's tone is in it.
    const wav = (await db.recordings.get(ids[0]!))!.files.find((f) => f.kind === 'wav')!;
    assert.equal(wav.keyFingerprint, fresh);
    const plain = await gpgDecrypt(
      join(dataDir, 'keys', `${fresh}.private.asc`),
      s.passphrase,
      join(dataDir, wav.path),
    );
    assert.equal(sha(plain), wav.sha256Plain);
    assert.ok(toneLevelDb(decodeUlawWav(plain), 200, 1800, HZ) > -3, 'the tone is in the moved WAV');
    // A page polling the list (refresh=1) is audited once per 10 minutes; a plain read each time.
    const lists = async () =>
      (await db.pool.query(`SELECT count(*)::int AS n FROM audit WHERE action = 'key.list'`)).rows[0]
        .n as number;
    const l0 = await lists();
    for (let i = 0; i < 3; i++) assert.equal((await api('GET', '/keys?refresh=1')).status, 200);
    assert.equal(await lists(), l0 + 1);
    await keys();
    await keys();
    assert.equal(await lists(), l0 + 3);
    assert.equal((await api('GET', '/keys?refresh=yes')).status, 400);
    // The retired key cannot come back.
    const back = await api('POST', `/keys/${old}/activate`);
    assert.equal(back.status, 409);
    assert.match(back.text, /retired/);

    // Without a passphrase the server cannot generate or re-encrypt: 503, and nothing changes.
    await s.stop();
    await start({ SRS_KEY_PASSPHRASE: '' });
    await s.waitFor(/SIPREC recording server ready/);
    const none = await api('POST', '/keys', { body: { type: 'curve25519' } });
    assert.equal(none.status, 503);
    assert.match(none.text, /passphrase/);
    assert.equal((await api('POST', `/keys/${old}/retire`, { body: { reencrypt: true } })).status, 503);
    assert.equal((await keys()).length, 3);
  });
});
