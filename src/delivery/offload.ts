import type { Logger } from '../log.js';
import { PeriodicService } from './periodic.js';
import { LocalArtifactStore, type ArtifactStore } from '../storage/index.js';
import type { PendingDeletionsRepository } from '../store/pending-deletions.js';
import type { OffloadBatch, OffloadRepository } from '../store/offload.js';
import { carrierCsv, carrierCsvName, mediaName } from './csv.js';
import { sha256Hex, type Decryptor } from './decrypt.js';
import { failedTarget, openOffloadSink, type OffloadDestination, type OffloadSink } from './destination.js';
import { runLanes } from './lanes.js';
import { removeOrRecord } from '../pipeline/retention-pending.js';

/**
 * Compliance offload in the carrier archive format (seeds 000/001). Every interval boundary
 * (every 30 min by default, aligned to the clock) a batch is cut: all recordings stored since the
 * previous cut, rendered as the carrier CSV and stored (a zero-row CSV when there were none).
 * Batches are then transferred strictly one after another, oldest first: a batch that outlasts
 * its interval makes the next wait (queued, never overlapped, also across nodes through an
 * advisory lock). Within a batch each `r_<uuid>.wav` (the decrypted u-law WAV) is uploaded and
 * confirmed (size after rename), then the `.sha256` manifest, then the CSV last, so the archive
 * sees a CSV only when everything it names is there. A dropped connection fails the attempt;
 * the next attempt (backoff) skips confirmed files and resumes a partial one. Purge (wipe) of
 * the local artifacts happens only after the whole batch is confirmed, when enabled.
 * Destinations are SFTP servers or S3 buckets (src/delivery/destination.ts); an S3 destination
 * with a secondary location confirms a file once both locations hold it.
 */

export interface OffloadOptions {
  repo: OffloadRepository;
  decryptor: Decryptor;
  dataDir: string;
  /** Where the artifacts are purged from (default: the `local` store of the data directory). */
  artifacts?: ArtifactStore | undefined;
  /** Where a removal the store refused is recorded, to be tried again by retention (default: logged only). */
  pending?: PendingDeletionsRepository | undefined;
  log: Logger;
  /** SFTP or S3 (src/delivery/destination.ts). */
  audio: OffloadDestination;
  /** CSV and manifest destination (default: the audio destination). */
  metadata?: OffloadDestination | undefined;
  intervalMs: number;
  purgeAfterTransfer: boolean;
  manifest: boolean;
  /** How often the service looks for work (default min(5 s, interval / 4)). */
  pollMs?: number;
  /** Test only (SRS_TEST_CRASH_AFTER_STEP): called with 'offload-csv' once the CSV is recorded sent. */
  afterStep?: ((step: string) => void) | undefined;
  /** First retry delay of a failed batch, doubling up to the interval (default 10 s). */
  retryBaseMs?: number;
  /**
   * Attempts after which a batch is marked 'failed' (audited, shown in the console) and the next
   * batch goes ahead; `retryFailed` re-queues it (default 48: about a day at the defaults).
   */
  maxAttempts?: number;
  /** Connections that transfer a batch's files at once (src/delivery/lanes.ts); default 1. */
  parallel?: number;
  now?: () => Date;
}

/** Decrypted WAVs held at once across the lanes. */
const PLAINTEXT_BUDGET = 64 * 1024 * 1024;

export function backoffMs(attempts: number, baseMs: number, maxMs: number): number {
  return Math.min(maxMs, baseMs * 2 ** Math.max(0, Math.min(attempts - 1, 20)));
}

export interface BatchReport {
  batchId: string;
  csv: string;
  count: number;
  files: number;
  resumed: number;
  bytes: number;
  ms: number;
}

export class OffloadService extends PeriodicService {
  private since: Date | undefined;
  /** What the last finished batch sent (files, of which resumed from a partial upload, bytes, ms). */
  lastReport: BatchReport | undefined;
  private lastRewipe: Date | undefined;

  constructor(private readonly o: OffloadOptions) {
    super(o.log.child({ part: 'offload' }), 'offload');
  }

  protected pauseMs(): number {
    return this.o.pollMs ?? Math.min(5000, Math.max(250, this.o.intervalMs / 4));
  }

  private now(): Date {
    return this.o.now?.() ?? new Date();
  }

  /** One pass: cut the batch of the last boundary if due, transfer queued batches, purge. */
  async tick(): Promise<void> {
    await this.o.repo.exclusive('offload', async () => {
      await this.cutIfDue();
      while (!this.stopped) {
        const b = await this.o.repo.nextBatch();
        if (!b || b.nextAttemptAt.getTime() > this.now().getTime()) break;
        if (!(await this.transfer(b))) break;
      }
      if (this.o.purgeAfterTransfer) await this.purge();
    });
  }

  /** Cuts the batch of the latest interval boundary unless it exists; returns it when cut now. */
  async cutIfDue(): Promise<OffloadBatch | undefined> {
    this.since ??= await this.o.repo.cursor('offload');
    const boundary = new Date(Math.floor(this.now().getTime() / this.o.intervalMs) * this.o.intervalMs);
    // The first boundary after the feature was enabled is the first batch.
    if (boundary.getTime() <= this.since.getTime()) return undefined;
    const last = await this.o.repo.lastCut();
    if (last && last.getTime() >= boundary.getTime()) return undefined;
    const { batch, created } = await this.o.repo.cutBatch(boundary, this.since, (id, recs) => ({
      csvName: carrierCsvName(boundary, id),
      csv: carrierCsv(recs),
      mediaName: (r) => mediaName(r.id),
    }));
    if (created)
      this.log.info(
        { batchId: batch.id, csv: batch.csvName, count: batch.count, cutAt: batch.cutAt.toISOString() },
        'offload batch cut',
      );
    return created ? batch : undefined;
  }

  /**
   * Transfers one batch; true when the queue may move on (done, or failed for good after
   * `maxAttempts`), false when it failed and waits for its retry (backoff).
   */
  async transfer(b: OffloadBatch): Promise<boolean> {
    const t0 = Date.now();
    const log = this.log.child({ batchId: b.id, csv: b.csvName });
    if (!(await this.o.repo.startBatch(b.id))) return true;
    log.info({ count: b.count, attempt: b.attempts + 1 }, 'offload batch started');
    const meta = this.o.metadata ?? this.o.audio;
    // The destination in use when something fails is the one whose health the console shows as bad.
    let current = this.o.audio;
    let metaConn: OffloadSink | undefined;
    const report: BatchReport = {
      batchId: b.id,
      csv: b.csvName,
      count: b.count,
      files: 0,
      resumed: 0,
      bytes: 0,
      ms: 0,
    };
    try {
      const items = await this.o.repo.batchItems(b.id);
      const todo = items.filter((i) => !i.transferredAt && !i.skipped);
      const recs = new Map(
        (await this.o.repo.recordings(todo.map((i) => i.recordingId))).map((r) => [r.id, r]),
      );
      await runLanes({
        items: todo,
        lanes: this.o.parallel ?? 1,
        // Purged after the transfer: each file must be on the server's disk first (SFTP fsync).
        open: () => openOffloadSink(this.o.audio, log, { durable: this.o.purgeAfterTransfer }),
        onOpenFailed: (lane, err) =>
          log.warn(
            { lane, err: (err as Error).message },
            'offload: a parallel connection could not be opened; going on with fewer',
          ),
        sizeOf: (item) => recs.get(item.recordingId)?.wav?.bytes ?? 0,
        budgetBytes: PLAINTEXT_BUDGET,
        stopping: () => this.stopped,
        work: async (item, { sink }) => {
          const rec = recs.get(item.recordingId);
          if (!rec?.wav || rec.state !== 'stored') {
            // Purged by retention (or deleted) after the batch was cut: the CSV names it, nothing to send.
            const reason = !rec
              ? 'recording not in the catalogue any more'
              : rec.state !== 'stored'
                ? `recording ${rec.state} before its transfer`
                : 'no WAV artifact';
            await this.o.repo.itemSkipped(item.recordingId, reason);
            log.warn({ recordingId: item.recordingId, reason }, 'offload item skipped');
            return;
          }
          const plain = await this.o.decryptor.plain(rec.wav, {
            recordingId: rec.id,
            purpose: 'offload',
            to: sink.labels.join(' + '),
          });
          const r = await sink.write(item.mediaName, plain);
          // plain() checked the plaintext against the catalogue's SHA-256: that is its hash.
          await this.o.repo.itemTransferred(item.recordingId, plain.length, rec.wav.sha256Plain);
          report.files++;
          report.bytes += plain.length;
          if (r === 'resumed') report.resumed++;
        },
        after: async (audio) => {
          for (const label of audio.labels) await this.o.repo.targetOk(label);
          current = meta;
          metaConn = this.o.metadata ? await openOffloadSink(meta, log) : audio;
          await this.finishBatch(b, metaConn);
        },
      });
      if (metaConn && this.o.metadata) await metaConn.close();
      metaConn = undefined;
      report.ms = Date.now() - t0;
      this.lastReport = report;
      log.info({ ...report }, 'offload batch finished');
      return true;
    } catch (err) {
      const message = (err as Error).message;
      const attempts = b.attempts + 1;
      const giveUp = attempts >= (this.o.maxAttempts ?? 48);
      const delay = backoffMs(attempts, this.o.retryBaseMs ?? 10_000, this.o.intervalMs);
      await this.o.repo.batchFailed(b.id, message, new Date(this.now().getTime() + delay), giveUp);
      await this.o.repo.targetError(failedTarget(err, current), message, () => delay).catch(() => undefined);
      if (giveUp)
        log.error(
          { err: message, attempt: attempts, sent: report.files },
          'offload batch failed for good; retry it from the console (the next batch goes ahead)',
        );
      else
        log.warn(
          { err: message, attempt: attempts, retryInMs: delay, sent: report.files },
          'offload batch failed; will resume',
        );
      // A failed batch no longer holds the queue: the next one may go at once.
      return giveUp;
    } finally {
      // (The lanes close their own connections.)
      if (this.o.metadata) await metaConn?.close().catch(() => undefined);
    }
  }

  /**
   * The manifest and then the CSV: when the CSV appears, every file it names is complete. The
   * batch is recorded done in the statement right after the server confirms the CSV, so that a
   * crash later (closing connections, health updates) does not send the CSV again to an archive
   * that may have ingested and moved it (docs/delivery.md: at-least-once only in that one step).
   */
  private async finishBatch(b: OffloadBatch, metaConn: OffloadSink): Promise<void> {
    const done = (await this.o.repo.batchItems(b.id)).filter((i) => i.transferredAt);
    const csv = Buffer.from(b.csv, 'utf8');
    const manifest = {
      csv: { name: b.csvName, bytes: csv.length, sha256: sha256Hex(csv) },
      files: done.map((i) => ({ name: i.mediaName, bytes: i.bytes, sha256: i.sha256 })),
    };
    if (this.o.manifest) {
      const lines = [
        `${manifest.csv.sha256}  ${b.csvName}`,
        ...manifest.files.map((f) => `${f.sha256}  ${f.name}`),
      ];
      const name = b.csvName.replace(/\.csv$/, '.sha256');
      await metaConn.write(name, Buffer.from(`${lines.join('\n')}\n`));
    }
    await metaConn.write(b.csvName, csv);
    await this.o.repo.batchDone(b.id, manifest);
    this.o.afterStep?.('offload-csv');
    for (const label of metaConn.labels) await this.o.repo.targetOk(label);
  }

  /**
   * Removes an artifact through the store (a local file is wiped); the rest go on. A refusal
   * (Object Lock, legal hold, an error) of a recording's file is recorded in pending_deletions,
   * which the retention pass tries again until the file is gone (the hourly re-wipe of files purged
   * in the last day too, so a refusal there is not only logged).
   */
  private async remove(path: string, recordingId: string): Promise<void> {
    const store = this.o.artifacts ?? new LocalArtifactStore(this.o.dataDir);
    try {
      await removeOrRecord({
        store,
        pending: this.o.pending,
        path,
        recordingId,
        source: 'offload',
        log: this.log,
      });
    } catch (err) {
      this.log.error({ err, path, store: store.location }, 'offload purge: could not remove an artifact');
    }
  }

  /** Removes (locally: wipes) the artifacts of recordings whose batch is confirmed. */
  async purge(): Promise<number> {
    let n = 0;
    // The catalogue is marked before the wipe: finish wipes a crash interrupted (wiping is idempotent).
    this.lastRewipe ??= new Date(0);
    if (Date.now() - this.lastRewipe.getTime() > 3_600_000) {
      for (const f of await this.o.repo.recentlyPurgedFiles(new Date(Date.now() - 86_400_000)))
        await this.remove(f.path, f.recordingId);
      this.lastRewipe = new Date();
    }
    for (const item of await this.o.repo.purgeDue(500)) {
      const files = await this.o.repo.purgeRecording(item.recordingId, item.batchId);
      for (const f of files ?? []) await this.remove(f, item.recordingId);
      if (files) {
        n++;
        this.log.info(
          { recordingId: item.recordingId, batchId: item.batchId },
          'recording purged after offload',
        );
      }
    }
    return n;
  }
}
