import { readFileSync } from 'node:fs';

/**
 * How much post-call work this node can take, measured while it runs.
 *
 * - Cost: CPU seconds per audio-minute finalized, fitted over 10 s windows from this process's CPU
 *   (threads and reaped ffmpeg children) minus what the live calls cost in the same window.
 * - Live load: CPU (in cores) per live call, fitted over windows in which no job ran.
 * - Concurrency: jobs at once = the cores the live calls leave, and never less than the reserved
 *   share (`cpuShare` of the cores), so the pipeline never starves however busy the calls are.
 * - Drain rate: recordings and audio-minutes stored per second, fitted over windows in which the
 *   pipeline had more work than slots the whole time (so the rate is its limit, with every fixed
 *   cost per job, the disk and whatever else the machine runs counted in).
 * - Back-pressure: the backlog (queued and running jobs) divided by the drain rate (or, before one
 *   is measured, its audio times the CPU cost over the pipeline's cores) is the time it needs to
 *   drain; above `maxBacklogSeconds` new calls are refused (SIP 503 + Retry-After).
 */

export interface CapacityOptions {
  /** Cores of this machine (os.availableParallelism()). */
  cores: number;
  /** Upper bound of jobs at once (config pipeline.concurrency). */
  maxConcurrency: number;
  /** Share of the cores always left to the pipeline, 0..1 (SRS_PIPELINE_CPU_SHARE). */
  cpuShare: number;
  /** Refuse new calls while the backlog needs longer than this to drain (SRS_MAX_BACKLOG_SECONDS; 0 = never). */
  maxBacklogSeconds: number;
  /** CPU seconds per audio-minute assumed until measured. */
  initialCostPerAudioMinute?: number;
  liveCalls: () => number;
  /** The queued and running finalize jobs, and the start of the oldest recording not yet stored. */
  backlog: () => Promise<Backlog>;
  /** CPU seconds used by this process so far (default: /proc/self/stat, children included). */
  cpuSeconds?: () => number;
}

export interface Backlog {
  jobs: number;
  audioSeconds: number;
  oldestSpoolStartedAt: Date | null;
}

export interface CapacitySnapshot {
  backlogJobs: number;
  backlogAudioMinutes: number;
  /** Seconds the backlog needs at the pipeline's current rate. */
  backlogSeconds: number;
  maxBacklogSeconds: number;
  /** backlogSeconds / maxBacklogSeconds (0 when unbounded). */
  inUse: number;
  admitting: boolean;
  concurrency: number;
  /** Encodes allowed beyond `concurrency` at background priority (SCHED_IDLE). */
  borrowable: number;
  costPerAudioMinute: number;
  /** Recordings stored per second when saturated (0 until measured). */
  drainJobsPerSecond: number;
  coresPerLiveCall: number;
  pipelineCores: number;
  oldestSpoolAgeSeconds: number;
}

/** Seconds from BYE to stored: Prometheus histogram buckets. */
export const BYE_TO_STORED_BUCKETS = [1, 2, 5, 10, 20, 30, 60, 120, 300, 600, 1800];

export function processCpuSeconds(): number {
  const f = readFileSync('/proc/self/stat', 'utf8');
  const x = f.slice(f.lastIndexOf(')') + 2).split(' ');
  // utime, stime, cutime, cstime (fields 14-17): threads and reaped children (ffmpeg).
  return (Number(x[11]) + Number(x[12]) + Number(x[13]) + Number(x[14])) / 100;
}

const WINDOW_MS = 10_000;
const EWMA = 0.3;

export class PipelineCapacity {
  readonly #o: CapacityOptions;
  readonly #cpu: () => number;
  #cost: number;
  #perCall = 0.0005;
  #backlog: Backlog = { jobs: 0, audioSeconds: 0, oldestSpoolStartedAt: null };
  #running = 0;
  #ranInWindow = false;
  // Windows are timed on the monotonic clock: a step of the wall clock must not skew the fits.
  #window = { at: performance.now(), cpu: 0, audioMinutes: 0, jobs: 0, callSeconds: 0, saturated: true };
  /** Measured drain rates while saturated (undefined until a saturated window was seen). */
  #rate: { jobsPerSecond: number; audioMinutesPerSecond: number } | undefined;
  #lastTick = performance.now();
  #timer: NodeJS.Timeout | undefined;
  #refreshing = false;
  readonly latency = { buckets: BYE_TO_STORED_BUCKETS.map(() => 0), count: 0, sum: 0 };

  constructor(o: CapacityOptions) {
    this.#o = o;
    this.#cpu = o.cpuSeconds ?? processCpuSeconds;
    this.#cost = o.initialCostPerAudioMinute ?? 0.2;
    this.#window.cpu = this.#cpu();
  }

  /** Starts the 2-second sampling (backlog from the database, CPU). */
  start(): this {
    this.#timer = setInterval(() => void this.refresh(), 2000);
    this.#timer.unref();
    void this.refresh();
    return this;
  }

  stop(): void {
    if (this.#timer) clearInterval(this.#timer);
  }

  async refresh(): Promise<void> {
    if (this.#refreshing) return;
    this.#refreshing = true;
    try {
      this.tick();
      this.#backlog = await this.#o.backlog();
    } catch {
      // keep the last figures; the next sample tries again
    } finally {
      this.#refreshing = false;
    }
  }

  /** Closes the CPU window when due and updates the cost and live-load fits (`now`: performance.now()). */
  tick(now = performance.now()): void {
    const w = this.#window;
    w.callSeconds += (this.#o.liveCalls() * (now - this.#lastTick)) / 1000;
    if (this.#backlog.jobs <= this.concurrency()) w.saturated = false;
    this.#lastTick = now;
    if (now - w.at < WINDOW_MS) return;
    const cpu = this.#cpu();
    const used = cpu - w.cpu;
    const seconds = (now - w.at) / 1000;
    if (!this.#ranInWindow && this.#running === 0 && w.callSeconds > seconds) {
      this.#perCall += EWMA * (used / w.callSeconds - this.#perCall);
    } else if (w.audioMinutes >= 0.5) {
      const pipelineCpu = Math.max(0, used - this.#perCall * w.callSeconds);
      this.#cost += EWMA * (pipelineCpu / w.audioMinutes - this.#cost);
    }
    if (w.saturated && w.jobs > 0) {
      const sample = { jobsPerSecond: w.jobs / seconds, audioMinutesPerSecond: w.audioMinutes / seconds };
      const r = this.#rate;
      this.#rate = r
        ? {
            jobsPerSecond: r.jobsPerSecond + EWMA * (sample.jobsPerSecond - r.jobsPerSecond),
            audioMinutesPerSecond:
              r.audioMinutesPerSecond + EWMA * (sample.audioMinutesPerSecond - r.audioMinutesPerSecond),
          }
        : sample;
    }
    this.#window = {
      at: now,
      cpu,
      audioMinutes: 0,
      jobs: 0,
      callSeconds: 0,
      saturated: this.#backlog.jobs > this.concurrency(),
    };
    this.#ranInWindow = this.#running > 0;
  }

  jobStarted(): void {
    this.#running++;
    this.#ranInWindow = true;
  }

  /** A job ended; for a stored recording, its audio length and the seconds since its BYE. */
  jobFinished(stored?: { audioSeconds: number; byeToStoredSeconds: number }): void {
    this.#running = Math.max(0, this.#running - 1);
    if (!stored) return;
    this.#window.audioMinutes += stored.audioSeconds / 60;
    this.#window.jobs++;
    const s = Math.max(0, stored.byeToStoredSeconds);
    const l = this.latency;
    BYE_TO_STORED_BUCKETS.forEach((b, i) => {
      if (s <= b) l.buckets[i] = (l.buckets[i] as number) + 1;
    });
    l.count++;
    l.sum += s;
  }

  /** Cores the pipeline may use now: what the live calls leave, at least the reserved share. */
  pipelineCores(): number {
    const { cores, cpuShare } = this.#o;
    const live = this.#perCall * this.#o.liveCalls();
    return Math.max(cpuShare * cores, Math.min(cores, cores - live));
  }

  /**
   * Encodes lent to the pipeline beyond concurrency(): they run in the background (SCHED_IDLE), on
   * CPU nothing else wants, so a machine the live calls do not fill still drains its backlog at
   * full speed while a busy one keeps its cores for the calls. Up to maxConcurrency in all.
   */
  borrowable(): number {
    return Math.max(0, this.#o.maxConcurrency - this.concurrency());
  }

  /** Jobs at once: one per core the pipeline may use, within 1..maxConcurrency. */
  concurrency(): number {
    return Math.max(1, Math.min(this.#o.maxConcurrency, Math.round(this.pipelineCores())));
  }

  /** Seconds the backlog needs: by the measured drain rate when there is one, else by the CPU cost. */
  backlogSeconds(): number {
    const b = this.#backlog;
    const byCost = ((b.audioSeconds / 60) * this.#cost) / this.pipelineCores();
    const r = this.#rate;
    if (!r || r.jobsPerSecond <= 0) return byCost;
    return Math.max(
      b.jobs / r.jobsPerSecond,
      r.audioMinutesPerSecond > 0 ? b.audioSeconds / 60 / r.audioMinutesPerSecond : 0,
    );
  }

  /** Undefined: take the call; else why not (the SIP app answers 503 with Retry-After). */
  refusal(): string | undefined {
    const max = this.#o.maxBacklogSeconds;
    if (max <= 0) return undefined;
    const s = this.backlogSeconds();
    return s > max
      ? `post-call backlog needs ${Math.round(s)} s to drain (limit ${max} s, SRS_MAX_BACKLOG_SECONDS)`
      : undefined;
  }

  /**
   * The refusal of a new call with how long it should wait: the time the backlog needs to drain
   * back under the limit at the measured rate (1 s to 5 min), for the 503's Retry-After.
   */
  admission(): { reason: string; retryAfterSeconds: number } | undefined {
    const reason = this.refusal();
    if (reason === undefined) return undefined;
    const over = this.backlogSeconds() - this.#o.maxBacklogSeconds;
    return { reason, retryAfterSeconds: Math.min(300, Math.max(1, Math.ceil(over))) };
  }

  snapshot(now = Date.now()): CapacitySnapshot {
    const b = this.#backlog;
    const s = this.backlogSeconds();
    const max = this.#o.maxBacklogSeconds;
    return {
      backlogJobs: b.jobs,
      backlogAudioMinutes: b.audioSeconds / 60,
      backlogSeconds: s,
      maxBacklogSeconds: max,
      inUse: max > 0 ? s / max : 0,
      admitting: this.refusal() === undefined,
      concurrency: this.concurrency(),
      borrowable: this.borrowable(),
      costPerAudioMinute: this.#cost,
      drainJobsPerSecond: this.#rate?.jobsPerSecond ?? 0,
      coresPerLiveCall: this.#perCall,
      pipelineCores: this.pipelineCores(),
      oldestSpoolAgeSeconds: b.oldestSpoolStartedAt
        ? Math.max(0, (now - b.oldestSpoolStartedAt.getTime()) / 1000)
        : 0,
    };
  }
}

/**
 * The longest recording whose encode may run in the background: 10 minutes of 8 kHz u-law (about
 * 0.25 CPU s to encode). On a machine that stays busy a background thread gets only scraps of CPU;
 * a longer encode waits for a reserved slot instead of risking its job's expiry (15 minutes).
 */
export const BACKGROUND_MAX_AUDIO_BYTES = 10 * 60 * 8000;

/**
 * Encode slots in two tiers, handed out in arrival order: `reserved()` at normal priority, then up
 * to `borrowed()` more whose encodes run in the background. Both limits are read at each grant.
 * `acquire(false)` waits for a reserved slot (a long recording, whose background encode could
 * starve past its job's expiry on a machine that stays busy); later arrivals that may run in the
 * background are not held up behind it.
 */
export function tieredGate(
  reserved: () => number,
  borrowed: () => number,
): { acquire(background?: boolean): Promise<{ background: boolean; release: () => void }> } {
  const inUse = { normal: 0, background: 0 };
  const waiting: { mayBorrow: boolean; grant: (background: boolean) => void }[] = [];
  /** The tier of a free slot, taken; undefined when none is free for this caller. */
  const take = (mayBorrow: boolean): boolean | undefined => {
    if (inUse.normal < reserved()) {
      inUse.normal++;
      return false;
    }
    if (mayBorrow && inUse.normal + inUse.background < reserved() + borrowed()) {
      inUse.background++;
      return true;
    }
    return undefined;
  };
  const slot = (background: boolean) => {
    let done = false;
    return {
      background,
      release: () => {
        if (done) return;
        done = true;
        if (background) inUse.background--;
        else inUse.normal--;
        for (let i = 0; i < waiting.length;) {
          const w = waiting[i] as (typeof waiting)[number];
          const tier = take(w.mayBorrow);
          if (tier === undefined) {
            i++;
            continue;
          }
          waiting.splice(i, 1);
          w.grant(tier);
        }
      },
    };
  };
  return {
    async acquire(mayBorrow = true) {
      const ahead = waiting.some((w) => w.mayBorrow || !mayBorrow);
      const tier = ahead ? undefined : take(mayBorrow);
      if (tier !== undefined) return slot(tier);
      return slot(await new Promise<boolean>((grant) => waiting.push({ mayBorrow, grant })));
    },
  };
}

/** A semaphore whose limit is read at each acquire (the capacity's concurrency moves). */
export function dynamicGate(limit: () => number): { acquire(): Promise<() => void> } {
  let inUse = 0;
  const waiting: (() => void)[] = [];
  const release = (): void => {
    inUse--;
    while (waiting.length > 0 && inUse < limit()) {
      inUse++;
      (waiting.shift() as () => void)();
    }
  };
  return {
    async acquire() {
      if (inUse < limit()) inUse++;
      else await new Promise<void>((resolve) => waiting.push(resolve));
      let done = false;
      return () => {
        if (!done) {
          done = true;
          release();
        }
      };
    },
  };
}
