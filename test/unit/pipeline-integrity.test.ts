/**
 * Issue 5 beyond the happy path, on a real embedded Postgres, real ffmpeg, real gpg and the real
 * `srs` CLI: verification (tampered, missing, substituted files, removed or reordered chain
 * entries), key rotation (active key read per job, `get` by the file's key, retire --reencrypt
 * killed mid-way and resumed), user hooks (real HTTP server, real script, retried), retention.
 */
import assert from 'node:assert/strict';
import { createHash, randomUUID } from 'node:crypto';
import {
  chmod,
  copyFile,
  mkdir,
  mkdtemp,
  readdir,
  readFile,
  rm,
  stat,
  unlink,
  writeFile,
} from 'node:fs/promises';
import { createServer, type Server } from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { createLogger } from '../../src/log.js';
import { ulawWavHeader } from '../../src/media/reference/index.js';
import type { MixOptions, MixResult } from '../../src/media/types.js';
import { startPipeline, purgeOnce, type Pipeline } from '../../src/pipeline/index.js';
import { ensureKeyPair } from '../../src/pipeline/keys.js';
import { openDatabase, type Database } from '../../src/store/db.js';
import { encodeUlaw, tone } from '../helpers/audio.js';
import { gpgDecrypt } from '../helpers/gpg.js';
import { SRS_BIN, run } from '../helpers/server.js';

const log = createLogger('silent');
const sha = (b: Uint8Array) => createHash('sha256').update(b).digest('hex');
const PASS = 'integrity-test-passphrase';

class ToneMixer {
  async mix(o: MixOptions): Promise<MixResult> {
    const hz = Number(await readFile(join(o.spoolDir, 'hz'), 'utf8'));
    const u = encodeUlaw(tone(hz, 4000, 8000));
    const wav = Buffer.concat([ulawWavHeader(u.length), u]);
    const r = { samples: u.length, durationMs: 4000, legs: 1 };
    if (!o.wavPath) return { ...r, data: wav };
    await writeFile(o.wavPath, wav);
    return { ...r, wavPath: o.wavPath };
  }
}

describe('pipeline integrity: verify, keys, hooks, retention', () => {
  let dataDir: string;
  let db: Database;
  let pipeline: Pipeline;
  let hookServer: Server;
  let env: Record<string, string>;
  const received: { id: string; files: { sha256Cipher: string }[] }[] = [];
  let hookRequests = 0;
  let hookOut: string;

  const newStored = async (o: { hz?: number; startedAt?: Date; aor?: string } = {}): Promise<string> => {
    const id = randomUUID();
    await db.recordings.create({
      id,
      sessionId: `s-${id.slice(0, 6)}`,
      callId: `c-${id}@pbx`,
      srcAddress: '192.0.2.9:5060',
      startedAt: o.startedAt ?? new Date(),
      participants: [
        { participantId: 'a', aor: o.aor ?? 'sip:1001@pbx', name: 'Alice', sendsLabels: ['1'] },
        { participantId: 'b', aor: 'tel:+4930123', name: 'Bob', sendsLabels: ['2'] },
      ],
      streams: [{ label: '1', streamId: 's1', legId: 'leg0', codec: 'PCMU', port: 20000 }],
      metadataXml: null,
    });
    await db.recordings.markEnded(id, new Date(), 4000, null);
    const spool = join(dataDir, 'spool', id);
    await mkdir(spool, { recursive: true });
    await writeFile(join(spool, 'hz'), String(o.hz ?? 700));
    await pipeline.enqueueFinalize(id);
    await pipeline.idle();
    assert.equal((await db.recordings.get(id))?.state, 'stored');
    return id;
  };
  const srs = (...args: string[]) => run(process.execPath, [SRS_BIN, ...args], { env });
  /** What an attacker with the database superuser can do: bypass the append-only triggers. */
  const tamper = async (sql: string, params: unknown[] = []) => {
    const c = await db.pool.connect();
    try {
      await c.query('SET session_replication_role = replica');
      await c.query(sql, params);
    } finally {
      await c.query('RESET session_replication_role');
      c.release();
    }
  };

  before(async () => {
    dataDir = await mkdtemp(join(tmpdir(), 'srs-integrity-'));
    db = await openDatabase({ dataDir, log });
    const key = await ensureKeyPair({ keysDir: join(dataDir, 'keys'), passphrase: PASS, log, db });
    hookServer = createServer((req, res) => {
      let body = '';
      req.on('data', (d: Buffer) => (body += d.toString()));
      req.on('end', () => {
        hookRequests++;
        if (hookRequests === 1) {
          res.writeHead(500).end('try again'); // the first delivery fails and must be retried
          return;
        }
        received.push(JSON.parse(body) as (typeof received)[number]);
        res.writeHead(204).end();
      });
    });
    await new Promise<void>((r) => hookServer.listen(0, '127.0.0.1', r));
    const port = (hookServer.address() as { port: number }).port;
    hookOut = join(dataDir, 'hook-out');
    await mkdir(hookOut);
    const script = join(dataDir, 'hook.sh');
    await writeFile(script, `#!/bin/sh\ncat > "${hookOut}/$SRS_RECORDING_ID.json"\n`);
    await chmod(script, 0o755);
    pipeline = await startPipeline({
      db,
      mixer: new ToneMixer(),
      dataDir,
      log,
      concurrency: 2,
      mp3: { bitrateKbps: 32, sampleRate: 8000 },
      key: { fingerprint: key.fingerprint, publicKeyArmored: key.publicKeyArmored },
      retryDelaySeconds: 1,
      pollingIntervalSeconds: 0.5,
      hooks: { url: `http://127.0.0.1:${port}/hook`, command: script, timeoutSeconds: 5 },
    });
    env = {
      ...(process.env as Record<string, string>),
      SRS_DATA_DIR: dataDir,
      SRS_KEY_PASSPHRASE: PASS,
      LOG_LEVEL: 'silent',
    };
    delete env.DATABASE_URL;
  });

  after(async () => {
    await pipeline?.stop();
    await new Promise<void>((r) => hookServer?.close(() => r()));
    await db?.close();
    await rm(dataDir, { recursive: true, force: true });
  });

  it('verify finds changed, missing and substituted files and removed or reordered recordings', async () => {
    const ids: string[] = [];
    for (let i = 0; i < 5; i++) ids.push(await newStored({ hz: 500 + 100 * i }));
    const paths = await db.pool.query<{ path: string }>(
      'SELECT path FROM files WHERE recording_id = ANY($1::uuid[])',
      [ids],
    );
    const ok = await srs('recordings', 'verify', '--all');
    assert.equal(ok.code, 0, ok.stderr);
    assert.match(ok.stdout, /verified 5 recording\(s\), 10 file\(s\).*all good/);
    const parties = await db.pool.query(
      'SELECT caller_number, callee_number, caller_name, stored_at FROM recordings WHERE id = $1',
      [ids[0]],
    );
    assert.equal(parties.rows[0].caller_number, '1001');
    assert.equal(parties.rows[0].callee_number, '+4930123');

    const fileOf = async (id: string, kind: string) =>
      join(dataDir, (await db.recordings.get(id))!.files.find((f) => f.kind === kind)!.path);
    // Changed: one byte flipped.
    const changed = await fileOf(ids[0]!, 'mp3');
    const buf = await readFile(changed);
    buf.writeUInt8(buf.readUInt8(buf.length >> 1) ^ 0xff, buf.length >> 1);
    await writeFile(changed, buf);
    // Missing.
    await unlink(await fileOf(ids[1]!, 'wav'));
    // Substituted: another recording's (valid, decryptable) file copied over this one.
    await copyFile(await fileOf(ids[3]!, 'wav'), await fileOf(ids[2]!, 'wav'));

    const one = await srs('recordings', 'verify', ids[0]!);
    assert.equal(one.code, 3);
    assert.match(one.stdout, /^CHANGED\s.*mp3 file .* does not match/m);
    const all = await srs('recordings', 'verify', '--all');
    assert.equal(all.code, 3);
    assert.match(all.stdout, new RegExp(`^MISSING\\s+${ids[1]}\\s+wav file .* is missing`, 'm'));
    assert.match(
      all.stdout,
      new RegExp(`^SUBSTITUTED\\s+${ids[2]}\\s+wav file .* holds the wav of recording ${ids[3]}`, 'm'),
    );
    assert.match(all.stdout, /3 PROBLEM\(S\)/);

    const swap = async (d: string) => {
      await tamper(`UPDATE recording_chain SET seq = -1 WHERE day = $1 AND seq = 1`, [d]);
      await tamper(`UPDATE recording_chain SET seq = 1 WHERE day = $1 AND seq = 2`, [d]);
      await tamper(`UPDATE recording_chain SET seq = 2 WHERE day = $1 AND seq = -1`, [d]);
    };
    // A recording removed from the catalogue (its chain entry stays) and two entries reordered.
    await db.pool.query('DELETE FROM recordings WHERE id = $1', [ids[4]]);
    const day = new Date().toISOString().slice(0, 10);
    await swap(day);
    const chain = await srs('recordings', 'verify', '--all', '--json');
    assert.equal(chain.code, 3);
    const report = JSON.parse(chain.stdout) as {
      problems: { code: string; recordingId: string; detail: string }[];
    };
    const chainProblems = report.problems.filter((p) => p.code === 'CHAIN');
    assert.ok(
      chainProblems.some((p) => p.recordingId === ids[4] && /removed from the catalogue/.test(p.detail)),
    );
    assert.ok(
      chainProblems.some((p) => /chain broken/.test(p.detail)),
      JSON.stringify(chainProblems),
    );

    // Usage errors are told apart from findings.
    const bad = await srs('recordings', 'verify');
    assert.equal(bad.code, 2);
    assert.match(bad.stderr, /give a recording id or --all/);
    // Put the day back in order for the tests that follow.
    await swap(day);
    await tamper('DELETE FROM recording_chain WHERE recording_id = ANY($1::uuid[])', [ids]);
    for (const p of paths.rows) await rm(join(dataDir, p.path), { force: true });
    await db.pool.query('DELETE FROM recordings WHERE id = ANY($1::uuid[])', [ids]);
  });

  it('verify finds the last entries of a day removed together with their recordings', async () => {
    const day = '2021-06-01';
    const first = await newStored({ hz: 600, startedAt: new Date(`${day}T10:00:00Z`) });
    const last = await newStored({ hz: 800, startedAt: new Date(`${day}T10:05:00Z`) });
    const files = (
      await db.pool.query<{ path: string }>('SELECT path FROM files WHERE recording_id = ANY($1::uuid[])', [
        [first, last],
      ])
    ).rows;
    const clean = JSON.parse((await srs('recordings', 'verify', first, '--json')).stdout) as {
      problems: unknown[];
    };
    assert.deepEqual(clean.problems, []);
    // The chain itself refuses edits and deletions...
    await assert.rejects(
      db.pool.query('DELETE FROM recording_chain WHERE recording_id = $1', [last]),
      /append-only/,
    );
    // ...so a superuser removes the day's last entry and its recording behind the triggers' back.
    await tamper('DELETE FROM recording_chain WHERE recording_id = $1', [last]);
    await tamper('DELETE FROM recordings WHERE id = $1', [last]);
    const v = await srs('recordings', 'verify', first, '--json');
    assert.equal(v.code, 3, v.stdout);
    const rep = JSON.parse(v.stdout) as { problems: { code: string; detail: string }[] };
    assert.ok(
      rep.problems.some(
        (p) => p.code === 'CHAIN' && /ends at entry 1 but audit row \d+ anchored entry 2/.test(p.detail),
      ),
      v.stdout,
    );
    // An entry slipped in behind the triggers' back has no anchor and is named too.
    await tamper(
      `INSERT INTO recording_chain (day, seq, recording_id, content, prev_hash, hash)
       SELECT day, 2, gen_random_uuid(), 'forged', hash, 'x' FROM recording_chain WHERE recording_id = $1`,
      [first],
    );
    await tamper(
      `INSERT INTO recording_chain (day, seq, recording_id, content, prev_hash, hash)
       SELECT day, 3, gen_random_uuid(), 'forged', 'x', 'y' FROM recording_chain WHERE recording_id = $1`,
      [first],
    );
    const v2 = JSON.parse((await srs('recordings', 'verify', first, '--json')).stdout) as {
      problems: { detail: string }[];
    };
    assert.ok(
      v2.problems.some((p) => /entries were replaced/.test(p.detail)),
      JSON.stringify(v2.problems),
    );
    // Leave nothing of this day for the tests that follow.
    await tamper(`DELETE FROM recording_chain WHERE day = $1`, [day]);
    await db.pool.query('DELETE FROM recordings WHERE id = $1', [first]);
    for (const f of files) await rm(join(dataDir, f.path), { force: true });
  });

  it(
    'hooks: the webhook (retried after a 500) and the script receive the document',
    { timeout: 60_000 },
    async () => {
      const id = await newStored();
      const deadline = Date.now() + 30_000;
      while (!received.some((d) => d.id === id)) {
        assert.ok(Date.now() < deadline, 'webhook never delivered');
        await new Promise((r) => setTimeout(r, 200));
      }
      assert.ok(hookRequests >= 2, 'a failed delivery was retried');
      const rec = (await db.recordings.get(id))!;
      const doc = received.find((d) => d.id === id)!;
      assert.deepEqual(
        doc.files.map((f) => f.sha256Cipher).sort(),
        rec.files.map((f) => f.sha256Cipher).sort(),
      );
      let script: { id: string; event: string; participants: unknown[] } | undefined;
      while (!script) {
        assert.ok(Date.now() < deadline, 'hook script never ran');
        script = await readFile(join(hookOut, `${id}.json`), 'utf8')
          .then((t) => JSON.parse(t) as typeof script)
          .catch(() => undefined);
        if (!script) await new Promise((r) => setTimeout(r, 200));
      }
      assert.equal(script.event, 'recording.stored');
      assert.equal(script.participants.length, 2);
    },
  );

  it(
    'keys: generate, new jobs use the active key, get by file key, retire --reencrypt killed and resumed',
    { timeout: 120_000 },
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

  it('retention runs on its own every interval in a running pipeline', { timeout: 60_000 }, async () => {
    const due = await newStored({ startedAt: new Date(Date.now() - 3 * 3_600_000) });
    const young = await newStored({ startedAt: new Date() });
    const files = (await db.recordings.get(due))!.files;
    // A second node with retention on, purging every second; it also takes finalize jobs.
    const node = await startPipeline({
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
      retention: { default: '2h', groups: { vip: 'keep' }, intervalSeconds: 1 },
    });
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
