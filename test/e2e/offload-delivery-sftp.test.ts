import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { chmod, chown, mkdir, mkdtemp, readFile, readdir, rm, stat, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { promisify } from 'node:util';
import { CARRIER_HEADER, parseCsv } from '../../src/delivery/csv.js';
import { OffloadService } from '../../src/delivery/offload.js';
import { SftpConnection } from '../../src/delivery/sftp.js';
import { deliveryStatus } from '../../src/delivery/status.js';
import { testLog as log } from '../helpers/delivery-catalogue.js';
import { useSftpDeliveryWorld } from '../helpers/delivery-seed.js';
import { parseWav } from '../helpers/audio.js';

const run = promisify(execFile);
const PASSPHRASE = 'delivery test passphrase';

describe('delivery: SFTP offload in the carrier format (real sshd, Postgres)', () => {
  const w = useSftpDeliveryWorld(PASSPHRASE);

  const store = (caller: string, callee: string, seconds: number, hz: number) =>
    w.catalogue.store(caller, callee, seconds, hz);

  it('offloads a batch in the carrier format; a server dropping mid-batch resumes without duplicates', async () => {
    const audioDir = join(w.sshd.dir, 'audio');
    const metaDir = join(w.sshd.dir, 'meta');
    await mkdir(audioDir);
    await mkdir(metaDir);
    const interval = 60_000;
    // Just past the next boundary: the retry 2 s later stays in the same interval and cuts no
    // second batch (now + 60 s failed whenever it fell in a minute's last 2 s).
    let clock = (Math.floor(Date.now() / interval) + 1) * interval + 1000;
    const svc = new OffloadService({
      repo: w.db.offload,
      decryptor: w.decryptor,
      dataDir: w.dataDir,
      log,
      // Audio through the proxy we can cut; metadata straight to sshd: two destinations.
      audio: w.dest({ directory: audioDir }),
      metadata: w.dest({ directory: metaDir, port: w.sshd.port }),
      intervalMs: interval,
      purgeAfterTransfer: false,
      manifest: true,
      retryBaseMs: 1000,
      now: () => new Date(clock),
    });
    const wavs = [w.rec.a, w.rec.b, w.rec.c, w.rec.d];
    // Files go in name order: cut the connection three quarters into the second one (the few kB
    // of SSH handshake and SFTP requests counted before it leave several whole 8 kB chunks).
    const ordered = [...wavs].sort((x, y) => (`r_${x.id}.wav` < `r_${y.id}.wav` ? -1 : 1));
    w.proxy.cutAfterBytes = ordered[0]!.wav.length + Math.round(ordered[1]!.wav.length * 0.75);
    await svc.tick();
    let [b] = await w.db.offload.listBatches(1);
    assert.ok(b);
    assert.equal(b.count, 4);
    assert.equal(b.state, 'queued');
    assert.equal(b.attempts, 1);
    assert.ok(b.lastError, 'the failure is stored');
    assert.ok(w.proxy.cuts >= 1);
    const partial = await readdir(audioDir);
    assert.ok(
      partial.some((f) => f.endsWith('.part')),
      `a partial upload was left: ${partial.join(' ')}`,
    );
    assert.deepEqual(await readdir(metaDir), [], 'no CSV before its media');
    const sentBefore = (await w.db.offload.batchItems(b.id)).filter((i) => i.transferredAt).length;
    assert.equal(sentBefore, 1, 'the first file was confirmed before the drop');

    // Not yet: the retry waits for its backoff.
    w.proxy.cutAfterBytes = undefined;
    await svc.tick();
    [b] = await w.db.offload.listBatches(1);
    assert.equal(b!.state, 'queued');
    clock += 2000;
    await svc.tick();
    [b] = await w.db.offload.listBatches(1);
    assert.equal(b!.state, 'done');
    assert.equal(b!.attempts, 2);
    assert.equal(svc.lastReport?.files, 3, 'the second attempt sent only what was not confirmed');
    assert.equal(svc.lastReport?.resumed, 1, 'and appended to the partial file');

    const audio = (await readdir(audioDir)).sort();
    assert.deepEqual(audio, wavs.map((r) => `r_${r.id}.wav`).sort(), 'each media file once, no partials');
    for (const r of wavs) {
      const got = await readFile(join(audioDir, `r_${r.id}.wav`));
      assert.ok(got.equals(r.wav), 'the decrypted WAV, byte for byte');
      const info = parseWav(got);
      assert.equal(info.formatTag, 7, 'G.711 u-law');
      assert.equal(info.bitsPerSample, 8);
    }
    const meta = (await readdir(metaDir)).sort();
    assert.equal(meta.length, 2);
    const csvName = meta.find((f) => f.endsWith('.csv'))!;
    assert.match(csvName, new RegExp(`^monitored_call_archive_audio_\\d{8}_\\d{6}__${b!.id}\\.csv$`));
    const cut = new Date(Math.floor(clock / interval) * interval - 0);
    assert.equal(b!.cutAt.getTime() <= cut.getTime(), true);
    const csv = await readFile(join(metaDir, csvName), 'utf8');
    const lines = csv.split('\n');
    assert.equal(lines[0], '#COUNT:4');
    assert.equal(lines[1], CARRIER_HEADER.map((h) => `"${h}"`).join(','));
    assert.equal(lines.length, 7, 'four rows, one line each');
    const rows = parseCsv(csv).slice(2);
    const ra = rows.find((x) => x[14] === w.rec.a.id)!;
    assert.deepEqual(ra, [
      '',
      'Alice Agent',
      'alice@example.com',
      'Outgoing',
      '+14155550123',
      'Dr. "Who""The Second',
      '',
      '',
      '+1001',
      'Alice Agent',
      '',
      'alice@example.com',
      `r_${w.rec.a.id}.wav`,
      ra[13],
      w.rec.a.id,
    ]);
    assert.match(
      lines.find((l) => l.includes(w.rec.a.id))!,
      /"Dr\. ""Who""""The Second"/,
    );
    assert.match(ra[13]!, /^\d{4}-\d\d-\d\d \d\d:\d\d:\d\d\.\d{3}$/);
    const rb = rows.find((x) => x[14] === w.rec.b.id)!;
    assert.deepEqual(
      [rb[1], rb[3], rb[4], rb[7], rb[8]],
      ['Bob', 'Incoming', '+1002', 'bob@example.com', '+4930123456'],
    );
    // The manifest: sha256sum format over the CSV and every media file, checked by sha256sum itself.
    const manifest = await readFile(join(metaDir, csvName.replace(/\.csv$/, '.sha256')), 'utf8');
    assert.equal(manifest.trim().split('\n').length, 5);
    await writeFile(join(audioDir, 'check.sha256'), manifest);
    await run('cp', [join(metaDir, csvName), audioDir]);
    const { stdout } = await run('sha256sum', ['-c', 'check.sha256'], { cwd: audioDir });
    assert.equal(
      stdout
        .trim()
        .split('\n')
        .filter((l) => l.endsWith(': OK')).length,
      5,
    );
    await rm(join(audioDir, 'check.sha256'));
    await rm(join(audioDir, csvName));

    const st = await deliveryStatus(w.db.offload);
    assert.equal(st.offload.queued, 0);
    assert.ok(st.offload.batches[0]?.startedAt && st.offload.batches[0]?.finishedAt);
    const audit = await w.db.audit.search({ action: 'offload.batch' });
    assert.equal(audit.total, 1);
    assert.equal(audit.items[0]?.details.count, 4);

    // The next interval had no recordings: a zero-row CSV.
    clock += interval;
    await svc.tick();
    const [z] = await w.db.offload.listBatches(1);
    assert.equal(z!.count, 0);
    assert.equal(z!.state, 'done');
    const zcsv = await readFile(join(metaDir, z!.csvName), 'utf8');
    assert.equal(zcsv, `#COUNT:0\n${lines[1]}\n`);
  });

  it('queues a batch behind one that has not finished, never overlapping them', async () => {
    const audioDir = join(w.sshd.dir, 'audio2');
    await mkdir(audioDir);
    const interval = 60_000;
    // Mid-interval, so the few seconds this test adds never cross a boundary by accident.
    let clock = (Math.floor(Date.now() / interval) + 10) * interval + interval / 2;
    const svc = new OffloadService({
      repo: w.db.offload,
      decryptor: w.decryptor,
      dataDir: w.dataDir,
      log,
      audio: w.dest({ directory: audioDir }),
      intervalMs: interval,
      purgeAfterTransfer: true,
      manifest: false,
      retryBaseMs: 1000,
      now: () => new Date(clock),
    });
    const r1 = await store('1002', '4930999', 4, 300);
    w.proxy.down = true;
    await svc.tick(); // cuts batch 1 (r1), fails
    const r2 = await store('1001', '4930888', 4, 350);
    clock += interval;
    await svc.tick(); // cuts batch 2 (r2); batch 1 waits for its backoff, batch 2 waits for batch 1
    const [b2, b1] = await w.db.offload.listBatches(2);
    assert.equal(b1!.count, 1);
    assert.equal(b2!.count, 1);
    assert.equal(b1!.state, 'queued');
    assert.equal(b2!.state, 'queued');
    assert.equal(b2!.attempts, 0, 'batch 2 never started while batch 1 is unfinished');
    w.proxy.down = false;
    clock += 5000;
    await svc.tick();
    const [d2, d1] = await w.db.offload.listBatches(2);
    assert.equal(d1!.state, 'done');
    assert.equal(d2!.state, 'done');
    assert.ok(
      d1!.finishedAt!.getTime() <= d2!.startedAt!.getTime(),
      'batch 2 started after batch 1 finished',
    );
    const files = await readdir(audioDir);
    assert.deepEqual(
      files.filter((f) => f.endsWith('.wav')).sort(),
      [`r_${r1.id}.wav`, `r_${r2.id}.wav`].sort(),
    );
    assert.equal(
      files.filter((f) => f.endsWith('.csv')).length,
      2,
      'metadata defaults to the audio destination',
    );
    assert.equal(files.filter((f) => f.endsWith('.sha256')).length, 0, 'manifest off');

    // Purge after confirmed transfer: artifacts wiped, the row a tombstone, audited.
    for (const r of [r1, r2]) {
      const row = (await w.db.recordings.get(r.id))!;
      assert.equal(row.state, 'purged');
      for (const f of row.files) await assert.rejects(stat(join(w.dataDir, f.path)), { code: 'ENOENT' });
    }
    const purges = await w.db.audit.search({ action: 'offload.purge' });
    assert.ok(purges.total >= 2);
  });

  it('logs in by password too (a created test user), when running as root', async (t) => {
    if (process.getuid?.() !== 0) {
      t.skip('needs root to create a system user with a password (useradd, chpasswd)');
      return;
    }
    const user = 'srs-sftp-test';
    const password = `pw-${Math.random().toString(36).slice(2)}`;
    await run('useradd', ['-M', '-d', '/nonexistent', '-s', '/usr/sbin/nologin', user]).catch(
      () => undefined,
    );
    try {
      await new Promise<void>((resolve, reject) => {
        const p = execFile('chpasswd', (err) => (err ? reject(err) : resolve()));
        p.stdin?.end(`${user}:${password}\n`);
      });
      const root = await mkdtemp(join(tmpdir(), 'srs-sftp-pw-'));
      await chmod(root, 0o755);
      const dir = join(root, 'in');
      await mkdir(dir);
      const { stdout } = await run('id', ['-u', user]);
      await chown(dir, Number(stdout.trim()), 0);
      const c = await SftpConnection.open(
        {
          host: '127.0.0.1',
          port: w.sshd.port,
          username: user,
          password,
          directory: dir,
          hostKeySha256: w.sshd.hostKeySha256,
          timeoutSeconds: 20,
        },
        log,
      );
      try {
        assert.equal(await c.writeFile(c.path('hello.txt'), Buffer.from('hi'), false), 'written');
      } finally {
        await c.close();
      }
      assert.equal(await readFile(join(dir, 'hello.txt'), 'utf8'), 'hi');
      await assert.rejects(
        SftpConnection.open(
          {
            host: '127.0.0.1',
            port: w.sshd.port,
            username: user,
            password: 'wrong',
            directory: dir,
            hostKeySha256: w.sshd.hostKeySha256,
            timeoutSeconds: 20,
          },
          log,
        ),
        /authentication|All configured/i,
      );
      // A known_hosts file instead of the fingerprint: the server's key is accepted, another refused.
      const [type, blob] = (await readFile(join(w.sshd.dir, 'host_ed25519.pub'), 'utf8')).split(' ');
      const knownHostsFile = join(root, 'known_hosts');
      await writeFile(knownHostsFile, `# pinned\n[127.0.0.1]:${w.sshd.port} ${type} ${blob}\n`);
      const viaKnown = { host: '127.0.0.1', port: w.sshd.port, username: user, password, directory: dir };
      await (await SftpConnection.open({ ...viaKnown, knownHostsFile, timeoutSeconds: 20 }, log)).close();
      const [, otherBlob] = (await readFile(`${w.sshd.clientKey}.pub`, 'utf8')).split(' ');
      await writeFile(knownHostsFile, `[127.0.0.1]:${w.sshd.port} ${type} ${otherBlob}\n`);
      await assert.rejects(
        SftpConnection.open({ ...viaKnown, knownHostsFile, timeoutSeconds: 20 }, log),
        /is not in .*known_hosts/,
      );
      await assert.rejects(
        SftpConnection.open(
          {
            host: '127.0.0.1',
            port: w.sshd.port,
            username: user,
            password,
            directory: dir,
            hostKeySha256: 'SHA256:wrong',
            timeoutSeconds: 20,
          },
          log,
        ),
        /host key/,
      );
      await rm(root, { recursive: true, force: true });
    } finally {
      await run('userdel', [user]).catch(() => undefined);
    }
  });
});
