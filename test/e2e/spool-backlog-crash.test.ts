/**
 * kill -9 while the spool writer is stuck (the real server): the audio received meanwhile waits in
 * the engine's writer queue and dies with the process. The engine's pending marker
 * (spool-pending.json, written off the packet path while more than a second of a session's audio
 * is queued) lets startup recovery say so: the recovered recording reaches the marker's position
 * and the span after the spool's end is a `damaged` event, instead of a recording that silently
 * ends when the disk stopped. The stuck disk is the engine's test fault writer-stall
 * (SRS_TEST_ENGINE_FAULT=writer-stall:<ms>), which stops the writer thread as a disk that stops
 * answering would.
 */
import { after, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { readdir, readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { startTestServer, type TestServer } from '../helpers/server.js';
import { waitForState } from '../helpers/sipp.js';
import { sendLoopbackTone } from '../helpers/rtp.js';
import { SiprecUac } from '../helpers/siprec-uac.js';
import { recordingEvents } from '../helpers/recording.js';

describe('spool writer backlog at a kill -9', { timeout: 240000 }, () => {
  const servers: TestServer[] = [];
  after(async () => {
    for (const s of servers) await s.stop();
  });

  it('records the audio lost in the writer queue as damaged, up to the pending marker', async () => {
    // The writer stops 4 s after the server is ready: about 3.5 s into the call.
    const first = await startTestServer({ SRS_TEST_ENGINE_FAULT: 'writer-stall:4000' });
    servers.push(first);
    await first.waitFor(/SIPREC recording server ready/, 60000);
    const uac = await SiprecUac.open(first.sipPort);
    const inv = await uac.invite({ streams: 1 });
    assert.equal(inv.status, 200, inv.text);
    const tone = sendLoopbackTone(inv.ports[0] as number, 12000, 0x71).catch(() => undefined);
    await new Promise((r) => setTimeout(r, 9500));
    const [recordingId] = (await readdir(join(first.dataDir, 'spool'))).filter((n) =>
      /^[0-9a-f-]{36}$/.test(n),
    );
    const marker = await readFile(
      join(first.dataDir, 'spool', recordingId ?? '-', 'spool-pending.json'),
      'utf8',
    ).catch(() => 'none');
    first.proc.kill('SIGKILL');
    await first.stop('SIGKILL');
    await tone;
    uac.close();

    const second = await startTestServer({}, first.dataDir);
    servers.push(second);
    await second.waitFor(/SIPREC recording server ready/, 90000);
    const rec = await waitForState(second, uac.callId, 'stored');
    const events = await recordingEvents(second, rec.id);
    const damaged = events.filter((e) => e.type === 'damaged');
    const lostMs = damaged.reduce((n, e) => n + Number(/(\d+) ms of audio lost/.exec(e.text)?.[1] ?? 0), 0);
    console.log(
      `recording ${rec.durationMs} ms, damaged ${lostMs} ms (${JSON.stringify(damaged)}); marker at the kill: ${marker}`,
    );
    // About 3.5 s were written, then about 5.5 s waited in the queue until the kill.
    assert.ok((rec.durationMs ?? 0) >= 7500, `the recording reaches the marker: ${rec.durationMs} ms`);
    assert.ok(lostMs >= 3000, `the queued audio is reported damaged: ${lostMs} ms`);
    assert.ok(lostMs <= 7000, `no more than the queue held: ${lostMs} ms`);
  });
});
