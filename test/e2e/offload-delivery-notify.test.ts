import assert from 'node:assert/strict';
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { Decryptor } from '../../src/delivery/decrypt.js';
import type { NotifyOptions } from '../../src/delivery/notify.js';
import { deliveryStatus } from '../../src/delivery/status.js';
import type { Database } from '../../src/store/db.js';
import { startSmtp, testNotifier, type TestSmtp } from '../helpers/delivery-fixtures.js';
import { parseMail } from '../helpers/mail-parse.js';
import {
  openDeliveryCatalogue,
  sha256Hex as sha,
  testLog as log,
  type DeliveryCatalogue,
} from '../helpers/delivery-catalogue.js';
import { seedDeliveryCalls, storeFourthCall, type SeededCalls } from '../helpers/delivery-seed.js';

const PASSPHRASE = 'delivery test passphrase';

describe('delivery: email notifications (real SMTP, Postgres)', () => {
  let dataDir: string;
  let db: Database;
  let smtp: TestSmtp;
  let catalogue: DeliveryCatalogue;
  let decryptor: Decryptor;
  let rec: SeededCalls;

  before(async () => {
    catalogue = await openDeliveryCatalogue('srs-delivery-', PASSPHRASE, log);
    ({ dataDir, db } = catalogue);
    decryptor = new Decryptor(dataDir, PASSPHRASE);
    smtp = await startSmtp();
    rec = await seedDeliveryCalls(catalogue);
  });

  /** The notifier on this file's catalogue and SMTP server, with `over` on top. */
  const notifier = (over: Partial<NotifyOptions>) => testNotifier({ db, decryptor, log, smtp }, over);

  after(async () => {
    await smtp?.close();
    await catalogue?.close();
  });

  it('emails the recorded users with placeholders filled and the decrypted MP3 attached; retries a refused send', async () => {
    const templateFile = join(dataDir, 'mail.txt');
    await writeFile(
      templateFile,
      'Hi [UserDisplayName]\nid=[RecordingID]\nuser=[Username] ext=[UserExtension] remote=[RemotePhoneNumber]\nstart=[RecordingStartDate] [RecordingStartTime] dur=[RecordingDuration]\ngroup=[RecordingGroupName] callid=[PBXCallID] dir=[CallDirection] att=[AttachmentFileSize]KB max=[MaxAttachmentSize]MB\n',
    );
    const svc = notifier({
      from: 'Recorder <recorder@example.com>',
      subject: 'Recorded: [RemotePhoneNumber] ([RecordingDuration])',
      templateFile,
      maxAttachmentBytes: 1024 * 1024,
      retryBaseMs: 1,
    });
    await svc.checkTemplates();
    smtp.refuseNext = 1;
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
    assert.equal(smtp.mails.length, 2);

    const toAlice = smtp.mails.find((m) => m.to.includes('alice@example.com'));
    const toBob = smtp.mails.find((m) => m.to.includes('bob@example.com'));
    assert.ok(toAlice && toBob, 'alice and bob, nobody for the call without a user');
    const a = parseMail(toAlice.raw);
    assert.equal(a.headers.subject, 'Recorded: 14155550123 (00:00:12)');
    assert.match(a.headers.from ?? '', /recorder@example\.com/);
    assert.equal(a.headers['x-srs-recording-id'], rec.a.id);
    const row = await db.recordings.get(rec.a.id);
    const mp3 = row!.files.find((f) => f.kind === 'mp3')!;
    assert.equal(a.attachments.length, 1);
    assert.equal(a.attachments[0]!.type, 'audio/mpeg');
    assert.equal(a.attachments[0]!.name, `recording-${rec.a.id}.mp3`);
    assert.equal(sha(a.attachments[0]!.data), mp3.sha256Plain, 'attachment bytes = decrypted MP3');
    const kb = Math.ceil(a.attachments[0]!.data.length / 1024);
    const started = row!.startedAt.toISOString();
    assert.equal(
      a.text,
      `Hi Alice Agent\nid=${rec.a.id}\nuser=alice ext=1001 remote=14155550123\nstart=${started.slice(0, 10)} ${started.slice(11, 19)} dur=00:00:12\ngroup=sales callid=${rec.a.callId} dir=outgoing att=${kb}KB max=1MB\n`,
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
    const r = await storeFourthCall(catalogue);
    const svc = notifier({
      subject: 'Recorded [RecordingID]',
      body: 'att=[AttachmentFileSize] max=[MaxAttachmentSize]',
      maxAttachmentBytes: 1000,
    });
    const before = smtp.mails.length;
    assert.equal(await svc.tick(), 1);
    const m = parseMail(smtp.mails[before]!.raw);
    assert.equal(m.headers.subject, `Recorded ${r.id}`);
    assert.equal(m.attachments.length, 0);
    assert.equal(m.text, 'att=0 max=0MB'.replace('0MB', '0'));
  });

  it("a group's own templates go to its users; the others get the default; a bad tag in one is refused", async () => {
    const supportFile = join(dataDir, 'support-mail.txt');
    await writeFile(supportFile, 'Support team: [UserDisplayName] spoke with [RemotePhoneNumber]');
    const service = (groups: NotifyOptions['groups']) =>
      notifier({ subject: 'Default [RecordingID]', body: 'default body for [Username]', groups });
    await assert.rejects(
      service({ support: { subject: 'Hi [Usrname]' } }).checkTemplates(),
      /notifications\.groups\.support\.subject: unknown tag \[Usrname\]/,
    );
    const svc = service({
      support: { subject: 'Support call [RemotePhoneNumber]', templateFile: supportFile },
    });
    await svc.checkTemplates();
    const toBob = await catalogue.store('4930555000', '1002', 5, 600);
    const toAlice = await catalogue.store('1001', '14155550177', 5, 700);
    const before = smtp.mails.length;
    assert.equal(await svc.tick(), 2);
    const sent = smtp.mails.slice(before).map((m) => ({ to: m.to, ...parseMail(m.raw) }));
    const bob = sent.find((m) => m.to.includes('bob@example.com'));
    const alice = sent.find((m) => m.to.includes('alice@example.com'));
    assert.equal(bob?.headers.subject, 'Support call 4930555000');
    assert.equal(bob?.text, 'Support team: Bob spoke with 4930555000');
    assert.equal(alice?.headers.subject, `Default ${toAlice.id}`);
    assert.equal(alice?.text, 'default body for alice');
    assert.notEqual(toBob.id, toAlice.id);
  });
});
