import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { mkdir, readFile, readdir, stat, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { FtpConnection } from '../../src/delivery/ftp.js';
import { deliveryStatus } from '../../src/delivery/status.js';
import type { Database } from '../../src/store/db.js';
import { sha256Hex as sha, testLog as log, type DeliveryCatalogue } from '../helpers/delivery-catalogue.js';
import type { StoredFixture } from '../helpers/delivery-fixtures.js';
import { startFtpDeliveryWorld, type FtpDeliveryWorld, type SeededCalls } from '../helpers/delivery-seed.js';
import { ftpsDest, type FtpServer, type FtpUpload } from '../helpers/ftp-server.js';

/**
 * FTP(S) uploads an interruption cut short, against a real server (Debian's pyftpdlib, TLS
 * required): the server itself drops the client mid-file (TCP reset, no reply, no TLS close),
 * and the offload service's retry appends the rest to the `.part` left (APPE), checks the whole
 * part's SHA-256, and uploads from scratch only a part whose bytes are not ours.
 */

const PASSPHRASE = 'delivery test passphrase';

describe('delivery: FTP(S) resumes an interrupted upload (real pyftpdlib, Postgres)', () => {
  let world: FtpDeliveryWorld | undefined;
  let catalogue: DeliveryCatalogue;
  let db: Database;
  let rec: SeededCalls & { d: StoredFixture };
  let ftps: FtpServer;
  const interval = 60_000;
  // Just past the next boundary: a retry 2 s later stays in the same interval.
  let clock = 0;

  const dest = (directory: string) => ftpsDest(ftps, { directory });
  const offload = (audio: string, metadata?: string) =>
    (world as FtpDeliveryWorld).offload(
      dest(audio),
      metadata === undefined ? undefined : dest(metadata),
      () => new Date(clock),
    );
  /** The uploads the server took after the first `since`, to `path`. */
  const uploadsTo = async (path: string, since = 0): Promise<FtpUpload[]> =>
    (await ftps.uploads()).slice(since).filter((u) => u.path === path);

  before(async () => {
    world = await startFtpDeliveryWorld('srs-delivery-ftp-resume-', PASSPHRASE, interval);
    ({ catalogue, ftps, rec, firstClock: clock } = world);
    ({ db } = catalogue);
  });

  after(async () => {
    await world?.close();
  });

  it('a connection dropped three quarters into a file leaves a .part; the retry appends only the rest (APPE), checked, and delivers every file once', async () => {
    const svc = offload('/audio', '/meta');
    const wavs = [rec.a, rec.b, rec.c, rec.d];
    // Files go in name order: the server drops the client three quarters into the second one.
    const ordered = [...wavs].sort((x, y) => (`r_${x.id}.wav` < `r_${y.id}.wav` ? -1 : 1));
    const cutFile = ordered[1]!;
    const partName = `.r_${cutFile.id}.wav.part`;
    const cutAt = Math.round(cutFile.wav.length * 0.75);
    await ftps.cutUpload(partName, cutAt);
    await svc.tick();

    let [b] = await db.offload.listBatches(1);
    assert.ok(b);
    assert.equal(b.count, 4);
    assert.equal(b.state, 'queued', `batch: ${b.state} ${b.lastError ?? ''}`);
    assert.equal(b.attempts, 1);
    assert.match(
      b.lastError ?? '',
      new RegExp(`ftp://${ftps.user}@127\\.0\\.0\\.1:${ftps.port}/audio: upload`),
    );
    const audioDir = join(ftps.home, 'audio');
    const left = await readdir(audioDir);
    assert.deepEqual(left.sort(), [`r_${ordered[0]!.id}.wav`, partName].sort(), 'the first file and a part');
    const partBytes = (await stat(join(audioDir, partName))).size;
    assert.equal(partBytes, cutAt, 'the part holds what arrived before the drop');
    assert.ok(partBytes < cutFile.wav.length);
    assert.ok(
      (await readFile(join(audioDir, partName))).equals(cutFile.wav.subarray(0, cutAt)),
      'a prefix of the file',
    );
    assert.deepEqual(await uploadsTo(`/audio/${partName}`), [
      { cmd: 'STOR', path: `/audio/${partName}`, bytes: cutAt, completed: false },
    ]);
    assert.equal((await readdir(ftps.home)).includes('meta'), false, 'no CSV before its media');
    const sentBefore = (await db.offload.batchItems(b.id)).filter((i) => i.transferredAt).length;
    assert.equal(sentBefore, 1, 'the first file was confirmed before the drop');
    const target = (await deliveryStatus(db.offload)).targets.find(
      (t) => t.name === `ftp:ftp://${ftps.user}@127.0.0.1:${ftps.port}/audio`,
    );
    assert.equal(target?.ok, false, 'the drop is shown on the audio destination');

    // Not yet: the retry waits for its backoff.
    const before = (await ftps.uploads()).length;
    await svc.tick();
    [b] = await db.offload.listBatches(1);
    assert.equal(b!.state, 'queued');
    clock += 2000;
    await svc.tick();
    [b] = await db.offload.listBatches(1);
    assert.equal(b!.state, 'done', b!.lastError ?? '');
    assert.equal(b!.attempts, 2);
    assert.equal(svc.lastReport?.files, 3, 'the second attempt sent only what was not confirmed');
    assert.equal(svc.lastReport?.resumed, 1, 'and appended to the partial file');

    // What the server received for the cut file on the retry: only the rest, appended.
    const retry = await uploadsTo(`/audio/${partName}`, before);
    assert.deepEqual(retry, [
      { cmd: 'APPE', path: `/audio/${partName}`, bytes: cutFile.wav.length - cutAt, completed: true },
    ]);
    assert.ok(retry[0]!.bytes < cutFile.wav.length, 'fewer bytes than the file');
    assert.deepEqual(
      (await ftps.uploads()).slice(before).filter((u) => u.path.startsWith(`/audio/.r_${ordered[0]!.id}`)),
      [],
      'the confirmed first file is not sent again',
    );

    assert.deepEqual(
      (await readdir(audioDir)).sort(),
      wavs.map((r) => `r_${r.id}.wav`).sort(),
      'each media file once, no .part left',
    );
    for (const r of wavs)
      assert.ok((await readFile(join(audioDir, `r_${r.id}.wav`))).equals(r.wav), 'the WAV, byte for byte');
    const metaDir = join(ftps.home, 'meta');
    assert.deepEqual(
      (await readdir(metaDir)).sort(),
      [b!.csvName, b!.csvName.replace(/\.csv$/, '.sha256')].sort(),
    );
    const manifest = await readFile(join(metaDir, b!.csvName.replace(/\.csv$/, '.sha256')), 'utf8');
    assert.ok(manifest.includes(`${sha(cutFile.wav)}  r_${cutFile.id}.wav\n`), manifest);
  });

  it('a .part holding other bytes fails the SHA-256 check and is uploaded again from scratch; one as long as the file is not appended to', async () => {
    clock += interval;
    const r = await catalogue.store('1002', '4930555', 5, 700);
    const audioDir = join(ftps.home, 'audio2');
    await mkdir(audioDir);
    const partName = `.r_${r.id}.wav.part`;
    const garbage = randomBytes(Math.floor(r.wav.length / 2));
    await writeFile(join(audioDir, partName), garbage);
    const before = (await ftps.uploads()).length;
    const svc = offload('/audio2');
    await svc.tick();

    const [b] = await db.offload.listBatches(1);
    assert.equal(b?.state, 'done', b?.lastError ?? '');
    assert.equal(b.count, 1);
    assert.equal(b.attempts, 1);
    assert.equal(svc.lastReport?.files, 1);
    assert.equal(svc.lastReport?.resumed, 0, 'not counted as resumed');
    // The rest was appended, the check failed, the whole file went again.
    assert.deepEqual(await uploadsTo(`/audio2/${partName}`, before), [
      { cmd: 'APPE', path: `/audio2/${partName}`, bytes: r.wav.length - garbage.length, completed: true },
      { cmd: 'STOR', path: `/audio2/${partName}`, bytes: r.wav.length, completed: true },
    ]);
    const files = (await readdir(audioDir)).sort();
    assert.deepEqual(files, [b.csvName, b.csvName.replace(/\.csv$/, '.sha256'), `r_${r.id}.wav`].sort());
    assert.ok((await readFile(join(audioDir, `r_${r.id}.wav`))).equals(r.wav), 'the WAV, byte for byte');

    // A part at least as long as the file cannot be its prefix: STOR from scratch, no APPE.
    const c = await FtpConnection.open(dest('/audio3'), log);
    try {
      const data = randomBytes(20_000);
      await mkdir(join(ftps.home, 'audio3'));
      await writeFile(join(ftps.home, 'audio3', '.f.bin.part'), randomBytes(data.length));
      const since = (await ftps.uploads()).length;
      assert.equal(await c.writeFile(c.path('f.bin'), data, true), 'written');
      assert.deepEqual(await uploadsTo('/audio3/.f.bin.part', since), [
        { cmd: 'STOR', path: '/audio3/.f.bin.part', bytes: data.length, completed: true },
      ]);
      assert.ok((await readFile(join(ftps.home, 'audio3', 'f.bin'))).equals(data));
      assert.deepEqual(await readdir(join(ftps.home, 'audio3')), ['f.bin'], 'no .part left');
    } finally {
      await c.close();
    }
  });
});
