import assert from 'node:assert/strict';
import { createHash, randomUUID } from 'node:crypto';
import { EventEmitter } from 'node:events';
import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import type { Server } from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import * as openpgp from 'openpgp';
import { buildConsoleApi, type ConsoleApi, type ConsoleApiOptions } from '../../src/api/index.js';
import { startHttpServer } from '../../src/api/server.js';
import { deliveryStatus } from '../../src/delivery/status.js';
import { createLogger } from '../../src/log.js';
import { ensureKeyPair, loadPrivateKey } from '../../src/pipeline/keys.js';
import type { ActiveCall, RecordingEvent } from '../../src/recording/types.js';
import type { NewRecording } from '../../src/store/types.js';
import { openDatabase, type Database } from '../../src/store/db.js';
import { encodeUlaw, tone } from './audio.js';
import { ulawWavHeader } from '../../src/media/wav.js';
import { seedDataDir } from './pg-template.js';

/**
 * The REST API tests' server: a real HTTP server and a real embedded Postgres in a private data
 * directory with a recording key, the admin token `the-admin-token`, the first admin's password
 * `first-admin-pw`, a stand-in for the live calls, and a client that keeps each user's session
 * cookie. Optionally the users and the two stored recordings most tests search, play and export.
 */

export const log = createLogger('silent');
const PASS = 'key-passphrase-for-tests';

export class Live extends EventEmitter<{ event: [RecordingEvent] }> {
  calls: ActiveCall[] = [];
  get activeCount() {
    return this.calls.length;
  }
  activeCalls() {
    return this.calls;
  }
}

export const sha = (b: Uint8Array) => createHash('sha256').update(b).digest('hex');

/** The header of GET /users?format=csv, written out here (not taken from the server's code). */
export const USERS_CSV_HEADER = [
  'username',
  'display_name',
  'role',
  'group',
  'extra_groups',
  'numbers',
  'disabled',
  'email',
  'notify',
  'attach',
];

/** RFC 4180 CSV into rows of cells (the server's own reader). */
export { parseCsv } from '../../src/csv.js';

function ulawWav(samples: Int16Array): Buffer {
  const data = encodeUlaw(samples);
  return Buffer.concat([ulawWavHeader(data.length), data]);
}

export interface ApiReply {
  status: number;
  headers: Headers;
  buf: Buffer;
  json: Record<string, any>; // eslint-disable-line @typescript-eslint/no-explicit-any
}

export interface ApiHarness {
  dataDir: string;
  db: Database;
  server: Server;
  stack: ConsoleApi;
  base: string;
  live: Live;
  key: { fingerprint: string; publicKeyArmored: string };
  /** Session cookie per username, set by `login`. */
  cookies: Record<string, string>;
  call(
    method: string,
    path: string,
    opts?: { as?: string; bearer?: string; body?: unknown; headers?: Record<string, string> },
  ): Promise<ApiReply>;
  login(who: string, password: string): Promise<ApiReply>;
  close(): Promise<void>;
}

/** `deps`: more of the API's parts, built on the harness's database (e.g. a live setting). */
export async function startApiHarness(
  deps?: (db: Database) => Promise<Partial<ConsoleApiOptions>>,
): Promise<ApiHarness> {
  const dataDir = await mkdtemp(join(tmpdir(), 'srs-api-'));
  await seedDataDir(dataDir);
  const db = await openDatabase({ dataDir, log });
  const more = deps ? await deps(db) : {};
  const key = await ensureKeyPair({ keysDir: join(dataDir, 'keys'), passphrase: PASS, log, db });
  const live = new Live();
  const stack = await buildConsoleApi({
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
    ...more,
  });
  const server = await startHttpServer({
    host: '127.0.0.1',
    port: 0,
    log,
    health: async () => ({ ok: true, details: {} }),
    api: stack.api,
    metrics: stack.ops.metrics,
  });
  const a = server.address();
  const base = `http://127.0.0.1:${typeof a === 'object' && a ? a.port : 0}`;
  const cookies: Record<string, string> = {};

  const call: ApiHarness['call'] = async (method, path, opts = {}) => {
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
    return { status: res.status, headers: res.headers, buf, json: json as ApiReply['json'] };
  };

  const login: ApiHarness['login'] = async (who, password) => {
    const r = await call('POST', '/api/v1/login', { body: { username: who, password } });
    assert.equal(r.status, 200, JSON.stringify(r.json));
    cookies[who] = (r.headers.get('set-cookie') ?? '').split(';')[0] as string;
    assert.match(r.headers.get('set-cookie') ?? '', /HttpOnly; SameSite=Strict/);
    return r;
  };

  return {
    dataDir,
    db,
    server,
    stack,
    base,
    live,
    key,
    cookies,
    call,
    login,
    async close() {
      stack.ops.close();
      await new Promise((r) => server.close(r));
      await db.close();
      await rm(dataDir, { recursive: true, force: true });
    },
  };
}

/**
 * Two stored recordings: r1 alice<->carol with an encrypted WAV (and the same bytes as a stereo
 * output), r2 bob<->dave without audio. Returns their ids and the WAV.
 */
export async function storeApiRecordings(
  h: ApiHarness,
): Promise<{ ids: { r1: string; r2: string }; wav: Buffer }> {
  const { db, dataDir, key } = h;
  const ids = { r1: randomUUID(), r2: randomUUID() };
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
    await db.recordings.markEnded(id, new Date(t + i * 3600_000 + (i + 1) * 60_000), (i + 1) * 60_000, null);
    await db.recordings.markStored(id);
  }
  const wav = ulawWav(tone(440, 500));
  const enc = (await openpgp.encrypt({
    message: await openpgp.createMessage({ binary: wav }),
    encryptionKeys: await openpgp.readKey({ armoredKey: key.publicKeyArmored }),
    format: 'binary',
  })) as Uint8Array;
  const rel = `recordings/2026/03/01/${ids.r1}.wav.gpg`;
  await mkdir(join(dataDir, 'recordings/2026/03/01'), { recursive: true });
  await writeFile(join(dataDir, rel), enc);
  await h.db.recordings.addFile(ids.r1, {
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
  await h.db.recordings.addFile(ids.r1, {
    kind: 'stereo',
    path: stereoRel,
    bytes: enc.length,
    sha256Plain: sha(wav),
    sha256Cipher: sha(enc),
    keyFingerprint: key.fingerprint,
  });
  return { ids, wav };
}

/**
 * The users the API tests act as, created by the admin through the API and logged in: admin,
 * alice (user, sales), bob (user, support), sup (supervisor of sales), rec (record-only).
 */
export async function createApiUsers(h: ApiHarness): Promise<void> {
  await h.login('admin', 'first-admin-pw');
  const users: [Record<string, unknown>, string][] = [
    [{ username: 'alice', role: 'user', group: 'sales', numbers: ['alice'] }, 'alice-password'],
    [{ username: 'bob', role: 'user', group: 'support', numbers: ['Bob'] }, 'bob-password'],
    [{ username: 'sup', role: 'supervisor', group: 'sales' }, 'sup-password'],
    [{ username: 'rec', role: 'record-only' }, 'rec-password'],
  ];
  for (const [body, password] of users) {
    const r = await h.call('POST', '/api/v1/users', { as: 'admin', body: { ...body, password } });
    assert.equal(r.status, 201, JSON.stringify(r.json));
    await h.login(body.username as string, password);
  }
}

/** The harness with the two stored recordings and the users: the setup most API tests share. */
export async function startApiWorld(): Promise<{
  h: ApiHarness;
  ids: { r1: string; r2: string };
  wav: Buffer;
}> {
  const h = await startApiHarness();
  const { ids, wav } = await storeApiRecordings(h);
  await createApiUsers(h);
  return { h, ids, wav };
}

/**
 * Creates a user through the API as admin, with the password `<username>-password`, and signs them
 * in (their session is `as: username`); their id.
 */
export async function addApiUser(
  h: ApiHarness,
  username: string,
  body: Record<string, unknown>,
): Promise<string> {
  const r = await h.call('POST', '/api/v1/users', {
    as: 'admin',
    body: { username, password: `${username}-password`, ...body },
  });
  assert.equal(r.status, 201, JSON.stringify(r.json));
  await h.login(username, `${username}-password`);
  return (r.json as { id: string }).id;
}

/**
 * A 30 s call between an outside caller and `number`, catalogued as the SIP front end does, ended
 * and marked stored; its id. `storedAt` also sets stored_at, as the pipeline's store does
 * (markStored alone leaves it unset).
 */
export async function storeCallTo(
  h: ApiHarness,
  number: string,
  o: { storedAt?: boolean; startedAt?: Date } = {},
): Promise<string> {
  const id = randomUUID();
  await h.db.recordings.create({
    id,
    sessionId: `sess-${id}`,
    callId: `${id}@pbx`,
    srcAddress: '127.0.0.1:5070',
    startedAt: o.startedAt ?? new Date(),
    participants: [
      { participantId: 'p1', aor: 'sip:+15550100@carrier.example', name: 'Outside', sendsLabels: ['1'] },
      { participantId: 'p2', aor: `sip:${number}@pbx.example`, name: number, sendsLabels: ['2'] },
    ],
    streams: [],
    metadataXml: null,
  });
  await h.db.recordings.markEnded(id, new Date(), 30_000, null);
  await h.db.recordings.markStored(id);
  if (o.storedAt) await h.db.pool.query('UPDATE recordings SET stored_at = now() WHERE id = $1', [id]);
  return id;
}

/** A call from `caller` to `callee` (`sip:<number>@pbx`) in the catalogue, ended, not yet stored. */
export async function endedCall(
  h: Pick<ApiHarness, 'db'>,
  o: { caller: string; callee: string; startedAt?: Date; direction?: NewRecording['direction'] },
): Promise<string> {
  const id = randomUUID();
  await h.db.recordings.create({
    id,
    sessionId: null,
    callId: `${id}@pbx`,
    srcAddress: '127.0.0.1:5070',
    startedAt: o.startedAt ?? new Date(),
    participants: [
      { participantId: 'a', aor: `sip:${o.caller}@pbx`, name: null, sendsLabels: ['1'] },
      { participantId: 'b', aor: `sip:${o.callee}@pbx`, name: null, sendsLabels: ['2'] },
    ],
    streams: [],
    metadataXml: null,
    ...(o.direction !== undefined ? { direction: o.direction } : {}),
  });
  await h.db.recordings.markEnded(id, new Date(), 10_000, null);
  return id;
}

/** An entry of GET /api/v1/audit as tests read it. */
export interface AuditItem {
  action: string;
  actor: string;
  /** web, api-token, admin-token, cli, system. */
  via: string;
  resource: string;
  resourceId: string;
  details: Record<string, unknown>;
}
