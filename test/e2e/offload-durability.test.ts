/**
 * Offload durability (audit-durability findings 9): with purgeAfterTransfer the local copy is
 * wiped after the transfer, so every file must be on the SFTP server's disk first. OpenSSH's
 * sftp-server at DEBUG3 logs each request: the fsync of every part comes before its rename, and a
 * server that refuses fsync gets no file renamed and no recording purged. Then `srs serve` killed
 * (kill -9) right after the batch CSV is confirmed: an archive that ingests and moves CSVs does not
 * get the CSV a second time after the restart.
 */
import assert from 'node:assert/strict';
import { mkdir, readdir, readFile, rename, rm, stat, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { Decryptor } from '../../src/delivery/decrypt.js';
import { OffloadService } from '../../src/delivery/offload.js';
import {
  openDeliveryCatalogue,
  testLog as log,
  until,
  type DeliveryCatalogue,
} from '../helpers/delivery-catalogue.js';
import { startSshd, type Sshd, type StoredFixture } from '../helpers/delivery-fixtures.js';
import { sftpDest } from '../helpers/delivery-seed.js';
import { died, startTestServer, type TestServer } from '../helpers/server.js';

const PASSPHRASE = 'offload durability passphrase';
const INTERVAL = 60_000;

/** The sftp-server log's requests on one path, in order: open, fsync, close, rename-from, rename-to. */
function requestsOn(logText: string, path: string): string[] {
  const out: string[] = [];
  for (const line of logText.split('\n')) {
    const m = /^(open|fsync|close) "([^"]+)"/.exec(line);
    if (m?.[2] === path) out.push(m[1] as string);
    const r = /^rename old "([^"]+)" new "([^"]+)"/.exec(line);
    if (r?.[1] === path) out.push('rename-from');
    if (r?.[2] === path) out.push('rename-to');
  }
  return out;
}

describe('offload durability: fsync before rename, no CSV twice after a crash (real sshd, Postgres)', () => {
  let catalogue: DeliveryCatalogue;
  let decryptor: Decryptor;
  const stopAtEnd: (() => Promise<unknown>)[] = [];

  before(async () => {
    catalogue = await openDeliveryCatalogue('srs-offload-durable-', PASSPHRASE, log);
    decryptor = new Decryptor(catalogue.dataDir, PASSPHRASE);
    await catalogue.db.offload.cursor('offload');
    await new Promise((r) => setTimeout(r, 20));
    // After the cursor: the first boundary is then after it, however long the set-up took (a base
    // taken before it missed the cut when the set-up crossed a minute).
    base = Math.floor(Date.now() / INTERVAL) * INTERVAL;
  });
  after(async () => {
    for (const f of stopAtEnd.reverse()) await f().catch(() => undefined);
    await catalogue?.close();
  });

  const sshdWithLog = async (deny?: string): Promise<{ sshd: Sshd; logFile: string }> => {
    const logFile = join(catalogue.dataDir, `sftp-${deny ?? 'all'}-${Date.now()}.log`);
    await writeFile(logFile, '');
    const sshd = await startSshd({ sftpLog: logFile, deny });
    stopAtEnd.push(async () => {
      await sshd.stop();
      await rm(sshd.dir, { recursive: true, force: true });
    });
    return { sshd, logFile };
  };

  /** Each test's batch is cut at a boundary of its own, ahead of the real clock. */
  let base = 0;
  let ahead = 0;
  /** Stores `n` calls, then a service that cuts the batch holding them (`again`: the last boundary). */
  const batchOf = async (n: number, o: { sshd: Sshd; dir: string; purge: boolean }, again = false) => {
    const recs: StoredFixture[] = [];
    for (let i = 0; i < n; i++) recs.push(await catalogue.store(`10${i}`, `20${i}`, 2, 500 + 100 * i));
    if (!again) ahead++;
    const clock = base + ahead * INTERVAL + 1000;
    const svc = new OffloadService({
      repo: catalogue.db.offload,
      decryptor,
      dataDir: catalogue.dataDir,
      log,
      audio: sftpDest(o.sshd, o.sshd.port, { directory: o.dir }),
      intervalMs: INTERVAL,
      purgeAfterTransfer: o.purge,
      manifest: false,
      retryBaseMs: 1000,
      now: () => new Date(clock),
    });
    return { recs, svc };
  };

  const artifactsOf = async (id: string) =>
    (await catalogue.db.pool.query<{ path: string }>('SELECT path FROM files WHERE recording_id = $1', [id]))
      .rows;
  const stateOf = async (id: string) =>
    (await catalogue.db.pool.query<{ state: string }>('SELECT state FROM recordings WHERE id = $1', [id]))
      .rows[0]?.state;

  it('fsyncs each file on the sftp server before its rename when it purges after the transfer', async () => {
    const { sshd, logFile } = await sshdWithLog();
    const dir = join(sshd.dir, 'audio');
    await mkdir(dir);
    const { recs, svc } = await batchOf(2, { sshd, dir, purge: true });
    await svc.tick();
    const [b] = await catalogue.db.offload.listBatches(1);
    assert.equal(b?.state, 'done', `batch done: ${b?.lastError ?? ''}`);
    const text = await readFile(logFile, 'utf8');
    for (const name of [...recs.map((r) => `r_${r.id}.wav`), b.csvName]) {
      const part = join(dir, `.${name}.part`);
      const seq = requestsOn(text, part);
      assert.deepEqual(
        seq,
        ['open', 'fsync', 'close', 'rename-from'],
        `${name}: the part is fsynced, then closed, then renamed (${seq.join(' ')})`,
      );
    }
    // The directory itself is fsynced after the renames (opened as a file, then fsync).
    const dirRequests = requestsOn(text, dir);
    assert.equal(
      dirRequests.filter((x) => x === 'fsync').length,
      3,
      `after each rename: ${dirRequests.join(' ')}`,
    );
    for (const r of recs) {
      assert.equal(await stateOf(r.id), 'purged', 'purged once the batch is on the server disk');
      assert.ok((await readFile(join(dir, `r_${r.id}.wav`))).equals(r.wav));
    }
  });

  it('keeps the local copies and renames nothing when the sftp server does not offer fsync', async () => {
    const { sshd, logFile } = await sshdWithLog('fsync');
    const dir = join(sshd.dir, 'audio');
    await mkdir(dir);
    const { recs, svc } = await batchOf(1, { sshd, dir, purge: true });
    await svc.tick();
    const [b] = await catalogue.db.offload.listBatches(1);
    assert.equal(b?.state, 'queued', 'the batch waits for its retry');
    assert.match(b.lastError ?? '', /could not be flushed to the server's disk \(fsync@openssh\.com/);
    // sftp-server -P fsync does not offer the extension at all: the client never sends it.
    const text = await readFile(logFile, 'utf8');
    assert.match(text, /refusing to advertise disallowed extension fsync@openssh\.com/);
    assert.doesNotMatch(text, /^fsync "/m);
    assert.deepEqual(
      (await readdir(dir)).filter((f) => !f.endsWith('.part')),
      [],
      'no file renamed into place without fsync',
    );
    const r = recs[0] as StoredFixture;
    assert.equal(await stateOf(r.id), 'stored', 'not purged');
    for (const f of await artifactsOf(r.id))
      assert.ok((await stat(join(catalogue.dataDir, f.path))).size > 0);
    // Without the purge the same server is fine: nothing depends on its disk then.
    await catalogue.db.pool.query(`UPDATE offload_batches SET next_attempt_at = now() WHERE id = $1`, [b.id]);
    const { svc: plain } = await batchOf(0, { sshd, dir, purge: false }, true);
    await plain.tick();
    const [again] = await catalogue.db.offload.listBatches(1);
    assert.equal(again?.id, b.id);
    assert.equal(again?.state, 'done', again?.lastError ?? '');
    assert.ok((await readFile(join(dir, `r_${r.id}.wav`))).equals(r.wav));
    assert.equal(await stateOf(r.id), 'stored');
  });

  it('rewrites a batch CSV found at the destination with its size but other content', async () => {
    const { sshd } = await sshdWithLog();
    const dir = join(sshd.dir, 'audio');
    await mkdir(dir);
    const { recs, svc } = await batchOf(1, { sshd, dir, purge: false });
    const batch = await svc.cutIfDue();
    assert.ok(batch);
    // As if an earlier attempt had left it: same name and size, not the same bytes.
    const ours = Buffer.from(batch.csv, 'utf8');
    const other = Buffer.from(ours);
    other[other.length - 2] = other[other.length - 2] === 0x41 ? 0x42 : 0x41;
    await writeFile(join(dir, batch.csvName), other);
    await svc.tick();
    const [b] = await catalogue.db.offload.listBatches(1);
    assert.equal(b?.state, 'done', b?.lastError ?? '');
    assert.ok((await readFile(join(dir, batch.csvName))).equals(ours), 'the batch CSV, byte for byte');
    assert.ok((await readFile(join(dir, `r_${recs[0]!.id}.wav`))).equals(recs[0]!.wav));
  });

  it(
    'does not send the batch CSV again after a kill -9 right after the server confirmed it',
    { timeout: 120_000 },
    async () => {
      const { sshd, logFile } = await sshdWithLog();
      const audio = join(sshd.dir, 'audio');
      const meta = join(sshd.dir, 'meta');
      const ingested = join(sshd.dir, 'ingested');
      for (const d of [audio, meta, ingested]) await mkdir(d);
      // The batch is cut here (a boundary ahead of the server's clock: the server cuts none of its own).
      const { recs, svc } = await batchOf(2, { sshd, dir: audio, purge: true });
      const batch = await svc.cutIfDue();
      assert.ok(batch);
      const dest = (directory: string) => {
        const { chunkBytes: _test, ...d } = sftpDest(sshd, sshd.port, { directory });
        return { ...d, type: 'sftp' };
      };
      const config = join(catalogue.dataDir, 'offload.json');
      await writeFile(
        config,
        JSON.stringify({
          offload: {
            enabled: true,
            intervalMinutes: 1,
            purgeAfterTransfer: true,
            manifest: false,
            parallel: 1,
            audio: dest(audio),
            metadata: dest(meta),
          },
        }),
      );
      const env = {
        DATABASE_URL: catalogue.db.connectionString,
        SRS_CONFIG: config,
        SRS_KEY_PASSPHRASE: PASSPHRASE,
      };
      const crashing: TestServer = await startTestServer(
        { ...env, SRS_TEST_CRASH_AFTER_STEP: 'offload-csv' },
        catalogue.dataDir,
      );
      stopAtEnd.push(() => crashing.stop('SIGKILL'));
      const signal = await died(crashing);
      assert.equal(signal, 'SIGKILL', `killed after the CSV:\n${crashing.output().slice(-3000)}`);
      assert.deepEqual(await readdir(meta), [batch.csvName]);
      // The archive ingests the CSV and moves it away (as carrier archives do).
      await rename(join(meta, batch.csvName), join(ingested, batch.csvName));

      const server = await startTestServer(env, catalogue.dataDir);
      stopAtEnd.push(() => server.stop());
      await server.waitFor(/SIPREC recording server ready/, 60_000);
      // The purge follows the transfers in the same pass: once it has run, the batch was looked at.
      for (const r of recs)
        await until(`${r.id} purged`, async () => (await stateOf(r.id)) === 'purged', 60_000);
      assert.deepEqual(await readdir(meta), [], 'the CSV was not sent a second time');
      const renames = (await readFile(logFile, 'utf8'))
        .split('\n')
        .filter((l) => l.includes('rename old') && l.includes(`${batch.csvName}"`));
      assert.equal(renames.length, 1, `one CSV upload: ${renames.join('\n')}`);
      const [b] = await catalogue.db.offload.listBatches(1);
      assert.equal(b?.state, 'done');
      assert.equal(b.attempts, 1, 'no second attempt');
      assert.equal(await server.stop(), 0);
    },
  );
});
