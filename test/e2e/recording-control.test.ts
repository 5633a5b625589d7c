/**
 * Recording control end to end, pause and resume: the real server, SIPREC calls signalled by SIPp
 * with RTP tones from our sender, and the stored audio decrypted by gpg and checked by its sound
 * (test/helpers/recording-control-world.ts). Record modes always-pause and always, pause/resume
 * through the REST API, the phone codes *7/*8 as RFC 4733 events in the forked stream, who may act
 * (record-only and other users), events on the timeline and entries in the audit trail. On-demand
 * start/stop and calls not recorded: recording-control-ondemand.test.ts.
 */
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { setTimeout as sleep } from 'node:timers/promises';
import { toneLevelDb } from '../helpers/audio.js';
import {
  assertPausedSpan,
  eventAt,
  silent,
  sounds,
  startControlWorld,
  type ControlWorld,
  type LiveCall,
} from '../helpers/recording-control-world.js';

describe('recording control: pause and resume (SIPp + RTP -> srs serve -> gpg)', { timeout: 400000 }, () => {
  let w: ControlWorld;

  before(async () => {
    w = await startControlWorld('siprec-control');
  });

  after(async () => {
    await w?.close();
  });

  it('always-pause: the agent pauses and resumes through the API; silence in between, events, audit', async () => {
    await w.setMode('agent', 'always-pause');
    const live = await w.placeCall(7000, async (c, t0) => {
      assert.equal(
        c.control?.mode,
        'always-pause',
        JSON.stringify([c, await w.ok('GET', '/recording-control')]),
      );
      await sleep(Math.max(0, t0 + 2000 - Date.now()));
      assert.equal((await w.call('POST', `/calls/${c.recordingId}/pause`, 'agent')).status, 200);
      // A second pause is a conflict; someone else's user does not see the call at all.
      assert.equal((await w.call('POST', `/calls/${c.recordingId}/pause`, 'agent')).status, 409);
      assert.equal((await w.call('POST', `/calls/${c.recordingId}/resume`, 'zed')).status, 404);
      await sleep(Math.max(0, t0 + 4000 - Date.now()));
      // By extension, as a CTI integration would (API token of the admin here).
      assert.equal((await w.call('POST', '/calls/resume?number=alice', 'agent')).status, 200);
    });
    const d = await w.stored(live.recordingId);
    const p = eventAt(d, 'recording-paused');
    const r = eventAt(d, 'recording-resumed');
    assert.ok(r - p > 1500, `paused ${p}..${r}`);
    const x = await w.wavOf(d);
    assertPausedSpan(x, p, r);
    const audit = (await w.ok('GET', `/audit?resourceId=${live.recordingId}`)).items as {
      action: string;
      actor: string;
      via: string;
    }[];
    const acts = audit.map((a) => `${a.action}:${a.actor}:${a.via}`);
    assert.ok(acts.includes('recording.pause:agent:api'), acts.join());
    assert.ok(acts.includes('recording.resume:agent:api'), acts.join());
    assert.ok(acts.includes('recording.pause-refused:agent:api'), acts.join());
  });

  it('always: the agent is refused (403, audited); record-only controls only its own calls, sees no recording', async () => {
    await w.setMode('agent', 'always');
    let id = '';
    await w.placeCall(4000, async (c) => {
      id = c.recordingId;
      assert.equal(c.control?.mode, 'always');
      const r = await w.call('POST', `/calls/${c.recordingId}/pause`, 'agent');
      assert.equal(r.status, 403, JSON.stringify(r.json));
      assert.equal((await w.call('POST', `/calls/${c.recordingId}/pause`, 'recorder')).status, 403);
    });
    await w.stored(id);
    const refused = (await w.ok('GET', `/audit?action=recording.pause-refused&resourceId=${id}`)).items as {
      actor: string;
    }[];
    assert.deepEqual(refused.map((a) => a.actor).sort(), ['agent', 'recorder']);

    await w.setMode('agent', 'always-pause');
    let own = '';
    await w.placeCall(4000, async (c) => {
      own = c.recordingId;
      // The record-only user sees its own live call (to control it), pauses and resumes it.
      const calls = (await w.ok('GET', '/calls', 'recorder')).items as LiveCall[];
      assert.deepEqual(
        calls.map((x) => x.recordingId),
        [c.recordingId],
      );
      assert.equal((await w.call('POST', `/calls/${c.recordingId}/pause`, 'recorder')).status, 200);
      assert.equal((await w.call('POST', `/calls/${c.recordingId}/resume`, 'recorder')).status, 200);
      // zed's calls are not theirs: none visible, none controllable.
      assert.deepEqual((await w.ok('GET', '/calls', 'zed')).items, []);
      assert.equal((await w.call('POST', '/calls/pause?number=alice', 'zed')).status, 404);
      assert.equal((await w.call('POST', `/calls/${c.recordingId}/pause`, 'rec2')).status, 404);
      assert.equal((await w.call('GET', `/calls/${c.recordingId}/control`, 'rec2')).status, 404);
      assert.deepEqual((await w.ok('GET', '/calls', 'rec2')).items, []);
    });
    await w.stored(own);
    // Every recording route of the API (from its OpenAPI document), on the user's own recording.
    const doc = (await w.ok('GET', '/openapi.json')) as { paths: Record<string, Record<string, unknown>> };
    const routes = Object.entries(doc.paths)
      .filter(([path]) => path.startsWith('/recordings'))
      .flatMap(([path, ops]) =>
        Object.keys(ops).map((m) => [m.toUpperCase(), path.replace(/\{[^}]+\}/g, own)]),
      );
    assert.ok(routes.length >= 10, JSON.stringify(routes));
    for (const [method, path] of routes as [string, string][]) {
      const r = await w.call(
        method,
        path,
        'recorder',
        method === 'GET' || method === 'DELETE' ? undefined : {},
      );
      assert.equal(r.status, 404, `${method} ${path}: ${r.status}`);
    }
  });

  it('phone codes: *7 then *8 in the RTP (RFC 4733) pause and resume; the digits are not in the audio', async () => {
    await w.setMode('agent', 'always-pause');
    await w.ok('PUT', '/recording-control/settings', 'admin', { dtmf: { pause: '*7', resume: '*8' } });
    const live = await w.placeCall(6000, async () => undefined, {
      dtmf: [
        { atMs: 2000, digits: '*7' },
        { atMs: 3600, digits: '*8' },
      ],
    });
    const d = await w.stored(live.recordingId);
    const p = eventAt(d, 'recording-paused');
    const r = eventAt(d, 'recording-resumed');
    assert.match(d.events.find((e) => e.type === 'recording-paused')?.text ?? '', /channel=phone/);
    assert.match(d.events.find((e) => e.type === 'recording-resumed')?.text ?? '', /channel=phone/);
    assert.ok(r > p + 1000, `resumed (${r} ms) after the pause (${p} ms)`);
    const x = await w.wavOf(d);
    assert.ok(sounds(x, 600, 1900), 'tones before the code');
    // No DTMF tone (the row/column frequencies of *, 7 and 8) anywhere in the file.
    for (const f of [941, 1209, 852, 1336])
      for (let ms = 0; ms + 200 < x.length / 8; ms += 100)
        assert.ok(toneLevelDb(x, ms, ms + 200, f, 200) < -15, `no ${f} Hz at ${ms} ms`);
    assert.ok(silent(x, p + 200, r - 200), `silence between *7 (${p} ms) and *8 (${r} ms)`);
    assert.ok(sounds(x, r + 300, r + 1200), `tones again after *8 at ${r}`);
    const audit = (await w.ok('GET', `/audit?action=recording.pause&resourceId=${live.recordingId}`))
      .items as {
      actor: string;
      via: string;
    }[];
    // The phone acts as the user owning the sender's number (agent and recorder share alice: the first by name).
    assert.deepEqual(
      audit.map((a) => [a.actor, a.via]),
      [['agent', 'phone']],
    );
  });
});
