/** This process's open file descriptors and their limit (Linux /proc/self; undefined elsewhere). */
import { readdir, readFile } from 'node:fs/promises';

/** Open descriptors of this process (/proc/self/fd, less the one the listing itself holds). */
export async function openFds(): Promise<number | undefined> {
  const names = await readdir('/proc/self/fd').catch(() => undefined);
  return names ? Math.max(0, names.length - 1) : undefined;
}

/** The soft limit on open files (/proc/self/limits), or undefined when unlimited or unknown. */
export async function maxFds(): Promise<number | undefined> {
  const text = await readFile('/proc/self/limits', 'utf8').catch(() => '');
  const soft = /^Max open files\s+(\S+)/m.exec(text)?.[1];
  return soft !== undefined && /^\d+$/.test(soft) ? Number(soft) : undefined;
}
