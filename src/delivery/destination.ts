import { randomBytes } from 'node:crypto';
import { readFile, stat, unlink } from 'node:fs/promises';
import { join, posix } from 'node:path';
import { readSettingFileText } from '../config/setting-file.js';
import { writeFileDurable } from '../files.js';
import type { Logger } from '../log.js';
import { parseCredentials } from '../storage/s3-client.js';
import { S3DestinationClient, s3Key, s3Labels, TargetError } from './s3.js';
import type { S3Destination, S3Location } from '../config/s3-destination.js';
import { describeSftp, SftpConnection, type SftpDestination } from './sftp.js';
import { describeFtp, FtpConnection, type FtpDestination } from './ftp.js';

/**
 * Where offload files go: an SFTP server (`type` "sftp" or none, as before S3 existed), an FTP
 * server (`type` "ftp", FTPS by default) or an S3 destination (`type` "s3", with its optional
 * secondary location). One small interface so the offload service does not care which: write a
 * named file (confirmed when the call returns), close; `labels` are the health names in
 * `delivery_targets` (one per S3 location).
 */

export type OffloadDestination =
  (SftpDestination & { type?: 'sftp' | undefined }) | (FtpDestination & { type: 'ftp' }) | S3Destination;

export const isS3 = (d: OffloadDestination): d is S3Destination => d.type === 's3';

/** What SftpConnection and FtpConnection have in common: files under a directory, by absolute path. */
export interface FileConnection {
  path(rel: string): string;
  writeFile(
    abs: string,
    data: Buffer,
    replace: boolean | 'always',
  ): Promise<'written' | 'resumed' | 'present' | 'exists'>;
  read(abs: string): Promise<Buffer>;
  /** The size of the file at `abs`, undefined when there is none. */
  size(abs: string): Promise<number | undefined>;
  /**
   * Adds `data` to the end of our own file `abs`, whose size the caller has just read as `at`
   * (SFTP writes at that offset, FTP appends with APPE).
   */
  append(abs: string, data: Buffer, at: number): Promise<void>;
  /** Deletes the file at `abs` (the access test's probe). */
  remove(abs: string): Promise<void>;
  mkdirp(abs: string): Promise<void>;
  close(): Promise<void>;
}

/** The health name of an SFTP or FTP destination. */
export function fileServerLabel(
  d: (SftpDestination & { type?: string }) | (FtpDestination & { type: 'ftp' }),
): string {
  return d.type === 'ftp'
    ? `ftp:${describeFtp(d as FtpDestination)}`
    : `sftp:${describeSftp(d as SftpDestination)}`;
}

/**
 * Connects to an SFTP or FTP destination. `durable`: each file is on the server's disk before it
 * counts as written (SFTP fsync@openssh.com); FTP has no such command and refuses it.
 */
export async function openFileConnection(
  d: (SftpDestination & { type?: string }) | (FtpDestination & { type: 'ftp' }),
  log: Logger,
  opts: { durable?: boolean } = {},
): Promise<FileConnection> {
  if (d.type === 'ftp' && opts.durable)
    throw new Error(
      `${fileServerLabel(d)}: FTP cannot flush a file to the server's disk (purgeAfterTransfer)`,
    );
  return d.type === 'ftp'
    ? FtpConnection.open(d as FtpDestination, log)
    : SftpConnection.open(d as SftpDestination, log, opts);
}

export function destinationLabels(d: OffloadDestination): string[] {
  return isS3(d) ? s3Labels(d) : [fileServerLabel(d)];
}

/** The target a failure is put on: the S3 location that failed, else the destination in use. */
export function failedTarget(err: unknown, inUse: OffloadDestination): string {
  return err instanceof TargetError ? err.target : (destinationLabels(inUse)[0] as string);
}

export interface OffloadSink {
  readonly labels: string[];
  /** Writes `name` (relative to the directory or prefix), replacing an earlier attempt's file. */
  write(name: string, data: Buffer): Promise<'written' | 'resumed' | 'present'>;
  close(): Promise<void>;
}

/** Files up to this size found at the destination are read back and compared (the CSV, the manifest). */
const SMALL_FILE = 4 << 20;

/** `durable`: see openFileConnection (an S3 PUT is acknowledged once stored). */
export async function openOffloadSink(
  d: OffloadDestination,
  log: Logger,
  opts: { durable?: boolean } = {},
): Promise<OffloadSink> {
  if (isS3(d)) {
    const c = new S3DestinationClient(d);
    return {
      labels: c.labels,
      write: (name, data) => c.write(name, data, true),
      close: () => c.close(),
    };
  }
  const conn = await openFileConnection(d, log, opts);
  return {
    labels: destinationLabels(d),
    write: async (name, data) => {
      const abs = conn.path(name);
      const r = await conn.writeFile(abs, data, true);
      if (r === 'exists') throw new Error(`${fileServerLabel(d)}: ${name} exists`); // not with replace
      // A small file already there (a batch's CSV or manifest, sent before a crash) is skipped only
      // when its content is ours too, read back byte for byte; a WAV is judged by its size.
      if (r === 'present' && data.length <= SMALL_FILE && !(await conn.read(abs)).equals(data))
        return (await conn.writeFile(abs, data, 'always')) as 'written';
      return r;
    },
    close: () => conn.close(),
  };
}

// --- "Test access" (POST /api/v1/delivery/destinations/{name}/test) ------------------------------

/** An export destination that is a (mounted) directory of this host. */
export interface LocalDestination {
  type: 'local';
  directory: string;
}

/** Any configured destination: offload (SFTP, FTP, S3) or export (those and local). */
export type AnyDestination = OffloadDestination | LocalDestination;

/** A destination by the name the console shows: its health name (delivery_targets), one per S3 location. */
export interface NamedDestination {
  name: string;
  kind: 'sftp' | 'ftp' | 's3' | 'local';
  /** The settings that point at it: `offload.audio`, `export.secondary`... */
  settings: string[];
  /** Its settings; for an S3 location, that location alone. */
  dest: AnyDestination;
}

/** An S3 destination's `loc` (itself or its secondary) as a destination of its own. */
function s3Only(d: S3Destination, loc: S3Location): S3Destination {
  return {
    type: 's3',
    partSizeMiB: d.partSizeMiB,
    maxAttempts: d.maxAttempts,
    bucket: loc.bucket,
    prefix: loc.prefix,
    region: loc.region,
    endpoint: loc.endpoint,
    forcePathStyle: loc.forcePathStyle,
    credentialsFile: loc.credentialsFile,
    sse: loc.sse,
    sseKmsKeyId: loc.sseKmsKeyId,
  };
}

/** The destinations of `settings` by name, in order; two settings naming one destination make one. */
export function namedDestinations(settings: [string, AnyDestination | undefined][]): NamedDestination[] {
  const out: NamedDestination[] = [];
  const add = (name: string, setting: string, dest: AnyDestination) => {
    const seen = out.find((x) => x.name === name);
    if (seen) seen.settings.push(setting);
    else
      out.push({
        name,
        kind: name.slice(0, name.indexOf(':')) as NamedDestination['kind'],
        settings: [setting],
        dest,
      });
  };
  for (const [setting, d] of settings) {
    if (!d) continue;
    if (d.type === 'local') add(`local:${d.directory}`, setting, d);
    else if (isS3(d)) {
      const [primary, secondary] = s3Labels(d);
      add(primary as string, setting, s3Only(d, d));
      if (d.secondary && secondary) add(secondary, `${setting}.secondary`, s3Only(d, d.secondary));
    } else add(fileServerLabel(d), setting, d);
  }
  return out;
}

export type AccessStep = 'login' | 'directory' | 'write' | 'read' | 'delete';

export interface AccessStepResult {
  step: AccessStep;
  ok: boolean;
  ms: number;
  /** The client library's message (passwords and keys replaced by `***`). */
  error?: string;
}

export interface AccessTestResult {
  ok: boolean;
  steps: AccessStepResult[];
}

/** The bound of a whole access test: the destination's timeoutSeconds (S3 and local: 60 s). */
export const accessTestLimitMs = (d: AnyDestination): number =>
  'timeoutSeconds' in d && typeof d.timeoutSeconds === 'number' ? d.timeoutSeconds * 1000 : 60_000;

/** The secrets a message could carry: passwords (inline or from their file), passphrases, S3 keys. */
async function secretsOf(d: AnyDestination): Promise<string[]> {
  const out: (string | undefined)[] = [];
  const file = async (f: string | undefined) =>
    f ? (await readSettingFileText(f).catch(() => '')).trim() : undefined;
  if (d.type === 'local') return [];
  if (isS3(d)) {
    if (d.credentialsFile) {
      const text = await readSettingFileText(d.credentialsFile).catch(() => '');
      try {
        const c = parseCredentials(text, d.credentialsFile);
        out.push(c.secretAccessKey, c.sessionToken);
      } catch {
        // Unreadable credentials: the login step says so; nothing to hide.
      }
    }
    out.push(process.env.AWS_SECRET_ACCESS_KEY, process.env.AWS_SESSION_TOKEN);
  } else {
    out.push(d.password, await file(d.passwordFile));
    if (d.type !== 'ftp') out.push((d as SftpDestination).privateKeyPassphrase);
  }
  return out.filter((s): s is string => typeof s === 'string' && s.length > 0);
}

/** `message` without any secret, nor the password of a `scheme://user:password@` in it. */
export function withoutSecrets(message: string, secrets: string[]): string {
  let m = message.replace(/([a-z][a-z0-9+.-]*:\/\/[^/:@\s]*):[^/@\s]*@/gi, '$1:***@');
  for (const s of [...secrets].sort((a, b) => b.length - a.length)) m = m.split(s).join('***');
  return m;
}

class StepFailed extends Error {}

/**
 * Tests access to a destination with its real settings, through the code the uploads use: log in
 * (SFTP, FTP, S3), the directory (created when missing, as an upload would; a local one must
 * exist), write a small probe file `.srs-access-test-<random>` (SFTP and FTP: `.part` + rename;
 * local: temporary file + rename; S3: one PutObject), read it back (size and content), delete it.
 * Steps after a failed one do not run, except the delete of a probe that was written. The whole
 * test is bounded by `limitMs` (default accessTestLimitMs); a step still running then fails.
 */
export async function testDestinationAccess(
  d: AnyDestination,
  log: Logger,
  limitMs = accessTestLimitMs(d),
): Promise<AccessTestResult> {
  const secrets = await secretsOf(d);
  const deadline = Date.now() + limitMs;
  const steps: AccessStepResult[] = [];
  const bounded = <T>(p: Promise<T>): Promise<T> => {
    let timer: NodeJS.Timeout | undefined;
    const out = new Promise<never>((_, reject) => {
      timer = setTimeout(
        () => reject(new Error(`the access test took longer than ${limitMs / 1000} s (timeoutSeconds)`)),
        Math.max(0, deadline - Date.now()),
      );
    });
    return Promise.race([p, out]).finally(() => clearTimeout(timer));
  };
  const step = async <T>(name: AccessStep, f: () => Promise<T>): Promise<T> => {
    const t0 = performance.now();
    const ms = () => Math.round(performance.now() - t0);
    try {
      const v = await bounded(f());
      steps.push({ step: name, ok: true, ms: ms() });
      return v;
    } catch (err) {
      const error = withoutSecrets(err instanceof Error ? err.message : String(err), secrets);
      steps.push({ step: name, ok: false, ms: ms(), error });
      throw new StepFailed(error);
    }
  };
  const probeName = `.srs-access-test-${randomBytes(6).toString('hex')}`;
  const probe = Buffer.from(`srs access test ${new Date().toISOString()} ${probeName}\n`);
  const sameAsProbe = (back: Buffer) => {
    if (back.length !== probe.length)
      throw new Error(`the probe file has ${back.length} bytes, expected ${probe.length}`);
    if (!back.equals(probe)) throw new Error('the probe file read back differs from what was written');
  };
  const closing: (() => Promise<unknown>)[] = [];
  let written = false;
  let remove: (() => Promise<void>) | undefined;
  let cleanUp: (() => Promise<unknown>) | undefined;
  try {
    if (d.type === 'local') {
      const abs = join(d.directory, probeName);
      await step('directory', async () => {
        const st = await stat(d.directory);
        if (!st.isDirectory()) throw new Error(`${d.directory} is not a directory`);
      });
      remove = () => unlink(abs);
      // As the export writes (src/delivery/export.ts LocalTarget): temporary file, fsync, rename.
      await step('write', () =>
        writeFileDurable(abs, probe, {
          mode: 0o640,
          tmp: join(d.directory, `.${probeName}.${process.pid}.part`),
        }),
      );
      written = true;
      await step('read', async () => sameAsProbe(await readFile(abs)));
      await step('delete', async () => {
        await unlink(abs);
        if (
          await stat(abs).then(
            () => true,
            () => false,
          )
        )
          throw new Error(`${abs} is still there`);
      });
    } else if (isS3(d)) {
      const key = s3Key(probeName);
      const c = await step('login', async () => {
        const client = new S3DestinationClient(d);
        closing.push(() => client.close());
        await client.probe();
        return client;
      });
      remove = () => c.remove(key);
      await step('write', () => c.write(key, probe, true));
      written = true;
      await step('read', async () => sameAsProbe(await c.read(key)));
      await step('delete', async () => {
        await c.remove(key);
        if (await c.exists(key)) throw new Error(`${key} is still there`);
      });
    } else {
      const opening = openFileConnection(d, log);
      let opened: FileConnection | undefined;
      // A login still running when the test gives up closes its connection once it is made.
      closing.push(async () => {
        if (opened) await opened.close();
        else
          void opening.then(
            (c) => c.close(),
            () => undefined,
          );
      });
      const conn = (opened = await step('login', () => opening));
      const abs = conn.path(probeName);
      remove = () => conn.remove(abs);
      cleanUp = async () => {
        const part = posix.join(posix.dirname(abs), `.${posix.basename(abs)}.part`);
        for (const f of [abs, part]) if ((await conn.size(f)) !== undefined) await conn.remove(f);
      };
      await step('directory', () => conn.mkdirp(conn.path('')));
      await step('write', async () => {
        if ((await conn.writeFile(abs, probe, true)) === 'exists') throw new Error(`${abs} exists`);
      });
      written = true;
      await step('read', async () => {
        const size = await conn.size(abs);
        if (size !== probe.length)
          throw new Error(`the probe file has ${size ?? 'no'} bytes, expected ${probe.length}`);
        sameAsProbe(await conn.read(abs));
      });
      await step('delete', async () => {
        await conn.remove(abs);
        if ((await conn.size(abs)) !== undefined) throw new Error(`${abs} is still there`);
      });
    }
  } catch (err) {
    if (!(err instanceof StepFailed)) throw err;
    // A probe that was written goes (the delete step); after a failed write, what it left, quietly.
    const ran = steps.some((s) => s.step === 'delete');
    if (written && remove && !ran) await step('delete', remove).catch(() => undefined);
    else if (!written && cleanUp && steps.some((s) => s.step === 'write'))
      await bounded(cleanUp()).catch(() => undefined);
  } finally {
    for (const close of closing) await close().catch(() => undefined);
  }
  return { ok: steps.every((s) => s.ok), steps };
}
