/**
 * The "Integrity" card of a recording's page in a real Chromium against the real server, on a real
 * SIPREC call (SIPp signalling, RTP from our sender) recorded, encrypted and stored
 * (test/helpers/console-world.ts): "Check now" shows every check passed and the time; a byte
 * flipped in the stored encrypted WAV on disk makes the next check show that file failed and the
 * recording not intact; the original bytes back, it is intact again; each check is audited.
 * Screenshots go to test-artifacts/console/.
 */
import assert from 'node:assert/strict';
import { existsSync } from 'node:fs';
import { readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { CHROMIUM, startConsoleWorldWithCall, type ConsoleWorld } from '../helpers/console-world.js';
import { filesUnder } from '../helpers/pipeline-probes.js';

interface Detail {
  files: { kind: string }[];
}

describe(
  'web console in Chromium: recording integrity',
  { timeout: 150000, skip: !existsSync(CHROMIUM) && 'chromium not installed' },
  () => {
    let w: ConsoleWorld;
    let recorded: { recordingId: string; callId: string } | undefined;

    before(async () => {
      ({ w, recorded } = await startConsoleWorldWithCall('console-recording-integrity'));
    });

    after(async () => {
      await w?.close();
    });

    /** Clicks Check now and waits for this outcome; the checks as shown (name:kind=ok). */
    const checkNow = async (intact: boolean): Promise<string[]> => {
      const { page } = w;
      await page.evaluate(() => document.querySelector('#integrity-summary')?.remove());
      await page.click('#integrity-check');
      await page.waitForSelector(`#integrity-summary[data-intact="${intact}"]`);
      return page.$$eval('#integrity-checks li.integrity-check', (lis) =>
        lis.map((li) => {
          const d = (li as HTMLElement).dataset;
          return `${d.name}${d.kind ? `:${d.kind}` : ''}=${d.ok}`;
        }),
      );
    };

    it('Check now shows each check; a flipped byte on disk shows that file failed', async () => {
      const { page, base, api, server, shot } = w;
      assert.ok(recorded, 'before() recorded and stored a call');
      const id = recorded.recordingId;
      await page.goto(`${base}/recordings/${id}`);
      await page.waitForSelector('#integrity h3:has-text("Integrity")');

      const intact = await checkNow(true);
      const kinds = (await api<Detail>(`/recordings/${id}`)).files.map((f) => f.kind).sort();
      assert.ok(kinds.includes('wav'), `a WAV stored: ${kinds.join()}`);
      assert.deepEqual(intact, [
        'chain.entry=true',
        'chain.link=true',
        'chain.anchor=true',
        'chain.day=true',
        ...kinds.map((k) => `file:${k}=true`),
      ]);
      const summary = (await page.textContent('#integrity-summary')) ?? '';
      assert.match(summary, /^Intact: every check passed \(.+\)\.$/);
      assert.equal(
        await page.locator('#integrity-checks .integrity-status:has-text("passed")').count(),
        intact.length,
      );
      await shot('recording-integrity-intact');

      // A byte of the stored encrypted WAV flipped on disk, as an intruder on the host would.
      const wav = (await filesUnder(server.dataDir)).find((f) => f.endsWith(`/${id}.wav.gpg`));
      assert.ok(wav, 'the encrypted WAV on disk');
      const path = join(server.dataDir, wav);
      const original = await readFile(path);
      const flipped = Buffer.from(original);
      flipped.writeUInt8(flipped.readUInt8(flipped.length >> 1) ^ 0x80, flipped.length >> 1);
      await writeFile(path, flipped);
      try {
        const broken = await checkNow(false);
        assert.deepEqual(
          broken.filter((c) => !c.endsWith('=true')),
          ['file:wav=false'],
        );
        assert.match((await page.textContent('#integrity-summary')) ?? '', /^NOT intact: 1 check failed/);
        const row = page.locator('#integrity-checks li[data-kind="wav"]');
        assert.match(
          (await row.textContent()) ?? '',
          /FAILED.*CHANGED: the wav file's SHA-256 [0-9a-f]{64} does not match/,
        );
        await shot('recording-integrity-tampered');
      } finally {
        await writeFile(path, original);
      }
      await checkNow(true);

      // Each check is in the audit trail, with its outcome.
      const audit = await api<{ items: { actor: string; details: { intact: boolean; failed: string[] } }[] }>(
        `/audit?action=integrity.check&resourceId=${id}`,
      );
      assert.deepEqual(
        audit.items.map((e) => `${e.actor}:${e.details.intact}:${e.details.failed.join('+')}`).reverse(),
        ['admin:true:', 'admin:false:file.wav', 'admin:true:'],
      );
    });
  },
);
