import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { mkdtemp, readFile, readdir, rm, stat, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { promisify } from 'node:util';
import { loadConfig } from '../../src/config.js';
import { CARRIER_HEADER, parseCsv } from '../../src/delivery/csv.js';
import type { Decryptor } from '../../src/delivery/decrypt.js';
import { ExportService } from '../../src/delivery/export.js';
import { FtpConnection, type FtpDestination } from '../../src/delivery/ftp.js';
import { checkDeliveryConfig, startDelivery } from '../../src/delivery/index.js';
import { deliveryStatus } from '../../src/delivery/status.js';
import { parseTemplate } from '../../src/delivery/template.js';
import type { Database } from '../../src/store/db.js';
import {
  sha256Hex as sha,
  testLog as log,
  todaysExportIndex,
  until,
  type DeliveryCatalogue,
} from '../helpers/delivery-catalogue.js';
import type { StoredFixture } from '../helpers/delivery-fixtures.js';
import { startFtpDeliveryWorld, type FtpDeliveryWorld, type SeededCalls } from '../helpers/delivery-seed.js';
import { ftpsDest, startFtpServer, type FtpServer } from '../helpers/ftp-server.js';
import { parseWav } from '../helpers/audio.js';

/**
 * FTP delivery against a real FTP server (Debian's pyftpdlib on loopback): FTPS with explicit TLS
 * required on control and data connections, a self-signed certificate trusted through `caFile`,
 * and plain FTP only with `insecurePlainFtp`. The same files as the SFTP tests check.
 */

const run = promisify(execFile);
const PASSPHRASE = 'delivery test passphrase';

describe('delivery: FTP(S) offload and export (real pyftpdlib, Postgres)', () => {
  let world: FtpDeliveryWorld | undefined;
  let catalogue: DeliveryCatalogue;
  let db: Database;
  let dataDir: string;
  let decryptor: Decryptor;
  let rec: SeededCalls & { d: StoredFixture };
  let ftps: FtpServer;
  let plain: FtpServer | undefined;
  const interval = 60_000;
  // Just past the next boundary; every test moves it on by whole intervals.
  let clock = 0;

  const dest = (over: Partial<FtpDestination> & { directory: string }) => ftpsDest(ftps, over);
  const offload = (audio: FtpDestination & { type: 'ftp' }, metadata?: FtpDestination & { type: 'ftp' }) =>
    (world as FtpDeliveryWorld).offload(audio, metadata, () => new Date(clock));

  before(async () => {
    world = await startFtpDeliveryWorld('srs-delivery-ftp-', PASSPHRASE, interval);
    ({ catalogue, decryptor, ftps, rec, firstClock: clock } = world);
    ({ db, dataDir } = catalogue);
  });

  after(async () => {
    await plain?.stop();
    await world?.close();
  });

  it('offloads a batch in the carrier format over FTPS: media byte for byte, CSV last, manifest', async () => {
    const svc = offload(dest({ directory: '/audio' }), dest({ directory: '/carrier/meta' }));
    await svc.tick();
    const [b] = await db.offload.listBatches(1);
    assert.equal(b?.state, 'done', `batch: ${b?.state} ${b?.lastError ?? ''}`);
    assert.equal(b.count, 4);
    assert.equal(b.attempts, 1);

    const audioDir = join(ftps.home, 'audio');
    const metaDir = join(ftps.home, 'carrier', 'meta');
    const wavs = [rec.a, rec.b, rec.c, rec.d];
    assert.deepEqual(
      (await readdir(audioDir)).sort(),
      wavs.map((r) => `r_${r.id}.wav`).sort(),
      'each media file once, no .part left',
    );
    for (const r of wavs) {
      const got = await readFile(join(audioDir, `r_${r.id}.wav`));
      assert.ok(got.equals(r.wav), 'the decrypted WAV, byte for byte');
      assert.equal(parseWav(got).formatTag, 7, 'G.711 u-law');
    }
    const meta = (await readdir(metaDir)).sort();
    assert.equal(meta.length, 2, meta.join(' '));
    const csvName = b.csvName;
    assert.deepEqual(meta, [csvName, csvName.replace(/\.csv$/, '.sha256')].sort());
    assert.match(csvName, new RegExp(`^monitored_call_archive_audio_\\d{8}_\\d{6}__${b.id}\\.csv$`));
    const csv = await readFile(join(metaDir, csvName), 'utf8');
    const lines = csv.split('\n');
    assert.equal(lines[0], '#COUNT:4');
    assert.equal(lines[1], CARRIER_HEADER.map((h) => `"${h}"`).join(','));
    assert.equal(lines.length, 7, 'four rows, one line each');
    const rows = parseCsv(csv).slice(2);
    const ra = rows.find((x) => x[14] === rec.a.id)!;
    assert.deepEqual(
      [ra[1], ra[2], ra[3], ra[4], ra[5], ra[8], ra[12]],
      [
        'Alice Agent',
        'alice@example.com',
        'Outgoing',
        '+14155550123',
        'Dr. "Who""The Second',
        '+1001',
        `r_${rec.a.id}.wav`,
      ],
    );
    const rb = rows.find((x) => x[14] === rec.b.id)!;
    assert.deepEqual([rb[1], rb[3], rb[4], rb[8]], ['Bob', 'Incoming', '+1002', '+4930123456']);
    // The manifest, checked by sha256sum itself against what landed on the server.
    const manifest = await readFile(join(metaDir, csvName.replace(/\.csv$/, '.sha256')), 'utf8');
    assert.equal(manifest.trim().split('\n').length, 5);
    const check = await mkdtemp(join(tmpdir(), 'srs-ftp-check-'));
    try {
      await writeFile(join(check, 'check.sha256'), manifest);
      await run('cp', [join(metaDir, csvName), ...wavs.map((r) => join(audioDir, `r_${r.id}.wav`)), check]);
      const { stdout } = await run('sha256sum', ['-c', 'check.sha256'], { cwd: check });
      assert.equal(
        stdout
          .trim()
          .split('\n')
          .filter((l) => l.endsWith(': OK')).length,
        5,
      );
    } finally {
      await rm(check, { recursive: true, force: true });
    }
    const st = await deliveryStatus(db.offload);
    const target = st.targets.find((t) => t.name === `ftp:ftp://${ftps.user}@127.0.0.1:${ftps.port}/audio`);
    assert.equal(target?.ok, true, JSON.stringify(st.targets));
  });

  it('exports MP3s and the day index to an FTPS primary', async () => {
    const template = '%{setup-time##%Y%m%d}/%{setup-time##%Y%m%d%H%M%S}-%{caller-number}-%{call-id}';
    const svc = new ExportService({
      repo: db.offload,
      decryptor,
      log,
      template: parseTemplate(template),
      primary: dest({ directory: 'export' }), // relative: under the login directory
      intervalMs: 1000,
      retryBaseMs: 400,
    });
    assert.deepEqual(await svc.tick(), { primary: 4 });
    assert.deepEqual(await svc.tick(), { primary: 0 });
    const root = join(ftps.home, 'export');
    for (const r of [rec.a, rec.b, rec.c, rec.d]) {
      const row = (await db.recordings.get(r.id))!;
      const item = await db.pool.query<{ path: string }>(
        `SELECT path FROM export_items WHERE recording_id = $1 AND destination = 'primary'`,
        [r.id],
      );
      const rel = item.rows[0]!.path;
      assert.ok(rel.includes(r.callId) && rel.endsWith('.mp3'), rel);
      const mp3 = await readFile(join(root, rel));
      assert.equal(sha(mp3), row.files.find((f) => f.kind === 'mp3')!.sha256Plain, 'the decrypted MP3');
    }
    const { day, rows } = await todaysExportIndex(root);
    assert.equal(rows.length, 5);
    const alice = rows.find((x) => x[0] === rec.a.id)!;
    assert.deepEqual(alice.slice(1, 4), ['Alice Agent', '1001', '14155550123']);
    assert.equal(alice[5], '00:00:12');
    assert.deepEqual(
      (await readdir(join(root, day))).filter((f) => f.startsWith('.')),
      [],
      'no .part left by the index rewrites',
    );
  });

  it('refuses a certificate it does not trust (the batch fails, shown on the destination), then delivers once caFile is given', async () => {
    clock += interval;
    const r = await catalogue.store('1002', '4930777', 3, 520);
    const untrusted = dest({ directory: '/audio3', caFile: undefined });
    await offload(untrusted).tick();
    let [b] = await db.offload.listBatches(1);
    assert.equal(b?.count, 1);
    assert.equal(b.state, 'queued');
    assert.equal(b.attempts, 1);
    assert.match(b.lastError ?? '', /TLS certificate is not trusted.*set caFile/);
    const label = `ftp:ftp://${ftps.user}@127.0.0.1:${ftps.port}/audio3`;
    let st = await deliveryStatus(db.offload);
    let target = st.targets.find((t) => t.name === label);
    assert.equal(target?.ok, false, JSON.stringify(st.targets));
    assert.match(target?.lastError ?? '', /not trusted/);
    assert.equal((await readdir(ftps.home)).includes('audio3'), false, 'nothing written');

    clock += 2000; // past the backoff
    await offload(dest({ directory: '/audio3' })).tick();
    [b] = await db.offload.listBatches(1);
    assert.equal(b?.state, 'done', b?.lastError ?? '');
    assert.equal(b.attempts, 2);
    const files = (await readdir(join(ftps.home, 'audio3'))).sort();
    assert.deepEqual(files, [b.csvName, b.csvName.replace(/\.csv$/, '.sha256'), `r_${r.id}.wav`].sort());
    assert.ok((await readFile(join(ftps.home, 'audio3', `r_${r.id}.wav`))).equals(r.wav));
    st = await deliveryStatus(db.offload);
    target = st.targets.find((t) => t.name === label);
    assert.equal(target?.ok, true);
  });

  it('writes over implicit TLS (TLS from the first byte): written, present, replaced, read back', async () => {
    const implicit = await startFtpServer({ tls: 'implicit' });
    try {
      const d = dest({
        directory: '/imp',
        tls: 'implicit',
        port: implicit.port,
        password: implicit.password,
        caFile: implicit.certFile,
      });
      const c = await FtpConnection.open(d, log);
      try {
        const first = Buffer.from('first attempt');
        assert.equal(await c.writeFile(c.path('a/f.bin'), first, true), 'written');
        assert.equal(await c.writeFile(c.path('a/f.bin'), first, true), 'present');
        assert.equal(await c.writeFile(c.path('a/f.bin'), Buffer.from('other'), false), 'exists');
        assert.equal(await c.writeFile(c.path('a/f.bin'), Buffer.from('the retry'), true), 'written');
        assert.equal((await c.read(c.path('a/f.bin'))).toString(), 'the retry');
        assert.equal(await c.size(c.path('a/none.bin')), undefined);
      } finally {
        await c.close();
      }
      assert.deepEqual(await readdir(join(implicit.home, 'imp', 'a')), ['f.bin'], 'no .part left');
      assert.equal(await readFile(join(implicit.home, 'imp', 'a', 'f.bin'), 'utf8'), 'the retry');
      // Explicit TLS against an implicit-TLS port does not get in.
      await assert.rejects(FtpConnection.open({ ...d, tls: 'explicit', timeoutSeconds: 2 }, log));
    } finally {
      await implicit.stop();
    }
  });

  it('refuses tls "none" at startup without insecurePlainFtp; with it, plain FTP works', async () => {
    plain = await startFtpServer({ tls: 'none' });
    const env = { SRS_KEY_PASSPHRASE: PASSPHRASE, SRS_DATA_DIR: dataDir };
    const plainDest = {
      type: 'ftp',
      host: '127.0.0.1',
      port: plain.port,
      username: plain.user,
      password: plain.password,
      directory: '/plain',
      tls: 'none',
      timeoutSeconds: 20,
    };
    assert.throws(
      () => loadConfig(env, { offload: { enabled: true, audio: plainDest as never } }),
      /offload\.audio\.tls: tls "none" sends the password and the recordings in clear; set insecurePlainFtp: true/,
    );
    const config = loadConfig(env, {
      offload: { enabled: true, audio: { ...plainDest, insecurePlainFtp: true } as never },
    });
    checkDeliveryConfig(config);
    const audio = config.offload.audio;
    assert.ok(audio?.type === 'ftp');
    // The FTPS server requires TLS: a plain login there is refused (so the tests above were encrypted).
    await assert.rejects(
      FtpConnection.open({ ...audio, port: ftps.port, password: ftps.password }, log),
      /TLS|SSL|530|534|550/i,
    );

    clock += interval;
    const r = await catalogue.store('1001', '4930666', 3, 610);
    await offload(audio).tick();
    const [b] = await db.offload.listBatches(1);
    assert.equal(b?.state, 'done', b?.lastError ?? '');
    assert.equal(b.count, 1);
    const dir = join(plain.home, 'plain');
    assert.ok((await readFile(join(dir, `r_${r.id}.wav`))).equals(r.wav), 'the WAV, byte for byte');
    const csv = await readFile(join(dir, b.csvName), 'utf8');
    assert.match(csv, /^#COUNT:1\n/);
    assert.ok(csv.includes(`"r_${r.id}.wav"`));
  });

  it('appends a later pass’s rows to the day index over FTPS (APPE), not a new file', async () => {
    const root = join(ftps.home, 'export');
    const { day } = await todaysExportIndex(root);
    const index = join(root, day, 'index.csv');
    const before = await stat(index);
    const svc = new ExportService({
      repo: db.offload,
      decryptor,
      log,
      template: parseTemplate('%{recording-id}'),
      primary: dest({ directory: 'export' }),
      intervalMs: 1000,
    });
    const r = await catalogue.store('1001', '4930777', 2, 620);
    const n = (await svc.tick()).primary ?? 0;
    assert.ok(n >= 1, `exported ${n}`);
    const after = await stat(index);
    assert.equal(after.ino, before.ino, 'the same file, appended to');
    assert.ok(after.size > before.size);
    const { rows } = await todaysExportIndex(root);
    const ids = rows.slice(1).map((x) => x[0]);
    assert.equal(ids.at(-1), r.id, 'the new row last');
    assert.equal(new Set(ids).size, ids.length, 'every recording once');
    assert.equal(ids.length, 4 + n);
    assert.equal(after.size, await db.offload.exportIndexBytes('primary', day.replaceAll('/', '-')));
  });

  it('holds FTPS to the TLS policy: a TLS 1.2 server with only AES128-SHA is refused, with what to fix', async () => {
    // An outdated FTPS server: TLS 1.2 at most, RSA key exchange and CBC only (no forward secrecy).
    const old = await startFtpServer({ tlsMaxVersion: 'TLSv1.2', tlsCiphers: 'AES128-SHA' });
    const primary = ftpsDest(old, { directory: '/old' });
    const label = `ftp:ftp://${old.user}@127.0.0.1:${old.port}/old`;
    const start = (env: Record<string, string>) =>
      startDelivery({
        config: loadConfig({ SRS_DATA_DIR: dataDir, SRS_KEY_PASSPHRASE: PASSPHRASE, ...env }, {
          export: { enabled: true, template: '%{recording-id}', primary },
        } as never),
        db,
        log,
        intervalsMs: { export: 200 },
        retryBaseMs: 50,
      });
    try {
      // SRS_TLS_MIN_VERSION=TLSv1.3: the export of a new recording fails at the login.
      await catalogue.store('1001', '4930999', 2, 640);
      const strict = await start({ SRS_TLS_MIN_VERSION: 'TLSv1.3' });
      try {
        const target = await until('the export to the TLS 1.2 server tried', async () =>
          (await deliveryStatus(db.offload)).targets.find((t) => t.name === label),
        );
        assert.equal(target.ok, false, `exported over ${JSON.stringify(target)}`);
        assert.match(
          target.lastError ?? '',
          /FTPS server offers no TLS version or cipher that SRS_TLS_MIN_VERSION \(TLSv1\.3\)/,
        );
      } finally {
        await strict.stop();
      }
      // The default policy (TLS 1.2 taken): still refused, for the cipher.
      const usual = await start({});
      try {
        const access = await usual.testAccess(label);
        const login = access?.steps.find((x) => x.step === 'login');
        assert.equal(login?.ok, false, JSON.stringify(access));
        assert.match(login.error ?? '', /SRS_TLS_CIPHERS/);
      } finally {
        await usual.stop();
      }
      assert.deepEqual(await readdir(old.home), [], 'nothing written');
    } finally {
      await old.stop();
    }
  });
});
