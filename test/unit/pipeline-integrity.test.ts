/**
 * Issue 5 beyond the happy path, on a real embedded Postgres, real gpg and the real `srs` CLI
 * (test/helpers/integrity-world.ts): key rotation (active key read per job, `get` by the file's
 * key, retire --reencrypt killed mid-way and resumed), user hooks (real HTTP server, real script,
 * retried), retention. Verification: pipeline-verify.test.ts.
 */
import assert from 'node:assert/strict';
import { createHash, randomUUID } from 'node:crypto';
import { readdir, readFile, rm, stat } from 'node:fs/promises';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { createLogger } from '../../src/log.js';
import { purgeOnce, startPipeline, type RetentionPolicy } from '../../src/pipeline/index.js';
import type { Database } from '../../src/store/db.js';
import { gpgDecrypt } from '../helpers/gpg.js';
import { SRS_BIN, run } from '../helpers/server.js';
import { PASS, ToneMixer, startIntegrityWorld, type IntegrityWorld } from '../helpers/integrity-world.js';

const log = createLogger('silent');
const sha = (b: Uint8Array) => createHash('sha256').update(b).digest('hex');

describe('pipeline integrity: keys, hooks, retention', () => {
  let w: IntegrityWorld;
  let dataDir: string;
  let db: Database;
  const newStored = (o?: Parameters<IntegrityWorld['newStored']>[0]) => w.newStored(o);
  const srs = (...args: string[]) => w.srs(...args);
  let env: Record<string, string>;
  let received: IntegrityWorld['received'];
  let hookOut: string;

  before(async () => {
    w = await startIntegrityWorld();
    ({ dataDir, db, env, received, hookOut } = w);
  });

  after(async () => {
    await w?.close();
  });

  it(
    'hooks: the webhook (retried after a 500) and the script receive the document',
    { timeout: 60_000 },
    async () => {
      await db.fields.create({ name: 'order_no', label: 'Order #', type: 'text', options: [] }, 'test');
      const id = await newStored({ fields: { order_no: '4711' } });
      const deadline = Date.now() + 30_000;
      while (!received.some((d) => d.id === id)) {
        assert.ok(Date.now() < deadline, 'webhook never delivered');
        await new Promise((r) => setTimeout(r, 200));
      }
      assert.ok(w.hookRequests() >= 2, 'a failed delivery was retried');
      // At-least-once: the retry carries the same key as the refused attempt, so a receiver can drop it.
      const key = `${id}:recording.stored`;
      assert.deepEqual(
        w.hookKeys.slice(0, 2),
        [key, key],
        'Idempotency-Key on each POST, the same on the retry',
      );
      const rec = (await db.recordings.get(id))!;
      const doc = received.find((d) => d.id === id)!;
      assert.deepEqual(
        doc.files.map((f) => f.sha256Cipher).sort(),
        rec.files.map((f) => f.sha256Cipher).sort(),
      );
      assert.deepEqual(doc.fields, { order_no: '4711' }, 'the custom field values travel with the document');
      let script: { id: string; event: string; participants: unknown[]; fields: unknown } | undefined;
      while (!script) {
        assert.ok(Date.now() < deadline, 'hook script never ran');
        script = await readFile(join(hookOut, `${id}.json`), 'utf8')
          .then((t) => JSON.parse(t) as typeof script)
          .catch(() => undefined);
        if (!script) await new Promise((r) => setTimeout(r, 200));
      }
      assert.equal(script.event, 'recording.stored');
      assert.equal(script.participants.length, 2);
      assert.deepEqual(script.fields, { order_no: '4711' });
    },
  );

  it(
    'keys: generate, new jobs use the active key, get by file key, retire --reencrypt killed and resumed',
    { timeout: 300_000 },
    async () => {
      const old = (await db.keys.active())!.fingerprint;
      const before = [];
      for (let i = 0; i < 6; i++) before.push(await newStored({ hz: 900 }));
      const gen = await srs('keys', 'generate', '--type', 'curve25519');
      assert.equal(gen.code, 0, gen.stderr);
      const fresh = gen.stdout.trim();
      assert.match(fresh, /^[0-9A-F]{40}$/);
      assert.equal((await db.keys.active())?.fingerprint, fresh);
      assert.equal((await stat(join(dataDir, 'keys', `${fresh}.private.asc`))).mode & 0o777, 0o600);
      // The running pipeline picks the new key for its next job: no restart.
      const after = await newStored({ hz: 1100 });
      assert.ok((await db.recordings.get(after))!.files.every((f) => f.keyFingerprint === fresh));
      // `get` picks the key from the file: old and new recordings both decrypt.
      for (const id of [before[0]!, after]) {
        const out = join(dataDir, `${id}.wav`);
        const g = await srs('recordings', 'get', id, '--format', 'wav', '--out', out);
        assert.equal(g.code, 0, g.stderr);
        await rm(out);
      }
      const list = await srs('keys', 'list', '--json');
      const keys = JSON.parse(list.stdout) as { fingerprint: string; active: boolean; files: number }[];
      assert.equal(keys.find((k) => k.fingerprint === fresh)?.active, true);
      assert.ok((keys.find((k) => k.fingerprint === old)?.files ?? 0) >= 12);
      // Refusals are clear.
      const r1 = await srs('keys', 'retire', fresh);
      assert.equal(r1.code, 1);
      assert.match(r1.stderr, /is the active key/);
      const r2 = await srs('keys', 'activate', 'nothex');
      assert.equal(r2.code, 2);

      const underOld = (await db.keys.filesUnder(old)).length;
      // Killed (kill -9 by the test-only hook) after writing the first new file, before its commit;
      // then after the first commit, before the old file is removed; then run to the end.
      for (const step of ['reencrypt-written', 'reencrypt-committed']) {
        const killed = await run(process.execPath, [SRS_BIN, 'keys', 'retire', old, '--reencrypt'], {
          env: { ...env, SRS_TEST_CRASH_AFTER_STEP: step },
        });
        assert.equal(killed.code, null, `killed after ${step}: ${killed.stderr}`);
      }
      const second = await srs('keys', 'retire', old, '--reencrypt');
      assert.equal(second.code, 0, second.stderr);
      assert.match(second.stdout, /re-encrypted \d+ file\(s\) \(1 done by an earlier run\)/);
      assert.equal((await db.keys.filesUnder(old)).length, 0);
      const audits = await db.pool.query(
        `SELECT count(*)::int AS n, count(DISTINCT resource_id || (details->>'kind'))::int AS d
       FROM audit WHERE action = 'key.reencrypt' AND details->>'fromKey' = $1`,
        [old],
      );
      assert.equal(audits.rows[0].n, underOld, 'each file re-encrypted exactly once');
      assert.equal(audits.rows[0].d, underOld);
      // Nothing left of the old ciphertexts: one file per catalogue row on disk.
      const onDisk = (await readdir(join(dataDir, 'recordings'), { recursive: true })).filter((f) =>
        f.endsWith('.gpg'),
      );
      const rows = await db.pool.query(
        `SELECT count(*)::int AS n FROM files f JOIN recordings r ON r.id = f.recording_id WHERE r.state = 'stored'`,
      );
      assert.equal(onDisk.length, rows.rows[0].n);
      const v = await srs('recordings', 'verify', '--all');
      assert.doesNotMatch(v.stdout, new RegExp(before[0]!));
      // Real gpg opens a re-encrypted file with the new key.
      const wav = (await db.recordings.get(before[1]!))!.files.find((f) => f.kind === 'wav')!;
      assert.equal(wav.keyFingerprint, fresh);
      const plain = await gpgDecrypt(
        join(dataDir, 'keys', `${fresh}.private.asc`),
        PASS,
        join(dataDir, wav.path),
      );
      assert.equal(sha(plain), wav.sha256Plain);
      const l2 = JSON.parse((await srs('keys', 'list', '--json')).stdout) as {
        fingerprint: string;
        retiredAt: string | null;
      }[];
      assert.ok(l2.find((k) => k.fingerprint === old)?.retiredAt);
      // `generate` defaults to RSA 4096; --no-activate leaves the active key alone.
      const rsa = await srs('keys', 'generate', '--no-activate');
      assert.equal(rsa.code, 0, rsa.stderr);
      const rsaFp = rsa.stdout.trim();
      const rsaKey = await db.keys.get(rsaFp);
      assert.equal(rsaKey?.algorithm, 'rsa4096');
      assert.equal(rsaKey?.active, false);
      assert.equal((await db.keys.active())?.fingerprint, fresh);
      const act = await srs('keys', 'activate', old);
      assert.equal(act.code, 1);
      assert.match(act.stderr, /retired/);
    },
  );

  it('retention: default, per-group override and preservation; tombstone, wiped files, audit', async () => {
    const days = (n: number) => new Date(Date.now() - n * 86_400_000);
    const oldPlain = await newStored({ startedAt: days(3) });
    const oldPreserved = await newStored({ startedAt: days(3) });
    const oldVip = await newStored({ startedAt: days(3), aor: 'sip:777@pbx' });
    const recent = await newStored({ startedAt: new Date(Date.now() - 3_600_000) });
    await db.pool.query(
      `UPDATE recordings SET preserved_at = now(), preserved_by = 'sup', preserved_rank = 3 WHERE id = $1`,
      [oldPreserved],
    );
    await db.pool.query(`INSERT INTO user_groups (name) VALUES ('vip')`);
    await db.pool.query(
      `INSERT INTO users (id, username, role, group_name, numbers) VALUES ($1, 'vipagent', 'user', 'vip', '{777}')`,
      [randomUUID()],
    );
    const files = (await db.recordings.get(oldPlain))!.files;
    const r = await purgeOnce({
      retention: db.retention,
      policy: { default: '2d', groups: { vip: 'keep' } },
      dataDir,
      log,
    });
    assert.deepEqual(r.purged, [oldPlain]);
    const tomb = (await db.recordings.get(oldPlain))!;
    assert.equal(tomb.state, 'purged');
    assert.equal(tomb.files.length, 2, 'tombstone keeps the file hashes');
    for (const f of files) await assert.rejects(stat(join(dataDir, f.path)), { code: 'ENOENT' });
    for (const id of [oldPreserved, oldVip, recent])
      assert.equal((await db.recordings.get(id))!.state, 'stored');
    const a = await db.pool.query(
      `SELECT count(*)::int AS n FROM audit WHERE action = 'retention.purge' AND resource_id = $1`,
      [oldPlain],
    );
    assert.equal(a.rows[0].n, 1);
    // Hours: the one-hour-old recording goes under a 1h policy; the preserved one never does.
    const h = await purgeOnce({
      retention: db.retention,
      policy: { default: '1h', groups: { vip: 'keep' } },
      dataDir,
      log,
    });
    assert.ok(h.purged.includes(recent));
    assert.ok(!h.purged.includes(oldPreserved) && !h.purged.includes(oldVip));
    // The chain still verifies with tombstones in it.
    const v = await srs('recordings', 'verify', '--all', '--json');
    const rep = JSON.parse(v.stdout) as { problems: { code: string; recordingId: string }[] };
    assert.ok(!rep.problems.some((p) => p.recordingId === oldPlain || p.recordingId === recent), v.stdout);
  });

  /** A second node purging every second (it also takes finalize jobs). */
  const retentionNode = async (configured: RetentionPolicy, retentionNow?: () => RetentionPolicy) =>
    startPipeline({
      db,
      mixer: new ToneMixer(),
      dataDir,
      log,
      concurrency: 1,
      mp3: { bitrateKbps: 32, sampleRate: 8000 },
      key: await db.keys
        .active()
        .then((k) => ({ fingerprint: k!.fingerprint, publicKeyArmored: k!.publicKey! })),
      retryDelaySeconds: 1,
      pollingIntervalSeconds: 0.5,
      retention: { ...configured, intervalSeconds: 1 },
      ...(retentionNow ? { retentionNow } : {}),
    });

  it(
    'each purge pass takes the retention policy in force then (changed at run time)',
    { timeout: 60_000 },
    async () => {
      const due = await newStored({ startedAt: new Date(Date.now() - 3 * 3_600_000) });
      let policy: RetentionPolicy = { default: 'keep', groups: {} };
      // As configured: keep; what an admin saves is what retentionNow answers.
      const node = await retentionNode({ default: 'keep', groups: {} }, () => policy);
      try {
        await new Promise((r) => setTimeout(r, 2500));
        assert.equal((await db.recordings.get(due))!.state, 'stored', 'kept while the policy is keep');
        policy = { default: '2h', groups: {} };
        const deadline = Date.now() + 30_000;
        while ((await db.recordings.get(due))!.state !== 'purged') {
          assert.ok(Date.now() < deadline, 'the changed policy was never applied');
          await new Promise((r) => setTimeout(r, 250));
        }
      } finally {
        await node.stop();
      }
    },
  );

  it('retention runs on its own every interval in a running pipeline', { timeout: 60_000 }, async () => {
    const due = await newStored({ startedAt: new Date(Date.now() - 3 * 3_600_000) });
    const young = await newStored({ startedAt: new Date() });
    const files = (await db.recordings.get(due))!.files;
    // A second node with retention on, purging every second; it also takes finalize jobs.
    const node = await retentionNode({ default: '2h', groups: { vip: 'keep' } });
    try {
      const deadline = Date.now() + 30_000;
      const gone = async () =>
        (
          await Promise.all(
            files.map((f) =>
              stat(join(dataDir, f.path)).then(
                () => false,
                () => true,
              ),
            ),
          )
        ).every(Boolean);
      // The row turns `purged` first (one transaction), then the files are wiped.
      while ((await db.recordings.get(due))!.state !== 'purged' || !(await gone())) {
        assert.ok(Date.now() < deadline, 'the periodic purge never ran');
        await new Promise((r) => setTimeout(r, 250));
      }
    } finally {
      await node.stop();
    }
    for (const f of files) await assert.rejects(stat(join(dataDir, f.path)), { code: 'ENOENT' });
    assert.equal((await db.recordings.get(young))!.state, 'stored');
    const a = await db.pool.query(
      `SELECT actor, details FROM audit WHERE action = 'retention.purge' AND resource_id = $1`,
      [due],
    );
    assert.equal(a.rows.length, 1);
  });
});
