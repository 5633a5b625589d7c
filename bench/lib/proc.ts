/** Per-process CPU and kernel UDP drops from /proc, for the benchmarks (Linux only). */
import { readdirSync, readFileSync } from 'node:fs';

const HZ = 100;

function statFields(pid: number): string[] | undefined {
  try {
    const f = readFileSync(`/proc/${pid}/stat`, 'utf8');
    return f.slice(f.lastIndexOf(')') + 2).split(' ');
  } catch {
    return undefined;
  }
}

/** utime+stime of a process (all its threads), plus its reaped children's when `children`. */
export function cpuOf(pid: number, children = false): number {
  const x = statFields(pid);
  if (!x) return 0;
  const own = Number(x[11]) + Number(x[12]);
  return (children ? own + Number(x[13]) + Number(x[14]) : own) / HZ;
}

/** Reaped children's CPU only (ffmpeg processes the server ran). */
export function childCpuOf(pid: number): number {
  const x = statFields(pid);
  return x ? (Number(x[13]) + Number(x[14])) / HZ : 0;
}

function ppidOf(pid: number): number {
  const x = statFields(pid);
  return x ? Number(x[1]) : -1;
}

function cmdline(pid: number): string {
  try {
    return readFileSync(`/proc/${pid}/cmdline`, 'utf8').replace(/\0/g, ' ');
  } catch {
    return '';
  }
}

function pids(): number[] {
  return readdirSync('/proc')
    .filter((n) => /^[0-9]+$/.test(n))
    .map(Number);
}

/**
 * The embedded Postgres whose data directory is under `dataDir`: its postmaster (with the CPU of
 * backends that exited, reaped into it) and the backends alive now. Other sessions' Postgres
 * servers on the machine are not counted.
 */
export function postgresCpu(dataDir: string): number {
  const all = pids();
  const master = all.find((p) => cmdline(p).includes(dataDir) && /postgres/.test(cmdline(p)));
  if (master === undefined) return 0;
  let total = cpuOf(master, true);
  for (const p of all) if (ppidOf(p) === master) total += cpuOf(p);
  return total;
}

/**
 * Kernel drops of the UDP sockets bound to local ports [lo, hi] (the `drops` column of
 * /proc/net/udp), by socket inode: the caller keeps the highest seen per inode, since a socket's
 * count goes with it when it closes.
 */
export function udpDrops(lo: number, hi: number): Map<string, number> {
  const out = new Map<string, number>();
  for (const file of ['/proc/net/udp', '/proc/net/udp6']) {
    let text = '';
    try {
      text = readFileSync(file, 'utf8');
    } catch {
      continue;
    }
    for (const line of text.split('\n').slice(1)) {
      const f = line.trim().split(/\s+/);
      if (f.length < 13) continue;
      const port = parseInt((f[1] ?? '').split(':')[1] ?? '', 16);
      if (!(port >= lo && port <= hi)) continue;
      out.set(f[9] as string, Number(f[12]));
    }
  }
  return out;
}

/** Machine-wide busy share since the last call (from /proc/stat; indicative only on VMs). */
export function machineBusy(): () => number {
  const read = () => {
    const f = (readFileSync('/proc/stat', 'utf8').split('\n')[0] ?? '').split(/\s+/).slice(1).map(Number);
    const idle = (f[3] ?? 0) + (f[4] ?? 0);
    const total = f.reduce((a, b) => a + b, 0);
    return { idle, total };
  };
  let last = read();
  return () => {
    const now = read();
    const dt = now.total - last.total;
    const busy = dt > 0 ? 1 - (now.idle - last.idle) / dt : 0;
    last = now;
    return busy;
  };
}

export function percentile(sorted: number[], p: number): number {
  if (sorted.length === 0) return NaN;
  return sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))] as number;
}

/** Resident memory (bytes) and open file descriptors of a process, from /proc/<pid>. */
export function memoryOf(pid: number): { rss: number; fds: number } | undefined {
  try {
    const status = readFileSync(`/proc/${pid}/status`, 'utf8');
    const rss = Number(/^VmRSS:\s+(\d+) kB/m.exec(status)?.[1] ?? NaN) * 1024;
    return { rss, fds: readdirSync(`/proc/${pid}/fd`).length };
  } catch {
    return undefined;
  }
}

/** The least-squares slope of y over x (NaN with fewer than two distinct x). */
export function slope(points: readonly (readonly [number, number])[]): number {
  const n = points.length;
  const mx = points.reduce((s, p) => s + p[0], 0) / n;
  const my = points.reduce((s, p) => s + p[1], 0) / n;
  let sxy = 0;
  let sxx = 0;
  for (const [x, y] of points) {
    sxy += (x - mx) * (y - my);
    sxx += (x - mx) ** 2;
  }
  return sxx > 0 ? sxy / sxx : NaN;
}
