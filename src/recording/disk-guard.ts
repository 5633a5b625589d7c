/**
 * Disk-full admission: the free space of the data directory's filesystem, read every few seconds
 * (statfs). Below `minFreeMb` new calls are refused (503, /healthz says why); below `hardFreeMb`
 * the live calls are ended cleanly (BYE, stored, event `disk-full`) before a torn spool can happen.
 * Free inodes count too: below `minFreeInodes` a new call's spool files could not be created, so
 * new calls are refused the same way (filesystems that report no inode limit are not checked).
 */
import { statfs } from 'node:fs/promises';
import { join } from 'node:path';

export interface DiskGuardOptions {
  dir: string;
  minFreeMb: number;
  hardFreeMb: number;
  /** Free inodes (statfs ffree) below which new calls are refused; 0: not checked. */
  minFreeInodes?: number;
  intervalMs?: number;
  /** Called once each time free space falls below the hard floor. */
  onHardFloor: (freeMb: number) => void;
  onChange?: (state: DiskState) => void;
  /** Test hook: free MiB to use instead of statfs (read from a file by the caller). */
  probe?: () => Promise<number>;
  /** Test hook: free inodes to use instead of statfs (null: no limit). */
  inodeProbe?: () => Promise<number | null>;
}

export interface DiskState {
  freeMb: number | null;
  /** Free inodes, or null (not read yet, or the filesystem has no inode limit). */
  freeInodes: number | null;
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

/** Free inodes of `dir`'s filesystem, or null when it reports no inode limit (files 0, as btrfs). */
export async function freeInodesOf(dir: string): Promise<number | null> {
  const s = await statfs(dir);
  return Number(s.files) > 0 ? Number(s.ffree) : null;
}

/** The fewest free inodes of the data directory and its spool directory, or null (no limit). */
async function freeInodesOfData(dir: string): Promise<number | null> {
  const [data, spool] = await Promise.all([
    freeInodesOf(dir),
    freeInodesOf(join(dir, 'spool')).catch(() => null),
  ]);
  if (data === null) return spool;
  return spool === null ? data : Math.min(data, spool);
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
  let state: DiskState = { freeMb: null, freeInodes: null, refuse: null, hard: false };
  const probe = o.probe ?? (() => freeMbOfData(o.dir));
  const inodeProbe = o.inodeProbe ?? (() => freeInodesOfData(o.dir));
  const minFreeInodes = o.minFreeInodes ?? 0;
  const check = async (): Promise<DiskState> => {
    let freeMb: number;
    let freeInodes: number | null;
    try {
      freeMb = await probe();
      freeInodes = minFreeInodes > 0 ? await inodeProbe() : null;
    } catch {
      return state; // an unreadable statfs changes nothing
    }
    const hard = o.hardFreeMb > 0 && freeMb < o.hardFreeMb;
    const refuse =
      o.minFreeMb > 0 && freeMb < o.minFreeMb
        ? `disk nearly full: ${Math.floor(freeMb)} MiB free in ${o.dir}, below SRS_MIN_FREE_MB=${o.minFreeMb}`
        : freeInodes !== null && freeInodes < minFreeInodes
          ? `no inodes left: ${freeInodes} free in ${o.dir}, below SRS_MIN_FREE_INODES=${minFreeInodes}`
          : null;
    const was = state;
    state = { freeMb, freeInodes, refuse, hard };
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
