import assert from 'node:assert/strict';
import { mkdir, mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { chromium, type BrowserContext, type Page } from 'playwright-core';
import { tone } from './audio.js';
import { sendRtpStream } from './rtp.js';
import { ROOT, startTestServer, type TestServer } from './server.js';
import { removeSippErrorLogs, sipp, writeSignallingOnlyScenario } from './sipp.js';

/**
 * The world of the web console end-to-end tests (test/e2e/console.test.ts and
 * console-admin.test.ts): the real server with an admin password, a real Chromium (the Debian
 * package, driven by playwright-core) on a profile of its own, and SIPREC calls signalled by SIPp
 * with RTP tones from our sender. Screenshots go to test-artifacts/console/.
 */

export const CHROMIUM = '/usr/bin/chromium';
export const ADMIN_PASSWORD = 'console-admin-password';
export const ARTIFACTS = join(ROOT, 'test-artifacts', 'console');

/**
 * On the audit page: searches by `action` and waits until the filtered list is shown, every row of
 * that action (the list before the search holds such rows too, among others).
 */
export async function searchAudit(page: Page, action: string): Promise<void> {
  await page.fill('#a-action', action);
  await page.click('#a-search');
  await page.waitForFunction((a) => {
    const rows = [...document.querySelectorAll('tr.audit-row')];
    return (
      rows.length > 0 && rows.every((r) => [...r.querySelectorAll('code')].some((c) => c.textContent === a))
    );
  }, action);
}

export interface LiveCallJson {
  recordingId: string;
  callId: string;
  streams: { label: string | null; codec: string; port: number }[];
}

export interface ConsoleWorld {
  server: TestServer;
  /** The console's address (http://127.0.0.1:<port>). */
  base: string;
  page: Page;
  /** GET of the API with the admin token, asserting a 200 answer; its JSON. */
  api<T>(path: string): Promise<T>;
  /** A full-page screenshot as test-artifacts/console/<name>.png. */
  shot(name: string): Promise<Buffer>;
  /** Fills the login form as admin with `password` and submits it. */
  logIn(password: string): Promise<void>;
  /**
   * A SIPREC call of `ms` (SIPp signalling, our two RTP tone streams of ms - 3000); `during` runs
   * once it is in the live list. Returns when SIPp has finished (asserting its success).
   */
  placeCall(ms: number, during: (live: LiveCallJson) => Promise<void>): Promise<LiveCallJson>;
  /** Waits until the call's recording is stored. */
  stored(callId: string): Promise<void>;
  /** Closes Chromium, removes its profile and SIPp's error logs of this world's scenario, stops the server (asserting a clean exit). */
  close(): Promise<void>;
}

/**
 * Starts the server, writes the signalling-only scenario as `<name>.xml` in its data directory (a
 * name of its own per test file: SIPp writes `<name>_<pid>_errors.log` into sip-scenarios/, and
 * `close` removes only this name's logs, so two files running side by side leave each other's
 * alone) and launches Chromium on a fresh profile, in `opts.locale` when given. The server has its
 * own data directory and free ports (startTestServer), and `opts.env` besides.
 */
export async function startConsoleWorld(
  name: string,
  opts: { locale?: string; env?: Record<string, string> } = {},
): Promise<ConsoleWorld> {
  await mkdir(ARTIFACTS, { recursive: true });
  const server = await startTestServer({ SRS_ADMIN_PASSWORD: ADMIN_PASSWORD, ...opts.env });
  const base = `http://127.0.0.1:${server.httpPort}`;
  const scenario = join(server.dataDir, `${name}.xml`);
  let profile: string | undefined;
  let context: BrowserContext | undefined;

  const close = async (): Promise<void> => {
    await removeSippErrorLogs(name);
    await context?.close().catch(() => undefined);
    if (profile) await rm(profile, { recursive: true, force: true });
    const code = await server.stop();
    assert.equal(code, 0, `server did not shut down cleanly:\n${server.output().slice(-3000)}`);
  };

  let page: Page;
  try {
    await server.waitFor(/SIPREC recording server ready/, 60000);
    // SIPp does the signalling only (our sender plays the RTP); the call lasts `-d` ms.
    await writeSignallingOnlyScenario(scenario);
    profile = await mkdtemp(join(tmpdir(), 'srs-chromium-'));
    context = await chromium.launchPersistentContext(profile, {
      executablePath: CHROMIUM,
      headless: true,
      // The browser's language (navigator.languages, Accept-Language); Chromium's own otherwise.
      ...(opts.locale ? { locale: opts.locale } : {}),
      args: [
        '--headless',
        '--no-sandbox',
        '--disable-gpu',
        '--disable-background-networking',
        '--disable-component-update',
        '--disable-sync',
        '--no-first-run',
        '--autoplay-policy=no-user-gesture-required',
      ],
    });
    page = context.pages()[0] ?? (await context.newPage());
  } catch (e) {
    await close().catch(() => undefined);
    throw e;
  }

  const api = async <T>(path: string): Promise<T> => {
    const r = await fetch(`${base}/api/v1${path}`, {
      headers: { authorization: `Bearer ${server.token}` },
    });
    assert.equal(r.status, 200, `${path}: ${r.status}`);
    return (await r.json()) as T;
  };

  return {
    server,
    base,
    page,
    api,
    shot: (shotName) => page.screenshot({ path: join(ARTIFACTS, `${shotName}.png`), fullPage: true }),
    async logIn(password) {
      await page.fill('#username', 'admin');
      await page.fill('#password', password);
      await page.click('#login');
    },
    async placeCall(ms, during) {
      // Another process holding ports of our random RTP range gets a 503 ("no bindable RTP
      // ports"): that is the machine, not the console, so a failed call is placed again (3 tries).
      let live: LiveCallJson | undefined;
      let sippDone: ReturnType<typeof sipp> | undefined;
      const failures: string[] = [];
      for (let attempt = 0; attempt < 3 && !live; attempt++) {
        const done = sipp(`127.0.0.1:${server.sipPort}`, scenario, ['-d', String(ms)]);
        let finished = false;
        void done.then(() => (finished = true));
        for (let i = 0; i < 200 && !live && !finished; i++) {
          live = (await api<{ items: LiveCallJson[] }>('/calls')).items[0];
          if (!live) await sleep(100);
        }
        if (live) sippDone = done;
        else {
          const r = await done;
          failures.push(`sipp ${r.code}: ${r.stdout.slice(-800)} ${r.stderr.slice(-800)}`);
        }
      }
      if (!live || !sippDone)
        assert.fail(`the call did not go live: ${failures.join('\n')}\n${server.output().slice(-2000)}`);
      const senders = live.streams.map((s, i) =>
        sendRtpStream({
          host: '127.0.0.1',
          port: s.port,
          pt: s.codec === 'PCMA' ? 8 : 0,
          codec: s.codec === 'PCMA' ? 'PCMA' : 'PCMU',
          samples: tone(i === 0 ? 440 : 1000, ms - 3000, 9000),
          ssrc: 0x1000 + i,
        }),
      );
      await during(live);
      await Promise.all(senders);
      const r = await sippDone;
      assert.equal(r.code, 0, `sipp failed: ${r.stdout.slice(-1500)} ${r.stderr}`);
      return live;
    },
    async stored(callId) {
      for (let i = 0; ; i++) {
        const found = await api<{ items: { state: string }[] }>(
          `/recordings?callId=${encodeURIComponent(callId)}`,
        );
        if (found.items[0]?.state === 'stored') return;
        assert.ok(i < 120, `recording not stored: ${JSON.stringify(found)}`);
        await sleep(250);
      }
    },
    close,
  };
}

/**
 * A world signed in as admin (on the Live tab) with one 6 s SIPREC call recorded and stored;
 * `opts` as startConsoleWorld's (a configuration file through `env.SRS_CONFIG`, …).
 */
export async function startConsoleWorldWithCall(
  name: string,
  opts: { locale?: string; env?: Record<string, string> } = {},
): Promise<{ w: ConsoleWorld; recorded: { recordingId: string; callId: string } }> {
  const w = await startConsoleWorld(name, opts);
  try {
    await w.page.goto(w.base);
    await w.logIn(ADMIN_PASSWORD);
    await w.page.waitForSelector('#tab-live.active');
    const live = await w.placeCall(6000, async () => undefined);
    await w.stored(live.callId);
    return { w, recorded: { recordingId: live.recordingId, callId: live.callId } };
  } catch (err) {
    await w.close().catch(() => undefined);
    throw err;
  }
}
