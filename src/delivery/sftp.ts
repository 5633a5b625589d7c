import { createHash } from 'node:crypto';
import { posix } from 'node:path';
import type { Socket } from 'node:net';
import type { SFTPWrapper, Stats } from 'ssh2';
import SftpClient from 'ssh2-sftp-client';
import type { Logger } from '../log.js';
import { readSettingFile, readSettingFileText } from '../config/setting-file.js';
import { hostKeyFingerprint, knownHostKeys, openSocket } from './sftp-connect.js';
import { writeThroughPart } from './part-write.js';

/** Tries of a folder another connection may be making at the same time (mkdirp). */
const MKDIR_ATTEMPTS = 3;

/**
 * One SFTP destination (ssh2-sftp-client over the pure-JS ssh2): connect by password or private
 * key, optionally pinning the host key, and write files so that a reader never sees a partial
 * one: upload to `.<name>.part`, then rename. An interrupted upload resumes from the part's
 * size (the resumed file is read back and its SHA-256 checked before it is renamed).
 */

export interface SftpDestination {
  host: string;
  port: number;
  username: string;
  password?: string | undefined;
  passwordFile?: string | undefined;
  privateKeyFile?: string | undefined;
  privateKeyPassphrase?: string | undefined;
  directory: string;
  hostKeySha256?: string | undefined;
  /** An OpenSSH known_hosts file holding the server's key (plain or hashed host names). */
  knownHostsFile?: string | undefined;
  /** Connect without checking the host key at all (a man in the middle then gets the files): loud. */
  insecureAcceptAnyHostKey?: boolean | undefined;
  timeoutSeconds: number;
  /** Upload chunk size (default 1 MiB): the unit an interrupted upload resumes from. */
  chunkBytes?: number;
}

export const describeSftp = (d: SftpDestination): string =>
  `sftp://${d.username}@${d.host}:${d.port}${d.directory}`;

/** Destinations already warned about (once per process, not once per batch). */
const unpinnedWarned = new Set<string>();

/** One SFTP write request's data: under the 32 kB every server accepts, with room for the header. */
const PIECE = 30 * 1024;

export class SftpConnection {
  /** Directories this connection made or found. */
  private readonly dirs = new Set<string>();
  /** A directory fsync failed once on this connection (warned once, not per file). */
  private dirSyncWarned = false;

  private constructor(
    private readonly client: SftpClient,
    readonly dest: SftpDestination,
    private readonly timeoutMs: number,
    private readonly log: Logger,
    private readonly dropped: Promise<never>,
    /** The SFTP channel itself, for writes issued together (upload). */
    private readonly sftp: SFTPWrapper,
    /** Every file on the server's disk before it is renamed into place (see `open`). */
    private readonly fsync: boolean,
    /** The TCP connection under it (destroyed by `close`). */
    private readonly sock: Socket,
  ) {}

  /**
   * `durable`: a file counts as written only once the server has it on its disk: each part is
   * fsynced (OpenSSH's `fsync@openssh.com`) before it is closed and renamed, and its directory
   * after the rename where the server allows it. The offload asks for it when it purges the
   * local copy after the transfer; a server without the extension then fails the write.
   */
  static async open(
    dest: SftpDestination,
    log: Logger,
    opts: { durable?: boolean } = {},
  ): Promise<SftpConnection> {
    // Our own listeners: without them the client prints "Global end listener" lines to the console.
    const quiet = (what: string) => (err?: unknown) =>
      log.debug(
        { destination: describeSftp(dest), event: what, err: (err as Error | undefined)?.message },
        'sftp connection event',
      );
    // A connection that drops fails whatever is in flight at once (a pending write never would).
    let drop: (err: Error) => void = () => undefined;
    const dropped = new Promise<never>((_, reject) => (drop = reject));
    dropped.catch(() => undefined);
    const lost = (what: string) => (err?: unknown) => {
      quiet(what)(err);
      drop(new Error(`${describeSftp(dest)}: connection ${what}${err ? `: ${(err as Error).message}` : ''}`));
    };
    const client = new SftpClient('srs-delivery', {
      error: lost('error'),
      end: lost('end'),
      close: lost('closed'),
    });
    const password =
      dest.password ??
      (dest.passwordFile ? (await readSettingFileText(dest.passwordFile)).trim() : undefined);
    const privateKey = dest.privateKeyFile ? await readSettingFile(dest.privateKeyFile) : undefined;
    // No pinned key, no connection (unless insecureAcceptAnyHostKey says so, loudly).
    if (!dest.hostKeySha256 && !dest.knownHostsFile && !dest.insecureAcceptAnyHostKey)
      throw new Error(
        `${describeSftp(dest)}: refusing to connect without a pinned host key: set hostKeySha256 (ssh-keygen -lf) or knownHostsFile (or insecureAcceptAnyHostKey: true, which lets a man in the middle take the files)`,
      );
    const known = dest.knownHostsFile ? await knownHostKeys(dest.knownHostsFile, dest.host, dest.port) : [];
    if (dest.knownHostsFile && !dest.hostKeySha256 && known.length === 0)
      throw new Error(
        `${describeSftp(dest)}: ${dest.knownHostsFile} has no key for ${dest.host}:${dest.port}`,
      );
    let seenKey = '';
    // Our own TCP connection, with Nagle off: SFTP is request-answer, and with Nagle and delayed
    // ACKs every round trip (stat, open, close, rename) waited 40 ms, which held an offload to
    // about 2 one-minute WAVs a second on loopback.
    const sock = await openSocket(dest.host, dest.port, dest.timeoutSeconds * 1000).catch((err: Error) => {
      throw new Error(`${describeSftp(dest)}: ${err.message}`);
    });
    const sftp = await client
      .connect({
        host: dest.host,
        port: dest.port,
        sock,
        username: dest.username,
        ...(password !== undefined ? { password } : {}),
        ...(privateKey ? { privateKey, passphrase: dest.privateKeyPassphrase } : {}),
        readyTimeout: dest.timeoutSeconds * 1000,
        // No retries inside the client: a failed batch is retried by the service, with backoff.
        retries: 0,
        hostVerifier: (key: Buffer) => {
          seenKey = hostKeyFingerprint(key);
          if (dest.hostKeySha256) return seenKey === dest.hostKeySha256;
          if (dest.knownHostsFile) return known.some((k) => k.equals(key));
          return dest.insecureAcceptAnyHostKey === true;
        },
      } as SftpClient.ConnectOptions)
      .catch((err: Error) => {
        if (dest.hostKeySha256 && seenKey && seenKey !== dest.hostKeySha256)
          throw new Error(
            `${describeSftp(dest)}: host key ${seenKey} is not the configured ${dest.hostKeySha256}`,
          );
        if (!dest.hostKeySha256 && dest.knownHostsFile && seenKey)
          throw new Error(`${describeSftp(dest)}: host key ${seenKey} is not in ${dest.knownHostsFile}`);
        throw new Error(`${describeSftp(dest)}: ${err.message}`);
      })
      .catch((err: unknown) => {
        sock.destroy();
        throw err;
      });
    if (dest.insecureAcceptAnyHostKey && !dest.hostKeySha256 && !dest.knownHostsFile) {
      if (!unpinnedWarned.has(describeSftp(dest))) {
        unpinnedWarned.add(describeSftp(dest));
        log.error(
          { destination: describeSftp(dest), hostKey: seenKey },
          'INSECURE: sftp host key not checked (insecureAcceptAnyHostKey); pin it with hostKeySha256',
        );
      }
    }
    return new SftpConnection(
      client,
      dest,
      dest.timeoutSeconds * 1000,
      log,
      dropped,
      sftp,
      opts.durable === true,
      sock,
    );
  }

  /** Bounds each operation: a server that stops answering fails the operation instead of hanging. */
  private timed<T>(what: string, p: Promise<T>): Promise<T> {
    let t: NodeJS.Timeout | undefined;
    const timeout = new Promise<never>((_, reject) => {
      t = setTimeout(
        () => reject(new Error(`${describeSftp(this.dest)}: ${what} timed out`)),
        this.timeoutMs,
      );
    });
    return Promise.race([p, timeout, this.dropped]).finally(() => clearTimeout(t));
  }

  path(rel: string): string {
    return posix.join(this.dest.directory, rel);
  }

  /** The size of the file at `abs` (one STAT: a round trip each counts across a network). */
  async size(abs: string): Promise<number | undefined> {
    const st = await this.timed(
      'stat',
      new Promise<Stats | undefined>((resolve, reject) =>
        this.sftp.stat(abs, (err, s) =>
          // SSH_FX_NO_SUCH_FILE: nothing there.
          err ? ((err as { code?: number }).code === 2 ? resolve(undefined) : reject(err)) : resolve(s),
        ),
      ),
    );
    return st?.isFile() ? st.size : undefined;
  }

  /**
   * Makes `abs` and its parents unless it is a directory (asks the server every time: a probe).
   * Other connections (the lanes of an offload or an export) may make the same folders at the same
   * time: a mkdir that failed because one of them was made meanwhile is asked again.
   */
  async mkdirp(abs: string): Promise<void> {
    for (let attempt = 1; ; attempt++) {
      if ((await this.timed('exists', this.client.exists(abs))) === 'd') break;
      try {
        await this.timed('mkdir', this.client.mkdir(abs, true));
        break;
      } catch (err) {
        if (attempt >= MKDIR_ATTEMPTS) throw err;
      }
    }
    this.dirs.add(abs);
  }

  /**
   * Writes `data` at `abs` (absolute remote path) through `.<name>.part` (src/delivery/part-write.ts):
   * a part an earlier attempt left is resumed from its size, read back and checked.
   */
  async writeFile(
    abs: string,
    data: Buffer,
    replace: boolean | 'always',
  ): Promise<'written' | 'resumed' | 'present' | 'exists'> {
    const sha = (b: Buffer) => createHash('sha256').update(b).digest('hex');
    const r = await writeThroughPart(
      {
        size: (x) => this.size(x),
        // A file's directory is asked for once per connection (a batch's files share theirs).
        mkdirp: (x) => (this.dirs.has(x) ? Promise.resolve() : this.mkdirp(x)),
        put: (part, d) => this.upload(part, d, 0),
        resume: async (part, d, from) => {
          await this.upload(part, d, from);
          const back = await this.read(part);
          return back.length === d.length && sha(back) === sha(d);
        },
        place: async (part, x, replacing) => {
          if (replacing) await this.replaceWith(part, x);
          else await this.timed('rename', this.client.rename(part, x));
          if (this.fsync) await this.syncDir(posix.dirname(x));
        },
        describe: describeSftp(this.dest),
        protocol: 'sftp',
        log: this.log,
      },
      abs,
      data,
      replace,
    );
    // Sent by an earlier attempt that may not have fsynced it (purgeAfterTransfer turned on since).
    if (r === 'present' && this.fsync) await this.syncFile(abs);
    return r;
  }

  /** `fsync@openssh.com` on an open handle; an error names the file and why it matters. */
  private async fsyncHandle(handle: Buffer, abs: string): Promise<void> {
    try {
      await this.timed(
        'fsync',
        new Promise<void>((resolve, reject) =>
          // Throws at once when the server does not offer the extension.
          this.sftp.ext_openssh_fsync(handle, (err) => (err ? reject(err) : resolve())),
        ),
      );
    } catch (err) {
      throw new Error(
        `${describeSftp(this.dest)}: ${abs} could not be flushed to the server's disk (fsync@openssh.com: ${(err as Error).message}); with purgeAfterTransfer a file counts as sent only once it is on disk there, so the local copies are kept: use a server that offers fsync@openssh.com (OpenSSH) or set purgeAfterTransfer to false`,
        { cause: err },
      );
    }
  }

  /** Opens `abs` for reading, fsyncs it and closes it (a file sent before, or a directory). */
  private async syncFile(abs: string): Promise<void> {
    const handle = await this.timed(
      'open',
      new Promise<Buffer>((resolve, reject) =>
        this.sftp.open(abs, 'r', (err, h) => (err ? reject(err) : resolve(h))),
      ),
    );
    try {
      await this.fsyncHandle(handle, abs);
    } finally {
      await this.timed(
        'close',
        new Promise<void>((resolve) => this.sftp.close(handle, () => resolve())),
      ).catch(() => undefined);
    }
  }

  /**
   * Makes a rename in `dir` durable where the server lets us open a directory as a file (OpenSSH
   * on Linux does). Best effort: the data is on disk already (the part was fsynced), so a rename
   * lost in a crash of the server leaves the file under its `.part` name, not lost.
   */
  private async syncDir(dir: string): Promise<void> {
    try {
      await this.syncFile(dir);
    } catch (err) {
      if (!this.dirSyncWarned) {
        this.dirSyncWarned = true;
        this.log.warn(
          { destination: describeSftp(this.dest), dir, err: (err as Error).message },
          'sftp: the directory could not be fsynced after a rename (the files themselves are)',
        );
      }
    }
  }

  /**
   * Puts `part` in place of our own earlier `abs`: atomically with OpenSSH's posix-rename, so a
   * reader sees the old or the new file, never none; plain delete + rename where the server lacks it.
   */
  private async replaceWith(part: string, abs: string): Promise<void> {
    try {
      await this.timed('posix-rename', this.client.posixRename(part, abs));
    } catch (err) {
      if (!/not support|unsupported|extended request/i.test((err as Error).message)) throw err;
      await this.timed('delete', this.client.delete(abs, true));
      await this.timed('rename', this.client.rename(part, abs));
    }
  }

  /**
   * Writes `data` from byte `start` on, one chunk at a time (1 MiB unless `chunkBytes` says),
   * each chunk acknowledged by the server before the next. The pieces of a chunk (30 KiB, under
   * every server's packet limit) are sent together, not one round trip each: one at a time, a
   * one-minute WAV took 15 round trips, 0.6 s at 40 ms. What a dropped connection leaves in the
   * part file is whole chunks, then possibly some pieces of the next (a hole among them); the
   * resume checks the whole part by its SHA-256 and uploads it again when it does not match.
   */
  private async upload(part: string, data: Buffer, start: number, fileOffset = 0): Promise<void> {
    const chunk = this.dest.chunkBytes ?? 1024 * 1024;
    const w = this.sftp;
    const call = <T>(f: (cb: (err: Error | null | undefined, v?: T) => void) => void) =>
      new Promise<T>((resolve, reject) => f((err, v) => (err ? reject(err) : resolve(v as T))));
    const handle = await this.timed(
      'open',
      call<Buffer>((cb) => w.open(part, start > 0 || fileOffset > 0 ? 'r+' : 'w', cb)),
    );
    let failed = true;
    try {
      for (let pos = start; pos < data.length; pos += chunk) {
        const end = Math.min(pos + chunk, data.length);
        const pieces: Promise<unknown>[] = [];
        for (let at = pos; at < end; at += PIECE) {
          const n = Math.min(PIECE, end - at);
          pieces.push(call((cb) => w.write(handle, data, at, n, fileOffset + at, cb)));
        }
        await this.timed('write', Promise.all(pieces));
      }
      // On the server's disk before it is closed and renamed into place (durable connections).
      if (this.fsync) await this.fsyncHandle(handle, part);
      failed = false;
    } finally {
      // A close that fails after the writes did leaves the upload unconfirmed: it is an error.
      const closed = this.timed(
        'close',
        call((cb) => w.close(handle, cb)),
      );
      if (failed) await closed.catch(() => undefined);
      else await closed;
    }
  }

  /** Writes `data` at offset `at` of `abs` (open r+, the same pieces as an upload). */
  append(abs: string, data: Buffer, at: number): Promise<void> {
    return this.upload(abs, data, 0, at);
  }

  async read(abs: string): Promise<Buffer> {
    return (await this.timed('get', this.client.get(abs))) as Buffer;
  }

  async remove(abs: string): Promise<void> {
    await this.timed('delete', this.client.delete(abs));
  }

  /**
   * Ends the session politely, waiting at most timeoutSeconds, then drops the TCP connection. A
   * peer that stopped answering (a hung sshd: TCP still acknowledges, no FIN ever comes back) made
   * end() wait forever, and with it the pass and every later one.
   */
  async close(): Promise<void> {
    let t: NodeJS.Timeout | undefined;
    await Promise.race([
      this.client.end().catch(() => undefined),
      new Promise<void>((r) => (t = setTimeout(r, this.timeoutMs))),
    ]).finally(() => clearTimeout(t));
    this.sock.destroy();
  }
}
