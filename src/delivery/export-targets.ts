import { createHash } from 'node:crypto';
import { lstat, open, readFile, stat } from 'node:fs/promises';
import { dirname, join, posix } from 'node:path';
import { mkdirDurable, writeFileDurable } from '../files.js';
import type { Logger } from '../log.js';
import { S3DestinationClient, s3Key, s3Labels } from './s3.js';
import type { S3Destination } from '../config/s3-destination.js';
import type { SftpDestination } from './sftp.js';
import type { FtpDestination } from './ftp.js';
import { fileServerLabel, openFileConnection, type FileConnection } from './destination.js';

/** Where the MP3 export writes: a local (mounted) directory, SFTP, FTP, or S3. */

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

/** The destinations in groups: those sharing a health name (exportLabels) together, in order. */
export function sameTarget<T extends [string, ExportTargetConfig]>(dests: readonly T[]): T[][] {
  const groups: { labels: Set<string>; items: T[] }[] = [];
  for (const d of dests) {
    const labels = exportLabels(d[1]);
    const g = groups.find((x) => labels.some((l) => x.labels.has(l)));
    if (g) {
      g.items.push(d);
      for (const l of labels) g.labels.add(l);
    } else groups.push({ labels: new Set(labels), items: [d] });
  }
  return groups.map((g) => g.items);
}

/** Opens a connection to the destination (a local directory is checked to be there). */
export async function openTarget(cfg: ExportTargetConfig, log: Logger): Promise<ExportTarget> {
  if (cfg.type === 'local') return LocalTarget.open(cfg.directory);
  if (cfg.type === 's3') return new S3Target(cfg);
  return FileServerTarget.open(cfg, log);
}

/**
 * One recording's placement: whose an existing file is, and its claim on a name before writing
 * there. Two recordings can have byte-identical MP3s (two silent calls of one length): a file with
 * the same content at the name is this recording's only when an earlier attempt of it claimed
 * that name (a crash between the write and its index entry), never another recording's.
 */
export interface Placement {
  /** An earlier attempt of this recording claimed `candidate`. */
  mine(candidate: string): boolean;
  /** Records `candidate` as this recording's name, before the file is written there. */
  claim(candidate: string): Promise<void>;
}

export interface ExportTarget {
  readonly name: string;
  /**
   * Writes a new file at `rel`, else at `rel-<suffix>` when another file is there; never replaces
   * another file. Returns the path used (relative).
   */
  place(rel: string, data: Buffer, suffix: string, own: Placement): Promise<string>;
  /** Replaces one of our own files (the day index) atomically. */
  replace(rel: string, data: Buffer): Promise<void>;
  /** The size of the file at `rel`, undefined when there is none. */
  size(rel: string): Promise<number | undefined>;
  /**
   * Writes `data` at byte `at` of our own file `rel` (its size: an append), durably. Absent where
   * the destination cannot add to a file (S3): the day index is then replaced whole.
   */
  append?(rel: string, data: Buffer, at: number): Promise<void>;
  /** Throws when the destination itself no longer answers (as opposed to one file failing). */
  probe(): Promise<void>;
  close(): Promise<void>;
}

const sha = (b: Uint8Array) => createHash('sha256').update(b).digest('hex');
const withSuffix = (rel: string, suffix: string) => rel.replace(/(\.[^./]+)?$/, (ext) => `-${suffix}${ext}`);

export class LocalTarget implements ExportTarget {
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
    // The file, its new name and any folder made for it survive a power cut before the export
    // item is marked done (it is never written again).
    await mkdirDurable(dirname(abs), { root: this.root });
    // On failure only our own temporary file goes; nothing else at the destination is removed.
    const tmp = join(dirname(abs), `.${posix.basename(abs)}.${process.pid}.part`);
    await writeFileDurable(abs, data, { mode: 0o640, tmp, syncDir: true });
  }
  async place(rel: string, data: Buffer, suffix: string, own: Placement): Promise<string> {
    for (const candidate of [rel, withSuffix(rel, suffix)]) {
      const abs = join(this.root, candidate);
      // Anything at the name (a file, a folder, a link) that is not this very file is left alone.
      const st = await lstat(abs).catch(() => undefined);
      if (st) {
        if (!st.isFile() || st.size !== data.length || !own.mine(candidate)) continue;
        if (sha(await readFile(abs)) === sha(data)) return candidate;
        continue;
      }
      if (!own.mine(candidate)) await own.claim(candidate);
      await this.write(abs, data);
      return candidate;
    }
    throw new Error(`export: ${rel} and ${withSuffix(rel, suffix)} both exist with other content`);
  }
  async replace(rel: string, data: Buffer): Promise<void> {
    await this.write(join(this.root, rel), data);
  }
  async size(rel: string): Promise<number | undefined> {
    const st = await lstat(join(this.root, rel)).catch(() => undefined);
    return st?.isFile() ? st.size : undefined;
  }
  async append(rel: string, data: Buffer, at: number): Promise<void> {
    const fh = await open(join(this.root, rel), 'r+');
    try {
      await fh.write(data, 0, data.length, at);
      await fh.datasync();
    } finally {
      await fh.close();
    }
  }
  async probe(): Promise<void> {
    await LocalTarget.open(this.root);
  }
  async close(): Promise<void> {}
}

/** An SFTP or FTP server (src/delivery/destination.ts). */
export class FileServerTarget implements ExportTarget {
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
  async place(rel: string, data: Buffer, suffix: string, own: Placement): Promise<string> {
    for (const candidate of [rel, withSuffix(rel, suffix)]) {
      // Claimed first: the write creates the file when the name is free.
      if (!own.mine(candidate)) await own.claim(candidate);
      const r = await this.c.writeFile(this.c.path(candidate), data, false);
      if (r === 'exists') continue;
      if (r === 'present') {
        // Same size: ours (an attempt confirmed before a crash) only if this recording claimed it
        // and the content matches.
        if (!own.mine(candidate)) continue;
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
  size(rel: string): Promise<number | undefined> {
    return this.c.size(this.c.path(rel));
  }
  append(rel: string, data: Buffer, at: number): Promise<void> {
    return this.c.append(this.c.path(rel), data, at);
  }
  async probe(): Promise<void> {
    await this.c.mkdirp(this.c.path(''));
  }
  async close(): Promise<void> {
    await this.c.close();
  }
}

/** S3 (and its secondary location): names made valid keys, nothing replaced but the day index. */
export class S3Target implements ExportTarget {
  readonly name: string;
  private readonly c: S3DestinationClient;
  constructor(d: S3Destination) {
    this.c = new S3DestinationClient(d);
    this.name = this.c.labels.join(' + ');
  }
  place(rel: string, data: Buffer, suffix: string, own: Placement): Promise<string> {
    return this.c.place(rel, data, suffix, own);
  }
  async replace(rel: string, data: Buffer): Promise<void> {
    await this.c.write(rel, data, true);
  }
  /**
   * The size when the index can be appended to: every location holds it alike, at least 5 MiB
   * (S3's smallest first part); a smaller index is written whole, cheaply.
   */
  size(rel: string): Promise<number | undefined> {
    return this.c.appendableSize(s3Key(rel));
  }
  /** The day index grows by a multipart upload that copies it server-side (src/storage/s3-append.ts). */
  append(rel: string, data: Buffer, at: number): Promise<void> {
    return this.c.append(s3Key(rel), data, at);
  }
  probe(): Promise<void> {
    return this.c.probe();
  }
  close(): Promise<void> {
    return this.c.close();
  }
}
