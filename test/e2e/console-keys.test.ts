/**
 * The Keys page's key rotation in a real Chromium against the real server (`srs serve` with a key
 * passphrase, one SIPREC call recorded and stored under the first key): the page lists the first
 * key as active with the call's files; the Generate form makes a Curve25519 key the active one;
 * Activate switches back and forth; Retire asks first, and with "also move its files" ticked the
 * server re-encrypts them in the background while the page shows the files left, then done with
 * 0 files (and stops reading the list); a retired key offers no Activate; a refusal of the server
 * (409, a key retired behind the page's back) shows in the outcome line; the audit trail and the
 * recording's access log read the new actions as sentences.
 */
import assert from 'node:assert/strict';
import { existsSync } from 'node:fs';
import { setTimeout as sleep } from 'node:timers/promises';
import { after, before, describe, it } from 'node:test';
import {
  CHROMIUM,
  searchAudit,
  startConsoleWorldWithCall,
  type ConsoleWorld,
} from '../helpers/console-world.js';
import type { KeyJson } from '../../web/src/views/keys.js';

const skip = !existsSync(CHROMIUM) && 'chromium not installed';
/** A fingerprint as the page's messages and the audit sentences show it. */
const short = (fp: string) => fp.slice(-16);
const row = (fp: string) => `tr.key-row[data-fingerprint="${fp}"]`;

describe('web console in Chromium: key rotation on the Keys page', { timeout: 240000, skip }, () => {
  let w: ConsoleWorld;
  let recordingId: string;
  /** The first key (the call's files are encrypted to it) and the one generated in the page. */
  let first: KeyJson;
  let fresh: string;
  const keys = async () => (await w.api<{ items: KeyJson[] }>('/keys')).items;
  const key = async (fp: string) => (await keys()).find((k) => k.fingerprint === fp);
  const text = async (sel: string) => ((await w.page.textContent(sel)) ?? '').trim();
  /** Waits until the element of `sel` reads `want` (the page reloads its list after each action). */
  const until = (sel: string, want: RegExp, timeout = 30000) =>
    w.page
      .waitForFunction(
        ([s, src]) => new RegExp(src).test(document.querySelector(s)?.textContent?.trim() ?? ''),
        [sel, want.source] as const,
        { timeout },
      )
      .catch(async (err: Error) => {
        const now = await w.page.textContent(sel).catch(() => null);
        throw new Error(`${sel} never read ${want} (it reads ${JSON.stringify(now)}): ${err.message}`);
      });
  const cell = (fp: string, cls: string) => `${row(fp)} .${cls}`;
  /** Clicks `sel`, answering the confirmation with `accept`; its question. */
  const confirming = async (sel: string, accept: boolean): Promise<string> => {
    const asked = new Promise<string>((resolve) =>
      w.page.once('dialog', (d) => {
        resolve(d.message());
        void (accept ? d.accept() : d.dismiss());
      }),
    );
    await w.page.click(sel);
    return asked;
  };
  const keyListReads = async () =>
    (await w.api<{ items: unknown[] }>('/audit?action=key.list&limit=1000')).items.length;

  before(async () => {
    const world = await startConsoleWorldWithCall('console-keys');
    w = world.w;
    recordingId = world.recorded.recordingId;
    const made = (await keys())[0];
    assert.ok(made, 'the server made its first key');
    first = made;
    await w.page.click('#tab-keys');
    await w.page.waitForSelector(row(first.fingerprint));
  });

  after(async () => {
    await w?.close();
  });

  it('lists the first key as active, with the files of the stored call', async () => {
    assert.ok((first.files ?? 0) > 0, `the call's files are under the first key: ${JSON.stringify(first)}`);
    assert.equal(await w.page.locator('tr.key-row').count(), 1);
    const fp = first.fingerprint;
    assert.equal(await text(`${row(fp)} code`), fp);
    assert.equal(await text(cell(fp, 'key-state')), 'active');
    assert.equal(await text(cell(fp, 'key-files')), String(first.files));
    assert.equal(await text(cell(fp, 'key-reencrypt-state')), '');
    assert.equal(
      await text(cell(fp, 'key-actions')),
      '',
      'the active key can be neither activated nor retired',
    );
    const about = await text('#app p.muted');
    assert.match(about, /Rotate keys here or with `srs keys`/);
    assert.match(about, /to the catalogue, where every node of a cluster finds it/);
    // The form's defaults: RSA 4096, made the active key.
    assert.equal(await w.page.inputValue('#keys-type'), 'rsa4096');
    assert.equal(await w.page.isChecked('#keys-activate'), true);
    await w.shot('keys-1-first');
  });

  it('generates a Curve25519 key from the form: it is the active key, the first one inactive', async () => {
    await w.page.selectOption('#keys-type', 'curve25519');
    await w.page.click('#keys-generate');
    await until('#keys-msg.ok', /^generated the key [0-9A-F]{16} \(curve25519\); it is the active key now$/);
    const made = (await keys()).find((k) => k.fingerprint !== first.fingerprint);
    assert.ok(made, 'the server has the generated key');
    fresh = made.fingerprint;
    assert.equal(
      await text('#keys-msg'),
      `generated the key ${short(fresh)} (curve25519); it is the active key now`,
    );
    await w.page.waitForSelector(row(fresh));
    assert.equal(await text(cell(fresh, 'key-state')), 'active');
    assert.equal(await text(`${row(fresh)} td:nth-child(2)`), 'curve25519');
    assert.equal(await text(cell(fresh, 'key-files')), '0');
    await until(cell(first.fingerprint, 'key-state'), /^inactive$/);
    assert.equal(await text(`${row(first.fingerprint)} .key-activate`), 'Activate');
    assert.equal(await text(`${row(first.fingerprint)} .key-retire`), 'Retire');
    assert.equal(await w.page.locator(`${row(fresh)} button`).count(), 0, 'no action on the active key');
    assert.equal(await text('#keys-generate'), 'Generate key');
    await w.shot('keys-2-generated');
  });

  it('activates the first key again, then the generated one', async () => {
    const old = first.fingerprint;
    await w.page.click(`${row(old)} .key-activate`);
    await until('#keys-msg.ok', new RegExp(`^${short(old)} is the active key now$`));
    await until(cell(old, 'key-state'), /^active$/);
    await until(cell(fresh, 'key-state'), /^inactive$/);
    assert.equal((await key(old))?.active, true);
    await w.page.click(`${row(fresh)} .key-activate`);
    await until('#keys-msg.ok', new RegExp(`^${short(fresh)} is the active key now$`));
    await until(cell(fresh, 'key-state'), /^active$/);
    await until(cell(old, 'key-state'), /^inactive$/);
    assert.equal((await key(fresh))?.active, true);
  });

  it('retires the first key with its files moved: the page shows them going, then done with 0', async () => {
    const old = first.fingerprint;
    const n = first.files ?? 0;
    const files = n === 1 ? '1 file' : `${n} files`;
    assert.equal(
      await text(`${row(old)} label:has(.key-retire-reencrypt)`),
      `also move its ${n} recording ${n === 1 ? 'file' : 'files'} to the active key`,
    );
    // Retire without moving the files, answered No: nothing happens.
    assert.equal(
      await confirming(`${row(old)} .key-retire`, false),
      `Retire the key ${short(old)}? It is never used again; what is encrypted to it stays readable.`,
    );
    await sleep(300);
    assert.equal((await key(old))?.retiredAt, null, 'a refused confirmation sends nothing');
    // Every text the re-encryption cell shows from now on, as the user saw it.
    await w.page.evaluate((fp) => {
      const seen: string[] = [];
      (globalThis as unknown as { seen: string[] }).seen = seen;
      const box = document.getElementById('keys-list') as HTMLElement;
      // (An inline callback: a named function would need tsx's __name helper in the page.)
      new MutationObserver(() => {
        const s = box.querySelector(`tr[data-fingerprint="${fp}"] .key-reencrypt-state`)?.textContent ?? '';
        if (seen[seen.length - 1] !== s) seen.push(s);
      }).observe(box, { childList: true, subtree: true, characterData: true });
    }, old);
    await w.page.check(`${row(old)} .key-retire-reencrypt`);
    assert.equal(
      await confirming(`${row(old)} .key-retire`, true),
      `Retire the key ${short(old)} and re-encrypt its ${files} to the active key? It is never used again.`,
    );
    await until(
      '#keys-msg.ok',
      new RegExp(`^retired ${short(old)}; re-encrypting its ${files} to the active key$`),
    );
    await until(cell(old, 'key-reencrypt-state'), /^done \(.+\)$/, 60000);
    assert.equal(await text(cell(old, 'key-files')), '0');
    assert.match(await text(cell(old, 'key-state')), /^retired /);
    const seen = await w.page.evaluate(() => (globalThis as unknown as { seen: string[] }).seen);
    assert.ok(
      seen.some((s) => /^re-encrypting: \d+ files? left$/.test(s)),
      `the page showed the re-encryption going: ${JSON.stringify(seen)}`,
    );
    assert.match(seen[seen.length - 1] ?? '', /^done \(/);
    // A retired key offers no Activate (nor Retire), and with no file left no Re-encrypt.
    assert.equal(await w.page.locator(`${row(old)} button`).count(), 0);
    const now = new Map((await keys()).map((k) => [k.fingerprint, k]));
    const was = now.get(old);
    assert.deepEqual([was?.active, was?.files, Boolean(was?.retiredAt)], [false, 0, true]);
    assert.deepEqual([was?.reencrypt?.error, Boolean(was?.reencrypt?.finishedAt)], [null, true]);
    assert.deepEqual([now.get(fresh)?.active, now.get(fresh)?.files], [true, n], 'every file moved to it');
    await w.shot('keys-3-retired');
    // Finished: the page reads the list no more (each read is a key.list audit entry).
    const reads = await keyListReads();
    await sleep(4500);
    assert.equal(await keyListReads(), reads, 'the page stopped polling once the re-encryption was done');
  });

  it('shows the server’s refusal: activating a key retired behind the page’s back (409)', async () => {
    // An RSA 4096 key, not made active: the button says the server is at it meanwhile.
    await w.page.selectOption('#keys-type', 'rsa4096');
    await w.page.uncheck('#keys-activate');
    await w.page.click('#keys-generate');
    assert.equal(await text('#keys-generate'), 'Generating…');
    assert.equal(await w.page.isDisabled('#keys-generate'), true);
    await until('#keys-msg.ok', /^generated the key [0-9A-F]{16} \(rsa4096\)$/, 60000);
    assert.equal(await text('#keys-generate'), 'Generate key');
    const rsa = (await keys()).find((k) => k.algorithm === 'rsa4096');
    assert.ok(rsa);
    assert.equal(await text('#keys-msg'), `generated the key ${short(rsa.fingerprint)} (rsa4096)`);
    await w.page.waitForSelector(row(rsa.fingerprint));
    assert.equal(await text(cell(rsa.fingerprint, 'key-state')), 'inactive');
    assert.equal(await text(cell(fresh, 'key-state')), 'active', 'an inactive key leaves the active one');
    // Another admin retires it (the API); this page still offers Activate.
    const r = await fetch(`${w.base}/api/v1/keys/${rsa.fingerprint}/retire`, {
      method: 'POST',
      headers: { authorization: `Bearer ${w.server.token}`, 'content-type': 'application/json' },
      body: '{}',
    });
    assert.equal(r.status, 200, await r.text());
    await w.page.click(`${row(rsa.fingerprint)} .key-activate`);
    await until('#keys-msg.error', new RegExp(`^key ${rsa.fingerprint} is retired and cannot be activated$`));
    // The list is read again: the key shows retired, without Activate.
    await until(cell(rsa.fingerprint, 'key-state'), /^retired /);
    assert.equal(await w.page.locator(`${row(rsa.fingerprint)} .key-activate`).count(), 0);
    assert.equal((await key(fresh))?.active, true);
    await w.shot('keys-4-refused');
  });

  it('the audit trail reads the key actions as sentences', async () => {
    const sentences = async (action: string) => {
      await searchAudit(w.page, action);
      return w.page.$$eval('tr.audit-row .audit-line', (td) =>
        td.map((x) => (x.textContent ?? '').replace(/ from \S+$/, '')),
      );
    };
    const old = short(first.fingerprint);
    const s = short(fresh);
    const rsa = short((await keys()).find((k) => k.algorithm === 'rsa4096')?.fingerprint ?? '');
    const n = first.files ?? 0;
    await w.page.click('#tab-audit');
    await w.page.waitForSelector('#a-action');
    assert.deepEqual(await sentences('key.generate'), [
      `admin generated the encryption key ${rsa} (rsa4096)`,
      `admin generated the encryption key ${s} (curve25519, active)`,
    ]);
    assert.deepEqual(await sentences('key.activate'), [
      `admin made the encryption key ${s} the active key`,
      `admin made the encryption key ${old} the active key`,
    ]);
    assert.deepEqual(await sentences('key.retire'), [
      `The server admin token retired the encryption key ${rsa}`,
      `admin retired the encryption key ${old}, its recordings to be re-encrypted to the active key`,
    ]);
    assert.deepEqual(await sentences('key.reencrypt.request'), [
      `admin asked to re-encrypt the recordings of the encryption key ${old} to the active key`,
    ]);
    assert.deepEqual(await sentences('key.reencrypt.run'), [
      `admin moved ${n === 1 ? '1 file' : `${n} files`} of the encryption key ${old} to the active key`,
    ]);
    const moved = await sentences('key.reencrypt');
    assert.equal(moved.length, n, JSON.stringify(moved));
    for (const m of moved)
      assert.match(
        m,
        new RegExp(`^admin re-encrypted recording ${recordingId.slice(0, 8)}’s \\S+ to a new key$`),
      );
    assert.ok(
      moved.some((m) => m.includes('’s wav to')),
      JSON.stringify(moved),
    );
    await w.shot('keys-5-audit');
  });

  it('the recording’s access log says its files were re-encrypted', async () => {
    await w.page.goto(`${w.base}/recordings/${recordingId}`);
    await w.page.waitForSelector('#access-log li');
    const log = await w.page.$$eval('#access-log li', (li) => li.map((x) => x.textContent ?? ''));
    assert.ok(
      log.some((l) => l.endsWith('admin re-encrypted this recording’s wav to a new key')),
      JSON.stringify(log),
    );
    // The moved WAV still plays: the server decrypts it with the new key.
    const r = await fetch(`${w.base}/api/v1/recordings/${recordingId}/audio?format=wav`, {
      headers: { authorization: `Bearer ${w.server.token}` },
    });
    const body = Buffer.from(await r.arrayBuffer());
    assert.equal(r.status, 200, body.toString());
    assert.equal(body.subarray(0, 4).toString(), 'RIFF');
    assert.ok(body.length > 44, 'a WAV with audio in it');
  });
  it('a key retired with its files kept offers Re-encrypt, which moves them to the active key', async () => {
    await w.page.click('#tab-keys');
    await w.page.waitForSelector(row(fresh));
    const n = first.files ?? 0;
    const files = n === 1 ? '1 file' : `${n} files`;
    // A third key takes over; the second one (with the call's files now) is retired as it is.
    await w.page.selectOption('#keys-type', 'curve25519');
    await w.page.check('#keys-activate');
    await w.page.click('#keys-generate');
    await until('#keys-msg.ok', /^generated the key [0-9A-F]{16} \(curve25519\); it is the active key now$/);
    await until(cell(fresh, 'key-state'), /^inactive$/);
    assert.equal(
      await confirming(`${row(fresh)} .key-retire`, true),
      `Retire the key ${short(fresh)}? It is never used again; what is encrypted to it stays readable.`,
    );
    await until('#keys-msg.ok', new RegExp(`^retired ${short(fresh)}$`));
    await until(cell(fresh, 'key-state'), /^retired /);
    assert.equal(await text(cell(fresh, 'key-files')), String(n));
    assert.equal(await text(cell(fresh, 'key-reencrypt-state')), '');
    assert.equal(await w.page.locator(`${row(fresh)} .key-activate`).count(), 0);
    assert.equal(await text(`${row(fresh)} .key-reencrypt`), 'Re-encrypt');
    assert.equal(
      await confirming(`${row(fresh)} .key-reencrypt`, true),
      `Re-encrypt the ${files} of the key ${short(fresh)} to the active key?`,
    );
    await until(
      '#keys-msg.ok',
      new RegExp(`^re-encrypting the ${files} of ${short(fresh)} to the active key$`),
    );
    await until(cell(fresh, 'key-reencrypt-state'), /^done \(.+\)$/, 60000);
    assert.equal(await text(cell(fresh, 'key-files')), '0');
    assert.equal(await w.page.locator(`${row(fresh)} button`).count(), 0, 'nothing left to re-encrypt');
    const active = (await keys()).find((k) => k.active);
    assert.equal(active?.files, n, 'the files are under the third key');
  });
});
