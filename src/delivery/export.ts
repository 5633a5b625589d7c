import type { Logger } from '../log.js';
import { PeriodicService } from './periodic.js';
import type { DeliveryRecording, ExportDestination, OffloadRepository } from '../store/offload.js';
import { indexRow } from './csv.js';
import { dayOf, writeDayIndex, type Placed } from './export-index.js';
import { sha256Hex, type Decryptor } from './decrypt.js';
import {
  exportLabels,
  openTarget,
  sameTarget,
  type ExportTarget,
  type ExportTargetConfig,
} from './export-targets.js';
import { callFacts } from './facts.js';
import { runLanes } from './lanes.js';
import { backoffMs } from './offload.js';
import { TargetError } from './s3.js';
import { renderTemplate, type FileTemplate } from './template.js';

export { exportLabels, type ExportTargetConfig } from './export-targets.js';
export { dayOf } from './export-index.js';

/**
 * Unencrypted MP3 export (seed 003 "Data Export (Unencrypted)", seed 004 archiving with a
 * secondary location and file-name templates). Every interval (1 min) each destination gets the
 * recordings stored since the feature was enabled that it does not have yet, oldest first; each
 * pass then adds their rows to their day's CSV index `YYYY/MM/DD/index.csv` (export-index.ts). A destination
 * that cannot be reached keeps its backlog, which goes out as soon as it answers again. Nothing at
 * a destination is ever deleted: a name already taken by a file that is not ours gets a suffix.
 */

export interface ExportOptions {
  repo: OffloadRepository;
  decryptor: Decryptor;
  log: Logger;
  template: FileTemplate;
  primary: ExportTargetConfig;
  secondary?: ExportTargetConfig | undefined;
  intervalMs: number;
  /**
   * Destinations (primary, secondary) exported to at once (default 2; 1: one after the other, in
   * one pass). Each has its own items, names, index, health and lock, and its own passes: one that
   * hangs until its timeoutSeconds no longer holds the other's files back, in that pass or after.
   */
  parallelDestinations?: number;
  /** Recordings per destination per pass (default 200). */
  batch?: number;
  /**
   * An item failing this many times (unreadable artifact, a name the destination refuses...) is
   * marked failed (default 10). An unreachable destination costs its items no attempts: it backs
   * off itself (retryBaseMs doubling, capped at max(interval, 5 min)) and catches up after.
   */
  maxAttempts?: number;
  retryBaseMs?: number;
  /**
   * Connections that place a pass's files at once (src/delivery/lanes.ts; default 1). Across a
   * network one file at a time is bound by round trips: 2.4 recordings a second over SFTP at
   * 40 ms RTT, 4.4 to S3 (scripts/export-remote-rate.ts).
   */
  parallel?: number;
}

/** Decrypted MP3s held at once across the lanes. */
const PLAINTEXT_BUDGET = 32 * 1024 * 1024;

/** The relative path of a recording's MP3 under the template. */
export function exportPath(t: FileTemplate, rec: DeliveryRecording): string {
  const f = callFacts(rec);
  const end = new Date(rec.startedAt.getTime() + (rec.durationMs ?? 0));
  return `${renderTemplate(t, {
    fields: rec.fields ?? {},
    times: { 'setup-time': rec.startedAt, 'end-time': end, 'stored-time': rec.storedAt },
    text: {
      'caller-number': rec.callerNumber,
      'caller-name': rec.callerName,
      'callee-number': rec.calleeNumber,
      'callee-name': rec.calleeName,
      'call-id': rec.callId,
      'recording-id': rec.id,
      'session-id': rec.sessionId ?? '',
      user: f.username,
      extension: f.extension,
      'remote-number': f.remoteNumber,
      group: f.group,
      direction: f.direction,
      duration: String(Math.round(f.durationMs / 1000)),
    },
  })}.mp3`;
}

type Chain = [ExportDestination, ExportTargetConfig][];

export class ExportService extends PeriodicService {
  private since: Date | undefined;
  /**
   * The destinations in chains, each run on its own: apart (parallelDestinations 2) unless they
   * share a health name (the same directory, bucket or share), then one after the other, so a name
   * one of them finds free is not taken by the other meanwhile; all in one chain with 1.
   */
  private readonly chains: Chain[];
  /** Each chain's pass in flight, by its destinations ('primary', 'secondary', 'primary+secondary'). */
  private readonly inFlight = new Map<string, Promise<Record<string, number>>>();

  constructor(private readonly o: ExportOptions) {
    super(o.log.child({ part: 'export' }), 'export');
    const dests: Chain = [['primary', o.primary]];
    if (o.secondary) dests.push(['secondary', o.secondary]);
    this.chains = (o.parallelDestinations ?? 2) < 2 ? [dests] : sameTarget(dests);
  }

  protected pauseMs(): number {
    return this.o.intervalMs;
  }

  /**
   * One pass of every chain whose previous pass has ended (one still running, a destination
   * hanging until its timeout, is skipped, not waited for); returns how many recordings each
   * destination of those received. Every one runs to its end; the first error is thrown after.
   */
  async tick(): Promise<Record<string, number>> {
    const runs = await Promise.allSettled(this.startIdle());
    const failed = runs.find((r): r is PromiseRejectedResult => r.status === 'rejected');
    if (failed) throw failed.reason;
    return Object.assign({}, ...runs.map((r) => (r.status === 'fulfilled' ? r.value : {})));
  }

  /**
   * The service's loop: the idle chains start, and the next round is due when any chain ends, so
   * a healthy destination goes on every interval while the other's pass still hangs.
   */
  protected override async pass(): Promise<void> {
    this.startIdle();
    await Promise.race([...this.inFlight.values()].map((p) => p.catch(() => undefined)));
  }

  override async stop(): Promise<void> {
    await super.stop();
    await Promise.allSettled([...this.inFlight.values()]);
  }

  private startIdle(): Promise<Record<string, number>>[] {
    const started: Promise<Record<string, number>>[] = [];
    for (const chain of this.chains) {
      const key = chain.map(([d]) => d).join('+');
      if (this.inFlight.has(key)) {
        this.log.debug({ destination: key }, 'export: the previous pass is still running; skipped');
        continue;
      }
      const run = this.runChain(chain).finally(() => this.inFlight.delete(key));
      run.catch((err: unknown) =>
        this.log.error({ destination: key, err: (err as Error).message }, 'export pass failed'),
      );
      this.inFlight.set(key, run);
      started.push(run);
    }
    return started;
  }

  /**
   * A chain's destinations under their own cross-node locks (`export:primary`,
   * `export:secondary`): one runner per destination, so its items, names and index are written by
   * one pass at a time (exactly once per destination); another node holding one skips the chain.
   * Chains also hold `export` shared, which a node of the version before takes alone for every
   * destination: during a rolling upgrade the two never export at once; chains still run together.
   */
  private async runChain(chain: Chain): Promise<Record<string, number>> {
    const out: Record<string, number> = {};
    const locked = async (i: number): Promise<void> => {
      const d = chain[i];
      if (!d) {
        this.since ??= await this.o.repo.cursor('export');
        for (const [dest, cfg] of chain) out[dest] = await this.exportTo(dest, cfg);
        return;
      }
      await this.o.repo.exclusive(`export:${d[0]}`, () => locked(i + 1), i === 0 ? { shared: 'export' } : {});
    };
    await locked(0);
    return out;
  }

  private targetBackoff = (failures: number) =>
    backoffMs(failures, this.o.retryBaseMs ?? 10_000, Math.max(this.o.intervalMs, 300_000));

  private async exportTo(dest: ExportDestination, cfg: ExportTargetConfig): Promise<number> {
    const since = this.since as Date;
    const labels = exportLabels(cfg);
    const label = labels.join(' + ');
    // An unreachable destination waits for its backoff (the console shows when it is tried next);
    // an S3 destination goes when every location it writes to is due.
    for (const l of labels) if (!(await this.o.repo.targetDue(l))) return 0;
    const batch = this.o.batch ?? 200;
    const due = await this.o.repo.exportDue(dest, since, batch);
    if (due.length === 0) return 0;
    if (due.length === batch) this.more();
    let target: ExportTarget;
    try {
      target = await openTarget(cfg, this.log);
    } catch (err) {
      const message = (err as Error).message;
      await this.o.repo.targetError(labels[0] as string, message, this.targetBackoff);
      this.log.warn(
        { destination: dest, target: label, backlog: due.length, err: message },
        'export destination unreachable; will catch up',
      );
      return 0;
    }
    let n = 0;
    const days = new Set<string>();
    /** The lanes close their connections, this first one included, once they have it. */
    let handed = false;
    // The destination still answers: a failure is this file's (attempts, backoff, failed at the
    // end). Otherwise the destination's: the pass ends and the backlog waits for it.
    const fileFault = (err: unknown, on: ExportTarget) =>
      on.probe().then(
        () => true,
        () => {
          throw err;
        },
      );
    try {
      const recs = new Map((await this.o.repo.recordings(due.map((d) => d.id))).map((r) => [r.id, r]));
      const order = new Map(due.map((d, i) => [d.id, i]));
      // Two recordings whose template gives the same name are placed one after the other, so the
      // second finds the first there and takes its suffix (in parallel both would see it free).
      const naming = new Map<string, Promise<unknown>>();
      const byName = <T>(name: string, fn: () => Promise<T>): Promise<T> => {
        const run = (naming.get(name) ?? Promise.resolve()).then(fn);
        naming.set(
          name,
          run.catch(() => undefined),
        );
        return run;
      };
      /** Files placed in this pass, by day: each counts as done once its day's index names it. */
      const placed = new Map<string, Placed[]>();
      await runLanes({
        items: due,
        lanes: this.o.parallel ?? 1,
        open: (lane) => {
          if (lane > 0) return openTarget(cfg, this.log);
          handed = true;
          return Promise.resolve(target);
        },
        onOpenFailed: (lane, err) =>
          this.log.warn(
            { destination: dest, target: label, lane, err: (err as Error).message },
            'export: a parallel connection could not be opened; going on with fewer',
          ),
        sizeOf: (d) => recs.get(d.id)?.mp3?.bytes ?? 0,
        budgetBytes: PLAINTEXT_BUDGET,
        work: async (d, { sink }) => {
          // Stopping: what is placed already is still indexed (after) and counted.
          if (this.stopped) return;
          const rec = recs.get(d.id);
          let plain: Buffer;
          try {
            if (!rec?.mp3) throw new Error('no MP3 artifact');
            plain = await this.o.decryptor.plain(rec.mp3, {
              recordingId: rec.id,
              purpose: 'export',
              to: `export.${dest}: ${label}`,
            });
          } catch (err) {
            await this.itemFailed(d.id, dest, d.attempts + 1, (err as Error).message);
            return;
          }
          const { day, dir } = dayOf(rec.startedAt);
          try {
            const name = d.path ?? exportPath(this.o.template, rec);
            // Each name this recording writes to is recorded first (claim): a retry then knows its
            // own file from another recording's with the same content (export-targets.ts).
            const path = await byName(name, () =>
              sink.place(name, plain, rec.id.slice(0, 8), {
                mine: (candidate) => candidate === d.path,
                claim: (candidate) => this.o.repo.exportPath(rec.id, dest, candidate, day),
              }),
            );
            const item = {
              id: rec.id,
              dir,
              attempts: d.attempts,
              row: indexRow(rec, path),
              bytes: plain.length,
              sha256: sha256Hex(plain),
            };
            const list = placed.get(day);
            if (list) list.push(item);
            else placed.set(day, [item]);
          } catch (err) {
            await fileFault(err, sink);
            await this.itemFailed(d.id, dest, d.attempts + 1, (err as Error).message);
          }
        },
        // The index before the items count as done: an interrupted pass never leaves a file
        // unindexed (the retry finds the file in place and indexes it then). Rows in export
        // order (oldest first), whichever lane finished first.
        after: async (first) => {
          for (const [day, items] of placed) {
            items.sort((a, b) => (order.get(a.id) ?? 0) - (order.get(b.id) ?? 0));
            let bytes: number;
            try {
              bytes = await writeDayIndex(this.o.repo, first, dest, day, items);
            } catch (err) {
              await fileFault(err, first);
              for (const it of items)
                await this.itemFailed(it.id, dest, it.attempts + 1, (err as Error).message);
              continue;
            }
            for (const it of items) {
              await this.o.repo.exportDone(it.id, dest, {
                bytes: it.bytes,
                sha256: it.sha256,
                indexRow: it.row,
                target: label,
              });
              n++;
            }
            await this.o.repo.exportIndexWritten(dest, day, bytes);
            days.add(day);
          }
        },
      });
      for (const l of labels) await this.o.repo.targetOk(l);
      this.log.info(
        { destination: dest, target: label, exported: n, days: days.size },
        'export pass finished',
      );
    } catch (err) {
      const message = (err as Error).message;
      const failed = err instanceof TargetError ? err.target : (labels[0] as string);
      await this.o.repo.targetError(failed, message, this.targetBackoff).catch(() => undefined);
      this.log.warn(
        { destination: dest, target: label, exported: n, err: message },
        'export destination failed; will catch up',
      );
    } finally {
      if (!handed) await target.close().catch(() => undefined);
    }
    return n;
  }

  private async itemFailed(
    id: string,
    dest: ExportDestination,
    attempts: number,
    message: string,
  ): Promise<void> {
    const max = this.o.maxAttempts ?? 10;
    const giveUp = attempts >= max;
    const next = new Date(Date.now() + backoffMs(attempts, this.o.retryBaseMs ?? 10_000, 3_600_000));
    await this.o.repo.exportFailed(id, dest, message, next, giveUp);
    this.log.warn(
      { recordingId: id, destination: dest, attempt: attempts, giveUp, err: message },
      'export of a recording failed',
    );
  }
}
