import type { Logger } from '../log.js';
import type { MediaEngine } from '../media/types.js';
import type { ArtifactStore } from '../storage/index.js';
import type { Database } from '../store/db.js';
import type { Mp3Options } from './artifacts.js';
import type { PipelineCapacity } from './capacity.js';
import type { FinalizeContext } from './finalize.js';
import type { HookOptions } from './hooks.js';
import type { RetentionPolicy } from './retention.js';

/** The pipeline's options and its handle (src/pipeline/index.ts starts it). */

export interface PipelineOptions {
  db: Pick<Database, 'pool' | 'recordings' | 'keys' | 'chain' | 'retention' | 'connectionString' | 'fields'>;
  mixer: Pick<MediaEngine, 'mix'>;
  dataDir: string;
  /** Where the encrypted artifacts go (docs/storage.md); default: the data directory. */
  artifacts?: ArtifactStore;
  /**
   * The finalize queue this pipeline fills and works (default `finalize-recording`). The server
   * passes its data directory's queue (finalizeQueueOf), so that only nodes holding the spool run
   * the job; then waiting jobs of the old shared queue whose spool is here are moved to it.
   */
  finalizeQueue?: string;
  log: Logger;
  /**
   * MP3 encodes run at once by this process at most; 0 = enqueue only (another node does the
   * work). Twice this plus one jobs are in progress, so that jobs' mixing, encryption, fsyncs,
   * commit and wipe overlap the others' encodes instead of leaving a core idle. With `capacity`,
   * the number at once follows the live load (capacity.concurrency(), at most this).
   */
  concurrency: number;
  /** Measured cost and live load: sets the jobs at once, and is told when each job ends. */
  capacity?: PipelineCapacity;
  mp3: Mp3Options;
  key: { fingerprint: string; publicKeyArmored: string };
  /** Attempts after the first (default 5), with exponential backoff from retryDelaySeconds (default 10). */
  retryLimit?: number;
  retryDelaySeconds?: number;
  /** A job still active after this long is presumed dead and retried (default 900). */
  expireInSeconds?: number;
  /** How often idle workers look for jobs (default 2, pg-boss minimum 0.5). Enqueues here wake them at once. */
  pollingIntervalSeconds?: number;
  /** Test hook, see FinalizeContext.afterStep. */
  afterStep?: FinalizeContext['afterStep'];
  /** User hooks after a recording is stored (none when both are unset). */
  hooks?: HookOptions;
  /** Retention purge (none when absent or everything is `keep`). */
  retention?: RetentionPolicy & { intervalSeconds: number };
  /** The retention policy in force now (changed at run time); default: `retention` as given. */
  retentionNow?: () => RetentionPolicy;
  /** How often this node looks for jobs orphaned by a dead node (default 10 s). */
  orphanCheckSeconds?: number;
  /** Audio files per recording (config media.outputs) and the pause mode (media.pauseMode). */
  outputs?: FinalizeContext['outputs'];
  pauseMode?: FinalizeContext['pauseMode'];
  /** A mix larger than this goes to a file in its spool, its MP3 too (default 64 MiB; tests lower it). */
  inMemoryMaxBytes?: FinalizeContext['inMemoryMaxBytes'];
}

/** Retention passes' faults on a node (src/pipeline/retention.ts), counted since its start. */
export interface RetentionFaults {
  /** Files of purged recordings that a pass could not remove (each attempt). */
  removalsFailed: number;
  /** Passes skipped because the node's clock differed too much from the database's. */
  clockSkewSkips: number;
  /** The node's clock minus the database's at the last pass, when it skipped (0 otherwise). */
  clockSkewMs: number;
  /** Deletions refused by the store and still pending after the last pass (pending_deletions). */
  pendingDeletions: number;
}

export interface Pipeline {
  /** Queues the finalize job once; for a recording whose job failed, queues one more attempt. */
  enqueueFinalize(recordingId: string): Promise<void>;
  /** Stops taking jobs and waits (up to 30 s) for the running ones. Safe to call twice. */
  stop(): Promise<void>;
  /** Resolves when no finalize job is queued, waiting for retry, or active (for tests and drains). */
  idle(): Promise<void>;
  /**
   * Post-call jobs by state for /metrics, from pg-boss's public API: created, retry and active
   * over all queues (getQueues, getQueueSize); failed as the recordings whose finalize failed for
   * good (pg-boss offers no count of failed jobs).
   */
  jobCounts(): Promise<Record<string, number>>;
  /** Deletions of artifacts the store refused (Object Lock) since the start, for /metrics. */
  deletesRefused(): number;
  /** What went wrong in this node's retention passes since the start, for /metrics. */
  retentionFaults(): RetentionFaults;
  /** Recordings whose attempts all found the artifact store unavailable, waiting for it. */
  waitingForStore(): Promise<number>;
}
