/**
 * The native media engine on loopback for its unit tests over real UDP: one-leg sessions recorded
 * (a leg on a port of a random pool, `send` to it, the session ended and mixed into memory), every
 * media event kept, and the checks of the test signal (SIGNAL in codec-rtp.ts) and of a pause in
 * its first tone.
 */
import assert from 'node:assert/strict';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';

import {
  loadMediaEngine,
  PortPool,
  type LegSpec,
  type LegStats,
  type MediaEngine,
  type MediaEvent,
} from '../../src/media/index.js';
import { decodeUlawWav, rmsDbfs, toneLevelDb } from './audio.js';
import { sendPaced } from './codec-rtp.js';

export interface Recorded {
  id: string;
  stats: LegStats;
  pcm: Int16Array;
  /** Where signal time 0 sits in the mixed file, ms (the first packet's arrival). */
  t0: number;
  spoolDir: string;
}

/** An engine bound on 127.0.0.1 with a temporary spool directory: start() before, stop() after. */
export class LoopbackEngine {
  engine!: MediaEngine;
  /** Every media event of every session, in arrival order. */
  readonly events: MediaEvent[] = [];
  readonly #tmpPrefix: string;
  readonly #idPrefix: string;
  #dir = '';
  #pool!: PortPool;
  #n = 0;

  /** Spool directories go under a temporary `<tmpPrefix>XXXXXX`; recording ids are `<idPrefix>-<n>`. */
  constructor(tmpPrefix: string, idPrefix: string) {
    this.#tmpPrefix = tmpPrefix;
    this.#idPrefix = idPrefix;
  }

  async start(): Promise<void> {
    this.#dir = await mkdtemp(join(tmpdir(), this.#tmpPrefix));
    const base = 30000 + 2 * Math.floor(Math.random() * 10000);
    this.#pool = new PortPool(base, base + 399);
    this.engine = loadMediaEngine({ bindAddress: '127.0.0.1' });
    this.engine.onEvents((batch) => this.events.push(...batch));
  }

  async stop(): Promise<void> {
    this.engine.close();
    await rm(this.#dir, { recursive: true, force: true });
  }

  /** Opens a one-leg session (`leg0`), runs `send(port, id)`, ends it and mixes it. */
  async record(
    leg: Pick<LegSpec, 'payloadTypes' | 'srtp'>,
    send: (port: number, id: string) => Promise<void>,
    rtcp = false,
  ): Promise<Recorded> {
    const [port] = this.#pool.allocate(1) as [number];
    const id = `${this.#idPrefix}-${++this.#n}`;
    const spoolDir = join(this.#dir, id);
    this.engine.openSession({
      recordingId: id,
      spoolDir,
      rtcp,
      legs: [
        { legId: 'leg0', port, payloadTypes: leg.payloadTypes, ...(leg.srtp ? { srtp: leg.srtp } : {}) },
      ],
    });
    let stats: LegStats | undefined;
    try {
      await send(port, id);
      await sleep(300);
    } finally {
      stats = (await this.engine.endSession(id))?.legs[0];
      this.#pool.release([port]);
    }
    assert.ok(stats, 'the session had its leg');
    const mixed = await this.engine.mix({ spoolDir });
    await sleep(200); // the last event batch
    return { id, stats, pcm: decodeUlawWav(mixed.data!), t0: stats.firstPacketMs ?? 0, spoolDir };
  }

  /**
   * Sends `datagrams` to `port` paced at `times`, pausing session `id` 350 ms after the send begins
   * and resuming it 300 ms later. Resolves to when the send began, in ms after the session opened.
   */
  async sendWithPause(port: number, id: string, datagrams: Buffer[], times: number[]): Promise<number> {
    const startMs = Date.now() - this.engine.sessionStats(id)!.openedAt.getTime();
    const sending = sendPaced(port, datagrams, 20, times);
    await sleep(350);
    this.engine.pause(id);
    await sleep(300);
    this.engine.resume(id);
    await sending;
    return startMs;
  }

  /**
   * The checks of a pause in the signal's first tone (sendWithPause): the tone before it, silence
   * while paused, the tone after the resume. `startMs` is what sendWithPause resolved to. Returns
   * the pause and resume times (ms on the session's timeline) as the engine took them.
   */
  assertPausedTone(
    r: Recorded,
    startMs: number,
    label: string,
    opts: { inFirstTone?: boolean } = {},
  ): { paused: number; resumed: number } {
    // The pause and resume times as the engine took them (timers may run late on a busy machine).
    const mine = this.events.filter((e) => e.recordingId === r.id);
    const paused = mine.find((e) => e.type === 'pause')!.atMs;
    const resumed = mine.find((e) => e.type === 'resume')!.atMs;
    if (opts.inFirstTone) {
      assert.ok(
        paused - r.t0 > 150 && resumed - paused > 150 && resumed - r.t0 < 850,
        `${label}: pause in the first tone`,
      );
    }
    assert.ok(toneLevelDb(r.pcm, r.t0 + 50, paused - 30, 600) > -3, `${label}: tone before the pause`);
    // The stream is anchored on its first packet's arrival: if that came late (a busy machine), the
    // audio sent just before the pause sits that much later on the timeline.
    const late = Math.max(0, r.t0 - startMs);
    assert.ok(
      rmsDbfs(r.pcm, Math.min(paused + 40 + late, resumed - 60), resumed - 10) < -45,
      `${label}: silence while paused (t0 ${r.t0}, send start ${startMs}, pause ${paused}, resume ${resumed}, dBFS per 50 ms from 250: ${[250, 300, 350, 400, 450, 500, 550, 600, 650, 700].map((m) => rmsDbfs(r.pcm, r.t0 + m, r.t0 + m + 50).toFixed(0)).join(' ')})`,
    );
    assert.ok(toneLevelDb(r.pcm, resumed + 80, r.t0 + 950, 600) > -3, `${label}: tone after the resume`);
    return { paused, resumed };
  }
}

export interface SignalChecks {
  /** Accepted RMS level of a tone, dBFS, exclusive (the signal is sent at -13.5). */
  levelDb: readonly [number, number];
  /** Start of the silence window checked, ms (it ends at 1.4 s). */
  quietFromMs: number;
  /** The first tone is not checked (a stream paused in it). */
  skipFirstTone?: boolean;
  /** Also the second tone's level, and no trace of the first tone's frequency in it. */
  secondToneLevel?: boolean;
}

/** The test signal's checks: 600 Hz 0-1 s, silence 1-1.5 s, 1000 Hz 1.5-2.5 s, at -13.5 dBFS. */
export function assertSignal(r: Recorded, label: string, c: SignalChecks): void {
  const at = (ms: number): number => r.t0 + ms;
  const [low, high] = c.levelDb;
  if (!c.skipFirstTone) {
    assert.ok(toneLevelDb(r.pcm, at(100), at(900), 600) > -3, `${label}: 600 Hz in 0.1-0.9 s`);
    const level = rmsDbfs(r.pcm, at(100), at(900));
    assert.ok(level > low && level < high, `${label}: 600 Hz level ${level.toFixed(1)} dBFS (sent -13.5)`);
  }
  const quiet = rmsDbfs(r.pcm, at(c.quietFromMs), at(1400));
  assert.ok(quiet < -45, `${label}: silence in ${c.quietFromMs / 1000}-1.4 s, got ${quiet.toFixed(1)} dBFS`);
  assert.ok(toneLevelDb(r.pcm, at(1600), at(2400), 1000) > -3, `${label}: 1000 Hz in 1.6-2.4 s`);
  if (c.secondToneLevel) {
    assert.ok(toneLevelDb(r.pcm, at(1600), at(2400), 600) < -20, `${label}: no 600 Hz in 1.6-2.4 s`);
    const level2 = rmsDbfs(r.pcm, at(1600), at(2400));
    assert.ok(
      level2 > low && level2 < high,
      `${label}: 1000 Hz level ${level2.toFixed(1)} dBFS (sent -13.5)`,
    );
  }
}
