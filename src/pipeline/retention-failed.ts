import { readdir, stat } from 'node:fs/promises';
import { join } from 'node:path';
import type { Logger } from '../log.js';
import type { PolicyMs, RetentionRepository } from '../store/retention.js';
import { wipeDir } from './artifacts.js';

/**
 * Retention of recordings whose finalize gave up (state `failed`): nothing of them was stored,
 * and their plaintext spool (`<dataDir>/spool/<id>/`) is all there is. They follow the same
 * policy as stored ones (their own, by their groups; preserved ones are never purged): once due,
 * the row becomes a tombstone (`purged`, audited `retention.purge` with `state: 'failed'`) and the
 * spool is wiped as the pipeline wipes spools (overwritten, flushed, unlinked).
 *
 * A spool is on the disk of the node that recorded the call (docs/cluster.md). Whichever node
 * purges the row (or deletes it through the API) wipes the spool if it is on its disk; every pass
 * of every node also wipes the spools on its own disk whose recording is purged (purged elsewhere,
 * or a wipe cut short by a crash or an I/O error).
 */

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;

const isDir = (path: string) =>
  stat(path).then(
    (s) => s.isDirectory(),
    () => false,
  );

/** Purges the failed recordings due under `policy` and wipes their spools; their ids. */
export async function purgeFailed(o: {
  retention: RetentionRepository;
  policy: PolicyMs;
  /** The policy (as written) a recording in these groups follows. */
  policyOf: (groups: readonly string[]) => string;
  dataDir: string;
  log: Logger;
  now: Date;
  limit: number;
  exclude: readonly string[];
  /** Removes one of its catalogued files, as for a stored recording (a failed one has none, as a rule). */
  remove: (recordingId: string, path: string, policy: string) => Promise<void>;
}): Promise<string[]> {
  const purged: string[] = [];
  for (const c of await o.retention.dueFailed(o.policy, o.now, o.limit, o.exclude)) {
    const policy = o.policyOf(c.groups);
    const files = await o.retention.purgeFailed(c.id, policy);
    if (!files) continue; // preserved, or finalized again, meanwhile
    purged.push(c.id);
    const spool = join(o.dataDir, 'spool', c.id);
    const here = await isDir(spool);
    try {
      await wipeDir(spool);
      for (const f of files) await o.remove(c.id, f, policy);
    } catch (err) {
      // Purged already: the next pass's sweep (wipePurgedSpools) wipes what is left.
      o.log.error(
        { err, recordingId: c.id, spool },
        'retention: could not wipe the spool of a purged failed recording',
      );
      continue;
    }
    o.log.info(
      { recordingId: c.id, policy, spool: here ? 'wiped' : 'not on this node' },
      'failed recording purged by retention: its plaintext spool is wiped',
    );
  }
  return purged;
}

/** Wipes the spools on this node's disk whose recording is purged; their ids. */
export async function wipePurgedSpools(o: {
  retention: Pick<RetentionRepository, 'purgedAmong'>;
  dataDir: string;
  log: Logger;
}): Promise<string[]> {
  const root = join(o.dataDir, 'spool');
  let names: string[];
  try {
    names = (await readdir(root)).filter((n) => UUID.test(n));
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return [];
    throw err;
  }
  const wiped: string[] = [];
  for (const id of await o.retention.purgedAmong(names)) {
    const spool = join(root, id);
    try {
      await wipeDir(spool);
      wiped.push(id);
      o.log.warn(
        { recordingId: id, spool },
        'spool of a purged recording wiped (purged by another node, or its wipe was cut short)',
      );
    } catch (err) {
      o.log.error(
        { err, recordingId: id, spool },
        'retention: could not wipe the spool of a purged recording',
      );
    }
  }
  return wiped;
}
