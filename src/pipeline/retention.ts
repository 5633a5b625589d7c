import { join } from 'node:path';
import type { Logger } from '../log.js';
import type { RetentionRepository } from '../store/retention.js';
import { wipeFile } from './artifacts.js';

/**
 * Retention: `keep` (keep all), `<N>d` (delete after N days) or `<N>h` (delete after N hours), as
 * the default and per recording group. A recording in several groups keeps the longest of their
 * policies; one in no overridden group follows the default. Preserved recordings are never purged
 * (the catalogue query and the purge statement both exclude them).
 */

export interface RetentionPolicy {
  default: string;
  groups: Readonly<Record<string, string>>;
}

/** Milliseconds a policy keeps a recording (Infinity for keep). Throws on a bad policy string. */
export function policyMs(policy: string): number {
  if (policy === 'keep' || policy === 'keep-all') return Infinity;
  const m = /^(\d+)([dh])$/.exec(policy);
  if (!m) throw new Error(`bad retention policy "${policy}": use keep, <N>d or <N>h`);
  const n = Number(m[1]);
  if (n < 1) throw new Error(`bad retention policy "${policy}": N must be at least 1`);
  return n * (m[2] === 'd' ? 86_400_000 : 3_600_000);
}

export function effectivePolicy(p: RetentionPolicy, groups: readonly string[]): string {
  const overridden = groups.filter((g) => p.groups[g] !== undefined).map((g) => p.groups[g] as string);
  if (overridden.length === 0) return p.default;
  return overridden.reduce((a, b) => (policyMs(b) > policyMs(a) ? b : a));
}

export interface PurgeResult {
  purged: string[];
  kept: number;
}

/** One purge pass: purges what is due, wipes its files, finishes wipes a crash interrupted. */
export async function purgeOnce(o: {
  retention: RetentionRepository;
  policy: RetentionPolicy;
  dataDir: string;
  log: Logger;
  now?: Date;
  batch?: number;
}): Promise<PurgeResult> {
  const now = o.now ?? new Date();
  const all = [o.policy.default, ...Object.values(o.policy.groups)].map(policyMs);
  const shortest = Math.min(...all);
  const out: PurgeResult = { purged: [], kept: 0 };
  for (const path of await o.retention.recentlyPurgedFiles(new Date(now.getTime() - 86_400_000)))
    await wipeFile(join(o.dataDir, path));
  if (!Number.isFinite(shortest)) return out;
  const candidates = await o.retention.candidates(new Date(now.getTime() - shortest), o.batch ?? 1000);
  for (const c of candidates) {
    const policy = effectivePolicy(o.policy, c.groups);
    if (now.getTime() - c.startedAt.getTime() <= policyMs(policy)) {
      out.kept++;
      continue;
    }
    const files = await o.retention.purge(c.id, policy);
    if (!files) continue; // preserved meanwhile
    for (const f of files) await wipeFile(join(o.dataDir, f));
    out.purged.push(c.id);
    o.log.info({ recordingId: c.id, policy, files: files.length }, 'recording purged by retention');
  }
  return out;
}
