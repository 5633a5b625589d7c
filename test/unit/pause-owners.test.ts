// The two owners of a leg's pause (src/recording/pause-owners.ts) on the native media engine over
// loopback: recording control holding the whole call and the SRC holding single streams
// (a=inactive). A leg is paused in the engine exactly when either holds it, a leg added while
// control holds the call opens paused (media/engine.ts addLegs), and session.json's pause spans
// follow, so that the cut mode leaves out exactly the time when nothing was recorded. The recorded
// sound of the same cases, on the real server: test/e2e/recording-control-sip-pause.test.ts.
import assert from 'node:assert/strict';
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { setTimeout as sleep } from 'node:timers/promises';

import { OPEN_END, pausedSpans, type SessionFile } from '../../src/media/session-file.js';
import { holdForControl, holdForSrc } from '../../src/recording/pause-owners.js';
import type { LiveStream } from '../../src/recording/live-streams.js';
import { EngineSessions, PTS } from '../helpers/engine-sessions.js';

describe('pause owners: recording control and the SRC on one engine pause', () => {
  // Ports 52000-53999: the media unit tests have 30000-49999, the e2e servers 20000-30999.
  const bench = new EngineSessions('srs-pause-owners-', [52000, 53999]);
  before(() => bench.start());
  after(() => bench.stop());

  const stream = (i: number, port: number): LiveStream => ({
    ordinal: i + 1,
    index: i,
    label: String(i + 1),
    streamId: null,
    legId: `leg${i}`,
    codec: 'PCMU',
    port,
    removed: false,
  });
  /** The legs paused now, from the engine's own pause and resume events. */
  const pausedNow = async (id: string): Promise<string[]> => {
    await sleep(250); // events arrive every ~150 ms
    const state = new Map<string, boolean>();
    for (const e of bench.events)
      if ((e.type === 'pause' || e.type === 'resume') && e.recordingId === id)
        state.set(e.legId, e.type === 'pause');
    return [...state].filter(([, p]) => p).map(([leg]) => leg);
  };
  const metaOf = async (spoolDir: string) =>
    JSON.parse(await readFile(join(spoolDir, 'session.json'), 'utf8')) as SessionFile;

  it('pauses a leg while either owner holds it, and resumes it only when neither does', async () => {
    const id = 'owners';
    const { ports, spoolDir } = bench.open(id, 2);
    const s = { streams: ports.map((p, i) => stream(i, p)), paused: new Set<string>() } as {
      streams: LiveStream[];
      paused: Set<string>;
      controlHeld?: boolean;
    };
    const e = bench.engine;
    holdForSrc(e, id, s, ['leg1'], true);
    assert.deepEqual(await pausedNow(id), ['leg1']);
    assert.equal(holdForControl(e, id, s, true), true);
    assert.deepEqual((await pausedNow(id)).sort(), ['leg0', 'leg1']);
    // The SRC's unhold while control holds the call resumes nothing.
    holdForSrc(e, id, s, ['leg1'], false);
    assert.deepEqual((await pausedNow(id)).sort(), ['leg0', 'leg1']);
    holdForSrc(e, id, s, ['leg0'], true);
    // Control's resume resumes only the leg the SRC does not hold.
    assert.equal(holdForControl(e, id, s, false), true);
    assert.deepEqual(await pausedNow(id), ['leg0']);
    // Every leg on the SRC's hold: control's hold and release touch nothing (never "every leg").
    holdForSrc(e, id, s, ['leg1'], true);
    holdForControl(e, id, s, true);
    holdForControl(e, id, s, false);
    assert.deepEqual((await pausedNow(id)).sort(), ['leg0', 'leg1']);
    holdForSrc(e, id, s, ['leg0', 'leg1'], false);
    assert.deepEqual(await pausedNow(id), []);
    await e.endSession(id);
    // One whole-call span: from control's hold to its release (leg1 then taken up again); the
    // second SRC hold of both legs is a second one.
    const spans = pausedSpans(await metaOf(spoolDir));
    assert.equal(spans.length, 2, JSON.stringify(spans));
    assert.ok(
      spans.every(([from, to]) => to > from && to < OPEN_END),
      JSON.stringify(spans),
    );
  });

  it('opens a leg added while control holds the call paused, with its pause from its start', async () => {
    const id = 'added';
    const { ports, spoolDir } = bench.open(id, 1);
    const s = { streams: [stream(0, ports[0] as number)], paused: new Set<string>() } as {
      streams: LiveStream[];
      paused: Set<string>;
      controlHeld?: boolean;
    };
    const e = bench.engine;
    holdForControl(e, id, s, true);
    await sleep(100);
    const [port] = bench.pool.allocate(1) as [number];
    e.addLegs(id, [{ legId: 'leg1', port, payloadTypes: PTS }], { paused: s.controlHeld === true });
    s.streams.push(stream(1, port));
    assert.deepEqual((await pausedNow(id)).sort(), ['leg0', 'leg1']);
    await sleep(100);
    holdForControl(e, id, s, false);
    assert.deepEqual(await pausedNow(id), []);
    await e.endSession(id);
    const meta = await metaOf(spoolDir);
    const added = meta.legs.find((l) => l.legId === 'leg1');
    const pause = meta.pauses?.find((p) => p.legId === 'leg1');
    assert.ok(added?.addedAt !== undefined && pause, JSON.stringify(meta));
    assert.equal(pause.from, added.addedAt, 'paused from its start');
    // The cut leaves out one span, the whole hold: no gap where the new leg opened.
    const spans = pausedSpans(meta);
    assert.equal(spans.length, 1, JSON.stringify(spans));
    assert.ok(spans[0]![0] < added.addedAt && added.addedAt < spans[0]![1], JSON.stringify(spans));
  });
});
