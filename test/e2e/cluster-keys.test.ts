/**
 * Recording keys across a cluster, two real `srs serve` nodes on one Postgres, B started with an
 * empty data directory (no copy of A's `keys/`):
 * - B takes the catalogue's active key instead of generating one of its own;
 * - a key generated on A through the API (the console's Keys page) is used by B: a call recorded
 *   by B after A made that key active plays back through B's API with its tone, decrypted with
 *   the catalogue's copy of the private key (before migration 041 it answered 500: B had no
 *   private key for it), and `srs recordings get` on B's data directory decrypts it too;
 * - the catalogue holds the private keys locked: the passphrase is needed to open them;
 * - with keys.inCatalogue off, a node keeps its keys to itself, as before.
 */
import assert from 'node:assert/strict';
import { mkdtemp, readdir, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import * as openpgp from 'openpgp';
import { createLogger } from '../../src/log.js';
import { openDatabase, type Database } from '../../src/store/db.js';
import { decodeUlawWav, toneLevelDb } from '../helpers/audio.js';
import { assertToneVia, sippCalls, storedBy, until } from '../helpers/cluster.js';
import { SRS_BIN, run, startTestServer, type TestServer } from '../helpers/server.js';

const log = createLogger('silent');

interface KeyJson {
  fingerprint: string;
  active: boolean;
  privateInCatalogue: boolean;
}

async function call(s: TestServer, method: string, path: string, body?: unknown) {
  const r = await fetch(`http://127.0.0.1:${s.httpPort}/api/v1${path}`, {
    method,
    headers: { authorization: `Bearer ${s.token}`, 'content-type': 'application/json' },
    ...(body === undefined ? {} : { body: JSON.stringify(body) }),
  });
  const text = await r.text();
  return { status: r.status, text, json: text ? (JSON.parse(text) as Record<string, unknown>) : {} };
}

const keysOf = async (s: TestServer) => (await call(s, 'GET', '/keys')).json.items as KeyJson[];

/** The fingerprint of an armored key file. */
const fingerprintOfFile = async (path: string) =>
  (await openpgp.readKey({ armoredKey: await readFile(path, 'utf8') })).getFingerprint().toUpperCase();

describe('recording keys in a cluster (catalogue copies of the locked private keys)', () => {
  let db: Database;
  let dbDir: string;
  let dirA: string;
  let dirB: string;
  let dirC: string;
  let a: TestServer | undefined;
  let b: TestServer | undefined;
  let c: TestServer | undefined;

  before(async () => {
    dbDir = await mkdtemp(join(tmpdir(), 'srs-ckeys-db-'));
    dirA = await mkdtemp(join(tmpdir(), 'srs-ckeys-a-'));
    dirB = await mkdtemp(join(tmpdir(), 'srs-ckeys-b-'));
    dirC = await mkdtemp(join(tmpdir(), 'srs-ckeys-c-'));
    db = await openDatabase({ dataDir: dbDir, log });
  });

  after(async () => {
    for (const s of [a, b, c]) await s?.stop('SIGKILL').catch(() => undefined);
    await db?.close();
    for (const d of [dirA, dirB, dirC, dbDir]) if (d) await rm(d, { recursive: true, force: true });
  });

  const env = (id: string, rtp: number): Record<string, string> => ({
    DATABASE_URL: db.connectionString,
    SRS_NODE_ID: id,
    SRS_CLUSTER_SECRET: 'cluster-keys-secret-0123456789',
    RTP_PORT_MIN: String(rtp),
    RTP_PORT_MAX: String(rtp + 99),
  });

  it(
    'B starts on the catalogue’s key, and plays a call encrypted to a key A generated',
    { timeout: 180_000 },
    async () => {
      a = await startTestServer(env('node-a', 31600), dirA);
      await a.waitFor(/SIPREC recording server ready/, 60_000);
      const [first] = await keysOf(a);
      assert.ok(first?.active && first.privateInCatalogue, `A's first key, shared: ${JSON.stringify(first)}`);
      // What the catalogue holds is the locked key: useless without the passphrase.
      const shared = await db.keys.privateKey(first.fingerprint);
      assert.ok(shared);
      const locked = await openpgp.readPrivateKey({ armoredKey: shared });
      assert.equal(locked.isDecrypted(), false, 'the catalogue never holds an unlocked private key');
      await assert.rejects(openpgp.decryptKey({ privateKey: locked, passphrase: 'not the passphrase' }));

      // B: same database and passphrase, empty data directory.
      b = await startTestServer(env('node-b', 31700), dirB);
      await b.waitFor(/SIPREC recording server ready/, 60_000);
      assert.match(b.output(), /took the catalogue's active recording key/);
      assert.equal(await fingerprintOfFile(join(dirB, 'keys', 'public.asc')), first.fingerprint);
      assert.equal((await keysOf(b)).length, 1, 'B generated no key of its own');

      // A generates a key through the API and makes it active; B has no file of it.
      const gen = await call(a, 'POST', '/keys', { type: 'curve25519', activate: true });
      assert.equal(gen.status, 201, gen.text);
      const fp = gen.json.fingerprint as string;
      assert.ok((await keysOf(b)).find((k) => k.fingerprint === fp)?.privateInCatalogue);
      assert.ok(
        !(await readdir(join(dirB, 'keys'))).some((n) => n.startsWith(fp)),
        'no copy of A’s new key on B',
      );

      // A call recorded by B is encrypted to the new key and plays back through B.
      const sipp = await sippCalls(b.sipPort, 1, 1, 3000);
      assert.equal(sipp.code, 0, sipp.stderr.slice(-2000));
      const [id] = await until(
        'B stores the call',
        async () => (storedBy(b!).length > 0 ? storedBy(b!) : undefined),
        60_000,
      );
      assert.ok(id);
      const rec = await call(b, 'GET', `/recordings/${id}`);
      const files = rec.json.files as { kind: string; keyFingerprint: string }[];
      assert.equal(
        files.find((f) => f.kind === 'wav')?.keyFingerprint,
        fp,
        'encrypted to the key A generated',
      );
      await assertToneVia(b, id, 'played through B');

      // The CLI on B's data directory, with the passphrase, decrypts it the same way.
      const out = join(dirB, 'cli.wav');
      const got = await run(
        process.execPath,
        [SRS_BIN, 'recordings', 'get', id, '--format', 'wav', '--out', out],
        {
          env: b.env,
        },
      );
      assert.equal(got.code, 0, got.stderr);
      const pcm = decodeUlawWav(await readFile(out));
      assert.ok(toneLevelDb(pcm, 0, pcm.length / 8, 440) > -3, 'the CLI’s WAV holds the call’s tone');
    },
  );

  it('with keys.inCatalogue off a node neither takes nor shares keys', { timeout: 120_000 }, async () => {
    c = await startTestServer({ ...env('node-c', 31800), SRS_KEYS_IN_CATALOGUE: 'false' }, dirC);
    await c.waitFor(/SIPREC recording server ready/, 60_000);
    assert.doesNotMatch(c.output(), /took the catalogue's active recording key/);
    const own = await fingerprintOfFile(join(dirC, 'keys', 'public.asc'));
    const row = (await keysOf(c)).find((k) => k.fingerprint === own);
    assert.ok(row, 'C generated and registered a key of its own');
    assert.equal(row.active, false, 'the cluster’s active key stays active');
    assert.equal(row.privateInCatalogue, false, 'C’s private key stays on C');
    assert.equal(await db.keys.privateKey(own), undefined);
  });
});
