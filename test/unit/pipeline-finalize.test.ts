import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { createHash, randomUUID } from 'node:crypto';
import { mkdir, mkdtemp, readFile, readdir, rm, stat, writeFile } from 'node:fs/promises';
import { tmpdir, userInfo } from 'node:os';
import { join, resolve } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { promisify } from 'node:util';
import { createLogger } from '../../src/log.js';
import { finalizeRecording, type FinalizeContext, type FinalizeStep } from '../../src/pipeline/finalize.js';
import { startPipeline } from '../../src/pipeline/index.js';
import { ensureKeyPair, KeyPassphraseError, loadPrivateKey } from '../../src/pipeline/keys.js';
import { openDatabase, type Database } from '../../src/store/db.js';
import { toneWav } from '../helpers/audio.js';
import { filesUnder, TestMixer } from '../helpers/pipeline-probes.js';
import { seedDataDir } from '../helpers/pg-template.js';

const run = promisify(execFile);
const log = createLogger('silent');
const sha = (b: Uint8Array) => createHash('sha256').update(b).digest('hex');

describe('pipeline: finalize, encrypt, catalogue, wipe', () => {
  let dataDir: string;
  let gnupgHome: string;
  let db: Database;
  let passphrase: string;
  let fingerprint: string;
  let publicKeyArmored: string;
  const original = toneWav(1000);
  const mp3 = { bitrateKbps: 32, sampleRate: 8000 };

  const newRecording = async (startedAt = new Date('2024-02-29T23:59:58Z')) => {
    const id = randomUUID();
    await db.recordings.create({
      id,
      sessionId: 'sess-' + id.slice(0, 4),
      callId: `call-${id}@pbx`,
      srcAddress: '192.0.2.1:5060',
      startedAt,
      participants: [
        { participantId: 'p1', aor: 'sip:alice@example.com', name: 'Alice', sendsLabels: ['1'] },
      ],
      streams: [{ label: '1', streamId: 's1', legId: 'leg0', codec: 'PCMU', port: 20000 }],
      metadataXml: null,
    });
    const spool = join(dataDir, 'spool', id);
    await mkdir(spool, { recursive: true });
    await writeFile(join(spool, 'leg0.spool'), Buffer.alloc(4000, 0x55)); // plaintext audio too
    return id;
  };

  const gpgDecrypt = async (file: string): Promise<Buffer> => {
    const { stdout } = await run(
      'gpg',
      [
        '--homedir',
        gnupgHome,
        '--batch',
        '--pinentry-mode',
        'loopback',
        `--passphrase=${passphrase}`,
        '--decrypt',
        file,
      ],
      { encoding: 'buffer', maxBuffer: 64 << 20 },
    );
    return stdout;
  };

  /** Checks a stored recording end to end: rows, hashes, gpg decryption, no plaintext left. */
  const checkStored = async (id: string, useGpg: boolean) => {
    const row = await db.recordings.get(id);
    assert.ok(row);
    assert.equal(row.state, 'stored');
    assert.equal(row.error, null);
    assert.deepEqual(row.files.map((f) => f.kind).sort(), ['mp3', 'wav']);
    const n = await db.pool.query('SELECT count(*)::int AS n FROM files WHERE recording_id = $1', [id]);
    assert.equal(n.rows[0].n, 2);
    for (const f of row.files) {
      assert.equal(f.path, `recordings/2024/02/29/${id}.${f.kind}.gpg`);
      assert.equal(f.keyFingerprint, fingerprint);
      const cipher = await readFile(join(dataDir, f.path));
      assert.equal(cipher.length, f.bytes);
      assert.equal(sha(cipher), f.sha256Cipher);
      if (useGpg) {
        const plain = await gpgDecrypt(join(dataDir, f.path));
        assert.equal(sha(plain), f.sha256Plain);
        if (f.kind === 'wav') assert.ok(plain.equals(original), 'decrypted WAV equals the mixer output');
        else
          assert.ok(plain.length > 1000 && (plain.subarray(0, 3).toString() === 'ID3' || plain[0] === 0xff));
      }
    }
    assert.equal(row.files.find((f) => f.kind === 'wav')?.sha256Plain, sha(original));
    await assert.rejects(stat(join(dataDir, 'spool', id)), { code: 'ENOENT' });
  };

  before(async () => {
    dataDir = await mkdtemp(join(tmpdir(), 'srs-pipeline-'));
    await seedDataDir(dataDir);
    gnupgHome = await mkdtemp(join(tmpdir(), 'srs-gnupg-'));
    db = await openDatabase({ dataDir, log });
    const k = await ensureKeyPair({ keysDir: join(dataDir, 'keys'), log, db });
    assert.ok(k.generatedPassphrase);
    passphrase = k.generatedPassphrase;
    fingerprint = k.fingerprint;
    publicKeyArmored = k.publicKeyArmored;
    await run('gpg', [
      '--homedir',
      gnupgHome,
      '--batch',
      '--pinentry-mode',
      'loopback',
      `--passphrase=${passphrase}`,
      '--import',
      join(dataDir, 'keys', 'private.asc'),
    ]);
  });

  after(async () => {
    await db?.close();
    await rm(dataDir, { recursive: true, force: true });
    await rm(gnupgHome, { recursive: true, force: true });
  });

  it('keeps one key pair, private key protected and 0600, passphrase never on disk', async () => {
    const again = await ensureKeyPair({ keysDir: join(dataDir, 'keys'), log, db, passphrase: 'ignored' });
    assert.equal(again.fingerprint, fingerprint);
    assert.equal(again.generatedPassphrase, undefined);
    assert.equal((await stat(join(dataDir, 'keys', 'private.asc'))).mode & 0o777, 0o600);
    for (const f of await readdir(join(dataDir, 'keys'))) {
      assert.ok(!(await readFile(join(dataDir, 'keys', f), 'utf8')).includes(passphrase));
    }
    assert.equal((await db.keys.active())?.fingerprint, fingerprint);
    await assert.rejects(loadPrivateKey(join(dataDir, 'keys'), fingerprint, 'wrong'), KeyPassphraseError);
    const key = await loadPrivateKey(join(dataDir, 'keys'), fingerprint, passphrase);
    assert.ok(key.isDecrypted());
    const { stdout } = await run('gpg', [
      '--homedir',
      gnupgHome,
      '--batch',
      '--with-colons',
      '--list-secret-keys',
    ]);
    assert.match(stdout, new RegExp(fingerprint));
  });

  it('generates an rsa4096 key when asked', { timeout: 60_000 }, async () => {
    const dir = join(dataDir, 'keys-rsa');
    const k = await ensureKeyPair({ keysDir: dir, log, type: 'rsa4096', passphrase: 'pw' });
    assert.equal(k.generatedPassphrase, undefined);
    const key = await loadPrivateKey(dir, undefined, 'pw');
    assert.equal((key.getAlgorithmInfo() as { bits?: number }).bits, 4096);
    await rm(dir, { recursive: true });
  });

  it('runs the job: MP3 by libmp3lame, both files decryptable by gpg, hashes catalogued, no plaintext left', async () => {
    const mixer = new TestMixer(original);
    const pipeline = await startPipeline({
      db,
      mixer,
      dataDir,
      log,
      concurrency: 2,
      mp3,
      key: { fingerprint, publicKeyArmored },
      pollingIntervalSeconds: 0.5,
    });
    try {
      const id = await newRecording();
      await pipeline.enqueueFinalize(id);
      await pipeline.enqueueFinalize(id); // queued once
      await pipeline.idle();
      assert.equal(mixer.calls, 1);
      await checkStored(id, true);
      const jobs = await db.pool.query(`SELECT count(*)::int AS n FROM pgboss.job WHERE id = $1`, [id]);
      assert.equal(jobs.rows[0].n, 1);
      for (const f of await filesUnder(dataDir)) assert.match(f, /\.gpg$/, `plaintext left: ${f}`);
    } finally {
      await pipeline.stop();
      await pipeline.stop();
    }
  });

  /** What the pipeline gives finalizeRecording, with this mixer. */
  const finalizeContext = (mixer: TestMixer): FinalizeContext => ({
    recordings: db.recordings,
    chain: db.chain,
    mixer,
    dataDir,
    log,
    mp3,
    key: { fingerprint, publicKeyArmored },
  });

  it('mixes a recording too long for memory into its spool, encrypts from that file, and wipes it', async () => {
    const id = await newRecording();
    const mixer = new TestMixer(original);
    const ctx = { ...finalizeContext(mixer), inMemoryMaxBytes: 0 };
    assert.equal(await finalizeRecording(ctx, id), 'stored');
    assert.equal(mixer.toFile, 1, 'mixed into a file');
    await checkStored(id, true);
    for (const f of await filesUnder(dataDir))
      assert.match(f, /\.gpg$/, `plaintext or temporary file left: ${f}`);
  });

  // A long recording's attempt writes <attempt>.mix.wav and <attempt>.mix.mp3 (plaintext) into its
  // spool, and a retry uses new names: a failed attempt wipes its own, so they do not pile up.
  for (const failure of ['encryption', 'catalogue'] as const) {
    it(`an attempt failing after the encode (${failure}) wipes its own mix and MP3 from the spool`, async () => {
      const id = await newRecording();
      const mixer = new TestMixer(original);
      const ctx = { ...finalizeContext(mixer), inMemoryMaxBytes: 0 };
      const spool = join(dataDir, 'spool', id);
      const chain = Object.assign(Object.create(db.chain) as typeof db.chain, {
        markStoredChained: () => Promise.reject(new Error('the catalogue is away')),
      });
      const failing =
        failure === 'catalogue'
          ? { ...ctx, chain }
          : {
              ...ctx,
              afterStep: (s: FinalizeStep) => {
                if (s === 'mp3') throw new Error('the encryption failed');
              },
            };
      for (let i = 0; i < 2; i++) {
        await assert.rejects(
          finalizeRecording(failing, id),
          failure === 'catalogue' ? /the catalogue is away/ : /the encryption failed/,
        );
        assert.deepEqual(await readdir(spool), ['leg0.spool'], `after failed attempt ${i + 1}`);
      }
      assert.equal(mixer.toFile, 2, 'each attempt mixed into a file');
      assert.equal(await finalizeRecording(ctx, id), 'stored');
      await checkStored(id, true);
      for (const f of await filesUnder(dataDir))
        assert.match(f, /\.gpg$/, `plaintext or temporary file left: ${f}`);
    });
  }

  for (const crashAt of ['mixed', 'mp3', 'encrypted-mp3', 'encrypted-wav', 'stored'] as FinalizeStep[]) {
    it(`completes exactly once after a crash at "${crashAt}"`, async () => {
      const id = await newRecording();
      const mixer = new TestMixer(original);
      const ctx = finalizeContext(mixer);
      await assert.rejects(
        finalizeRecording(
          {
            ...ctx,
            afterStep: (s) => {
              if (s === crashAt) throw new Error('crash');
            },
          },
          id,
        ),
        /crash/,
      );
      const outcome = await finalizeRecording(ctx, id);
      assert.equal(outcome, crashAt === 'stored' ? 'already-stored' : 'stored');
      assert.equal(await finalizeRecording(ctx, id), 'already-stored');
      // Mixed again by the retry when the crash came before the commit (nothing plaintext was kept).
      assert.equal(mixer.calls, crashAt === 'stored' ? 1 : 2);
      await checkStored(id, false);
      const chained = await db.pool.query(
        'SELECT count(*)::int AS n FROM recording_chain WHERE recording_id = $1',
        [id],
      );
      assert.equal(chained.rows[0].n, 1, 'chained once');
      for (const f of await filesUnder(dataDir))
        assert.match(f, /\.gpg$/, `plaintext or temporary file left: ${f}`);
    });
  }

  it('a job queued before a stop is finished by the next pipeline; failures end in markFailed', async () => {
    const mixerA = new TestMixer(original);
    const common = {
      db,
      dataDir,
      log,
      mp3,
      key: { fingerprint, publicKeyArmored },
      pollingIntervalSeconds: 0.5,
    };
    const enqueueOnly = await startPipeline({ ...common, mixer: mixerA, concurrency: 0 });
    const id = await newRecording();
    await enqueueOnly.enqueueFinalize(id);
    // /metrics counts through pg-boss's public API: the one job waits, none runs.
    const waiting = await enqueueOnly.jobCounts();
    assert.equal(waiting.created, 1, JSON.stringify(waiting));
    assert.equal(waiting.active, 0, JSON.stringify(waiting));
    await enqueueOnly.stop();
    assert.equal(mixerA.calls, 0);
    assert.equal((await db.recordings.get(id))?.state, 'recording');

    const mixerB = new TestMixer(original);
    const worker = await startPipeline({ ...common, mixer: mixerB, concurrency: 1 });
    try {
      await worker.idle();
      assert.equal(mixerB.calls, 1);
      await checkStored(id, true);

      const bad = new TestMixer(original);
      bad.failWith = 'spool unreadable';
      const failing = await startPipeline({
        ...common,
        mixer: bad,
        concurrency: 1,
        retryLimit: 1,
        retryDelaySeconds: 1,
      });
      // The worker above shares the queue: stop it so the failing mixer sees the job.
      await worker.stop();
      const id2 = await newRecording();
      await failing.enqueueFinalize(id2);
      await failing.idle();
      await failing.stop();
      const row = await db.recordings.get(id2);
      assert.equal(row?.state, 'failed');
      assert.equal(row?.error, 'spool unreadable');
      assert.equal(bad.calls, 2, 'first attempt + one retry');
      const afterFailure = await failing.jobCounts();
      assert.equal(afterFailure.failed, 1, JSON.stringify(afterFailure));
      assert.equal(
        (afterFailure.created ?? 0) + (afterFailure.retry ?? 0) + (afterFailure.active ?? 0),
        0,
        JSON.stringify(afterFailure),
      );

      // Once the cause is fixed, enqueueing the failed recording again finishes it.
      const fixed = await startPipeline({ ...common, mixer: new TestMixer(original), concurrency: 1 });
      await fixed.enqueueFinalize(id2);
      await fixed.idle();
      await fixed.stop();
      await checkStored(id2, false);
    } finally {
      await worker.stop();
    }
  });

  it('srs recordings list --json and get decrypt what the pipeline stored', async () => {
    const id = (await db.recordings.list({ limit: 100 })).find((r) => r.state === 'stored')?.id;
    assert.ok(id);
    const cli = resolve('src/cli/recordings.ts');
    const script = `
      import { recordingsCommand } from ${JSON.stringify(cli)};
      import { loadConfig } from ${JSON.stringify(resolve('src/config.ts'))};
      const cmd = recordingsCommand(() => loadConfig(process.env));
      await cmd.parseAsync(process.argv.slice(1), { from: 'user' });
    `;
    const srs = (args: string[], env: Record<string, string> = {}) =>
      new Promise<{ code: number; stdout: string; stderr: string }>((res) => {
        execFile(
          process.execPath,
          ['--import', 'tsx', '--input-type=module', '-e', script, ...args],
          { env: { ...process.env, SRS_DATA_DIR: dataDir, SRS_KEY_PASSPHRASE: '', ...env } },
          (err, stdout, stderr) =>
            res({
              code: err ? ((err as { code?: number }).code ?? 1) : 0,
              stdout: String(stdout),
              stderr: String(stderr),
            }),
        );
      });

    const list = await srs(['list', '--json', '--limit', '50']);
    assert.equal(list.code, 0, list.stderr);
    const arr = JSON.parse(list.stdout) as Array<Record<string, unknown>>;
    const item = arr.find((r) => r.id === id);
    assert.ok(item);
    assert.equal(item.state, 'stored');
    assert.deepEqual(item.participants, [
      { participantId: 'p1', aor: 'sip:alice@example.com', name: 'Alice', sends: ['1'] },
    ]);
    assert.equal((item.files as unknown[]).length, 2);
    assert.equal(typeof item.startedAt, 'string');

    const text = await srs(['list']);
    assert.equal(text.code, 0);
    assert.match(text.stdout, /^ID\s+STARTED/);
    assert.ok(text.stdout.includes(id));

    const passFile = join(gnupgHome, 'pass.txt');
    await writeFile(passFile, passphrase + '\n', { mode: 0o600 });
    const out = join(gnupgHome, 'out.wav');
    const get = await srs(['get', id, '--format', 'wav', '--out', out, '--passphrase-file', passFile]);
    assert.equal(get.code, 0, get.stderr);
    assert.ok((await readFile(out)).equals(original));
    // Every access to audio is audited, the CLI's too: who (the unix user), what, in which format, where to.
    const audited = await db.audit.search({ action: 'download', resourceId: id });
    assert.equal(audited.total, 1, 'srs recordings get is audited');
    const entry = audited.items[0];
    assert.equal(entry?.actor, `cli:${userInfo().username}`);
    assert.equal(entry?.via, 'cli');
    assert.equal(entry?.resource, 'recording');
    assert.deepEqual(entry?.details, { purpose: 'download', format: 'wav', out: resolve(out) });
    // No entry, no audio: with the audit trail refusing the CLI's entries, nothing is written.
    await db.pool.query(`CREATE FUNCTION srs_test_refuse_cli() RETURNS trigger LANGUAGE plpgsql AS $$
      BEGIN IF NEW.via = 'cli' THEN RAISE EXCEPTION 'audit refused by the test'; END IF; RETURN NEW; END $$`);
    await db.pool.query(
      'CREATE TRIGGER srs_test_refuse_cli BEFORE INSERT ON audit FOR EACH ROW EXECUTE FUNCTION srs_test_refuse_cli()',
    );
    try {
      const refusedOut = join(gnupgHome, 'refused.wav');
      const refused = await srs([
        'get',
        id,
        '--format',
        'wav',
        '--out',
        refusedOut,
        '--passphrase-file',
        passFile,
      ]);
      assert.equal(refused.code, 1);
      assert.match(refused.stderr, /audit refused by the test/);
      await assert.rejects(readFile(refusedOut), { code: 'ENOENT' }, 'no file without its audit entry');
      const toStdout = await srs(['get', id, '--format', 'wav', '--out', '-', '--passphrase-file', passFile]);
      assert.equal(toStdout.code, 1);
      assert.equal(toStdout.stdout, '', 'nothing on stdout without its audit entry');
    } finally {
      await db.pool.query('DROP TRIGGER srs_test_refuse_cli ON audit');
      await db.pool.query('DROP FUNCTION srs_test_refuse_cli()');
    }

    const outMp3 = join(gnupgHome, 'out.mp3');
    const viaEnv = await srs(['get', id, '--format', 'mp3', '--out', outMp3], {
      SRS_KEY_PASSPHRASE: passphrase,
    });
    assert.equal(viaEnv.code, 0, viaEnv.stderr);
    const row = await db.recordings.get(id);
    assert.equal(sha(await readFile(outMp3)), row?.files.find((f) => f.kind === 'mp3')?.sha256Plain);

    const noPass = await srs(['get', id, '--out', join(gnupgHome, 'x')]);
    assert.equal(noPass.code, 2);
    assert.match(noPass.stderr, /^srs: a passphrase is needed/);
    assert.equal(noPass.stderr.trim().split('\n').length, 1);

    const wrong = await srs(['get', id, '--out', join(gnupgHome, 'x')], { SRS_KEY_PASSPHRASE: 'nope' });
    assert.equal(wrong.code, 2);
    assert.match(wrong.stderr, /wrong passphrase/);

    const unknown = await srs(['get', randomUUID(), '--out', join(gnupgHome, 'x')]);
    assert.equal(unknown.code, 1);
    assert.match(unknown.stderr, /^srs: recording .* not found\n$/);
  });
});
