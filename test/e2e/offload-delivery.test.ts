import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { chmod, chown, mkdir, mkdtemp, readFile, readdir, rm, stat, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { promisify } from 'node:util';
import { SMTPServer } from 'smtp-server';
import { CARRIER_HEADER, parseCsv } from '../../src/delivery/csv.js';
import { Decryptor } from '../../src/delivery/decrypt.js';
import { ExportService, exportPath } from '../../src/delivery/export.js';
import { NotifyService } from '../../src/delivery/notify.js';
import { OffloadService } from '../../src/delivery/offload.js';
import { SftpConnection, type SftpDestination } from '../../src/delivery/sftp.js';
import { deliveryStatus } from '../../src/delivery/status.js';
import { parseTemplate } from '../../src/delivery/template.js';
import type { Database } from '../../src/store/db.js';
import { startCutProxy, startSshd, type CutProxy, type Sshd } from '../helpers/delivery-fixtures.js';
import {
  openDeliveryCatalogue,
  sha256Hex as sha,
  testLog as log,
  type DeliveryCatalogue,
} from '../helpers/delivery-catalogue.js';
import { parseWav } from '../helpers/audio.js';

const run = promisify(execFile);
const PASSPHRASE = 'delivery test passphrase';

interface Mail {
  from: string;
  to: string[];
  raw: string;
}

/** Headers, text part and attachments of a message as nodemailer builds it (multipart/mixed). */
function parseMail(raw: string): {
  headers: Record<string, string>;
  text: string;
  attachments: { name: string; type: string; data: Buffer }[];
} {
  const [head = '', ...rest] = raw.split(/\r\n\r\n/);
  const body = rest.join('\r\n\r\n');
  const headers: Record<string, string> = {};
  for (const line of head.replace(/\r\n[ \t]+/g, ' ').split('\r\n')) {
    const i = line.indexOf(':');
    if (i > 0) headers[line.slice(0, i).toLowerCase()] = line.slice(i + 1).trim();
  }
  const decode = (h: Record<string, string>, b: string): Buffer => {
    const enc = (h['content-transfer-encoding'] ?? '7bit').toLowerCase();
    if (enc === 'base64') return Buffer.from(b.replace(/\s+/g, ''), 'base64');
    if (enc === 'quoted-printable')
      return Buffer.from(
        b
          .replace(/=\r\n/g, '')
          .replace(/=([0-9A-F]{2})/g, (_, x: string) => String.fromCharCode(parseInt(x, 16))),
        'latin1',
      );
    return Buffer.from(b, 'utf8');
  };
  const ct = headers['content-type'] ?? '';
  const boundary = /boundary="?([^";]+)"?/.exec(ct)?.[1];
  if (!boundary)
    return {
      headers,
      text: decode(headers, body).toString('utf8').replace(/\r\n/g, '\n').replace(/\n$/, ''),
      attachments: [],
    };
  let text = '';
  const attachments: { name: string; type: string; data: Buffer }[] = [];
  for (const part of body.split(`--${boundary}`).slice(1)) {
    if (part.startsWith('--')) break;
    const [ph = '', ...pb] = part.replace(/^\r\n/, '').split(/\r\n\r\n/);
    const h: Record<string, string> = {};
    for (const line of ph.replace(/\r\n[ \t]+/g, ' ').split('\r\n')) {
      const i = line.indexOf(':');
      if (i > 0) h[line.slice(0, i).toLowerCase()] = line.slice(i + 1).trim();
    }
    const data = decode(h, pb.join('\r\n\r\n').replace(/\r\n$/, ''));
    if ((h['content-disposition'] ?? '').startsWith('attachment'))
      attachments.push({
        name: /filename="?([^";]+)"?/.exec(h['content-disposition'] ?? '')?.[1] ?? '',
        type: (h['content-type'] ?? '').split(';')[0] ?? '',
        data,
      });
    else if ((h['content-type'] ?? '').startsWith('text/plain'))
      text = data.toString('utf8').replace(/\r\n/g, '\n');
  }
  return { headers, text, attachments };
}

describe('delivery: SFTP offload, MP3 export, email notifications (real sshd, SMTP, Postgres)', () => {
  let dataDir: string;
  let db: Database;
  let sshd: Sshd;
  let proxy: CutProxy;
  let smtp: SMTPServer;
  let smtpPort = 0;
  const mails: Mail[] = [];
  let smtpFailNext = 0;
  let catalogue: DeliveryCatalogue;
  let decryptor: Decryptor;
  const rec: Record<string, { id: string; wav: Buffer; callId: string }> = {};

  const dest = (over: Partial<SftpDestination> & { directory: string }): SftpDestination => ({
    host: '127.0.0.1',
    port: proxy.port,
    username: sshd.user,
    privateKeyFile: sshd.clientKey,
    hostKeySha256: sshd.hostKeySha256,
    timeoutSeconds: 20,
    // Small chunks, so the WAVs of a few seconds span several and a drop leaves a resumable part.
    chunkBytes: 8 * 1024,
    ...over,
  });
  const store = (caller: string, callee: string, seconds: number, hz: number, names = ['', '']) =>
    catalogue.store(caller, callee, seconds, hz, names);

  before(async () => {
    catalogue = await openDeliveryCatalogue('srs-delivery-', PASSPHRASE, log);
    ({ dataDir, db } = catalogue);
    decryptor = new Decryptor(dataDir, PASSPHRASE);
    sshd = await startSshd();
    proxy = await startCutProxy(sshd.port);
    smtp = new SMTPServer({
      authOptional: true,
      disabledCommands: ['STARTTLS'],
      logger: false,
      onData(stream, session, cb) {
        const chunks: Buffer[] = [];
        stream.on('data', (c: Buffer) => chunks.push(c));
        stream.on('end', () => {
          if (smtpFailNext > 0) {
            smtpFailNext--;
            const err = new Error('mailbox busy, try later') as Error & { responseCode: number };
            err.responseCode = 451;
            cb(err);
            return;
          }
          mails.push({
            from: session.envelope.mailFrom ? session.envelope.mailFrom.address : '',
            to: session.envelope.rcptTo.map((r) => r.address),
            raw: Buffer.concat(chunks).toString('latin1'),
          });
          cb();
        });
      },
    });
    await new Promise<void>((r) => smtp.listen(0, '127.0.0.1', r));
    smtpPort = (smtp.server.address() as { port: number }).port;

    await db.users.create({
      username: 'alice',
      displayName: 'Alice Agent',
      role: 'user',
      group: 'sales',
      numbers: ['1001'],
    });
    await db.users.create({
      username: 'bob',
      displayName: 'Bob',
      role: 'user',
      group: 'support',
      numbers: ['1002'],
    });
    assert.equal(await db.offload.subscribe('alice', 'alice@example.com', true, true), true);
    assert.equal(await db.offload.subscribe('bob', 'bob@example.com', false, true), true);
    assert.equal(await db.offload.subscribe('nobody', 'x@example.com', false, true), false);
    // Every feature delivers only what is stored after it was first enabled.
    for (const c of ['offload', 'export', 'notifications']) await db.offload.cursor(c);
    await new Promise((r) => setTimeout(r, 20));
    // alice calls out (name with a quote and a newline), bob is called from outside, one with no user.
    rec.a = await store('1001', '14155550123', 12, 440, ['Alice Agent', 'Dr. "Who"\nThe Second']);
    rec.b = await store('4930123456', '1002', 10, 660);
    rec.c = await store('5550001', '5550002', 8, 880);
  });

  after(async () => {
    await new Promise<void>((r) => smtp?.close(() => r()));
    await proxy?.close();
    await sshd?.stop();
    await catalogue?.close();
    if (sshd) await rm(sshd.dir, { recursive: true, force: true });
  });

  it('emails the recorded users with placeholders filled and the decrypted MP3 attached; retries a refused send', async () => {
    const templateFile = join(dataDir, 'mail.txt');
    await writeFile(
      templateFile,
      'Hi [UserDisplayName]\nid=[RecordingID]\nuser=[Username] ext=[UserExtension] remote=[RemotePhoneNumber]\nstart=[RecordingStartDate] [RecordingStartTime] dur=[RecordingDuration]\ngroup=[RecordingGroupName] callid=[PBXCallID] dir=[CallDirection] att=[AttachmentFileSize]KB max=[MaxAttachmentSize]MB\n',
    );
    const svc = new NotifyService({
      repo: db.offload,
      users: db.users,
      decryptor,
      log,
      smtp: {
        host: '127.0.0.1',
        port: smtpPort,
        secure: false,
        requireTLS: false,
        rejectUnauthorized: false,
      },
      from: 'Recorder <recorder@example.com>',
      subject: 'Recorded: [RemotePhoneNumber] ([RecordingDuration])',
      templateFile,
      maxAttachmentBytes: 1024 * 1024,
      timeZone: 'UTC',
      intervalMs: 1000,
      retryBaseMs: 1,
    });
    await svc.checkTemplates();
    smtpFailNext = 1;
    const first = await svc.tick();
    assert.equal(first, 1, 'one refused (451), the other sent');
    let st = await deliveryStatus(db.offload);
    assert.equal(st.notifications.pending, 1);
    const failed = await db.pool.query<{ last_error: string; attempts: number }>(
      `SELECT last_error, attempts FROM notifications WHERE state = 'pending'`,
    );
    assert.match(failed.rows[0]?.last_error ?? '', /451|busy/);
    assert.equal(failed.rows[0]?.attempts, 1);
    await new Promise((r) => setTimeout(r, 20));
    assert.equal(await svc.tick(), 1, 'the retry goes out');
    assert.equal(await svc.tick(), 0, 'nothing twice');
    st = await deliveryStatus(db.offload);
    assert.deepEqual(st.notifications, { sent: 2, pending: 0, failed: 0, recentFailures: [] });
    assert.equal(mails.length, 2);

    const toAlice = mails.find((m) => m.to.includes('alice@example.com'));
    const toBob = mails.find((m) => m.to.includes('bob@example.com'));
    assert.ok(toAlice && toBob, 'alice and bob, nobody for the call without a user');
    const a = parseMail(toAlice.raw);
    assert.equal(a.headers.subject, 'Recorded: 14155550123 (00:00:12)');
    assert.match(a.headers.from ?? '', /recorder@example\.com/);
    assert.equal(a.headers['x-srs-recording-id'], rec.a!.id);
    const row = await db.recordings.get(rec.a!.id);
    const mp3 = row!.files.find((f) => f.kind === 'mp3')!;
    assert.equal(a.attachments.length, 1);
    assert.equal(a.attachments[0]!.type, 'audio/mpeg');
    assert.equal(a.attachments[0]!.name, `recording-${rec.a!.id}.mp3`);
    assert.equal(sha(a.attachments[0]!.data), mp3.sha256Plain, 'attachment bytes = decrypted MP3');
    const kb = Math.ceil(a.attachments[0]!.data.length / 1024);
    const started = row!.startedAt.toISOString();
    assert.equal(
      a.text,
      `Hi Alice Agent\nid=${rec.a!.id}\nuser=alice ext=1001 remote=14155550123\nstart=${started.slice(0, 10)} ${started.slice(11, 19)} dur=00:00:12\ngroup=sales callid=${rec.a!.callId} dir=outgoing att=${kb}KB max=1MB\n`,
    );
    const b = parseMail(toBob.raw);
    assert.equal(b.attachments.length, 0, 'bob did not ask for attachments');
    assert.match(
      b.text,
      /user=bob ext=1002 remote=4930123456\n[^\n]*dur=00:00:10\ngroup=support [^\n]* dir=incoming att=0KB/,
    );

    const audit = await db.audit.search({ action: 'notification.sent' });
    assert.equal(audit.total, 2);
  });

  it('over the size limit the email goes without the attachment', async () => {
    const r = await store('1001', '14155550199', 6, 500);
    const svc = new NotifyService({
      repo: db.offload,
      users: db.users,
      decryptor,
      log,
      smtp: {
        host: '127.0.0.1',
        port: smtpPort,
        secure: false,
        requireTLS: false,
        rejectUnauthorized: false,
      },
      from: 'recorder@example.com',
      subject: 'Recorded [RecordingID]',
      body: 'att=[AttachmentFileSize] max=[MaxAttachmentSize]',
      maxAttachmentBytes: 1000,
      timeZone: 'UTC',
      intervalMs: 1000,
    });
    const before = mails.length;
    assert.equal(await svc.tick(), 1);
    const m = parseMail(mails[before]!.raw);
    assert.equal(m.headers.subject, `Recorded ${r.id}`);
    assert.equal(m.attachments.length, 0);
    assert.equal(m.text, 'att=0 max=0MB'.replace('0MB', '0'));
    rec.d = r;
  });

  it('exports unencrypted MP3s by template with a daily index; the unreachable secondary catches up; nothing is deleted', async () => {
    const primary = join(dataDir, 'export-primary');
    await mkdir(primary);
    const secondaryDir = join(sshd.dir, 'export-secondary');
    await mkdir(secondaryDir);
    const template =
      '%{setup-time##%Y%m%d}/%{setup-time##%Y%m%d%H%M%S}-%{caller-number}-%{callee-number}-%{call-id}';
    // A file that is not ours, at the name a recording will want: it must survive.
    const recD = (await db.offload.recordings([rec.d!.id]))[0]!;
    const foreignRel = exportPath(parseTemplate(template), recD);
    await mkdir(join(primary, foreignRel, '..'), { recursive: true });
    await writeFile(join(primary, foreignRel), 'not ours');
    const svc = new ExportService({
      repo: db.offload,
      decryptor,
      log,
      template: parseTemplate(template),
      primary: { type: 'local', directory: primary },
      secondary: { type: 'sftp', ...dest({ directory: secondaryDir }) },
      intervalMs: 1000,
      retryBaseMs: 400,
    });
    proxy.down = true;
    let n = await svc.tick();
    assert.deepEqual(n, { primary: 4, secondary: 0 });
    let st = await deliveryStatus(db.offload);
    const sec = st.targets.find((t) => t.name.startsWith('sftp:'));
    assert.equal(sec?.ok, false);
    assert.ok(sec?.lastError);
    assert.equal(sec?.failures, 1);
    assert.ok(sec?.nextAttemptAt && Date.parse(sec.nextAttemptAt) > Date.now(), 'backing off');
    assert.equal(st.export.pending, 0, 'an unreachable destination costs its items no attempts');
    proxy.down = false;
    n = await svc.tick();
    assert.deepEqual(n, { primary: 0, secondary: 0 }, 'not before its backoff');
    await new Promise((r) => setTimeout(r, 450));
    n = await svc.tick();
    assert.deepEqual(n, { primary: 0, secondary: 4 }, 'the secondary caught up');
    assert.deepEqual(await svc.tick(), { primary: 0, secondary: 0 });
    st = await deliveryStatus(db.offload);
    assert.equal(st.export.done, 8);
    assert.ok(st.targets.every((t) => t.ok));

    assert.equal(await readFile(join(primary, foreignRel), 'utf8'), 'not ours', 'never replaced');
    for (const root of [primary, secondaryDir]) {
      for (const r of [rec.a!, rec.b!, rec.c!, rec.d!]) {
        const row = (await db.recordings.get(r.id))!;
        const item = await db.pool.query<{ path: string }>(
          `SELECT path FROM export_items WHERE recording_id = $1 AND destination = $2`,
          [r.id, root === primary ? 'primary' : 'secondary'],
        );
        const rel = item.rows[0]!.path;
        const day = row.startedAt.toISOString().slice(0, 10).replaceAll('-', '');
        assert.ok(rel.startsWith(`${day}/${day}`), rel);
        assert.ok(rel.includes(r.callId) && rel.endsWith('.mp3'), rel);
        if (root === primary && r === rec.d) assert.notEqual(rel, foreignRel, 'a taken name gets a suffix');
        const mp3 = await readFile(join(root, rel));
        assert.equal(sha(mp3), row.files.find((f) => f.kind === 'mp3')!.sha256Plain);
        assert.ok(mp3.subarray(0, 3).toString() === 'ID3' || mp3[0] === 0xff, 'an MP3');
      }
      const day = new Date().toISOString().slice(0, 10).replaceAll('-', '/');
      const index = await readFile(join(root, day, 'index.csv'), 'utf8');
      assert.ok(
        index.startsWith('\uFEFFRecording ID,Agent,Extension,Remote Number,Start (UTC),Duration,Group'),
      );
      const rows = parseCsv(index);
      assert.equal(rows.length, 5);
      const alice = rows.find((x) => x[0] === rec.a!.id)!;
      assert.deepEqual(alice.slice(1, 4), ['Alice Agent', '1001', '14155550123']);
      assert.equal(alice[5], '00:00:12');
      assert.equal(alice[6], 'sales');
      const bob = rows.find((x) => x[0] === rec.b!.id)!;
      assert.deepEqual(
        [bob[1], bob[2], bob[3], bob[6], bob[7]],
        ['Bob', '1002', '4930123456', 'support', 'IN'],
      );
    }
    assert.equal((await db.audit.search({ action: 'export' })).total, 8);
  });

  it('offloads a batch in the carrier format; a server dropping mid-batch resumes without duplicates', async () => {
    const audioDir = join(sshd.dir, 'audio');
    const metaDir = join(sshd.dir, 'meta');
    await mkdir(audioDir);
    await mkdir(metaDir);
    const interval = 60_000;
    let clock = Date.now() + interval;
    const svc = new OffloadService({
      repo: db.offload,
      decryptor,
      dataDir,
      log,
      // Audio through the proxy we can cut; metadata straight to sshd: two destinations.
      audio: dest({ directory: audioDir }),
      metadata: dest({ directory: metaDir, port: sshd.port }),
      intervalMs: interval,
      purgeAfterTransfer: false,
      manifest: true,
      retryBaseMs: 1000,
      now: () => new Date(clock),
    });
    const wavs = [rec.a!, rec.b!, rec.c!, rec.d!];
    // Files go in name order: cut the connection three quarters into the second one (the few kB
    // of SSH handshake and SFTP requests counted before it leave several whole 8 kB chunks).
    const ordered = [...wavs].sort((x, y) => (`r_${x.id}.wav` < `r_${y.id}.wav` ? -1 : 1));
    proxy.cutAfterBytes = ordered[0]!.wav.length + Math.round(ordered[1]!.wav.length * 0.75);
    await svc.tick();
    let [b] = await db.offload.listBatches(1);
    assert.ok(b);
    assert.equal(b.count, 4);
    assert.equal(b.state, 'queued');
    assert.equal(b.attempts, 1);
    assert.ok(b.lastError, 'the failure is stored');
    assert.ok(proxy.cuts >= 1);
    const partial = await readdir(audioDir);
    assert.ok(
      partial.some((f) => f.endsWith('.part')),
      `a partial upload was left: ${partial.join(' ')}`,
    );
    assert.deepEqual(await readdir(metaDir), [], 'no CSV before its media');
    const sentBefore = (await db.offload.batchItems(b.id)).filter((i) => i.transferredAt).length;
    assert.equal(sentBefore, 1, 'the first file was confirmed before the drop');

    // Not yet: the retry waits for its backoff.
    proxy.cutAfterBytes = undefined;
    await svc.tick();
    [b] = await db.offload.listBatches(1);
    assert.equal(b!.state, 'queued');
    clock += 2000;
    await svc.tick();
    [b] = await db.offload.listBatches(1);
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
    const ra = rows.find((x) => x[14] === rec.a!.id)!;
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
      `r_${rec.a!.id}.wav`,
      ra[13],
      rec.a!.id,
    ]);
    assert.match(
      lines.find((l) => l.includes(rec.a!.id))!,
      /"Dr\. ""Who""""The Second"/,
    );
    assert.match(ra[13]!, /^\d{4}-\d\d-\d\d \d\d:\d\d:\d\d\.\d{3}$/);
    const rb = rows.find((x) => x[14] === rec.b!.id)!;
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

    const st = await deliveryStatus(db.offload);
    assert.equal(st.offload.queued, 0);
    assert.ok(st.offload.batches[0]?.startedAt && st.offload.batches[0]?.finishedAt);
    const audit = await db.audit.search({ action: 'offload.batch' });
    assert.equal(audit.total, 1);
    assert.equal(audit.items[0]?.details.count, 4);

    // The next interval had no recordings: a zero-row CSV.
    clock += interval;
    await svc.tick();
    const [z] = await db.offload.listBatches(1);
    assert.equal(z!.count, 0);
    assert.equal(z!.state, 'done');
    const zcsv = await readFile(join(metaDir, z!.csvName), 'utf8');
    assert.equal(zcsv, `#COUNT:0\n${lines[1]}\n`);
  });

  it('queues a batch behind one that has not finished, never overlapping them', async () => {
    const audioDir = join(sshd.dir, 'audio2');
    await mkdir(audioDir);
    const interval = 60_000;
    // Mid-interval, so the few seconds this test adds never cross a boundary by accident.
    let clock = (Math.floor(Date.now() / interval) + 10) * interval + interval / 2;
    const svc = new OffloadService({
      repo: db.offload,
      decryptor,
      dataDir,
      log,
      audio: dest({ directory: audioDir }),
      intervalMs: interval,
      purgeAfterTransfer: true,
      manifest: false,
      retryBaseMs: 1000,
      now: () => new Date(clock),
    });
    const r1 = await store('1002', '4930999', 4, 300);
    proxy.down = true;
    await svc.tick(); // cuts batch 1 (r1), fails
    const r2 = await store('1001', '4930888', 4, 350);
    clock += interval;
    await svc.tick(); // cuts batch 2 (r2); batch 1 waits for its backoff, batch 2 waits for batch 1
    const [b2, b1] = await db.offload.listBatches(2);
    assert.equal(b1!.count, 1);
    assert.equal(b2!.count, 1);
    assert.equal(b1!.state, 'queued');
    assert.equal(b2!.state, 'queued');
    assert.equal(b2!.attempts, 0, 'batch 2 never started while batch 1 is unfinished');
    proxy.down = false;
    clock += 5000;
    await svc.tick();
    const [d2, d1] = await db.offload.listBatches(2);
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
      const row = (await db.recordings.get(r.id))!;
      assert.equal(row.state, 'purged');
      for (const f of row.files) await assert.rejects(stat(join(dataDir, f.path)), { code: 'ENOENT' });
    }
    const purges = await db.audit.search({ action: 'offload.purge' });
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
          port: sshd.port,
          username: user,
          password,
          directory: dir,
          hostKeySha256: sshd.hostKeySha256,
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
            port: sshd.port,
            username: user,
            password: 'wrong',
            directory: dir,
            hostKeySha256: sshd.hostKeySha256,
            timeoutSeconds: 20,
          },
          log,
        ),
        /authentication|All configured/i,
      );
      // A known_hosts file instead of the fingerprint: the server's key is accepted, another refused.
      const [type, blob] = (await readFile(join(sshd.dir, 'host_ed25519.pub'), 'utf8')).split(' ');
      const knownHostsFile = join(root, 'known_hosts');
      await writeFile(knownHostsFile, `# pinned\n[127.0.0.1]:${sshd.port} ${type} ${blob}\n`);
      const viaKnown = { host: '127.0.0.1', port: sshd.port, username: user, password, directory: dir };
      await (await SftpConnection.open({ ...viaKnown, knownHostsFile, timeoutSeconds: 20 }, log)).close();
      const [, otherBlob] = (await readFile(`${sshd.clientKey}.pub`, 'utf8')).split(' ');
      await writeFile(knownHostsFile, `[127.0.0.1]:${sshd.port} ${type} ${otherBlob}\n`);
      await assert.rejects(
        SftpConnection.open({ ...viaKnown, knownHostsFile, timeoutSeconds: 20 }, log),
        /is not in .*known_hosts/,
      );
      await assert.rejects(
        SftpConnection.open(
          {
            host: '127.0.0.1',
            port: sshd.port,
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
