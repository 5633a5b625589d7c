/**
 * Recording control end to end, on demand: the real server, SIPREC calls signalled by SIPp with
 * RTP tones from our sender, and the stored audio decrypted by gpg and checked by its sound
 * (test/helpers/recording-control-world.ts). The on-demand mode never started (keepUnstarted
 * metadata and none) and the never mode (nothing kept, counted), start mid-call under both
 * onDemandFrom settings, stop then start as two segments with their events, and the same from the
 * phone (*9, *0, *9 while the legs are paused in the engine). Pause and resume, phone codes *7/*8
 * and who may act: recording-control.test.ts.
 */
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { readdir } from 'node:fs/promises';
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import {
  eventAt,
  silent,
  sounds,
  startControlWorld,
  type ControlWorld,
} from '../helpers/recording-control-world.js';

describe('recording control: on demand (SIPp + RTP -> srs serve -> gpg)', { timeout: 400000 }, () => {
  let w: ControlWorld;

  before(async () => {
    w = await startControlWorld('siprec-control-ondemand');
  });

  after(async () => {
    await w?.close();
  });

  it('on-demand never started and never: no audio file, no plaintext, a catalogue row without files; counted', async () => {
    await w.setMode('agent', 'on-demand');
    await w.ok('PUT', '/recording-control/settings', 'admin', {
      keepUnstarted: 'metadata',
      onDemandFrom: 'press',
    });
    const live = await w.placeCall(3500, async (c) => assert.equal(c.control?.state, 'not-started'));
    const d = await w.stored(live.recordingId);
    assert.deepEqual(d.files, []);
    assert.equal(existsSync(join(w.server.dataDir, 'spool', live.recordingId)), false, 'spool wiped');
    const day = join(w.server.dataDir, 'recordings');
    const all = existsSync(day) ? await readdir(day, { recursive: true }) : [];
    assert.equal(all.filter((f) => String(f).includes(live.recordingId)).length, 0, 'no audio file');
    // keepUnstarted=none: not even the row.
    await w.ok('PUT', '/recording-control/settings', 'admin', { keepUnstarted: 'none' });
    const gone = await w.placeCall(3000, async () => undefined);
    for (let i = 0; ; i++) {
      const r = await w.call('GET', `/recordings/${gone.recordingId}`);
      if (r.status === 404) break;
      assert.ok(i < 120, `row still there: ${r.status}`);
      await sleep(250);
    }
    assert.equal(existsSync(join(w.server.dataDir, 'spool', gone.recordingId)), false, 'spool wiped');
    await w.ok('PUT', '/recording-control/settings', 'admin', { keepUnstarted: 'metadata' });

    // never: answered, media dropped (counted as paused packets), nothing to control, counted.
    await w.setMode('agent', 'never');
    const never = await w.placeCall(3000, async (c) => {
      assert.equal(c.control?.state, 'not-recorded');
      assert.equal((await w.call('POST', `/calls/${c.recordingId}/start`, 'admin')).status, 409);
    });
    const n = await w.stored(never.recordingId);
    assert.deepEqual(n.files, []);
    assert.equal(existsSync(join(w.server.dataDir, 'spool', never.recordingId)), false, 'spool wiped');
    const counts = (await w.ok('GET', '/recording-control')).notRecorded as Record<string, number>;
    assert.deepEqual(counts, { never: 1, 'on-demand': 2 });
    await w.setMode('agent', 'on-demand');
  });

  it('on-demand started mid-call: audio from the press (press), or the whole call (call)', async () => {
    for (const from of ['press', 'call'] as const) {
      await w.ok('PUT', '/recording-control/settings', 'admin', { onDemandFrom: from });
      const live = await w.placeCall(6000, async (c, t0) => {
        await sleep(Math.max(0, t0 + 2500 - Date.now()));
        assert.equal((await w.call('POST', `/calls/${c.recordingId}/start`, 'agent')).status, 200);
      });
      const d = await w.stored(live.recordingId);
      const s = eventAt(d, 'recording-started');
      const x = await w.wavOf(d);
      assert.ok(sounds(x, s + 250, s + 1200), `${from}: tones after the start at ${s}`);
      if (from === 'press') assert.ok(silent(x, 300, s - 200), `press: silence before the start at ${s}`);
      else assert.ok(sounds(x, 600, s - 200), `call: the time before the start at ${s} is kept`);
    }
  });

  it('stop then start: two segments of one recording, with events', async () => {
    await w.ok('PUT', '/recording-control/settings', 'admin', { onDemandFrom: 'press' });
    const live = await w.placeCall(7500, async (c, t0) => {
      const at = async (ms: number, action: string) => {
        await sleep(Math.max(0, t0 + ms - Date.now()));
        const r = await w.call('POST', `/calls/${c.recordingId}/${action}`, 'agent');
        assert.equal(r.status, 200, `${action}: ${JSON.stringify(r.json)}`);
        return r.json;
      };
      assert.equal((await at(1000, 'start')).segment, 1);
      await at(3000, 'stop');
      assert.equal((await at(5000, 'start')).segment, 2);
    });
    const d = await w.stored(live.recordingId);
    const s1 = eventAt(d, 'recording-started', 0);
    const stop = eventAt(d, 'recording-stopped');
    const s2 = eventAt(d, 'recording-started', 1);
    assert.match(
      d.events.find((e) => e.type === 'recording-started' && e.offsetMs === s2)?.text ?? '',
      /segment=2/,
    );
    const x = await w.wavOf(d);
    assert.ok(sounds(x, s1 + 250, stop - 150), 'segment 1');
    assert.ok(silent(x, stop + 200, s2 - 200), 'nothing kept between stop and start');
    assert.ok(sounds(x, s2 + 250, s2 + 1200), 'segment 2');
  });

  it('phone codes while nothing is recorded: *9 starts an on-demand call, *0 stops it, *9 starts it again', async () => {
    await w.setMode('agent', 'on-demand');
    await w.ok('PUT', '/recording-control/settings', 'admin', {
      onDemandFrom: 'press',
      dtmf: { start: '*9', stop: '*0' },
    });
    // The first *9 comes while the legs are paused in the engine (not started), the second while
    // stopped: the engine reads RFC 4733 events on paused legs, never their audio.
    const live = await w.placeCall(8000, async () => undefined, {
      dtmf: [
        { atMs: 1500, digits: '*9' },
        { atMs: 3500, digits: '*0' },
        { atMs: 5500, digits: '*9' },
      ],
    });
    await w.ok('PUT', '/recording-control/settings', 'admin', { dtmf: null });
    const d = await w.stored(live.recordingId);
    const s1 = eventAt(d, 'recording-started', 0);
    const stop = eventAt(d, 'recording-stopped');
    const s2 = eventAt(d, 'recording-started', 1);
    for (const e of d.events.filter((x) => ['recording-started', 'recording-stopped'].includes(x.type)))
      assert.match(e.text ?? '', /channel=phone/, `${e.type}: ${e.text}`);
    assert.ok(s1 < stop && stop < s2, `started ${s1}, stopped ${stop}, started again ${s2}`);
    const x = await w.wavOf(d);
    assert.ok(silent(x, 300, s1 - 200), `silence before the first *9 at ${s1}`);
    assert.ok(sounds(x, s1 + 300, stop - 150), 'segment 1');
    assert.ok(silent(x, stop + 200, s2 - 200), 'nothing kept between *0 and *9');
    assert.ok(sounds(x, s2 + 300, s2 + 1200), 'segment 2');
  });
});
