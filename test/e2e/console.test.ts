/**
 * The web console in a real Chromium (Debian package, driven by playwright-core): log in, see a
 * live SIPREC call (SIPp signalling, RTP from our sender) appear, listen to it, pause and resume
 * its recording, and check that its audio arrives in the page, then find the recording after the
 * call, play it and see it all in the audit view (test/helpers/console-world.ts). Users, settings,
 * exports and delivery: console-admin.test.ts. Screenshots go to test-artifacts/console/.
 */
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync } from 'node:fs';
import { ADMIN_PASSWORD, CHROMIUM, startConsoleWorld, type ConsoleWorld } from '../helpers/console-world.js';

describe(
  'web console in Chromium: live call, playback and audit',
  { timeout: 150000, skip: !existsSync(CHROMIUM) && 'chromium not installed' },
  () => {
    let w: ConsoleWorld;

    before(async () => {
      w = await startConsoleWorld('console-live');
    });

    after(async () => {
      await w?.close();
    });

    it('logs in, listens to a live call, then finds and plays its recording', async () => {
      const { page, base, server, shot } = w;
      await page.goto(base);
      await w.logIn('wrong-password');
      await page.waitForSelector('#login-error:has-text("wrong username or password")');
      await w.logIn(ADMIN_PASSWORD);
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

      // A 14 s SIPREC call: SIPp does the signalling, our sender the two RTP streams (11 s tones).
      const live = await w.placeCall(14000, async (live) => {
        // The call appears in the live list; listen to it.
        const row = page.locator(`tr.live-call[data-id="${live.recordingId}"]`);
        await row.waitFor();
        await shot('1-live-call');
        // The capacity line counts it at its next poll (every 5 s), looked for while the steps below run.
        const counted = page
          .waitForSelector('#capacity:has-text("— 1 live calls;")', { timeout: 12000 })
          .then(
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
        assert.ok(
          heard.peak > 0.2 && heard.peak < 0.4,
          `the tone's level (9000/32768) arrived: ${heard.peak}`,
        );
        const meterWidth = await page.$eval('#player .meter > div', (el) => (el as HTMLElement).style.width);
        assert.notEqual(meterWidth, '0%');
        await shot('2-listening');
        await page.click('#stop-listen');

        // Listening taken away while the page is open (it still shows Listen): the server refuses
        // the next one, and the page says so and stays idle instead of playing silence.
        const setListen = async (who: string) => {
          const r = await fetch(`${base}/api/v1/settings`, {
            method: 'PUT',
            headers: { authorization: `Bearer ${server.token}`, 'content-type': 'application/json' },
            body: JSON.stringify({ 'permissions.listen': who }),
          });
          assert.equal(r.status, 200, await r.text());
        };
        await setListen('nobody');
        await row.locator('button.listen').click();
        await page.waitForSelector('#control-msg:has-text("Listening refused:")');
        assert.equal(await page.locator('#stop-listen').count(), 0, 'the player is idle');
        assert.equal(await page.evaluate(() => window.srsListen.recordingId), null);
        await setListen('user');

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
      });
      // SIPp has finished (placeCall asserted its success): the call leaves the live list.
      await page.locator(`tr.live-call[data-id="${live.recordingId}"]`).waitFor({ state: 'detached' });

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
      await w.stored(live.callId);
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
      // A second note, pinned: it goes above the first, marked, and can be unpinned.
      await page.fill('#note-text', 'pin me');
      await page.click('#add-note');
      await page.waitForSelector('#notes li:has-text("pin me")');
      const notes = () => page.$$eval('#notes li', (lis) => lis.map((li) => li.textContent ?? ''));
      assert.match((await notes())[0] ?? '', /checked in the e2e test/);
      await page.click('#notes li:has-text("pin me") button.pin-note');
      await page.waitForSelector('#notes li.pinned:has-text("pin me")');
      assert.match((await notes())[0] ?? '', /^pinned admin .*pin me Unpin/);
      await page.waitForSelector('#access-log li:has-text("admin pinned a note on this recording")');
      await shot('3-recording');
      await page.click('#notes li.pinned button.unpin');
      await page.waitForSelector('#notes li:not(.pinned):has-text("pin me")');
      assert.match((await notes())[0] ?? '', /checked in the e2e test/);
      // The duration shown is the stored audio's (from the WAV's samples), as the player reads it
      // (once the waveform, which the notes' changes draw again, has come back).
      await page.waitForSelector('#audio-duration[data-ms]');
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
    });
  },
);
