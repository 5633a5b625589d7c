/**
 * The read side on a real S3 store (Ceph radosgw, scripts/s3-server.sh): recordings stored by the
 * real finalize step (real MP3, real OpenPGP, catalogue and hash chain), their encrypted files put
 * in the bucket and removed from the local disk, then served by the REST API over real HTTP with
 * SRS_STORAGE=s3: ranged playback, the encrypted file by ranges read from the store as ranges,
 * 416, an export of several recordings, delivery's decryption, `srs recordings verify` (and
 * `get`) reading the bucket, tampered and deleted objects, and radosgw killed and started again.
 */
import assert from 'node:assert/strict';
import { cp, mkdtemp, readFile, rm, stat } from 'node:fs/promises';
import type { Server } from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { CreateBucketCommand, PutObjectCommand } from '@aws-sdk/client-s3';
import { buildConsoleApi, type ConsoleApi } from '../../src/api/index.js';
import { startHttpServer } from '../../src/api/server.js';
import { loadConfig } from '../../src/config.js';
import { Decryptor } from '../../src/delivery/decrypt.js';
import { createLogger } from '../../src/log.js';
import { ensureKeyPair, loadPrivateKey } from '../../src/pipeline/keys.js';
import type { S3StorageConfig } from '../../src/config/storage.js';
import { S3ArtifactStore } from '../../src/storage/index.js';
import { openDatabase, type Database } from '../../src/store/db.js';
import type { RecordingFile } from '../../src/store/types.js';
import { Live, sha } from '../helpers/api-harness.js';
import { storeRecording, toneWav } from '../helpers/delivery-fixtures.js';
import { apiRequest, CountingStore, untar, type ApiRequestOptions } from '../helpers/read-probes.js';
import { s3ServerMissing, startS3Server, type S3Server } from '../helpers/s3-server.js';
import { SRS_BIN, run, startTestServer } from '../helpers/server.js';

const log = createLogger('silent');
const PASS = 'read-side-passphrase';
const TOKEN = 'read-side-admin-token';
const BUCKET = 'srs-read';
const PREFIX = 'node-a';
/** Ports of this test (radosgw, the API, the other node's HTTP, SIP and RTP). */
const RGW_PORT = 28480;
const HTTP_PORT = 28081;
const NODE_PORTS = { HTTP_PORT: '28082', SIP_PORT: '28060', RTP_PORT_MIN: '28100', RTP_PORT_MAX: '28199' };
const missing = await s3ServerMissing();
if (missing) console.log(`# storage-s3-read tests skipped: ${missing}`);

describe('reading recordings from an S3 store (Ceph radosgw)', { skip: missing, timeout: 900_000 }, () => {
  let s3: S3Server;
  let dataDir: string;
  let outDir: string;
  let db: Database;
  let store: S3ArtifactStore;
  let counting: CountingStore;
  let stack: ConsoleApi;
  let http: Server;
  let env: Record<string, string>;
  const base = `http://127.0.0.1:${HTTP_PORT}`;
  const recs: { id: string; wav: Buffer; files: RecordingFile[] }[] = [];
  const ciphers = new Map<string, Buffer>();

  const api = (path: string, opts: ApiRequestOptions = {}) => apiRequest(base, TOKEN, path, opts);
  const fileOf = (i: number, kind: string) => recs[i]!.files.find((f) => f.kind === kind)!;
  const srs = (...args: string[]) => run(process.execPath, [SRS_BIN, ...args], { env, timeoutMs: 120_000 });

  before(async () => {
    s3 = await startS3Server({ port: RGW_PORT });
    console.log(`# radosgw started in ${s3.startMs} ms`);
    dataDir = await mkdtemp(join(tmpdir(), 'srs-s3-read-'));
    outDir = await mkdtemp(join(tmpdir(), 'srs-s3-read-out-'));
    env = {
      ...(process.env as Record<string, string>),
      SRS_DATA_DIR: dataDir,
      SRS_KEY_PASSPHRASE: PASS,
      LOG_LEVEL: 'silent',
      SRS_STORAGE: 's3',
      S3_BUCKET: BUCKET,
      S3_PREFIX: PREFIX,
      S3_ENDPOINT: s3.endpoint,
      S3_REGION: s3.region,
      S3_FORCE_PATH_STYLE: 'true',
      S3_CREDENTIALS_FILE: s3.credentialsFile,
      S3_MAX_ATTEMPTS: '2',
    };
    delete env.DATABASE_URL;
    const settings = loadConfig(env).storage;
    assert.equal(settings.backend, 's3');
    store = new S3ArtifactStore(settings as S3StorageConfig);
    await store.client.send(new CreateBucketCommand({ Bucket: BUCKET }));
    await store.checkBucket();

    db = await openDatabase({ dataDir, log });
    const k = await ensureKeyPair({ keysDir: join(dataDir, 'keys'), passphrase: PASS, log, db });
    const key = { fingerprint: k.fingerprint, publicKeyArmored: k.publicKeyArmored };
    // Three recordings through the real finalize step, their files then moved into the bucket.
    for (const [seconds, hz] of [
      [12, 440],
      [6, 660],
      [4, 880],
    ] as const) {
      const r = await storeRecording({
        db,
        dataDir,
        log,
        key,
        caller: { aor: 'sip:1001@pbx.example', name: 'Alice' },
        callee: { aor: 'sip:+4930123@carrier.example', name: 'Bob' },
        wav: toneWav(seconds * 1000, hz),
      });
      const row = await db.recordings.get(r.id);
      assert.equal(row?.state, 'stored');
      for (const f of row!.files) {
        const cipher = await readFile(join(dataDir, f.path));
        ciphers.set(f.path, cipher);
        const put = await store.put(f.path, cipher, { sha256: f.sha256Cipher, size: f.bytes });
        assert.equal(put.created, true);
      }
      recs.push({ id: r.id, wav: r.wav, files: row!.files });
    }
    await rm(join(dataDir, 'recordings'), { recursive: true, force: true });

    counting = new CountingStore(store);
    stack = await buildConsoleApi({
      db,
      live: new Live(),
      stats: () => undefined,
      dataDir,
      artifacts: counting,
      adminToken: TOKEN,
      adminPassword: 'first-admin-password',
      sessionTtlMinutes: 60,
      loadKey: (fp) => loadPrivateKey(join(dataDir, 'keys'), fp, PASS),
      log,
    });
    http = await startHttpServer({
      host: '127.0.0.1',
      port: HTTP_PORT,
      log,
      health: async () => ({ ok: true, details: {} }),
      api: stack.api,
    });
  });

  after(async () => {
    stack?.ops.close();
    if (http) await new Promise((r) => http.close(r));
    await db?.close();
    await store?.close();
    await s3?.stop();
    if (dataDir) await rm(dataDir, { recursive: true, force: true });
    if (outDir) await rm(outDir, { recursive: true, force: true });
  });

  it('plays a recording from the bucket with ranges (one whole read, then from the cache) and 416', async () => {
    await assert.rejects(stat(join(dataDir, 'recordings')), 'nothing on the local disk');
    const { id, wav } = recs[0]!;
    const f = fileOf(0, 'wav');
    counting.gets = [];
    const part = await api(`/recordings/${id}/audio?format=wav`, { headers: { range: 'bytes=1000-1999' } });
    assert.equal(part.status, 206);
    assert.equal(part.headers.get('content-range'), `bytes 1000-1999/${wav.length}`);
    assert.equal(part.headers.get('accept-ranges'), 'bytes');
    assert.ok(part.buf.equals(wav.subarray(1000, 2000)), 'the bytes of the plaintext slice');
    // Decryption needs the whole message: one whole read of the object.
    assert.deepEqual(counting.gets, [{ key: f.path, range: undefined, bytes: f.bytes }]);
    const tail = await api(`/recordings/${id}/audio?format=wav`, { headers: { range: 'bytes=-100' } });
    assert.equal(tail.status, 206);
    assert.equal(
      tail.headers.get('content-range'),
      `bytes ${wav.length - 100}-${wav.length - 1}/${wav.length}`,
    );
    assert.ok(tail.buf.equals(wav.subarray(wav.length - 100)));
    assert.equal(counting.gets.length, 1, 'the next range came from the cache');
    const beyond = await api(`/recordings/${id}/audio?format=wav`, {
      headers: { range: `bytes=${wav.length}-` },
    });
    assert.equal(beyond.status, 416);
    assert.equal(beyond.headers.get('content-range'), `bytes */${wav.length}`);
    const mp3 = await api(`/recordings/${id}/audio`);
    assert.equal(mp3.status, 200);
    assert.equal(mp3.headers.get('content-type'), 'audio/mpeg');
    assert.equal(sha(mp3.buf), fileOf(0, 'mp3').sha256Plain);
  });

  it('serves the encrypted file by ranges read from the store as ranges, whole files checked', async () => {
    const { id } = recs[0]!;
    const f = fileOf(0, 'wav');
    const cipher = ciphers.get(f.path)!;
    counting.gets = [];
    const part = await api(`/recordings/${id}/encrypted?format=wav`, {
      headers: { range: 'bytes=100-4195' },
    });
    assert.equal(part.status, 206);
    assert.equal(part.headers.get('content-type'), 'application/pgp-encrypted');
    assert.equal(part.headers.get('content-range'), `bytes 100-4195/${cipher.length}`);
    assert.equal(part.headers.get('etag'), `"${f.sha256Cipher}"`);
    assert.ok(part.buf.equals(cipher.subarray(100, 4196)));
    assert.deepEqual(counting.gets, [{ key: f.path, range: { start: 100, end: 4195 }, bytes: 4096 }]);
    const open = await api(`/recordings/${id}/encrypted?format=wav`, {
      headers: { range: `bytes=${cipher.length - 50}-` },
    });
    assert.equal(open.status, 206);
    assert.ok(open.buf.equals(cipher.subarray(cipher.length - 50)));
    assert.equal(counting.gets[1]?.bytes, 50);
    const whole = await api(`/recordings/${id}/encrypted?format=wav`);
    assert.equal(whole.status, 200);
    assert.match(whole.headers.get('content-disposition') ?? '', new RegExp(`${id}\\.wav\\.gpg`));
    assert.equal(sha(whole.buf), f.sha256Cipher);
    const beyond = await api(`/recordings/${id}/encrypted?format=wav`, {
      headers: { range: `bytes=${cipher.length}-` },
    });
    assert.equal(beyond.status, 416);
    assert.equal(beyond.headers.get('content-range'), `bytes */${cipher.length}`);
    const audit = await api(`/audit?resourceId=${id}&action=download`);
    const items = (audit.json?.items ?? []) as { action: string; details: { encrypted?: boolean } }[];
    assert.ok(
      items.some((e) => e.action === 'download' && e.details.encrypted === true),
      'the encrypted download is audited',
    );
  });

  it('exports several recordings from the bucket, one at a time', async () => {
    counting.gets = [];
    const r = await api('/recordings/export', {
      method: 'POST',
      body: { ids: recs.map((x) => x.id), format: 'tar', audio: 'wav' },
    });
    assert.equal(r.status, 200);
    const files = untar(r.buf);
    for (const { id, wav } of recs) {
      const name = [...files.keys()].find((n) => n.endsWith(`_${id}.wav`));
      assert.ok(name, `${id} in the archive`);
      assert.ok(files.get(name)!.equals(wav), `${id}: the original audio`);
    }
    const index = [...files.entries()].find(([n]) => n.endsWith('/index.csv'))![1].toString('utf8');
    assert.equal(index.match(/,ok\r\n/g)?.length, 3, index);
    // One whole read per recording; the first one's WAV is still in the player's cache.
    const byKey = (a: unknown[], b: unknown[]) => String(a[0]).localeCompare(String(b[0]));
    assert.deepEqual(
      counting.gets.map((g) => [g.key, g.range, g.bytes]).sort(byKey),
      [1, 2].map((i) => [fileOf(i, 'wav').path, undefined, fileOf(i, 'wav').bytes]).sort(byKey),
    );
  });

  it('delivery decrypts what it reads from the bucket', async () => {
    const f = fileOf(1, 'wav');
    const plain = await new Decryptor(dataDir, PASS, store).plain(f);
    assert.ok(plain.equals(recs[1]!.wav));
  });

  it('srs recordings verify and get read the bucket; tampered and deleted objects are found', async () => {
    const ok = await srs('recordings', 'verify', '--all');
    assert.equal(ok.code, 0, ok.stdout + ok.stderr);
    assert.match(ok.stdout, /verified 3 recording\(s\), 6 file\(s\).*all good/);
    const out = join(outDir, 'a.wav');
    const got = await srs('recordings', 'get', recs[0]!.id, '--format', 'wav', '--out', out);
    assert.equal(got.code, 0, got.stderr);
    assert.ok((await readFile(out)).equals(recs[0]!.wav));

    // Tampered: one byte of the third recording's MP3 flipped in the bucket. Deleted: the second's WAV.
    const changed = fileOf(2, 'mp3');
    const bad = Buffer.from(ciphers.get(changed.path)!);
    bad.writeUInt8(bad.readUInt8(bad.length >> 1) ^ 0xff, bad.length >> 1);
    await store.client.send(
      new PutObjectCommand({ Bucket: BUCKET, Key: `${PREFIX}/${changed.path}`, Body: bad }),
    );
    const gone = fileOf(1, 'wav');
    assert.equal(await store.delete(gone.path), true);

    const all = await srs('recordings', 'verify', '--all');
    assert.equal(all.code, 3, all.stdout + all.stderr);
    assert.match(all.stdout, new RegExp(`^CHANGED\\s+${recs[2]!.id}\\s+mp3 file .* does not match`, 'm'));
    assert.match(all.stdout, new RegExp(`^MISSING\\s+${recs[1]!.id}\\s+wav file .* is missing`, 'm'));
    assert.match(all.stdout, /2 PROBLEM\(S\)/);
    const one = await srs('recordings', 'verify', recs[2]!.id);
    assert.equal(one.code, 3);
    const noFile = await srs(
      'recordings',
      'get',
      recs[1]!.id,
      '--format',
      'wav',
      '--out',
      join(outDir, 'b.wav'),
    );
    assert.equal(noFile.code, 1);
    assert.match(noFile.stderr, /not in the store/);

    // The API: missing 410, hash mismatch 500, an altered whole encrypted file never arrives complete.
    assert.equal((await api(`/recordings/${recs[1]!.id}/audio?format=wav`)).status, 410);
    assert.equal((await api(`/recordings/${recs[1]!.id}/encrypted?format=wav`)).status, 410);
    const mismatch = await api(`/recordings/${recs[2]!.id}/audio?format=mp3`);
    assert.equal(mismatch.status, 500);
    assert.match(String(mismatch.json?.error), /does not match its catalogue hash/);
    await assert.rejects(async () => {
      const res = await fetch(`${base}/api/v1/recordings/${recs[2]!.id}/encrypted?format=mp3`, {
        headers: { authorization: `Bearer ${TOKEN}` },
      });
      await res.arrayBuffer();
    }, 'the connection is cut before the last bytes');
    // A range of it is what the store holds (a range cannot be checked against the file's hash).
    const ranged = await api(`/recordings/${recs[2]!.id}/encrypted?format=mp3`, {
      headers: { range: 'bytes=0-' },
    });
    assert.equal(ranged.status, 206);
    assert.ok(ranged.buf.equals(bad));
  });

  it('answers 503 with Retry-After while the store is down, and serves again when it is back', async () => {
    // A player on the first recording keeps its plaintext in the cache.
    const warm = await api(`/recordings/${recs[0]!.id}/audio?format=wav`, {
      headers: { range: 'bytes=0-9' },
    });
    assert.equal(warm.status, 206);
    await s3.stopGateway();
    try {
      const down = await api(`/recordings/${recs[1]!.id}/audio?format=mp3`);
      assert.equal(down.status, 503, JSON.stringify(down.json));
      assert.equal(down.headers.get('retry-after'), '10');
      assert.match(String(down.json?.error), /artifact store is unavailable/);
      const enc = await api(`/recordings/${recs[0]!.id}/encrypted?format=mp3`, {
        headers: { range: 'bytes=0-99' },
      });
      assert.equal(enc.status, 503);
      assert.equal(enc.headers.get('retry-after'), '10');
      const tar = await api('/recordings/export', {
        method: 'POST',
        body: { ids: [recs[2]!.id], format: 'tar', audio: 'wav' },
      });
      assert.equal(tar.status, 200);
      assert.match(tar.buf.toString('utf8'), /error: the artifact store is unavailable/);
      // The server is up, and what is cached still plays.
      assert.equal((await api('/me')).status, 200);
      const cached = await api(`/recordings/${recs[0]!.id}/audio?format=wav`, {
        headers: { range: 'bytes=0-9' },
      });
      assert.equal(cached.status, 206);
      const verify = await srs('recordings', 'verify', '--all');
      assert.equal(verify.code, 1, verify.stdout + verify.stderr);
      assert.match(verify.stderr, /unavailable/);
    } finally {
      await s3.startGateway();
    }
    const back = await api(`/recordings/${recs[1]!.id}/audio?format=mp3`);
    assert.equal(back.status, 200, JSON.stringify(back.json));
    assert.equal(sha(back.buf), fileOf(1, 'mp3').sha256Plain);
  });

  it('another node (a real srs serve, SRS_STORAGE=s3, nothing on its disk) serves the recordings', async () => {
    const nodeDir = await mkdtemp(join(tmpdir(), 'srs-s3-read-node-'));
    // The node shares the database, the bucket and the recording key; it recorded none of these.
    await cp(join(dataDir, 'keys'), join(nodeDir, 'keys'), { recursive: true });
    const node = await startTestServer(
      {
        ...Object.fromEntries(Object.entries(env).filter(([k]) => /^(S3_|SRS_STORAGE$)/.test(k))),
        ...NODE_PORTS,
        DATABASE_URL: db.connectionString,
        SRS_KEY_PASSPHRASE: PASS,
        SRS_NODE_ID: 'node-b',
      },
      nodeDir,
    );
    try {
      await node.waitFor(/SIPREC recording server ready/, 90_000);
      await assert.rejects(stat(join(nodeDir, 'recordings')), 'no recordings on this node');
      const get = (path: string, range: string) =>
        fetch(`http://127.0.0.1:${NODE_PORTS.HTTP_PORT}/api/v1${path}`, {
          headers: { authorization: `Bearer ${node.token}`, range },
        });
      const { id, wav } = recs[0]!;
      const play = await get(`/recordings/${id}/audio?format=wav`, 'bytes=2000-2999');
      assert.equal(play.status, 206);
      assert.equal(play.headers.get('content-range'), `bytes 2000-2999/${wav.length}`);
      assert.ok(Buffer.from(await play.arrayBuffer()).equals(wav.subarray(2000, 3000)));
      const mp3 = fileOf(0, 'mp3');
      const enc = await get(`/recordings/${id}/encrypted?format=mp3`, 'bytes=16-1039');
      assert.equal(enc.status, 206);
      assert.equal(enc.headers.get('content-range'), `bytes 16-1039/${mp3.bytes}`);
      assert.ok(Buffer.from(await enc.arrayBuffer()).equals(ciphers.get(mp3.path)!.subarray(16, 1040)));
      const missing = await get(`/recordings/${recs[1]!.id}/audio?format=wav`, 'bytes=0-9');
      assert.equal(missing.status, 410, 'the object deleted earlier is missing here too');
    } finally {
      await node.stop();
      await rm(nodeDir, { recursive: true, force: true });
    }
  });
});
