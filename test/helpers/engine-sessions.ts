/**
 * The native media engine on loopback for its unit tests that open sessions themselves: sessions of
 * any number of legs (`leg0`, `leg1`, ...) named by the test, on ports of a pool drawn at random
 * inside a band of its own (so test files running side by side never share a port), every media
 * event kept, and a temporary spool directory removed after.
 */
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

import {
  loadMediaEngine,
  PortInUseError,
  PortPool,
  type MediaEngine,
  type MediaEvent,
} from '../../src/media/index.js';

export const HOST = '127.0.0.1';
/** PCMU, PCMA and telephone-event on their usual payload types. */
export const PTS = { 0: 'PCMU', 8: 'PCMA', 101: 'telephone-event' } as const;

/** Ports a pool spans (RTP and RTCP), from its random base. */
const POOL_SPAN = 200;
/** Tries at binding a session when another process holds one of its ports. */
const BIND_ATTEMPTS = 5;

/** An engine bound on 127.0.0.1 with a temporary spool directory: start() before, stop() after. */
export class EngineSessions {
  engine!: MediaEngine;
  pool!: PortPool;
  /** Every media event of every session, in arrival order. */
  readonly events: MediaEvent[] = [];
  readonly #tmpPrefix: string;
  readonly #band: readonly [number, number];
  #dir = '';

  /**
   * Spool directories go under a temporary `<tmpPrefix>XXXXXX`; the port pool lies inside `band`
   * ([first, last], first even), which must hold at least POOL_SPAN ports. Give each test file a
   * band of its own.
   */
  constructor(tmpPrefix: string, band: readonly [number, number]) {
    if (band[0] % 2 !== 0 || band[1] - band[0] + 1 < POOL_SPAN) {
      throw new RangeError(`port band ${band[0]}..${band[1]} must start even and span ${POOL_SPAN}`);
    }
    this.#tmpPrefix = tmpPrefix;
    this.#band = band;
  }

  async start(): Promise<void> {
    this.#dir = await mkdtemp(join(tmpdir(), this.#tmpPrefix));
    const [first, last] = this.#band;
    const base = first + 2 * Math.floor(Math.random() * Math.floor((last + 1 - first - POOL_SPAN) / 2 + 1));
    this.pool = new PortPool(base, base + POOL_SPAN - 1);
    this.engine = loadMediaEngine({ bindAddress: HOST });
    this.engine.onEvents((batch) => this.events.push(...batch));
  }

  async stop(): Promise<void> {
    this.engine.close();
    await rm(this.#dir, { recursive: true, force: true });
  }

  /**
   * Opens session `id` with `legs` legs on contiguous pool ports (PCMU, PCMA, telephone-event), RTCP
   * on port+1 when asked. A port another process holds is skipped: the session opens on others.
   */
  open(id: string, legs: number, rtcp = false): { ports: number[]; spoolDir: string } {
    const spoolDir = join(this.#dir, id);
    for (let attempt = 1; ; attempt++) {
      const ports = this.pool.allocate(legs);
      try {
        this.engine.openSession({
          recordingId: id,
          spoolDir,
          legs: ports.map((port, i) => ({ legId: `leg${i}`, port, payloadTypes: PTS })),
          rtcp,
        });
        return { ports, spoolDir };
      } catch (err) {
        // Keep the taken ports out of the pool, so the next try gets fresh ones.
        if (err instanceof PortInUseError && attempt < BIND_ATTEMPTS) continue;
        throw err;
      }
    }
  }
}
