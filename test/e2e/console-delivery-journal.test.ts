/**
 * The SMTP journal on the console's Delivery page, in a real Chromium against the real server
 * journaling to a real SMTP server (test/helpers/delivery-fixtures.ts startSmtp) on a real SIPREC
 * call recorded and stored (test/helpers/console-world.ts): while the mailbox refuses with 550, the
 * "Journal (SMTP)" block counts the message failed and lists it with its recording (a link to it),
 * state, attempts and the SMTP error, and the dashboard's delivery line counts it; the recording's
 * access log says the server gave up sending it. "Retry failed deliveries now" says what it
 * re-queued, the journal message among them; once the mailbox accepts it the block counts it sent
 * and the access log says where it went, its size and Message-ID. Screenshots go to
 * test-artifacts/console/.
 */
import assert from 'node:assert/strict';
import { existsSync } from 'node:fs';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { after, before, describe, it } from 'node:test';
import { CHROMIUM, startConsoleWorldWithCall, type ConsoleWorld } from '../helpers/console-world.js';
import { startSmtp, type TestSmtp } from '../helpers/delivery-fixtures.js';
import { parseMail } from '../helpers/mail-parse.js';

const MAILBOX = 'journal@archive.example';

interface JournalJson {
  sent: number;
  pending: number;
  failed: number;
  recentFailures: { recordingId: string; state: string; attempts: number; lastError: string }[];
}

describe(
  'web console in Chromium: the SMTP journal on the Delivery page (real SMTP)',
  { timeout: 240000, skip: !existsSync(CHROMIUM) && 'chromium not installed' },
  () => {
    let w: ConsoleWorld | undefined;
    let recorded: { recordingId: string; callId: string } | undefined;
    let smtp: TestSmtp | undefined;
    let dir: string | undefined;

    before(async () => {
      smtp = await startSmtp();
      // Every message refused for good (550); one attempt, then failed.
      smtp.refuse = 550;
      dir = await mkdtemp(join(tmpdir(), 'srs-console-journal-'));
      const config = join(dir, 'config.json');
      await writeFile(
        config,
        JSON.stringify({
          journal: {
            enabled: true,
            to: MAILBOX,
            from: 'Recorder <recorder@example.com>',
            smtp: smtp.settings(),
            attach: 'mp3',
            intervalSeconds: 1,
            maxAttempts: 1,
          },
        }),
      );
      ({ w, recorded } = await startConsoleWorldWithCall('console-delivery-journal', {
        env: { SRS_CONFIG: config },
      }));
    });

    after(async () => {
      await w?.close();
      await smtp?.close();
      if (dir) await rm(dir, { recursive: true, force: true });
    });

    /** GET /delivery's journal once `done` holds (the service sends every second). */
    const journalWhen = async (done: (j: JournalJson) => boolean): Promise<JournalJson> => {
      for (let i = 0; ; i++) {
        const j = (await w!.api<{ journal: JournalJson }>('/delivery')).journal;
        if (done(j)) return j;
        assert.ok(i < 120, `journal: ${JSON.stringify(j)}\n${w!.server.output().slice(-2000)}`);
        await sleep(250);
      }
    };

    it('shows the failed message with its error, the retry and then the message sent', async () => {
      assert.ok(w && smtp && recorded, 'before() recorded and stored a call');
      const { page, base, api, shot } = w;
      const id = recorded.recordingId;
      const failed = await journalWhen((j) => j.failed === 1);
      assert.equal(failed.recentFailures[0]?.recordingId, id);
      assert.ok(smtp.refused >= 1, 'the SMTP server refused the message');

      // The Delivery page: the counts, the failure with its recording, state, attempts and error.
      await page.click('#tab-delivery');
      await page.waitForSelector('#delivery-state:has-text("Delivery is on.")');
      await page.waitForSelector('h3:has-text("Journal (SMTP)")');
      assert.equal(await page.textContent('#delivery-journal'), 'Messages: 0 sent · 0 pending · 1 failed');
      assert.deepEqual(
        await page.$$eval('#delivery-journal-failures th', (ths) => ths.map((x) => x.textContent)),
        ['Recording', 'State', 'Attempts', 'Error', 'Next try'],
      );
      const row = page.locator(`#delivery-journal-failures tr[data-recording="${id}"]`);
      const cells = await row.locator('td').allTextContents();
      assert.equal(cells.length, 5, cells.join(' | '));
      assert.deepEqual(
        [cells[0], cells[1], cells[2], cells[4]],
        [id, 'failed', '1', 'gave up (retry above)'],
      );
      assert.match(cells[3] ?? '', /550/);
      assert.match(cells[3] ?? '', /mailbox unavailable/);
      assert.equal(await row.locator('td a').getAttribute('href'), `/recordings/${id}`);
      await shot('delivery-journal-failed');

      // The dashboard's delivery line counts the journal's failure.
      await page.click('#tab-dashboard');
      await page.waitForSelector('#dash-delivery[data-enabled="true"]');
      assert.match((await page.textContent('#dash-delivery')) ?? '', /\b1 failed\b/);

      // The recording (through the failure's link): its access log says the server gave up.
      await page.click('#tab-delivery');
      await row.locator('td a').click();
      await page.waitForURL(`${base}/recordings/${id}`);
      const gaveUp = page.locator('#access-log li', { hasText: 'gave up sending this recording' });
      await gaveUp.waitFor();
      assert.match(
        (await gaveUp.textContent()) ?? '',
        / — The server gave up sending this recording to the journal mailbox \(attempt 1: .*550.*\)$/,
      );

      // The mailbox accepts again; the retry re-queues the message, which then goes out.
      smtp.refuse = undefined;
      await page.click('#tab-delivery');
      await page.waitForSelector('#delivery-journal-failures');
      await page.click('#delivery-retry');
      await page.waitForSelector('#delivery-msg:has-text("re-queued now")');
      assert.equal(
        await page.textContent('#delivery-msg'),
        're-queued now: 0 offload batches, 0 MP3 exports, 0 email notifications, 1 journal message',
      );
      await page.waitForSelector('#delivery-journal:has-text("Messages: 1 sent · 0 pending · 0 failed")', {
        timeout: 30000,
      });
      assert.equal(await page.$('#delivery-journal-failures'), null, 'no failure left');
      await shot('delivery-journal-sent');
      assert.equal(smtp.mails.length, 1);
      const mail = smtp.mails[0]!;
      assert.deepEqual(mail.to, [MAILBOX]);
      assert.equal(parseMail(mail.raw).headers['x-srs-recording-id'], id);

      // The access log: where it went, its size and Message-ID; the decryption for the journal.
      await page.goto(`${base}/recordings/${id}`);
      const sent = page.locator('#access-log li', { hasText: 'sent this recording to the journal mailbox' });
      await sent.waitFor();
      assert.match(
        (await sent.textContent()) ?? '',
        new RegExp(
          ` — The server sent this recording to the journal mailbox \\(to ${MAILBOX.replace(/\./g, '\\.')}, [\\d,]+ bytes?, Message-ID <recording-${id}@journal\\.srs>\\)$`,
        ),
      );
      const files = (await api<{ files: { kind: string }[] }>(`/recordings/${id}`)).files.map((f) => f.kind);
      if (files.includes('mp3'))
        await page
          .locator('#access-log li', {
            hasText: 'The server decrypted for delivery this recording (journal)',
          })
          .first()
          .waitFor();
      await shot('delivery-journal-access-log');
    });
  },
);
