import { randomBytes } from 'node:crypto';
import { link, mkdir, open, readFile, stat, unlink } from 'node:fs/promises';
import { join } from 'node:path';
import type { Database } from '../store/db.js';
import { waitingJobIds } from '../store/jobs.js';

/**
 * Where a finalize job runs: on a node that holds the recording's spool. The spool (the live
 * call's audio) is in `<data dir>/spool`, so the finalize jobs are queued per data directory:
 * `finalize-recording.<data directory id>`, the id a random name kept in `<data dir>/spool-id`.
 * Nodes with their own disks get one queue each (a job runs on the node that recorded the call);
 * nodes sharing one data directory (a shared filesystem) read the same id and share the queue
 * (any of them runs any job). Nothing to configure: the directory decides. See docs/cluster.md.
 */

/** The queue of servers before the per-data-directory queues (and of pipelines given no queue). */
export const FINALIZE_QUEUE = 'finalize-recording';

const ID_FILE = 'spool-id';
const ID = /^[0-9a-f]{16}$/;

/** This data directory's id, created at its first use (atomically: one id even when nodes race). */
export async function dataDirId(dataDir: string): Promise<string> {
  const file = join(dataDir, ID_FILE);
  const read = async (): Promise<string | undefined> => {
    const text = await readFile(file, 'utf8').catch((err: NodeJS.ErrnoException) => {
      if (err.code === 'ENOENT') return undefined;
      throw err;
    });
    if (text === undefined) return undefined;
    const id = text.trim();
    if (!ID.test(id))
      throw new Error(`${file} holds no data directory id (16 hex digits); remove it to make a new one`);
    return id;
  };
  const existing = await read();
  if (existing) return existing;
  await mkdir(dataDir, { recursive: true, mode: 0o700 });
  const id = randomBytes(8).toString('hex');
  const tmp = `${file}.${process.pid}.${randomBytes(4).toString('hex')}.tmp`;
  const fh = await open(tmp, 'w', 0o600);
  try {
    await fh.writeFile(`${id}\n`);
    await fh.sync();
  } finally {
    await fh.close();
  }
  try {
    // link() fails when the name exists: a node that lost the race reads the winner's id.
    await link(tmp, file);
    return id;
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== 'EEXIST') throw err;
    const other = await read();
    if (!other) throw err;
    return other;
  } finally {
    await unlink(tmp).catch(() => undefined);
  }
}

/** The finalize queue of the recordings whose spool is in this data directory. */
export async function finalizeQueueOf(dataDir: string): Promise<string> {
  return `${FINALIZE_QUEUE}.${await dataDirId(dataDir)}`;
}

/** Whether the recording's spool is in this data directory (its job may run here). */
export async function spoolIsHere(dataDir: string, recordingId: string): Promise<boolean> {
  return stat(join(dataDir, 'spool', recordingId)).then(
    (s) => s.isDirectory(),
    () => false,
  );
}

/** Those of the recordings whose spool is in this data directory, in their order. */
export async function spoolsHere(dataDir: string, recordingIds: string[]): Promise<string[]> {
  const here = await Promise.all(recordingIds.map((id) => spoolIsHere(dataDir, id)));
  return recordingIds.filter((_, i) => here[i]);
}

/**
 * Finalize jobs waiting in another queue (`from`: the one shared queue of an older version)
 * whose spool is in `dataDir`: each is sent to `send` (this directory's queue, same id) and
 * deleted from `from`. Jobs running or finished are left alone; jobs whose spool is elsewhere
 * are left for the node that holds it. Returns the ids moved.
 */
export async function adoptQueuedJobs(o: {
  pool: Pick<Database['pool'], 'query'>;
  from: string;
  dataDir: string;
  send: (recordingId: string) => Promise<unknown>;
  remove: (queue: string, recordingId: string) => Promise<unknown>;
}): Promise<string[]> {
  const moved: string[] = [];
  for (const id of await waitingJobIds(o.pool, o.from)) {
    if (!(await spoolIsHere(o.dataDir, id))) continue;
    await o.send(id);
    await o.remove(o.from, id);
    moved.push(id);
  }
  return moved;
}
