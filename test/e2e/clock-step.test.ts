/**
 * The wall clock steps during a live call (NTP correcting a wrong clock, a virtual machine resumed
 * after hours), under the real server run with libfaketime (Debian `faketime`; only the wall clock
 * moves, the monotonic one does not). Before, the server measured a call's length on the wall
 * clock: a 7 h step ended every live call at once as over SRS_MAX_DURATION (6 h, BYE to the SRC),
 * and the stored duration would have been 7 h. Now the call goes on and its duration is what it
 * lasted. (The media engine already kept its timeline on the monotonic clock.)
 */
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync } from 'node:fs';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { startTestServer } from '../helpers/server.js';
import { waitForState } from '../helpers/sipp.js';
import { sendLoopbackTone } from '../helpers/rtp.js';
import { SiprecUac } from '../helpers/siprec-uac.js';

const LIBFAKETIME = '/usr/lib/x86_64-linux-gnu/faketime/libfaketime.so.1';
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

describe('a step of the wall clock during a call (srs serve under libfaketime)', { timeout: 180_000 }, () => {
  it('a 7 h step forward ends no call and stretches no duration', async () => {
    assert.ok(existsSync(LIBFAKETIME), `${LIBFAKETIME} is missing: apt-get install faketime`);
    const dir = await mkdtemp(join(tmpdir(), 'srs-clock-'));
    const offset = join(dir, 'offset');
    await writeFile(offset, '+0\n');
    const server = await startTestServer({
      LD_PRELOAD: LIBFAKETIME,
      FAKETIME_TIMESTAMP_FILE: offset,
      FAKETIME_CACHE_DURATION: '1',
      FAKETIME_DONT_FAKE_MONOTONIC: '1',
    });
    try {
      await server.waitFor(/SIPREC recording server ready/, 60000);
      const uac = await SiprecUac.open(server.sipPort);
      const inv = await uac.invite({ streams: 1 });
      assert.equal(inv.status, 200, inv.text);
      await sendLoopbackTone(inv.ports[0] as number, 1000, 0x61);
      await writeFile(offset, '+7h\n');
      // The watchdog looks every second; the step is seen within a second too.
      await sleep(3500);
      assert.deepEqual(
        uac.requests.filter((r) => r.startsWith('BYE')).map((r) => r.split('\r\n')[0]),
        [],
        `the server ended the call: ${server.output().slice(-1500)}`,
      );
      // Still taking calls: the pipeline's capacity fits were not skewed by the step either.
      const health = (await (await fetch(`http://127.0.0.1:${server.httpPort}/healthz`)).json()) as {
        ok: boolean;
        details: Record<string, unknown>;
      };
      assert.equal(health.ok, true, JSON.stringify(health.details));
      await sendLoopbackTone(inv.ports[0] as number, 1000, 0x61);
      assert.match(await uac.request('BYE'), /^SIP\/2\.0 200/);
      uac.close();
      const rec = await waitForState(server, uac.callId, 'stored');
      assert.ok(
        rec.durationMs !== null && rec.durationMs >= 5000 && rec.durationMs < 60_000,
        `duration ${rec.durationMs} ms`,
      );
    } finally {
      assert.equal(await server.stop(), 0, server.output().slice(-2000));
      await rm(dir, { recursive: true, force: true });
    }
  });
});
