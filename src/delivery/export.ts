import { createHash } from 'node:crypto';
import { lstat, mkdir, readFile, stat } from 'node:fs/promises';
import { dirname, join, posix } from 'node:path';
import { writeFileDurable } from '../files.js';
import type { Logger } from '../log.js';
import { PeriodicService } from './periodic.js';
import type { DeliveryRecording, ExportDestination, OffloadRepository } from '../store/offload.js';
import { indexCsv, indexRow } from './csv.js';
import type { Decryptor } from './decrypt.js';
import { callFacts } from './facts.js';
import { backoffMs } from './offload.js';
import { S3DestinationClient, s3Labels, TargetError } from './s3.js';
import type { S3Destination } from '../storage/s3-destination-config.js';
import type { SftpDestination } from './sftp.js';
import type { FtpDestination } from './ftp.js';
import { fileServerLabel, openFileConnection, type FileConnection } from './destination.js';
import { renderTemplate, type FileTemplate } from './template.js';

/**
 * Unencrypted MP3 export (seed 003 "Data Export (Unencrypted)", seed 004 archiving with a
 * secondary location and file-name templates). Every interval (1 min) each destination gets the
 * recordings stored since the feature was enabled that it does not have yet, oldest first; a day's
 * CSV index `YYYY/MM/DD/index.csv` is rewritten from the catalogue after each pass. A destination
 * that cannot be reached keeps its backlog, which goes out as soon as it answers again. Nothing at
 * a destination is ever deleted: a name already taken by a file that is not ours gets a suffix.
 */

export type ExportTargetConfig =
  | { type: 'local'; directory: string }
  | (SftpDestination & { type: 'sftp' })
  | (FtpDestination & { type: 'ftp' })
  | S3Destination;

/** The health names (delivery_targets) of a destination: one, or one per S3 location. */
export function exportLabels(cfg: ExportTargetConfig): string[] {
  if (cfg.type === 'local') return [`local:${cfg.directory}`];
  if (cfg.type === 's3') return s3Labels(cfg);
  return [fileServerLabel(cfg)];
}

/** Where files go: a local (mounted) directory, SFTP, FTP, or S3. */
interface ExportTarget {
  readonly name: string;
  /** Writes a new file; never replaces another file. Returns the path used (relative). */
  place(rel: string, data: Buffer, suffix: string): Promise<string>;
  /** Replaces one of our own files (the day index) atomically. */
  replace(rel: string, data: Buffer): Promise<void>;
  /** Throws when the destination itself no longer answers (as opposed to one file failing). */
  probe(): Promise<void>;
  close(): Promise<void>;
}

const sha = (b: Uint8Array) => createHash('sha256').update(b).digest('hex');
const withSuffix = (rel: string, suffix: string) => rel.replace(/(\.[^./]+)?$/, (ext) => `-${suffix}${ext}`);

class LocalTarget implements ExportTarget {
  readonly name: string;
  constructor(private readonly root: string) {
    this.name = `local:${root}`;
  }
  static async open(root: string): Promise<LocalTarget> {
    // The root must exist: a missing root is an unmounted share, not a folder to create locally.
    const st = await stat(root).catch((err: Error) => {
      throw new Error(`export destination ${root} is not reachable: ${err.message}`);
    });
    if (!st.isDirectory()) throw new Error(`export destination ${root} is not a directory`);
    return new LocalTarget(root);
  }
  private async write(abs: string, data: Buffer): Promise<void> {
    await mkdir(dirname(abs), { recursive: true });
    // On failure only our own temporary file goes; nothing else at the destination is removed.
    const tmp = join(dirname(abs), `.${posix.basename(abs)}.${process.pid}.part`);
    await writeFileDurable(abs, data, { mode: 0o640, tmp });
  }
  async place(rel: string, data: Buffer, suffix: string): Promise<string> {
    for (const candidate of [rel, withSuffix(rel, suffix)]) {
      const abs = join(this.root, candidate);
      // Anything at the name (a file, a folder, a link) that is not this very file is left alone.
      const st = await lstat(abs).catch(() => undefined);
      if (st) {
        if (!st.isFile() || st.size !== data.length) continue;
        if (sha(await readFile(abs)) === sha(data)) return candidate;
        continue;
      }
      await this.write(abs, data);
      return candidate;
    }
    throw new Error(`export: ${rel} and ${withSuffix(rel, suffix)} both exist with other content`);
  }
  async replace(rel: string, data: Buffer): Promise<void> {
    await this.write(join(this.root, rel), data);
  }
  async probe(): Promise<void> {
    await LocalTarget.open(this.root);
  }
  async close(): Promise<void> {}
}

/** An SFTP or FTP server (src/delivery/destination.ts). */
class FileServerTarget implements ExportTarget {
  private constructor(
    readonly name: string,
    private readonly c: FileConnection,
  ) {}
  static async open(
    d: (SftpDestination & { type: 'sftp' }) | (FtpDestination & { type: 'ftp' }),
    log: Logger,
  ): Promise<FileServerTarget> {
    return new FileServerTarget(fileServerLabel(d), await openFileConnection(d, log));
  }
  async place(rel: string, data: Buffer, suffix: string): Promise<string> {
    for (const candidate of [rel, withSuffix(rel, suffix)]) {
      const r = await this.c.writeFile(this.c.path(candidate), data, false);
      if (r === 'exists') continue;
      if (r === 'present') {
        // Same size: ours (an attempt confirmed before a crash) only if the content matches.
        const back = await this.c.read(this.c.path(candidate));
        if (sha(back) !== sha(data)) continue;
      }
      return candidate;
    }
    throw new Error(`export: ${rel} and ${withSuffix(rel, suffix)} both exist with other content`);
  }
  async replace(rel: string, data: Buffer): Promise<void> {
    await this.c.writeFile(this.c.path(rel), data, 'always');
  }
  async probe(): Promise<void> {
    await this.c.mkdirp(this.c.path(''));
  }
  async close(): Promise<void> {
    await this.c.close();
  }
}

/** S3 (and its secondary location): names made valid keys, nothing replaced but the day index. */
class S3Target implements ExportTarget {
  readonly name: string;
  private readonly c: S3DestinationClient;
  constructor(d: S3Destination) {
    this.c = new S3DestinationClient(d);
    this.name = this.c.labels.join(' + ');
  }
  place(rel: string, data: Buffer, suffix: string): Promise<string> {
    return this.c.place(rel, data, suffix);
  }
  async replace(rel: string, data: Buffer): Promise<void> {
    await this.c.write(rel, data, true);
  }
  probe(): Promise<void> {
    return this.c.probe();
  }
  close(): Promise<void> {
    return this.c.close();
  }
}

export interface ExportOptions {
  repo: OffloadRepository;
  decryptor: Decryptor;
  log: Logger;
  template: FileTemplate;
  primary: ExportTargetConfig;
  secondary?: ExportTargetConfig | undefined;
  intervalMs: number;
  /** Recordings per destination per pass (default 200). */
  batch?: number;
  /**
   * An item failing this many times (unreadable artifact, a name the destination refuses...) is
   * marked failed (default 10). An unreachable destination costs its items no attempts: it backs
   * off itself (retryBaseMs doubling, capped at max(interval, 5 min)) and catches up after.
   */
  maxAttempts?: number;
  retryBaseMs?: number;
}

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

/** `YYYY-MM-DD` (UTC) of the start and its `YYYY/MM/DD` folder. */
export function dayOf(d: Date): { day: string; dir: string } {
  const day = d.toISOString().slice(0, 10);
  return { day, dir: day.replaceAll('-', '/') };
}

export class ExportService extends PeriodicService {
  private since: Date | undefined;

  constructor(private readonly o: ExportOptions) {
    super(o.log.child({ part: 'export' }), 'export');
  }

  protected pauseMs(): number {
    return this.o.intervalMs;
  }

  /** One pass over every destination; returns how many recordings each received. */
  async tick(): Promise<Record<string, number>> {
    const out: Record<string, number> = {};
    await this.o.repo.exclusive('export', async () => {
      this.since ??= await this.o.repo.cursor('export');
      const dests: [ExportDestination, ExportTargetConfig][] = [['primary', this.o.primary]];
      if (this.o.secondary) dests.push(['secondary', this.o.secondary]);
      for (const [dest, cfg] of dests) out[dest] = await this.exportTo(dest, cfg);
    });
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
      target =
        cfg.type === 'local'
          ? await LocalTarget.open(cfg.directory)
          : cfg.type === 's3'
            ? new S3Target(cfg)
            : await FileServerTarget.open(cfg, this.log);
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
    try {
      const recs = new Map((await this.o.repo.recordings(due.map((d) => d.id))).map((r) => [r.id, r]));
      for (const d of due) {
        if (this.stopped) break;
        const rec = recs.get(d.id);
        let plain: Buffer;
        try {
          if (!rec?.mp3) throw new Error('no MP3 artifact');
          plain = await this.o.decryptor.plain(rec.mp3, { recordingId: rec.id, purpose: 'export' });
        } catch (err) {
          await this.itemFailed(d.id, dest, d.attempts + 1, (err as Error).message);
          continue;
        }
        const r = rec;
        const { day, dir } = dayOf(r.startedAt);
        let path: string;
        let row: Record<string, string>;
        try {
          path = await target.place(d.path ?? exportPath(this.o.template, r), plain, r.id.slice(0, 8));
          await this.o.repo.exportPath(r.id, dest, path, day);
          row = indexRow(r, path);
          // The day's index goes before the item counts as done: an interrupted pass never leaves
          // a file unindexed (the retry finds the file in place and writes the index again).
          const rows = (await this.o.repo.exportIndex(dest, day)).filter((x) => x['Recording ID'] !== r.id);
          rows.push(row);
          rows.sort((x, y) =>
            `${x['Start (UTC)'] ?? ''}${x['Recording ID'] ?? ''}` <
            `${y['Start (UTC)'] ?? ''}${y['Recording ID'] ?? ''}`
              ? -1
              : 1,
          );
          await target.replace(`${dir}/index.csv`, Buffer.from(indexCsv(rows), 'utf8'));
        } catch (err) {
          // The destination still answers: this file is the problem (attempts, backoff, failed at
          // the end). Otherwise the destination is: the pass ends and the backlog waits for it.
          const healthy = await target.probe().then(
            () => true,
            () => false,
          );
          if (!healthy) throw err;
          await this.itemFailed(d.id, dest, d.attempts + 1, (err as Error).message);
          continue;
        }
        await this.o.repo.exportDone(r.id, dest, {
          bytes: plain.length,
          sha256: sha(plain),
          indexRow: row,
          target: label,
        });
        days.add(day);
        n++;
      }
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
      await target.close();
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
