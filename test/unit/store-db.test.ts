import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { mkdtemp, rm, stat } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { createLogger } from '../../src/log.js';
import { loadMigrations, migrate, openDatabase, type Database } from '../../src/store/db.js';
import type { NewRecording } from '../../src/store/types.js';

const log = createLogger('silent');

describe('store: embedded postgres, migrations, repositories', () => {
  let dataDir: string;
  let db: Database;

  before(async () => {
    dataDir = await mkdtemp(join(tmpdir(), 'srs-store-'));
    db = await openDatabase({ dataDir, log });
  });

  after(async () => {
    await db?.close();
    await rm(dataDir, { recursive: true, force: true });
  });

  it('starts its own instance with private settings and the schema in place', async () => {
    assert.equal(db.ownsEmbedded, true);
    const st = await stat(join(dataDir, 'pg.json'));
    assert.equal(st.mode & 0o777, 0o600);
    const t = await db.pool.query<{ table_name: string }>(
      `SELECT table_name FROM information_schema.tables WHERE table_schema = 'public' ORDER BY 1`,
    );
    const names = t.rows.map((r) => r.table_name);
    for (const n of ['files', 'keys', 'participants', 'recordings', 'schema_migrations', 'streams']) {
      assert.ok(names.includes(n), `table ${n}`);
    }
    const ix = await db.pool.query<{ indexname: string }>(
      `SELECT indexname FROM pg_indexes WHERE tablename = 'recordings'`,
    );
    const ixn = ix.rows.map((r) => r.indexname);
    for (const n of ['recordings_started_at_idx', 'recordings_call_id_idx', 'recordings_session_id_idx']) {
      assert.ok(ixn.includes(n), n);
    }
  });

  it('migrations are idempotent, also when run concurrently', async () => {
    const again = await Promise.all([migrate(db.pool, log), migrate(db.pool, log), migrate(db.pool, log)]);
    assert.deepEqual(again, [[], [], []]);
    const r = await db.pool.query('SELECT version FROM schema_migrations');
    assert.equal(r.rowCount, (await loadMigrations()).length);
  });

  it('a second opener attaches to the running instance and does not stop it', async () => {
    const other = await openDatabase({ dataDir, log });
    assert.equal(other.ownsEmbedded, false);
    assert.equal(other.connectionString, db.connectionString);
    await other.recordings.list();
    await other.close();
    await other.close(); // twice is fine
    const r = await db.pool.query('SELECT 1 AS one');
    assert.equal(r.rows[0].one, 1);
  });

  it('round-trips a recording through the repository', async () => {
    const id = randomUUID();
    const rec: NewRecording = {
      id,
      sessionId: 'sess-1',
      callId: 'call-abc@pbx',
      srcAddress: '192.0.2.10:5060',
      startedAt: new Date('2024-03-05T10:11:12.345Z'),
      participants: [
        { participantId: 'p1', aor: 'sip:alice@example.com', name: 'Alice', sendsLabels: ['1'] },
        { participantId: '', aor: null, name: null, sendsLabels: [] },
        { participantId: 'p3', aor: 'sip:bob@example.com', name: "Bob O'Hara", sendsLabels: ['2', '3'] },
      ],
      streams: [
        { label: '1', streamId: 's1', legId: 'leg0', codec: 'PCMU', port: 20000 },
        { label: '2', streamId: null, legId: 'leg1', codec: 'PCMA', port: 20002 },
      ],
      metadataXml: '<recording xmlns="urn:ietf:params:xml:ns:recording:1"/>',
    };
    await db.recordings.create(rec);
    await db.recordings.create(rec); // idempotent
    let row = await db.recordings.get(id);
    assert.ok(row);
    assert.equal(row.state, 'recording');
    assert.deepEqual(row.participants, rec.participants);
    assert.deepEqual(row.streams, rec.streams);
    assert.equal(row.startedAt.toISOString(), rec.startedAt.toISOString());
    assert.equal(row.endedAt, null);
    assert.deepEqual(row.files, []);

    await db.recordings.markEnded(id, new Date('2024-03-05T10:12:12.345Z'), 60000, { legs: [{ lost: 1 }] });
    await db.recordings.markProcessing(id);
    const file = {
      kind: 'wav' as const,
      path: '/x/a.wav.gpg',
      bytes: 1234,
      sha256Plain: 'a'.repeat(64),
      sha256Cipher: 'b'.repeat(64),
      keyFingerprint: 'F'.repeat(40),
    };
    await db.recordings.addFile(id, file);
    await db.recordings.addFile(id, { ...file, bytes: 4321 });
    await db.recordings.addFile(id, { ...file, kind: 'mp3', path: '/x/a.mp3.gpg' });
    await db.recordings.markStored(id);
    await db.recordings.markFailed(id, 'late failure must not downgrade a stored recording');
    row = await db.recordings.get(id);
    assert.ok(row);
    assert.equal(row.state, 'stored');
    assert.equal(row.error, null);
    assert.equal(row.durationMs, 60000);
    assert.deepEqual(row.mediaStats, { legs: [{ lost: 1 }] });
    assert.equal(row.files.length, 2);
    assert.deepEqual(
      row.files.find((f) => f.kind === 'wav'),
      { ...file, bytes: 4321 },
    );

    const id2 = randomUUID();
    await db.recordings.create({
      ...rec,
      id: id2,
      startedAt: new Date('2024-03-06T00:00:00Z'),
      participants: [],
    });
    await db.recordings.markFailed(id2, 'boom');
    const list = await db.recordings.list({ limit: 10 });
    assert.deepEqual(
      list.map((r) => r.id),
      [id2, id],
    );
    assert.equal(list[0]?.state, 'failed');
    assert.equal(list[0]?.error, 'boom');
    assert.deepEqual(
      (await db.recordings.list({ limit: 1, offset: 1 })).map((r) => r.id),
      [id],
    );

    assert.equal(await db.recordings.get(randomUUID()), undefined);
    assert.equal(await db.recordings.get('not-a-uuid'), undefined);
    await assert.rejects(db.recordings.markStored(randomUUID()), { code: 'ERR_NOT_FOUND' });
  });

  it('keeps one active key', async () => {
    await db.keys.add({ fingerprint: 'AA', algorithm: 'curve25519', active: true });
    await db.keys.add({ fingerprint: 'BB', algorithm: 'rsa4096', active: true });
    await db.keys.add({ fingerprint: 'BB', algorithm: 'rsa4096', active: true });
    assert.equal((await db.keys.active())?.fingerprint, 'BB');
    assert.equal((await db.keys.get('AA'))?.active, false);
    assert.equal((await db.keys.list()).length, 2);
  });
});
