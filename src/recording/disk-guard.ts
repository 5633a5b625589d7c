/**
 * Disk-full admission: the free space of the data directory's filesystem, read every few seconds
 * (statfs). Below `minFreeMb` new calls are refused (503, /healthz says why); below `hardFreeMb`
 * the live calls are ended cleanly (BYE, stored, event `disk-full`) before a torn spool can happen.
 */
import { statfs } from 'node:fs/promises';
import { join } from 'node:path';

export interface DiskGuardOptions {
  dir: string;
  minFreeMb: number;
  hardFreeMb: number;
  intervalMs?: number;
  /** Called once each time free space falls below the hard floor. */
  onHardFloor: (freeMb: number) => void;
  onChange?: (state: DiskState) => void;
  /** Test hook: free MiB to use instead of statfs (read from a file by the caller). */
  probe?: () => Promise<number>;
}

export interface DiskState {
  freeMb: number | null;
  /** Why new calls are refused now, or null. */
  refuse: string | null;
  hard: boolean;
}

export interface DiskGuard {
  readonly state: DiskState;
  /** Reads the free space now (also done every intervalMs). */
  check(): Promise<DiskState>;
  stop(): void;
}

export async function freeMbOf(dir: string): Promise<number> {
  const s = await statfs(dir);
  return (Number(s.bavail) * Number(s.bsize)) / (1024 * 1024);
}

/** The least free space of the data directory and its spool directory (which may be its own mount). */
async function freeMbOfData(dir: string): Promise<number> {
  const [data, spool] = await Promise.all([
    freeMbOf(dir),
    freeMbOf(join(dir, 'spool')).catch(() => Number.POSITIVE_INFINITY),
  ]);
  return Math.min(data, spool);
}

export function startDiskGuard(o: DiskGuardOptions): DiskGuard {
  let state: DiskState = { freeMb: null, refuse: null, hard: false };
  const probe = o.probe ?? (() => freeMbOfData(o.dir));
  const check = async (): Promise<DiskState> => {
    let freeMb: number;
    try {
      freeMb = await probe();
    } catch {
      return state; // an unreadable statfs changes nothing
    }
    const hard = o.hardFreeMb > 0 && freeMb < o.hardFreeMb;
    const refuse =
      o.minFreeMb > 0 && freeMb < o.minFreeMb
        ? `disk nearly full: ${Math.floor(freeMb)} MiB free in ${o.dir}, below SRS_MIN_FREE_MB=${o.minFreeMb}`
        : null;
    const was = state;
    state = { freeMb, refuse, hard };
    if (hard && !was.hard) o.onHardFloor(freeMb);
    if (was.refuse !== refuse || was.hard !== hard) o.onChange?.(state);
    return state;
  };
  void check();
  const timer = setInterval(() => void check(), o.intervalMs ?? 2000);
  timer.unref();
  return {
    get state() {
      return state;
    },
    check,
    stop: () => clearInterval(timer),
  };
}
