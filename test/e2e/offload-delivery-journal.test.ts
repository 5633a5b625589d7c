/**
 * SMTP journaling (seed 001's "SMTP Offload") against a real SMTP server and a real Postgres, with
 * real encrypted recordings: one message per stored recording with its metadata (subject, X-SRS
 * headers, the text body, a JSON attachment) and its decrypted audio (bytes equal to what was
 * recorded, each file's SHA-256 in the JSON); a temporary refusal retried without a duplicate; a
 * permanent one failed after the attempts and sent again after a manual retry; a message over the
 * size limit failed at once, saying why; the same Message-ID when a message goes twice; purge after
 * transfer wiping the artifacts but never a preserved recording; the service started by the
 * delivery wiring (decryptions audited with purpose journal) and a purge next to offload refused.
 */
import assert from 'node:assert/strict';
import { stat } from 'node:fs/promises';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { Decryptor } from '../../src/delivery/decrypt.js';
import { checkDeliveryConfig, startDelivery } from '../../src/delivery/index.js';
import { JournalService, type JournalOptions } from '../../src/delivery/journal.js';
import { deliveryStatus } from '../../src/delivery/status.js';
import type { Config } from '../../src/config.js';
import type { Database } from '../../src/store/db.js';
import { journalSettings, startSmtp, type TestSmtp } from '../helpers/delivery-fixtures.js';
import {
  openDeliveryCatalogue,
  sha256Hex as sha,
  testLog as log,
  until,
  type DeliveryCatalogue,
} from '../helpers/delivery-catalogue.js';
import { seedDeliveryCalls, type SeededCalls } from '../helpers/delivery-seed.js';
import { parseMail } from '../helpers/mail-parse.js';

const PASSPHRASE = 'journal test passphrase';
const MAILBOX = 'journal@archive.example';

describe('delivery: SMTP journal (real SMTP, Postgres)', { timeout: 120000 }, () => {
  let catalogue: DeliveryCatalogue;
  let db: Database;
  let smtp: TestSmtp;
  let decryptor: Decryptor;
  let rec: SeededCalls;
  const journal = (over: Partial<JournalOptions> = {}) =>
    new JournalService({
      repo: db.offload,
      decryptor,
      log,
      smtp: smtp.settings(),
      from: 'Recorder <recorder@example.com>',
      to: MAILBOX,
      attach: 'mp3',
      maxMessageBytes: 0,
      purgeAfterTransfer: false,
      dataDir: catalogue.dataDir,
      timeZone: 'Europe/Berlin',
      intervalMs: 1000,
      retryBaseMs: 1,
      ...over,
    });
  const mailsOf = (id: string) =>
    smtp.mails
      .map((m) => ({ ...m, parsed: parseMail(m.raw) }))
      .filter((m) => m.parsed.headers['x-srs-recording-id'] === id);
  const row = async (id: string) =>
    (
      await db.pool.query<{ state: string; attempts: number; last_error: string | null }>(
        'SELECT state, attempts, last_error FROM journal_messages WHERE recording_id = $1',
        [id],
      )
    ).rows[0];

  before(async () => {
    catalogue = await openDeliveryCatalogue('srs-journal-', PASSPHRASE, log);
    db = catalogue.db;
    decryptor = new Decryptor(catalogue.dataDir, PASSPHRASE);
    smtp = await startSmtp();
    rec = await seedDeliveryCalls(catalogue);
  });
  after(async () => {
    await smtp?.close();
    await catalogue?.close();
  });

  it('one message per recording: metadata, the decrypted audio with its SHA-256; a 451 retried, nothing twice', async () => {
    const svc = journal({ attach: 'both' });
    smtp.refuseNext = 1;
    assert.equal(await svc.tick(), 2, 'one refused with 451, two accepted');
    const waiting = (await Promise.all([rec.a, rec.b, rec.c].map((r) => row(r.id)))).filter(
      (r) => r?.state === 'pending',
    );
    assert.equal(waiting.length, 1);
    assert.match(waiting[0]?.last_error ?? '', /451|busy/);
    await new Promise((r) => setTimeout(r, 20));
    assert.equal(await svc.tick(), 1, 'the retry goes out');
    assert.equal(await svc.tick(), 0, 'nothing twice');
    assert.equal(smtp.mails.length, 3);
    assert.deepEqual((await deliveryStatus(db.offload)).journal, {
      sent: 3,
      pending: 0,
      failed: 0,
      recentFailures: [],
    });

    const [m] = mailsOf(rec.a.id);
    assert.ok(m);
    assert.deepEqual(m.to, [MAILBOX]);
    const h = m.parsed.headers;
    const stored = (await db.recordings.get(rec.a.id))!;
    assert.equal(h['message-id'], `<recording-${rec.a.id}@journal.srs>`);
    assert.equal(new Date(h.date ?? '').getTime(), Math.floor(stored.startedAt.getTime() / 1000) * 1000);
    assert.equal(h['x-srs-caller'], '1001');
    assert.equal(h['x-srs-callee'], '14155550123');
    assert.equal(h['x-srs-duration-seconds'], '12');
    // The callee's display name carries a newline: the subject stays one line.
    assert.match(
      h.subject ?? '',
      /^Call recording: Alice Agent <1001> to .*Who.* The Second <14155550123>, \d{4}-\d\d-\d\d \d\d:\d\d:\d\d \(00:00:12\)$/,
    );
    assert.match(m.parsed.text, new RegExp(`^Recording ${rec.a.id}\n`));
    assert.match(m.parsed.text, /Started: +\d{4}-\d\d-\d\d \d\d:\d\d:\d\d \(Europe\/Berlin\), /);
    assert.match(m.parsed.text, /User: +alice \(sales\)/);

    const byName = new Map(m.parsed.attachments.map((a) => [a.name, a]));
    const mp3 = byName.get(`recording-${rec.a.id}.mp3`);
    const wav = byName.get(`recording-${rec.a.id}.wav`);
    assert.equal(mp3?.type, 'audio/mpeg');
    assert.equal(wav?.type, 'audio/wav');
    const plain = (k: string) => stored.files.find((f) => f.kind === k)!.sha256Plain;
    assert.equal(sha(mp3!.data), plain('mp3'), 'the attached MP3 is the recording, decrypted');
    assert.equal(sha(wav!.data), plain('wav'), 'the attached WAV is the recorded audio');
    assert.ok(wav!.data.equals(rec.a.wav), 'byte for byte what the mixer wrote');
    const meta = JSON.parse(byName.get(`recording-${rec.a.id}.json`)!.data.toString()) as {
      recordingId: string;
      caller: { number: string };
      audio: { file: string; bytes: number; sha256: string }[];
    };
    assert.equal(meta.recordingId, rec.a.id);
    assert.equal(meta.caller.number, '1001');
    assert.deepEqual(
      meta.audio.map((a) => [a.file, a.sha256]).sort(),
      [
        [`recording-${rec.a.id}.mp3`, plain('mp3')],
        [`recording-${rec.a.id}.wav`, plain('wav')],
      ].sort(),
    );

    const sent = await db.audit.search({ action: 'journal.sent' });
    assert.equal(sent.total, 3, 'one journal.sent per recording');
    assert.equal((await db.audit.search({ action: 'journal.error' })).total, 1);
  });

  it('a permanent refusal fails after the attempts; a manual retry sends it; the Message-ID never changes', async () => {
    const d = await catalogue.store('1002', '4930777', 4, 500);
    const svc = journal({ maxAttempts: 2 });
    smtp.refuse = 550;
    await svc.tick();
    await new Promise((r) => setTimeout(r, 20));
    await svc.tick();
    assert.deepEqual([(await row(d.id))?.state, (await row(d.id))?.attempts], ['failed', 2]);
    const st = await deliveryStatus(db.offload);
    assert.equal(st.journal.failed, 1);
    assert.match(st.journal.recentFailures[0]?.lastError ?? '', /550|unavailable/);
    assert.equal((await db.audit.search({ action: 'journal.failed' })).total, 1);

    smtp.refuse = undefined;
    assert.equal(await svc.tick(), 0, 'a failed message waits for a person');
    const counts = await db.offload.retryFailed('tester');
    assert.equal(counts.journal, 1);
    assert.equal(await svc.tick(), 1);
    assert.equal((await row(d.id))?.state, 'sent');

    // The mailbox accepted it but the state was lost (a crash before the commit): it goes again,
    // with the same Message-ID, so the archive keeps one.
    await db.pool.query(`UPDATE journal_messages SET state = 'pending' WHERE recording_id = $1`, [d.id]);
    assert.equal(await svc.tick(), 1);
    const ids = mailsOf(d.id).map((m) => m.parsed.headers['message-id']);
    assert.deepEqual(ids, [`<recording-${d.id}@journal.srs>`, `<recording-${d.id}@journal.srs>`]);
  });

  it('a message over maxMessageBytes fails at once, saying why, and sends nothing', async () => {
    const e = await catalogue.store('1001', '4930666', 30, 600);
    const before = smtp.mails.length;
    await journal({ maxMessageBytes: 64 * 1024, attach: 'wav' }).tick();
    const r = await row(e.id);
    assert.deepEqual([r?.state, r?.attempts], ['failed', 1]);
    assert.match(r?.last_error ?? '', /over journal\.maxMessageBytes \(0\.1 MB\)/);
    assert.equal(smtp.mails.length, before);
    await db.offload.retryFailed('tester');
    assert.equal(await journal({ attach: 'mp3' }).tick(), 1, 'sent once the limit allows it');
  });

  it('purge after transfer wipes the artifacts, never a preserved recording', async () => {
    const kept = await catalogue.store('1001', '4930555', 4, 700);
    const gone = await catalogue.store('1002', '4930444', 4, 800);
    await db.pool.query('UPDATE recordings SET preserved_at = now() WHERE id = $1', [kept.id]);
    assert.equal(await journal({ purgeAfterTransfer: true }).tick(), 2);
    const g = (await db.recordings.get(gone.id))!;
    assert.equal(g.state, 'purged');
    for (const f of g.files) await assert.rejects(stat(join(catalogue.dataDir, f.path)), { code: 'ENOENT' });
    const k = (await db.recordings.get(kept.id))!;
    assert.equal(k.state, 'stored');
    for (const f of k.files) await stat(join(catalogue.dataDir, f.path));
    // Every recording the mailbox accepted is purged (those of the tests above too), the preserved one not.
    const sent = await db.pool.query<{ recording_id: string }>(
      `SELECT recording_id FROM journal_messages WHERE state = 'sent' AND recording_id <> $1`,
      [kept.id],
    );
    const purges = await db.audit.search({ action: 'journal.purge' });
    assert.deepEqual(
      purges.items.map((p) => p.resourceId).sort(),
      sent.rows.map((r) => r.recording_id).sort(),
    );
    assert.ok(purges.items.some((p) => p.resourceId === gone.id));
  });

  it('a backlog larger than one pass drains without waiting the interval between passes', async () => {
    const backlog: string[] = [];
    for (let i = 0; i < 55; i++) backlog.push((await catalogue.store('1001', `49301${i}`, 1, 300 + i)).id);
    const svc = journal({ intervalMs: 600_000 });
    svc.start();
    try {
      await until(
        'the 55 messages (more than the 50 of one pass)',
        async () =>
          (
            await db.pool.query<{ n: number }>(
              `SELECT count(*)::int AS n FROM journal_messages WHERE state = 'sent' AND recording_id = ANY($1::uuid[])`,
              [backlog],
            )
          ).rows[0]?.n === 55,
        30_000,
      );
    } finally {
      await svc.stop();
    }
  });

  it('startDelivery runs the journal (decryptions audited as journal); purge next to offload is refused', async () => {
    const f = await catalogue.store('1002', '4930333', 4, 900);
    const config = {
      dataDir: catalogue.dataDir,
      keys: { passphrase: PASSPHRASE },
      offload: { enabled: false },
      export: { enabled: false },
      notifications: { enabled: false },
      journal: journalSettings(smtp, { to: MAILBOX }),
    } as unknown as Config;
    const delivery = await startDelivery({ config, db, log, intervalsMs: { journal: 100 } });
    try {
      assert.ok(delivery.journal, 'the journal runs');
      await until('the journal to send it', async () => (await row(f.id))?.state === 'sent', 20000);
    } finally {
      await delivery.stop();
    }
    const access = await db.audit.search({ action: 'delivery', resourceId: f.id });
    assert.deepEqual(
      access.items.map((e) => e.details.purpose),
      ['journal'],
    );
    assert.throws(
      () =>
        checkDeliveryConfig({
          ...config,
          offload: { ...config.offload, enabled: true },
          journal: { ...config.journal, purgeAfterTransfer: true },
        }),
      /journal\.purgeAfterTransfer: not with offload or export enabled/,
    );
  });
});
