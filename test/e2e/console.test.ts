/**
 * The web console in a real Chromium (Debian package, driven by playwright-core): log in, see a
 * live SIPREC call (SIPp signalling, RTP from our sender) appear, listen to it and check that its
 * audio arrives in the page, then find the recording after the call and play it. Screenshots go to
 * test-artifacts/console/.
 */
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync } from 'node:fs';
import { mkdir, mkdtemp, readdir, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import { chromium, type BrowserContext, type Page } from 'playwright-core';
import { ROOT, startTestServer, type TestServer } from '../helpers/server.js';
import { SCENARIOS, sipp } from '../helpers/sipp.js';
import { sendRtpStream } from '../helpers/rtp.js';
import { tone } from '../helpers/audio.js';

const CHROMIUM = '/usr/bin/chromium';
const execFileP = promisify(execFile);
const ARTIFACTS = join(ROOT, 'test-artifacts', 'console');
const ADMIN_PASSWORD = 'console-admin-password';

interface LiveCallJson {
  recordingId: string;
  callId: string;
  streams: { label: string | null; codec: string; port: number }[];
}

describe(
  'web console in Chromium',
  { timeout: 150000, skip: !existsSync(CHROMIUM) && 'chromium not installed' },
  () => {
    let server: TestServer;
    let context: BrowserContext;
    let page: Page;
    let profile: string;
    let base: string;
    /** The call of the first test, recorded and stored. */
    let recorded: { recordingId: string; callId: string } | undefined;
    const api = async <T>(path: string): Promise<T> => {
      const r = await fetch(`${base}/api/v1${path}`, {
        headers: { authorization: `Bearer ${server.token}` },
      });
      assert.equal(r.status, 200, `${path}: ${r.status}`);
      return (await r.json()) as T;
    };
    const shot = (name: string) => page.screenshot({ path: join(ARTIFACTS, `${name}.png`), fullPage: true });

    before(async () => {
      await mkdir(ARTIFACTS, { recursive: true });
      server = await startTestServer({ SRS_ADMIN_PASSWORD: ADMIN_PASSWORD });
      await server.waitFor(/SIPREC recording server ready/, 60000);
      base = `http://127.0.0.1:${server.httpPort}`;
      profile = await mkdtemp(join(tmpdir(), 'srs-chromium-'));
      context = await chromium.launchPersistentContext(profile, {
        executablePath: CHROMIUM,
        headless: true,
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
    });

    after(async () => {
      // SIPp leaves <scenario>_<pid>_errors.log in its working directory when a call failed.
      for (const f of await readdir(SCENARIOS).catch(() => [] as string[]))
        if (/^siprec-long_\d+_errors\.log$/.test(f)) await rm(join(SCENARIOS, f), { force: true });
      await context?.close().catch(() => undefined);
      if (profile) await rm(profile, { recursive: true, force: true });
      const code = await server?.stop();
      assert.equal(code, 0, `server did not shut down cleanly:\n${server?.output().slice(-3000)}`);
    });

    it('logs in, listens to a live call, then finds and plays its recording', async () => {
      await page.goto(base);
      await page.fill('#username', 'admin');
      await page.fill('#password', 'wrong-password');
      await page.click('#login');
      await page.waitForSelector('#login-error:has-text("wrong username or password")');
      await page.fill('#password', ADMIN_PASSWORD);
      await page.click('#login');
      await page.waitForSelector('#tab-live.active');
      await page.waitForSelector('#no-calls:visible');
      assert.equal(new URL(page.url()).pathname, '/live', 'the first view has its address');
      // The capacity line (from /healthz): nothing in use, no backlog, taking calls.
      await page.waitForSelector('#capacity:has-text("taking new calls.")');
      assert.match(
        (await page.textContent('#capacity')) ?? '',
        /^Capacity: 0 % in use — 0 live calls; post-call backlog 0 recordings \(0\.0 audio-minutes, about 0 s to process of \d+ s allowed\), \d+ at once; taking new calls\.$/,
      );
      // The favicon: linked from the page and served as SVG.
      assert.equal(await page.getAttribute('link[rel=icon]', 'href'), '/favicon.svg');
      const icon = await fetch(`${base}/favicon.svg`);
      assert.equal(icon.status, 200);
      assert.equal(icon.headers.get('content-type'), 'image/svg+xml');
      assert.match(await icon.text(), /^<svg[^>]*xmlns="http:\/\/www\.w3\.org\/2000\/svg"/);

      // A 14 s SIPREC call: SIPp does the signalling, our sender the two RTP streams.
      const src = await readFile(join(SCENARIOS, 'siprec-basic.xml'), 'utf8');
      const scenario = src
        .replace(/<nop>\s*<action>\s*<exec play_pcap_audio="[^"]*"\s*\/>\s*<\/action>\s*<\/nop>/, '')
        .replace(/<pause milliseconds="\d+"\s*\/>/, '<pause milliseconds="14000" />');
      assert.notEqual(scenario, src);
      const scenarioPath = join(server.dataDir, 'siprec-long.xml');
      await writeFile(scenarioPath, scenario);
      // Another process holding ports of our random RTP range gets a 503 ("no bindable RTP
      // ports"): that is the machine, not the console, so a failed call is placed again (3 tries).
      let live: LiveCallJson | undefined;
      let sippDone: ReturnType<typeof sipp> | undefined;
      const failures: string[] = [];
      for (let attempt = 0; attempt < 3 && !live; attempt++) {
        const done = sipp(`127.0.0.1:${server.sipPort}`, scenarioPath);
        let finished = false;
        void done.then(() => (finished = true));
        for (let i = 0; i < 200 && !live && !finished; i++) {
          live = (await api<{ items: LiveCallJson[] }>('/calls')).items[0];
          if (!live) await new Promise((r) => setTimeout(r, 100));
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
          samples: tone(i === 0 ? 440 : 1000, 11000, 9000),
          ssrc: 0x1000 + i,
        }),
      );

      // The call appears in the live list; listen to it.
      const row = page.locator(`tr.live-call[data-id="${live.recordingId}"]`);
      await row.waitFor();
      await shot('1-live-call');
      // The capacity line counts it at its next poll (every 5 s), looked for while the steps below run.
      const counted = page.waitForSelector('#capacity:has-text("— 1 live calls;")', { timeout: 12000 }).then(
        () => undefined,
        (err: unknown) => err,
      );
      await row.locator('button.listen').click();
      await page.waitForSelector('#player .meter');
      await page.waitForFunction(
        (id) =>
          window.srsListen.recordingId === id &&
          window.srsListen.samples >= 16000 &&
          window.srsListen.peak > 0.1,
        live.recordingId,
        { timeout: 15000 },
      );
      const heard = await page.evaluate(() => ({ ...window.srsListen }));
      assert.ok(heard.frames > 5, `frames arrived: ${JSON.stringify(heard)}`);
      assert.ok(heard.peak > 0.2 && heard.peak < 0.4, `the tone's level (9000/32768) arrived: ${heard.peak}`);
      const meterWidth = await page.$eval('#player .meter > div', (el) => (el as HTMLElement).style.width);
      assert.notEqual(meterWidth, '0%');
      await shot('2-listening');
      await page.click('#stop-listen');

      // Recording control: the admin pauses and resumes from the call's row (the
      // monitor's pause/resume messages); the buttons follow the state.
      assert.equal(await row.locator('button.control-resume').count(), 0, 'no resume while recording');
      await row.locator('button.control-pause').click();
      await page.waitForSelector('#control-msg:has-text("pause: the call is paused")');
      await row.locator('td.control-state:has-text("paused")').waitFor();
      assert.equal(await row.locator('button.control-pause').count(), 0, 'no pause while paused');
      await row.locator('button.control-resume').click();
      await page.waitForSelector('#control-msg:has-text("resume: the call is recording")');
      await row.locator('button.control-pause').waitFor();
      await shot('2b-control');

      const missed = await counted;
      if (missed) assert.fail(`the capacity line never counted the live call: ${String(missed)}`);
      await Promise.all(senders);
      const r = await sippDone;
      assert.equal(r.code, 0, `sipp failed: ${r.stdout.slice(-1500)} ${r.stderr}`);
      await row.waitFor({ state: 'detached' });

      // Operations: readiness and the Prometheus counters of what just happened.
      const health = (await (await fetch(`${base}/healthz`)).json()) as {
        ok: boolean;
        details: Record<string, unknown>;
      };
      assert.equal(health.ok, true);
      assert.equal(health.details.capacity, true);
      assert.equal((await fetch(`${base}/metrics`)).status, 401, '/metrics needs a credential');
      const metrics = await (
        await fetch(`${base}/metrics`, { headers: { authorization: `Bearer ${server.token}` } })
      ).text();
      assert.match(metrics, /^srs_calls_total 1$/m);
      assert.match(
        metrics,
        /^srs_sip_responses_total\{code="200"\} [2-9]\d*$/m,
        'INVITE and BYE answered 200',
      );
      const rx = Number(/^srs_rtp_packets_received_total (\d+)$/m.exec(metrics)?.[1]);
      assert.ok(rx > 800, `RTP packets counted: ${rx}`);
      assert.match(metrics, /^srs_listen_latency_ms_bucket\{le="300"\} [1-9]\d*$/m);

      // After the call: wait until stored, then find it in the console and play it.
      for (let i = 0; ; i++) {
        const found = await api<{ items: { state: string }[] }>(
          `/recordings?callId=${encodeURIComponent(live.callId)}`,
        );
        if (found.items[0]?.state === 'stored') break;
        assert.ok(i < 120, `recording not stored: ${JSON.stringify(found)}`);
        await new Promise((res) => setTimeout(res, 250));
      }
      await page.click('#tab-recordings');
      await page.fill('#f-callid', live.callId);
      await page.click('#search');
      await page.waitForURL(/\/recordings\?callId=/);
      await page.locator(`tr.recording-row[data-id="${live.recordingId}"]`).click();
      await page.waitForSelector('#waveform[data-points]');
      assert.equal(new URL(page.url()).pathname, `/recordings/${live.recordingId}`);
      // Back returns to the search (its filter in the address), Forward to the recording.
      await page.goBack();
      await page.waitForSelector(`tr.recording-row[data-id="${live.recordingId}"]`);
      assert.equal(await page.inputValue('#f-callid'), live.callId);
      assert.equal(new URL(page.url()).pathname, '/recordings');
      await page.goForward();
      await page.waitForSelector('#waveform[data-points]');
      assert.equal(new URL(page.url()).pathname, `/recordings/${live.recordingId}`);
      const played = await page.evaluate(async () => {
        const audio = document.getElementById('player-audio') as HTMLAudioElement;
        audio.muted = true;
        await audio.play();
        const t0 = performance.now();
        while (audio.currentTime < 1 && performance.now() - t0 < 10000)
          await new Promise((res) => setTimeout(res, 100));
        return {
          currentTime: audio.currentTime,
          duration: audio.duration,
          error: audio.error?.message ?? null,
        };
      });
      assert.equal(played.error, null);
      assert.ok(played.currentTime >= 1, `playback advanced: ${JSON.stringify(played)}`);
      assert.ok(played.duration > 10 && played.duration < 20, `duration ${played.duration}`);
      await page.fill('#note-text', 'checked in the e2e test');
      await page.click('#add-note');
      await page.waitForSelector('#notes li:has-text("checked in the e2e test")');
      await shot('3-recording');
      // The duration shown is the stored audio's (from the WAV's samples), as the player reads it.
      const audioMs = Number(await page.getAttribute('#audio-duration', 'data-ms'));
      assert.ok(
        Math.abs(audioMs / 1000 - played.duration) < 0.5,
        `audio ${audioMs} ms, played ${played.duration} s`,
      );
      // Download looks like the buttons beside it.
      const looks = await page.evaluate(() =>
        ['#download', '#detail .actions button'].map((sel) => {
          const st = getComputedStyle(document.querySelector(sel) as Element);
          return [
            st.paddingTop,
            st.paddingLeft,
            st.borderTopWidth,
            st.borderRadius,
            st.fontSize,
            st.backgroundColor,
          ];
        }),
      );
      assert.deepEqual(looks[0], looks[1]);
      // A deep link opens the recording in a fresh page; its access log reads as sentences.
      await page.goto(`${base}/recordings/${live.recordingId}`);
      await page.waitForSelector('#waveform[data-points]');
      await page.waitForSelector('#access-log li:has-text("admin played this recording (mp3")');
      await page.waitForSelector(
        '#access-log li:has-text("The server sealed this recording in the tamper-evident recording chain")',
      );
      assert.equal(await page.locator('#access-log li:has-text("recording.chained")').count(), 0);
      // Back from the deep link stays in the app.
      await page.click('#tab-audit');
      await page.waitForURL(`${base}/audit`);
      await page.goBack();
      await page.waitForSelector('#waveform[data-points]');
      assert.equal(new URL(page.url()).pathname, `/recordings/${live.recordingId}`);

      // A ranged request (all but the first byte) is audited like any other playback.
      const ranged = await fetch(`${base}/api/v1/recordings/${live.recordingId}/audio`, {
        headers: { authorization: `Bearer ${server.token}`, range: 'bytes=1-' },
      });
      assert.equal(ranged.status, 206);
      await ranged.arrayBuffer();
      // The playback, the ranged one and the listen-in are in the audit trail, seen from the
      // admin's audit view.
      await page.click('#tab-audit');
      await page.waitForSelector('tr.audit-row:has-text("playback")');
      await page.waitForSelector(
        'tr.audit-row .audit-line:has-text("The server admin token played recording"):has-text("range bytes=1-")',
      );
      await page.waitForSelector(
        'tr.audit-row .audit-line:has-text("admin started listening live to recording")',
      );
      await page.waitForSelector(
        'tr.audit-row .audit-line:has-text("admin stopped listening live to recording"):has-text(" s (stopped)")',
      );
      await page.waitForSelector(
        'tr.audit-row:has-text("admin paused the recording of recording"):has-text("(web)")',
      );
      await page.waitForSelector(
        'tr.audit-row:has-text("admin resumed the recording of recording"):has-text("(web)")',
      );
      await page.click('#verify');
      await page.waitForSelector('#verify-result:has-text("chain intact")');
      await shot('4-audit');
      recorded = { recordingId: live.recordingId, callId: live.callId };
    });

    it('lets the admin create a supervisor, change a setting, export results and see delivery', async () => {
      assert.ok(recorded, 'the first test recorded a call');
      // Users: create a supervisor, then give them numbers and a new password.
      await page.click('#tab-users');
      await page.waitForSelector('tr.user-row[data-username="admin"]');
      await page.fill('#nu-username', 'sup1');
      await page.fill('#nu-name', 'Sue Pervisor');
      await page.fill('#nu-password', 'first-sup-password');
      await page.selectOption('#nu-role', 'supervisor');
      await page.fill('#nu-group', 'sales');
      await page.click('#create-user');
      const supRow = page.locator('tr.user-row[data-username="sup1"]');
      await supRow.filter({ hasText: 'supervisor' }).waitFor();
      await supRow.locator('button.edit-user').click();
      await page.fill('#eu-numbers', '2001, 2002');
      await page.fill('#eu-password', 'second-sup-password');
      await page.click('#save-user');
      await page.waitForSelector('#users-msg:has-text("saved sup1 (password reset)")');
      await supRow.filter({ hasText: '2001, 2002' }).waitFor();
      await page.waitForSelector('#groups td:has-text("sales")');
      await shot('5-users');
      const login = async (password: string) =>
        fetch(`${base}/api/v1/login`, {
          method: 'POST',
          headers: { 'content-type': 'application/json' },
          body: JSON.stringify({ username: 'sup1', password }),
        });
      assert.equal((await login('first-sup-password')).status, 401, 'the old password no longer works');
      const supLogin = await login('second-sup-password');
      assert.equal(supLogin.status, 200);
      assert.equal(((await supLogin.json()) as { user: { role: string } }).user.role, 'supervisor');
      // Disabled: the account can no longer log in.
      await supRow.locator('button.edit-user').click();
      await page.check('#eu-disabled');
      await page.click('#save-user');
      await supRow.filter({ hasText: 'disabled' }).waitFor();
      assert.equal((await login('second-sup-password')).status, 401, 'a disabled user cannot log in');

      // Settings: downloads from supervisors up; the change is audited and seen in the audit view.
      await page.click('#tab-settings');
      await page.selectOption('#setting-permissions-download', 'supervisor');
      await page.click('#save-settings');
      await page.waitForSelector('#settings-msg:has-text("permissions.download = supervisor")');
      await shot('6-settings');
      await page.click('#tab-audit');
      await page.fill('#a-action', 'setting.update');
      await page.click('#a-search');
      await page.waitForSelector('tr.audit-row:has-text("setting.update"):has-text("supervisor")');
      await shot('7-audit-setting');

      // Recordings: export the search results as CSV, and the selected recording's audio as tar.
      await page.click('#tab-recordings');
      await page.fill('#f-callid', recorded.callId);
      await page.click('#search');
      const recRow = page.locator(`tr.recording-row[data-id="${recorded.recordingId}"]`);
      await recRow.waitFor();
      const [csv] = await Promise.all([page.waitForEvent('download'), page.click('#export-csv')]);
      assert.match(csv.suggestedFilename(), /^recordings-\d{8}-\d{6}\.csv$/);
      const csvText = (await readFile((await csv.path()) as string, 'utf8')).replace(/^\uFEFF/, '');
      const lines = csvText.trim().split('\r\n');
      assert.equal(lines.length, 2, csvText);
      assert.match(lines[0] ?? '', /^id,started_at,ended_at,duration_s,state,call_id,/);
      assert.ok(lines[1]?.startsWith(`${recorded.recordingId},`), lines[1]);
      assert.ok(lines[1]?.includes(recorded.callId), lines[1]);
      assert.match(lines[1] ?? '', /,stored,/);
      await recRow.locator('input.select-recording').check();
      await page.waitForSelector('#export-audio:has-text("1 selected")');
      const [tar] = await Promise.all([page.waitForEvent('download'), page.click('#export-audio')]);
      const listing = await execFileP('tar', ['-tvf', (await tar.path()) as string]);
      assert.match(listing.stdout, new RegExp(`_${recorded.recordingId}\\.mp3\\n`), listing.stdout);
      assert.match(listing.stdout, /\/index\.csv\n/);
      await shot('8-export');
      const exports = await api<{ items: { actor: string; details: { format: string; ids: string[] } }[] }>(
        '/audit?action=export',
      );
      assert.deepEqual(
        exports.items.map((e) => [e.actor, e.details.format, e.details.ids]),
        [
          ['admin', 'tar', [recorded.recordingId]],
          ['admin', 'csv', [recorded.recordingId]],
        ],
      );

      // Delivery: the page renders the status; this server has no delivery configured.
      await page.click('#tab-delivery');
      await page.waitForSelector('#delivery-state:has-text("Delivery is off")');
      await page.waitForSelector('#delivery-notifications:has-text("0 sent")');
      await page.click('#delivery-retry');
      await page.waitForSelector('#delivery-msg:has-text("delivery is off")');
      await shot('9-delivery');
    });
  },
);
