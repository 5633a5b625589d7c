/**
 * The REST API over a real HTTP server and a real embedded Postgres: users and roles, sessions and
 * login throttling, API tokens, the scoped recordings search, decrypted audio with ranges,
 * download/delete settings, preservation and notes hierarchy, the append-only hash-chained audit
 * trail, errors, OpenAPI and metrics.
 */
import assert from 'node:assert/strict';
import { createHash, randomUUID } from 'node:crypto';
import { EventEmitter } from 'node:events';
import { execFile } from 'node:child_process';
import { mkdir, mkdtemp, readdir, readFile, rm, stat, writeFile } from 'node:fs/promises';
import { PassThrough } from 'node:stream';
import { promisify } from 'node:util';
import type { IncomingMessage, Server } from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import * as openpgp from 'openpgp';
import { buildConsoleApi, type ConsoleApi } from '../../src/api/index.js';
import { startHttpServer } from '../../src/api/server.js';
import { createLogger } from '../../src/log.js';
import { ensureKeyPair, loadPrivateKey } from '../../src/pipeline/keys.js';
import type { ActiveCall, RecordingEvent } from '../../src/recording/types.js';
import { openDatabase, type Database } from '../../src/store/db.js';
import { deliveryStatus } from '../../src/delivery/status.js';
import { TarWriter, csvCell, ustarHeader } from '../../src/api/export.js';
import { encodeUlaw, tone } from '../helpers/audio.js';

const execFileP = promisify(execFile);

/** RFC 4180 CSV (quoted cells, doubled quotes, CRLF rows) into rows of cells. */
function parseCsv(text: string): string[][] {
  const rows: string[][] = [];
  let row: string[] = [];
  let cell = '';
  let quoted = false;
  const endCell = () => {
    row.push(cell);
    cell = '';
  };
  for (let i = 0; i < text.length; i++) {
    const c = text[i] as string;
    if (quoted) {
      if (c === '"' && text[i + 1] === '"') {
        cell += '"';
        i++;
      } else if (c === '"') quoted = false;
      else cell += c;
    } else if (c === '"') quoted = true;
    else if (c === ',') endCell();
    else if (c === '\n') {
      endCell();
      rows.push(row);
      row = [];
    } else if (c !== '\r') cell += c;
  }
  if (cell || row.length) {
    endCell();
    rows.push(row);
  }
  return rows;
}

const log = createLogger('silent');
const PASS = 'key-passphrase-for-tests';

class Live extends EventEmitter<{ event: [RecordingEvent] }> {
  calls: ActiveCall[] = [];
  get activeCount() {
    return this.calls.length;
  }
  activeCalls() {
    return this.calls;
  }
}

function ulawWav(samples: Int16Array): Buffer {
  const data = encodeUlaw(samples);
  const h = Buffer.alloc(58);
  h.write('RIFF', 0, 'latin1');
  h.writeUInt32LE(50 + data.length, 4);
  h.write('WAVEfmt ', 8, 'latin1');
  h.writeUInt32LE(18, 16);
  h.writeUInt16LE(7, 20);
  h.writeUInt16LE(1, 22);
  h.writeUInt32LE(8000, 24);
  h.writeUInt32LE(8000, 28);
  h.writeUInt16LE(1, 32);
  h.writeUInt16LE(8, 34);
  h.writeUInt16LE(0, 36);
  h.write('fact', 38, 'latin1');
  h.writeUInt32LE(4, 42);
  h.writeUInt32LE(data.length, 46);
  h.write('data', 50, 'latin1');
  h.writeUInt32LE(data.length, 54);
  return Buffer.concat([h, data]);
}

const sha = (b: Uint8Array) => createHash('sha256').update(b).digest('hex');

describe('REST API /api/v1 (real HTTP, real Postgres)', { timeout: 120000 }, () => {
  let dataDir: string;
  let db: Database;
  let server: Server;
  let stack: ConsoleApi;
  let base: string;
  const live = new Live();
  const ids = { r1: randomUUID(), r2: randomUUID() };
  let wav: Buffer;
  const cookies: Record<string, string> = {};

  const call = async (
    method: string,
    path: string,
    opts: { as?: string; bearer?: string; body?: unknown; headers?: Record<string, string> } = {},
  ) => {
    const headers: Record<string, string> = { ...opts.headers };
    if (opts.as) headers.cookie = cookies[opts.as] as string;
    if (opts.bearer) headers.authorization = `Bearer ${opts.bearer}`;
    if (opts.body !== undefined) headers['content-type'] = 'application/json';
    const res = await fetch(`${base}${path}`, {
      method,
      headers,
      body:
        opts.body === undefined
          ? undefined
          : typeof opts.body === 'string'
            ? opts.body
            : JSON.stringify(opts.body),
    });
    const buf = Buffer.from(await res.arrayBuffer());
    const json = (res.headers.get('content-type') ?? '').startsWith('application/json')
      ? (JSON.parse(buf.toString()) as Record<string, unknown> & { items?: { id: string }[] })
      : null;
    return { status: res.status, headers: res.headers, buf, json: json as Record<string, any> }; // eslint-disable-line @typescript-eslint/no-explicit-any
  };

  const login = async (who: string, password: string) => {
    const r = await call('POST', '/api/v1/login', { body: { username: who, password } });
    assert.equal(r.status, 200, JSON.stringify(r.json));
    cookies[who] = (r.headers.get('set-cookie') ?? '').split(';')[0] as string;
    assert.match(r.headers.get('set-cookie') ?? '', /HttpOnly; SameSite=Strict/);
    return r;
  };

  before(async () => {
    dataDir = await mkdtemp(join(tmpdir(), 'srs-api-'));
    db = await openDatabase({ dataDir, log });
    const key = await ensureKeyPair({ keysDir: join(dataDir, 'keys'), passphrase: PASS, log, db });
    stack = await buildConsoleApi({
      db,
      live,
      stats: () => undefined,
      dataDir,
      adminToken: 'the-admin-token',
      adminPassword: 'first-admin-pw',
      sessionTtlMinutes: 60,
      loadKey: (fp) => loadPrivateKey(join(dataDir, 'keys'), fp, PASS),
      deliveryStatus: () => deliveryStatus(db.offload),
      log,
    });
    server = await startHttpServer({
      host: '127.0.0.1',
      port: 0,
      log,
      health: async () => ({ ok: true, details: {} }),
      api: stack.api,
      metrics: stack.ops.metrics,
    });
    const a = server.address();
    base = `http://127.0.0.1:${typeof a === 'object' && a ? a.port : 0}`;

    // Two stored recordings: alice<->carol (with encrypted artifacts), bob<->dave.
    const t = Date.parse('2026-03-01T10:00:00Z');
    for (const [id, from, to, i] of [
      [ids.r1, 'alice', 'carol', 0],
      [ids.r2, 'bob', 'dave', 1],
    ] as const) {
      await db.recordings.create({
        id,
        sessionId: `sess-${from}`,
        callId: `call-${from}@pbx`,
        srcAddress: '127.0.0.1:5070',
        startedAt: new Date(t + i * 3600_000),
        participants: [
          {
            participantId: 'p1',
            aor: `sip:${from}@example.com`,
            name: `${from} Example`,
            sendsLabels: ['1'],
          },
          { participantId: 'p2', aor: `sip:${to}@example.com`, name: `${to} Example`, sendsLabels: ['2'] },
        ],
        streams: [],
        metadataXml: null,
      });
      await db.recordings.markEnded(
        id,
        new Date(t + i * 3600_000 + (i + 1) * 60_000),
        (i + 1) * 60_000,
        null,
      );
      await db.recordings.markStored(id);
    }
    wav = ulawWav(tone(440, 500));
    const enc = (await openpgp.encrypt({
      message: await openpgp.createMessage({ binary: wav }),
      encryptionKeys: await openpgp.readKey({ armoredKey: key.publicKeyArmored }),
      format: 'binary',
    })) as Uint8Array;
    const rel = `recordings/2026/03/01/${ids.r1}.wav.gpg`;
    await mkdir(join(dataDir, 'recordings/2026/03/01'), { recursive: true });
    await writeFile(join(dataDir, rel), enc);
    await db.recordings.addFile(ids.r1, {
      kind: 'wav',
      path: rel,
      bytes: enc.length,
      sha256Plain: sha(wav),
      sha256Cipher: sha(enc),
      keyFingerprint: key.fingerprint,
    });
    // An extra output (SRS_OUTPUTS=mono,stereo): here the same bytes under the stereo kind.
    const stereoRel = `recordings/2026/03/01/${ids.r1}.stereo.wav.gpg`;
    await writeFile(join(dataDir, stereoRel), enc);
    await db.recordings.addFile(ids.r1, {
      kind: 'stereo',
      path: stereoRel,
      bytes: enc.length,
      sha256Plain: sha(wav),
      sha256Cipher: sha(enc),
      keyFingerprint: key.fingerprint,
    });
  });

  after(async () => {
    stack?.ops.close();
    await new Promise((r) => server?.close(r));
    await db?.close();
    await rm(dataDir, { recursive: true, force: true });
  });

  it('creates the first admin once; logs in; refuses bad passwords and throttles repeated failures', async () => {
    assert.equal(await db.users.count(), 1);
    const bad = await call('POST', '/api/v1/login', { body: { username: 'admin', password: 'nope' } });
    assert.equal(bad.status, 401);
    assert.equal(bad.json.error, 'wrong username or password');
    const hash = (await db.users.byUsername('admin'))?.passwordHash ?? '';
    assert.match(hash, /^scrypt\$32768\$8\$1\$/);
    await login('admin', 'first-admin-pw');
    const me = await call('GET', '/api/v1/me', { as: 'admin' });
    assert.equal(me.json.role, 'admin');
    assert.equal(me.json.can.audit, true);
    // Throttling: three free attempts per user and address, the fourth starts a delay during which
    // the fifth is refused unchecked (429).
    for (let i = 0; i < 4; i++)
      assert.equal(
        (await call('POST', '/api/v1/login', { body: { username: 'ghost', password: 'x' } })).status,
        401,
      );
    const throttled = await call('POST', '/api/v1/login', { body: { username: 'ghost', password: 'x' } });
    assert.equal(throttled.status, 429);
    assert.ok(Number(throttled.headers.get('retry-after')) > 0);
  });

  it('lets admins manage users and groups; validates input', async () => {
    const mk = async (body: Record<string, unknown>) => {
      const r = await call('POST', '/api/v1/users', { as: 'admin', body });
      assert.equal(r.status, 201, JSON.stringify(r.json));
      return r.json;
    };
    await mk({
      username: 'alice',
      password: 'alice-password',
      role: 'user',
      group: 'sales',
      numbers: ['alice'],
    });
    await mk({ username: 'bob', password: 'bob-password', role: 'user', group: 'support', numbers: ['Bob'] });
    await mk({ username: 'sup', password: 'sup-password', role: 'supervisor', group: 'sales' });
    await mk({ username: 'rec', password: 'rec-password', role: 'record-only' });
    const dup = await call('POST', '/api/v1/users', {
      as: 'admin',
      body: { username: 'alice', role: 'user' },
    });
    assert.equal(dup.status, 409);
    const invalid = await call('POST', '/api/v1/users', {
      as: 'admin',
      body: { username: 'x y', role: 'boss' },
    });
    assert.equal(invalid.status, 400);
    assert.match(invalid.json.error, /username/);
    const groups = await call('GET', '/api/v1/groups', { as: 'admin' });
    assert.deepEqual(
      groups.json.items.map((g: { name: string; members: number }) => [g.name, g.members]),
      [
        ['sales', 2],
        ['support', 1],
      ],
    );
    for (const [u, p] of [
      ['alice', 'alice-password'],
      ['bob', 'bob-password'],
      ['sup', 'sup-password'],
      ['rec', 'rec-password'],
    ] as const)
      await login(u, p);
    assert.equal((await call('GET', '/api/v1/users', { as: 'alice' })).status, 403);
  });

  it('scopes the recordings search by role and group, with filters and paging', async () => {
    const idsOf = async (who: string, q = '') =>
      (await call('GET', `/api/v1/recordings${q}`, { as: who })).json.items.map((i: { id: string }) => i.id);
    assert.deepEqual(await idsOf('alice'), [ids.r1]);
    assert.deepEqual(await idsOf('bob'), [ids.r2]);
    assert.deepEqual(await idsOf('sup'), [ids.r1], 'supervisor of sales sees alice (sales)');
    assert.deepEqual(await idsOf('admin'), [ids.r2, ids.r1]);
    // A record-only user sees no recording: the recording routes answer 404.
    assert.equal((await call('GET', '/api/v1/recordings', { as: 'rec' })).status, 404);
    assert.equal((await call('GET', '/api/v1/recordings')).status, 401);
    assert.deepEqual(await idsOf('admin', '?participant=carol'), [ids.r1]);
    assert.deepEqual(await idsOf('admin', '?participant=DAVE%20ex'), [ids.r2]);
    assert.deepEqual(await idsOf('admin', '?callId=call-bob@pbx'), [ids.r2]);
    assert.deepEqual(await idsOf('admin', '?sessionId=sess-alice'), [ids.r1]);
    assert.deepEqual(await idsOf('admin', '?minDurationMs=90000'), [ids.r2]);
    assert.deepEqual(await idsOf('admin', '?group=support'), [ids.r2]);
    assert.deepEqual(await idsOf('admin', '?from=2026-03-01T10:30:00Z'), [ids.r2]);
    assert.deepEqual(await idsOf('admin', '?to=2026-03-01T10:30:00Z&state=stored'), [ids.r1]);
    const page = await call('GET', '/api/v1/recordings?limit=1&offset=1', { as: 'admin' });
    assert.equal(page.json.total, 2);
    assert.deepEqual(
      page.json.items.map((i: { id: string }) => i.id),
      [ids.r1],
    );
    assert.equal((await call('GET', '/api/v1/recordings?from=yesterday', { as: 'admin' })).status, 400);
    assert.equal((await call('GET', '/api/v1/recordings?state=lost', { as: 'admin' })).status, 400);
    // Another user's recording is not found rather than forbidden.
    assert.equal((await call('GET', `/api/v1/recordings/${ids.r2}`, { as: 'alice' })).status, 404);
    const d = await call('GET', `/api/v1/recordings/${ids.r1}`, { as: 'alice' });
    assert.equal(d.status, 200);
    assert.equal(d.json.participants[0].aor, 'sip:alice@example.com');
    assert.ok(d.json.events.some((e: { type: string }) => e.type === 'end'));
    assert.deepEqual(d.json.groups, ['sales']);
  });

  it('streams decrypted audio with ranges and a waveform, and audits playback and download', async () => {
    const full = await call('GET', `/api/v1/recordings/${ids.r1}/audio?format=wav`, { as: 'alice' });
    assert.equal(full.status, 200);
    assert.equal(full.headers.get('accept-ranges'), 'bytes');
    assert.ok(full.buf.equals(wav), 'the decrypted WAV is the original');
    const part = await call('GET', `/api/v1/recordings/${ids.r1}/audio?format=wav`, {
      as: 'alice',
      headers: { range: 'bytes=100-199' },
    });
    assert.equal(part.status, 206);
    assert.equal(part.headers.get('content-range'), `bytes 100-199/${wav.length}`);
    assert.ok(part.buf.equals(wav.subarray(100, 200)));
    const tail = await call('GET', `/api/v1/recordings/${ids.r1}/audio?format=wav`, {
      as: 'alice',
      headers: { range: 'bytes=-10' },
    });
    assert.ok(tail.buf.equals(wav.subarray(wav.length - 10)));
    const beyond = await call('GET', `/api/v1/recordings/${ids.r1}/audio?format=wav`, {
      as: 'alice',
      headers: { range: `bytes=${wav.length}-` },
    });
    assert.equal(beyond.status, 416);
    const noMp3 = await call('GET', `/api/v1/recordings/${ids.r1}/audio?format=mp3`, { as: 'alice' });
    assert.equal(noMp3.status, 404);
    assert.match(noMp3.json.error, /has no mp3 file \(it has: stereo, wav\)/);
    const stereo = await call('GET', `/api/v1/recordings/${ids.r1}/download?format=stereo`, { as: 'alice' });
    assert.equal(stereo.status, 200);
    assert.equal(stereo.headers.get('content-type'), 'audio/wav');
    assert.match(stereo.headers.get('content-disposition') ?? '', new RegExp(`${ids.r1}\\.stereo\\.wav`));
    assert.ok(stereo.buf.equals(wav));
    assert.equal(
      (await call('GET', `/api/v1/recordings/${ids.r1}/audio?format=leg3`, { as: 'alice' })).status,
      404,
    );
    assert.equal(
      (await call('GET', `/api/v1/recordings/${ids.r1}/audio?format=ogg`, { as: 'alice' })).status,
      400,
    );
    const wf = await call('GET', `/api/v1/recordings/${ids.r1}/waveform?points=10`, { as: 'alice' });
    assert.equal(wf.json.peaks.length, 10);
    assert.ok(
      wf.json.peaks.every((p: number) => p > 0.2 && p < 0.3),
      `a 8000/32768 tone: ${wf.json.peaks}`,
    );
    const dl = await call('GET', `/api/v1/recordings/${ids.r1}/download?format=wav`, { as: 'alice' });
    assert.equal(dl.status, 200);
    assert.match(dl.headers.get('content-disposition') ?? '', /attachment/);
    const audit = await call('GET', `/api/v1/audit?resourceId=${ids.r1}&actor=alice`, { as: 'admin' });
    const actions = audit.json.items.map((e: { action: string }) => e.action);
    assert.deepEqual(
      actions,
      ['waveform', 'download', 'download'],
      'a WAV is a download, inline or not (the ranged requests and /download of the same WAV are one entry per window); then stereo, then the waveform',
    );
    assert.equal(audit.json.items[0].ip, '127.0.0.1');
    assert.equal(audit.json.items[0].details.callId, 'call-alice@pbx');
    // The encrypted file as stored (the local store): whole, by range, 416 beyond its end.
    const cipher = await readFile(join(dataDir, `recordings/2026/03/01/${ids.r1}.wav.gpg`));
    const enc = await call('GET', `/api/v1/recordings/${ids.r1}/encrypted?format=wav`, { as: 'admin' });
    assert.equal(enc.status, 200);
    assert.equal(enc.headers.get('content-type'), 'application/pgp-encrypted');
    assert.ok(enc.buf.equals(cipher));
    const encPart = await call('GET', `/api/v1/recordings/${ids.r1}/encrypted?format=wav`, {
      as: 'admin',
      headers: { range: 'bytes=10-19' },
    });
    assert.equal(encPart.status, 206);
    assert.equal(encPart.headers.get('content-range'), `bytes 10-19/${cipher.length}`);
    assert.ok(encPart.buf.equals(cipher.subarray(10, 20)));
    const encBeyond = await call('GET', `/api/v1/recordings/${ids.r1}/encrypted?format=wav`, {
      as: 'admin',
      headers: { range: `bytes=${cipher.length}-` },
    });
    assert.equal(encBeyond.status, 416);
  });

  it('applies the download and delete settings, including "nobody", and audits setting changes', async () => {
    const put = (body: unknown) => call('PUT', '/api/v1/settings', { as: 'admin', body });
    assert.equal((await put({ 'permissions.download': 'nobody' })).status, 200);
    assert.equal(
      (await call('GET', `/api/v1/recordings/${ids.r1}/download?format=wav`, { as: 'admin' })).status,
      403,
    );
    assert.equal((await put({ 'permissions.download': 'supervisor' })).status, 200);
    assert.equal(
      (await call('GET', `/api/v1/recordings/${ids.r1}/download?format=wav`, { as: 'alice' })).status,
      403,
    );
    assert.equal(
      (await call('GET', `/api/v1/recordings/${ids.r1}/download?format=wav`, { as: 'sup' })).status,
      200,
    );
    assert.equal((await put({ 'permissions.delete': 'maybe' })).status, 400);
    assert.equal((await call('PUT', '/api/v1/settings', { as: 'sup', body: {} })).status, 403);
    const a = await call('GET', '/api/v1/audit?action=setting.update', { as: 'admin' });
    assert.equal(a.json.total, 2);
    assert.deepEqual(a.json.items[0].details['permissions.download'], { from: 'nobody', to: 'supervisor' });
  });

  it('exports search results as CSV and decrypted audio as tar, per permissions.download, audited', async () => {
    const setDownload = async (level: string) =>
      assert.equal(
        (await call('PUT', '/api/v1/settings', { as: 'admin', body: { 'permissions.download': level } }))
          .status,
        200,
      );
    const csvIds = (buf: Buffer) =>
      parseCsv(buf.toString('utf8').replace(/^\uFEFF/, ''))
        .slice(1)
        .map((r) => r[0]);
    // Nobody: not even the admin.
    await setDownload('nobody');
    assert.equal((await call('GET', '/api/v1/recordings/export', { as: 'admin' })).status, 403);
    assert.equal((await call('GET', '/api/v1/recordings/export?format=tar', { as: 'admin' })).status, 403);
    // Admin only: the admin exports everything, a user nothing.
    await setDownload('admin');
    assert.equal((await call('GET', '/api/v1/recordings/export', { as: 'alice' })).status, 403);
    const all = await call('GET', '/api/v1/recordings/export?format=csv', { as: 'admin' });
    assert.equal(all.status, 200);
    assert.match(all.headers.get('content-type') ?? '', /^text\/csv/);
    assert.match(
      all.headers.get('content-disposition') ?? '',
      /attachment; filename="recordings-\d{8}-\d{6}\.csv"/,
    );
    const rows = parseCsv(all.buf.toString('utf8').replace(/^\uFEFF/, ''));
    assert.deepEqual(rows[0]?.slice(0, 4), ['id', 'started_at', 'ended_at', 'duration_s']);
    assert.deepEqual(
      rows.slice(1).map((r) => [r[0], r[3], r[5], r[7], r[9]]),
      [
        [ids.r2, '120.0', 'call-bob@pbx', 'sip:bob@example.com; sip:dave@example.com', 'support'],
        [ids.r1, '60.0', 'call-alice@pbx', 'sip:alice@example.com; sip:carol@example.com', 'sales'],
      ],
    );
    // The search filters apply, and so do ids.
    assert.deepEqual(
      csvIds((await call('GET', '/api/v1/recordings/export?participant=carol', { as: 'admin' })).buf),
      [ids.r1],
    );
    assert.deepEqual(
      csvIds((await call('GET', `/api/v1/recordings/export?ids=${ids.r2}`, { as: 'admin' })).buf),
      [ids.r2],
    );
    // Users (the default): scoped to what they may see.
    await setDownload('user');
    assert.deepEqual(csvIds((await call('GET', '/api/v1/recordings/export', { as: 'alice' })).buf), [ids.r1]);
    const hidden = await call('GET', `/api/v1/recordings/export?format=tar&ids=${ids.r2}`, { as: 'alice' });
    assert.equal(hidden.status, 404, "another user's recording is not found");
    assert.equal((await call('GET', '/api/v1/recordings/export', { as: 'rec' })).status, 404);
    assert.equal((await call('GET', '/api/v1/recordings/export')).status, 401);
    const bad = await call('GET', '/api/v1/recordings/export?ids=nope', { as: 'alice' });
    assert.deepEqual([bad.status, bad.json.error], [400, 'ids: not a recording id: nope']);
    assert.equal((await call('GET', '/api/v1/recordings/export?format=zip', { as: 'alice' })).status, 400);
    assert.equal((await call('GET', '/api/v1/recordings/export?audio=ogg', { as: 'alice' })).status, 400);
    assert.equal((await call('GET', '/api/v1/recordings/export?from=soon', { as: 'alice' })).status, 400);

    // Audio: a tar that the system's tar reads, holding the decrypted WAV and an index.
    const tarOf = async (res: { status: number; buf: Buffer; headers: Headers }) => {
      assert.equal(res.status, 200, res.buf.toString().slice(0, 300));
      assert.equal(res.headers.get('content-type'), 'application/x-tar');
      assert.equal(res.buf.length % 512, 0);
      const dir = await mkdtemp(join(tmpdir(), 'srs-export-test-'));
      await writeFile(join(dir, 'x.tar'), res.buf);
      await execFileP('tar', ['-xf', 'x.tar'], { cwd: dir });
      const [top] = (await readdir(dir)).filter((f) => f.startsWith('srs-export-'));
      assert.ok(top, 'one top folder');
      const files = await readdir(join(dir, top));
      const index = parseCsv((await readFile(join(dir, top, 'index.csv'), 'utf8')).replace(/^\uFEFF/, ''));
      return { dir, top, files, index };
    };
    const one = await tarOf(
      await call('GET', `/api/v1/recordings/export?format=tar&audio=wav&ids=${ids.r1}`, { as: 'alice' }),
    );
    const name = `20260301-100000_${ids.r1}.wav`;
    assert.deepEqual(one.files.sort(), [name, 'index.csv']);
    assert.ok((await readFile(join(one.dir, one.top, name))).equals(wav), 'the decrypted WAV');
    assert.deepEqual(one.index[1], [
      ids.r1,
      name,
      '2026-03-01T10:00:00.000Z',
      '60.0',
      'sip:alice@example.com; sip:carol@example.com',
      'call-alice@pbx',
      String(wav.length),
      sha(wav),
      'ok',
    ]);
    await rm(one.dir, { recursive: true, force: true });
    // The admin's archive of everything: r2 has no audio (listed, not fatal), r1 has WAV only.
    const both = await tarOf(await call('GET', '/api/v1/recordings/export?format=tar', { as: 'admin' }));
    assert.deepEqual(both.files.sort(), [name, 'index.csv']);
    assert.deepEqual(
      both.index.slice(1).map((r) => [r[0], r[8]]),
      [
        [ids.r2, 'no audio (state stored)'],
        [ids.r1, 'ok (wav: no mp3)'],
      ],
    );
    await rm(both.dir, { recursive: true, force: true });

    // One audit entry per export, naming who, from where, the format and every id.
    const a = await call('GET', '/api/v1/audit?action=export', { as: 'admin' });
    const entries = a.json.items as {
      actor: string;
      ip: string;
      resourceId: string;
      details: { format: string; count: number; ids: string[]; filters: Record<string, string> };
    }[];
    assert.equal(entries.length, 6, 'refused and failed exports are not audited as exports');
    assert.deepEqual(
      entries.map((e) => [e.actor, e.details.format, e.details.ids.length]),
      [
        ['admin', 'tar', 2],
        ['alice', 'tar', 1],
        ['alice', 'csv', 1],
        ['admin', 'csv', 1],
        ['admin', 'csv', 1],
        ['admin', 'csv', 2],
      ],
    );
    assert.deepEqual(entries[0]?.details.ids, [ids.r2, ids.r1]);
    assert.equal(entries[0]?.ip, '127.0.0.1');
    assert.deepEqual(entries.at(-1)?.details.filters, {});
    // An admin sees the bulk export in the recording's access log.
    const detail = await call('GET', `/api/v1/recordings/${ids.r1}`, { as: 'admin' });
    assert.ok(detail.json.auditTrail.some((e: { action: string; actor: string }) => e.action === 'export'));
    // POST takes the ids in a JSON body (more than a URL holds).
    const posted = await call('POST', '/api/v1/recordings/export', {
      as: 'alice',
      body: { ids: [ids.r1], format: 'csv' },
    });
    assert.equal(posted.status, 200);
    assert.deepEqual(csvIds(posted.buf), [ids.r1]);
    const badBody = await call('POST', '/api/v1/recordings/export', { as: 'alice', body: { ids: 'all' } });
    assert.deepEqual([badBody.status, badBody.json.error], [400, 'ids: an array of recording ids']);
    assert.equal(
      (await call('POST', '/api/v1/recordings/export', { as: 'alice', body: { ids: [ids.r2] } })).status,
      404,
    );
    await setDownload('supervisor');
  });

  it('writes CSV cells a spreadsheet will not run, and ustar archives that tar reads', async () => {
    assert.equal(csvCell('=HYPERLINK("x")'), `"'=HYPERLINK(""x"")"`);
    assert.equal(csvCell('@SUM(A1)'), "'@SUM(A1)");
    assert.equal(csvCell('-x'), "'-x");
    assert.equal(csvCell('+4930 1234-56'), '+4930 1234-56', 'a phone number stays');
    assert.equal(csvCell('-12.5'), '-12.5');
    assert.equal(csvCell('a,b'), '"a,b"');
    assert.equal(csvCell('two\nlines'), '"two\nlines"');
    assert.equal(csvCell(['sip:a@x', 'sip:b@x']), 'sip:a@x; sip:b@x');
    assert.equal(csvCell(null), '');
    assert.equal(csvCell(new Date('2026-03-01T10:00:00Z')), '2026-03-01T10:00:00.000Z');
    // A long path (split into ustar prefix + name), an empty file and one just over a block.
    const chunks: Buffer[] = [];
    const out = new PassThrough();
    out.on('data', (c: Buffer) => chunks.push(c));
    const tarw = new TarWriter(out);
    const long = `${'d'.repeat(60)}/${'e'.repeat(60)}/${'f'.repeat(90)}.wav`;
    const big = Buffer.alloc(513, 7);
    await tarw.file(long, big, new Date('2026-03-01T10:00:00Z'));
    await tarw.file('empty.txt', Buffer.alloc(0));
    await tarw.end();
    const archive = Buffer.concat(chunks);
    assert.equal(archive.length, 512 + 1024 + 512 + 1024);
    const dir = await mkdtemp(join(tmpdir(), 'srs-tar-test-'));
    await writeFile(join(dir, 'a.tar'), archive);
    const listing = await execFileP('tar', ['-tvf', 'a.tar'], { cwd: dir });
    assert.match(listing.stdout, new RegExp(`srs/srs +513 2026-03-01 \\d\\d:\\d\\d ${long}\n`));
    await execFileP('tar', ['-xf', 'a.tar'], { cwd: dir });
    assert.ok((await readFile(join(dir, long))).equals(big));
    assert.equal((await readFile(join(dir, 'empty.txt'))).length, 0);
    await rm(dir, { recursive: true, force: true });
    assert.throws(() => ustarHeader('x'.repeat(300), 1, new Date()), /path too long/);
  });

  it('shows delivery status to admins; retry answers 503 when delivery is off', async () => {
    assert.equal((await call('GET', '/api/v1/delivery', { as: 'sup' })).status, 403);
    const st = await call('GET', '/api/v1/delivery', { as: 'admin' });
    assert.equal(st.status, 200, JSON.stringify(st.json));
    assert.equal(st.json.enabled, false);
    assert.ok(Array.isArray(st.json.offload.batches));
    assert.equal(typeof st.json.notifications.sent, 'number');
    assert.equal((await call('POST', '/api/v1/delivery/retry', { as: 'sup' })).status, 403);
    const r = await call('POST', '/api/v1/delivery/retry', { as: 'admin' });
    assert.equal(r.status, 503);
    assert.match(r.json.error, /delivery is off/);
    // With delivery running (here the store's own re-queue), the retry answers its counts and is audited.
    const on = await buildConsoleApi({
      db,
      live,
      stats: () => undefined,
      dataDir,
      adminToken: 'the-admin-token',
      sessionTtlMinutes: 60,
      loadKey: null,
      deliveryStatus: () => deliveryStatus(db.offload),
      delivery: { retryFailed: (actor) => db.offload.retryFailed(actor) },
      log,
    });
    const srv = await startHttpServer({
      host: '127.0.0.1',
      port: 0,
      log,
      health: async () => ({ ok: true, details: {} }),
      api: on.api,
    });
    try {
      const a = srv.address();
      const url = `http://127.0.0.1:${typeof a === 'object' && a ? a.port : 0}/api/v1`;
      const auth = { authorization: `Bearer the-admin-token` };
      const st2 = (await (await fetch(`${url}/delivery`, { headers: auth })).json()) as { enabled: boolean };
      assert.equal(st2.enabled, true);
      const res = await fetch(`${url}/delivery/retry`, { method: 'POST', headers: auth });
      assert.equal(res.status, 200);
      assert.deepEqual(((await res.json()) as { retried: unknown }).retried, {
        offload: 0,
        export: 0,
        notifications: 0,
      });
      // A tar export needs the key: 503 on a server without the passphrase, before anything is sent.
      const noKey = await fetch(`${url}/recordings/export?format=tar`, { headers: auth });
      assert.equal(noKey.status, 503);
    } finally {
      on.ops.close();
      await new Promise((res) => srv.close(res));
    }
    const audited = await call('GET', '/api/v1/audit?action=delivery.retry', { as: 'admin' });
    assert.ok(
      audited.json.items.some(
        (e: { actor: string; via: string }) => e.actor === 'admin-token' && e.via === 'admin-token',
      ),
      JSON.stringify(audited.json.items),
    );
  });

  it('protects preserved recordings and higher-role notes; deletes when permitted', async () => {
    assert.equal((await call('PUT', `/api/v1/recordings/${ids.r1}/preserve`, { as: 'sup' })).status, 200);
    assert.equal(
      (await call('DELETE', `/api/v1/recordings/${ids.r1}/preserve`, { as: 'alice' })).status,
      403,
    );
    assert.equal((await call('DELETE', `/api/v1/recordings/${ids.r1}`, { as: 'alice' })).status, 403);
    const blocked = await call('DELETE', `/api/v1/recordings/${ids.r1}`, { as: 'admin' });
    assert.equal(blocked.status, 409);
    assert.match(blocked.json.error, /preserved by sup/);
    const note = await call('POST', `/api/v1/recordings/${ids.r1}/notes`, {
      as: 'sup',
      body: { body: 'coaching: good call' },
    });
    assert.equal(note.status, 201);
    assert.equal(
      (await call('DELETE', `/api/v1/recordings/${ids.r1}/notes/${note.json.id}`, { as: 'alice' })).status,
      403,
    );
    const cats = await call('PUT', `/api/v1/recordings/${ids.r1}/categories`, {
      as: 'alice',
      body: { categories: ['refund', 'order', 'refund'] },
    });
    assert.deepEqual(cats.json.categories, ['order', 'refund']);
    assert.deepEqual(
      (await call('GET', '/api/v1/recordings?category=refund', { as: 'admin' })).json.items.map(
        (i: { id: string }) => i.id,
      ),
      [ids.r1],
    );
    assert.equal((await call('DELETE', `/api/v1/recordings/${ids.r1}/preserve`, { as: 'sup' })).status, 200);
    const del = await call('DELETE', `/api/v1/recordings/${ids.r1}`, { as: 'admin' });
    assert.equal(del.status, 200, JSON.stringify(del.json));
    await assert.rejects(stat(join(dataDir, `recordings/2026/03/01/${ids.r1}.wav.gpg`)), 'the file is gone');
    const tomb = await call('GET', `/api/v1/recordings/${ids.r1}`, { as: 'admin' });
    assert.equal(tomb.json.state, 'purged', 'a tombstone stays for the hash chain');
    // An export of deleted recordings lists them without audio.
    const purgedTar = await call('GET', '/api/v1/recordings/export?format=tar&state=purged', { as: 'admin' });
    assert.equal(purgedTar.status, 200);
    const purgedIndex = purgedTar.buf.toString('utf8');
    assert.ok(purgedIndex.includes(`${ids.r1},,2026-03-01T10:00:00.000Z`), 'index row of r1');
    assert.match(purgedIndex, /,deleted\r\n/);
    assert.ok(!purgedIndex.includes('.wav\0'), 'no audio file in the archive');
    assert.equal(
      (await call('GET', `/api/v1/recordings/${ids.r1}/audio?format=wav`, { as: 'admin' })).status,
      410,
    );
    assert.equal((await call('DELETE', `/api/v1/recordings/${ids.r1}`, { as: 'admin' })).status, 409);
    assert.deepEqual(
      (await call('GET', '/api/v1/recordings', { as: 'admin' })).json.items.map((i: { id: string }) => i.id),
      [ids.r2],
      'deleted recordings are not in the default search',
    );
    const a = await call('GET', `/api/v1/audit?resourceId=${ids.r1}`, { as: 'admin' });
    const actions = a.json.items.map((e: { action: string }) => e.action);
    for (const act of ['delete', 'unpreserve', 'categories.update', 'note.add', 'preserve'])
      assert.ok(actions.includes(act), `${act} audited: ${actions}`);
    // Deletion set to "nobody" is irreversible.
    assert.equal(
      (await call('PUT', '/api/v1/settings', { as: 'admin', body: { 'permissions.delete': 'nobody' } }))
        .status,
      200,
    );
    assert.equal((await call('DELETE', `/api/v1/recordings/${ids.r2}`, { as: 'admin' })).status, 403);
    assert.equal(
      (await call('PUT', '/api/v1/settings', { as: 'admin', body: { 'permissions.delete': 'admin' } }))
        .status,
      409,
    );
  });

  it('issues and revokes API tokens; the admin token is an admin API token; sessions expire', async () => {
    const t = await call('POST', '/api/v1/tokens', { as: 'bob', body: { name: 'crm' } });
    assert.equal(t.status, 201);
    assert.match(t.json.token, /^srs_/);
    const withToken = await call('GET', '/api/v1/recordings', { bearer: t.json.token });
    assert.deepEqual(
      withToken.json.items.map((i: { id: string }) => i.id),
      [ids.r2],
    );
    assert.equal((await call('DELETE', `/api/v1/tokens/${t.json.id}`, { as: 'bob' })).status, 200);
    assert.equal((await call('GET', '/api/v1/recordings', { bearer: t.json.token })).status, 401);
    const asAdmin = await call('GET', '/api/v1/keys', { bearer: 'the-admin-token' });
    assert.equal(asAdmin.status, 200);
    assert.equal(asAdmin.json.items.length, 1);
    assert.equal((await call('GET', '/api/v1/keys', { bearer: 'wrong-token' })).status, 401);
    // WebSocket handshakes (query tokens allowed) refuse a session cookie sent from another site.
    const ws = (origin: string) =>
      stack.auth.authenticate(
        {
          url: '/monitor',
          headers: { cookie: cookies.bob, host: 'srs.example:8080', origin },
        } as unknown as IncomingMessage,
        true,
      );
    assert.equal((await ws('http://srs.example:8080'))?.username, 'bob');
    assert.equal(await ws('https://evil.example'), null);
    await db.pool.query(`UPDATE user_sessions SET expires_at = now() - interval '1 second'`);
    assert.equal((await call('GET', '/api/v1/me', { as: 'alice' })).status, 401);
  });

  it('keeps the audit trail append-only and detects an edit made behind its back', async () => {
    const v = await call('GET', '/api/v1/audit/verify', { as: 'admin', bearer: 'the-admin-token' });
    assert.equal(v.json.ok, true);
    assert.ok(v.json.rows > 15);
    await assert.rejects(db.pool.query(`UPDATE audit SET actor = 'x'`), /append-only/);
    await assert.rejects(db.pool.query('DELETE FROM audit'), /append-only/);
    await assert.rejects(db.pool.query('TRUNCATE audit'), /append-only/);
    const logins = await call('GET', '/api/v1/audit?action=login-failed&q=bad%20credentials', {
      bearer: 'the-admin-token',
    });
    assert.ok(logins.json.total >= 5);
    // A superuser disabling the triggers can edit a row, but the chain shows it.
    const client = await db.pool.connect();
    try {
      await client.query('ALTER TABLE audit DISABLE TRIGGER audit_no_update');
      await client.query(`UPDATE audit SET actor = 'mallory' WHERE id = 3`);
      await client.query('ALTER TABLE audit ENABLE TRIGGER audit_no_update');
    } finally {
      client.release();
    }
    const after = await call('GET', '/api/v1/audit/verify', { bearer: 'the-admin-token' });
    assert.deepEqual([after.json.ok, after.json.firstBadId], [false, 3]);
  });

  it('answers errors as JSON with clear statuses; serves OpenAPI and metrics', async () => {
    const nf = await call('GET', '/api/v1/nothing', { bearer: 'the-admin-token' });
    assert.deepEqual([nf.status, typeof nf.json.error], [404, 'string']);
    const m = await call('PUT', '/api/v1/recordings', { bearer: 'the-admin-token' });
    assert.equal(m.status, 405);
    assert.equal(m.headers.get('allow'), 'GET');
    const badJson = await call('POST', '/api/v1/login', { body: '{nope' });
    assert.deepEqual([badJson.status, badJson.json.error], [400, 'request body is not valid JSON']);
    const spec = await call('GET', '/api/v1/openapi.json');
    assert.equal(spec.json.openapi, '3.1.0');
    assert.ok(spec.json.paths['/recordings/{id}/audio'].get);
    assert.deepEqual(Object.keys(spec.json.paths['/recordings/export'].get.responses['200'].content), [
      'text/csv',
      'application/x-tar',
    ]);
    assert.ok(spec.json.paths['/delivery'].get && spec.json.paths['/delivery/retry'].post);
    live.calls = [
      {
        recordingId: 'r-live',
        callId: 'c',
        sessionId: null,
        srcAddress: 'x',
        startedAt: new Date().toISOString(),
        participants: [{ participantId: 'a', aor: 'sip:bob@x', name: 'Bob', sendsLabels: [] }],
        streams: [],
      },
    ];
    assert.equal((await call('GET', '/api/v1/calls', { bearer: 'the-admin-token' })).json.items.length, 1);
    const metrics = await fetch(`${base}/metrics`).then((r) => r.text());
    assert.match(metrics, /^srs_active_calls 1$/m);
    assert.match(metrics, /# TYPE srs_rtp_packets_received_total counter/);
  });

  it('answers /api/v1 with its entry points; the OpenAPI document has every routed path and no other', async () => {
    for (const path of ['/api/v1', '/api/v1/']) {
      const r = await call('GET', path);
      assert.equal(r.status, 200, path);
      assert.equal(r.json.openapi, '/api/v1/openapi.json');
      const entries = r.json.entryPoints as { path: string; methods: string[] }[];
      assert.deepEqual(
        entries.find((e) => e.path === '/api/v1/recordings')?.methods,
        ['GET'],
        JSON.stringify(entries),
      );
      assert.ok(entries.some((e) => e.path === '/api/v1/users' && e.methods.includes('POST')));
    }
    const spec = (await call('GET', '/api/v1/openapi.json')).json as {
      paths: Record<string, Record<string, { parameters: { name: string; in: string }[] }>>;
    };
    const documented = Object.entries(spec.paths).flatMap(([p, ops]) =>
      Object.keys(ops).map((m) => `${m.toUpperCase()} ${p}`),
    );
    const routed = stack.api.routes.map((r) => `${r.method} ${r.path.replace(/:([a-zA-Z]+)/g, '{$1}')}`);
    assert.deepEqual([...documented].sort(), [...routed].sort());
    assert.ok(routed.length >= 36, `${routed.length} routes`);
    // Every documented operation reaches a handler (not the router's 404 or 405).
    for (const op of documented) {
      const [method, path] = op.split(' ') as [string, string];
      const url = `/api/v1${path.replace(/\{[a-zA-Z]+\}/g, randomUUID())}`;
      const r = await call(method, url, {
        bearer: 'the-admin-token',
        body: method === 'GET' ? undefined : {},
      });
      assert.ok(r.status !== 405 && !/no such endpoint/.test(String(r.json?.error)), `${op}: ${r.status}`);
    }
    // The query parameters come from the schemas the routes validate with.
    const search = spec.paths['/recordings']?.get?.parameters.map((p) => p.name) ?? [];
    assert.ok(search.includes('minDurationMs') && search.includes('limit'), search.join());
    const bad = await call('GET', '/api/v1/recordings?limit=0', { bearer: 'the-admin-token' });
    assert.deepEqual([bad.status, bad.json.error], [400, 'limit: must be an integer >= 1']);
  });

  it('renders the listen-in latency as a Prometheus histogram', async () => {
    for (const ms of [40, 120, 120, 2000]) stack.ops.audioLatency(ms);
    const text = await fetch(`${base}/metrics`).then((r) => r.text());
    const series = (name: string) => text.split('\n').filter((l) => l.startsWith(name));
    assert.match(text, /^# TYPE srs_listen_latency_ms histogram$/m);
    assert.doesNotMatch(text, /# TYPE srs_listen_latency_ms_(bucket|sum|count)/);
    assert.deepEqual(series('srs_listen_latency_ms_bucket'), [
      'srs_listen_latency_ms_bucket{le="50"} 1',
      'srs_listen_latency_ms_bucket{le="100"} 1',
      'srs_listen_latency_ms_bucket{le="150"} 3',
      'srs_listen_latency_ms_bucket{le="200"} 3',
      'srs_listen_latency_ms_bucket{le="300"} 3',
      'srs_listen_latency_ms_bucket{le="500"} 3',
      'srs_listen_latency_ms_bucket{le="1000"} 3',
      'srs_listen_latency_ms_bucket{le="+Inf"} 4',
    ]);
    assert.deepEqual(series('srs_listen_latency_ms_sum'), ['srs_listen_latency_ms_sum 2280']);
    assert.deepEqual(series('srs_listen_latency_ms_count'), ['srs_listen_latency_ms_count 4']);
  });
});
