import { createHash, X509Certificate } from 'node:crypto';
import { posix } from 'node:path';
import { Readable, Writable } from 'node:stream';
import { createSecureContext, rootCertificates, type ConnectionOptions } from 'node:tls';
import { isIP } from 'node:net';
import { Client, FTPError } from 'basic-ftp';
import { ConfigError } from '../errors.js';
import type { Logger } from '../log.js';
import { readSettingFileSync, readSettingFileText } from '../config/setting-file.js';
import type { TlsPolicy } from '../config/tls-policy.js';
import { belowPolicyMessage, DEFAULT_TLS_POLICY } from './tls-policy.js';
import { writeThroughPart } from './part-write.js';

/**
 * One FTP destination (basic-ftp): FTPS with explicit TLS (AUTH TLS, the default) or implicit
 * TLS, or plain FTP only when the settings say so twice (`tls: "none"` and `insecurePlainFtp`).
 * The same file semantics as SFTP (src/delivery/sftp.ts): upload to `.<name>.part`, check its
 * size, rename into place, so a reader never sees a partial file. An interrupted upload resumes
 * as SFTP's does: the rest is appended (APPE) to the part an earlier attempt left, the whole part
 * is read back (RETR) and its SHA-256 checked, and only a part that does not match (or that the
 * server will not append to or let us read) is uploaded again from the start (STOR).
 */

export type FtpTls = 'explicit' | 'implicit' | 'none';

export interface FtpDestination {
  host: string;
  /** Default 21, or 990 with `tls: "implicit"`. */
  port?: number | undefined;
  username: string;
  password?: string | undefined;
  passwordFile?: string | undefined;
  directory: string;
  tls: FtpTls;
  /** Required with `tls: "none"` (password and recordings go in clear): logged as an error. */
  insecurePlainFtp?: boolean | undefined;
  /** PEM file of a (private) CA to trust besides the system's roots. */
  caFile?: string | undefined;
  /** Do not check the server's certificate (a man in the middle then gets the files): loud. */
  insecureAcceptAnyCertificate?: boolean | undefined;
  timeoutSeconds: number;
  /**
   * The TLS policy (SRS_TLS_MIN_VERSION, SRS_TLS_CIPHERS) of the control and data connections,
   * given by startDelivery (src/delivery/tls-policy.ts); default: the settings' defaults.
   */
  tlsPolicy?: TlsPolicy | undefined;
}

export const ftpPort = (d: FtpDestination): number => d.port ?? (d.tls === 'implicit' ? 990 : 21);

export const describeFtp = (d: FtpDestination): string =>
  `ftp://${d.username}@${d.host}:${ftpPort(d)}${d.directory}`;

/** The CA file's certificates as PEM; throws naming the file when it holds none or cannot be read. */
function readCa(file: string, text: string): string[] {
  const pems = text.match(/-----BEGIN CERTIFICATE-----[\s\S]+?-----END CERTIFICATE-----/g) ?? [];
  if (pems.length === 0) throw new Error(`${file} holds no PEM certificate`);
  for (const p of pems) new X509Certificate(p); // throws on a damaged certificate
  return pems;
}

/** Start-time checks (`srs serve` refuses to start): the CA file must be a readable PEM. */
export function checkFtpDestination(d: FtpDestination, setting: string): void {
  if (d.tls === 'none' && !d.insecurePlainFtp)
    throw new ConfigError(
      `${setting}.tls: "none" sends the password and the recordings in clear; set insecurePlainFtp: true to accept that, or use tls "explicit"`,
    );
  if (!d.caFile) return;
  try {
    readCa(d.caFile, readSettingFileSync(d.caFile).toString('utf8'));
  } catch (err) {
    throw new ConfigError(`${setting}.caFile: ${(err as Error).message}`);
  }
}

/** Destinations already warned about (once per process, not once per batch). */
const insecureWarned = new Set<string>();

const CERT_ERROR =
  /certificate|self[- ]signed|CERT_|UNABLE_TO_VERIFY|UNABLE_TO_GET_ISSUER|ERR_TLS_CERT_ALTNAME/i;

export class FtpConnection {
  private constructor(
    private readonly client: Client,
    readonly dest: FtpDestination,
    /** The destination directory, absolute (a relative one is taken from the login directory). */
    private readonly root: string,
    private readonly timeoutMs: number,
    private readonly log: Logger,
  ) {}

  static async open(dest: FtpDestination, log: Logger): Promise<FtpConnection> {
    const name = describeFtp(dest);
    if (dest.tls === 'none' && !dest.insecurePlainFtp)
      throw new Error(`${name}: refusing plain FTP (tls "none") without insecurePlainFtp: true`);
    const password =
      dest.password ??
      (dest.passwordFile ? (await readSettingFileText(dest.passwordFile)).trim() : undefined);
    const ca = dest.caFile ? readCa(dest.caFile, await readSettingFileText(dest.caFile)) : undefined;
    const timeoutMs = dest.timeoutSeconds * 1000;
    const client = new Client(timeoutMs);
    // Data connections are upgraded with the same options: the host is what they are checked against.
    // One secure context for all of them: given `ca` instead, every data connection (one per
    // file) parsed the system's ~140 root certificates again, about 30 ms of CPU per file.
    // The policy goes into that context too: a connection given a secureContext ignores
    // minVersion and ciphers beside it.
    const tls = dest.tlsPolicy ?? DEFAULT_TLS_POLICY;
    const policy = { minVersion: tls.minVersion, ciphers: tls.ciphers };
    const secureOptions: ConnectionOptions = {
      host: dest.host,
      ...(isIP(dest.host) ? {} : { servername: dest.host }),
      rejectUnauthorized: dest.insecureAcceptAnyCertificate !== true,
      ...policy,
      ...(ca ? { secureContext: createSecureContext({ ca: [...rootCertificates, ...ca], ...policy }) } : {}),
    };
    const connection = new FtpConnection(client, dest, '/', timeoutMs, log);
    try {
      await connection.timed(
        'login',
        client.access({
          host: dest.host,
          port: ftpPort(dest),
          user: dest.username,
          password: password ?? '',
          secure: dest.tls === 'none' ? false : dest.tls === 'explicit' ? true : 'implicit',
          secureOptions,
        }),
      );
    } catch (err) {
      client.close();
      const e = ((err as Error).cause ?? err) as Error & { code?: string };
      const below = dest.tls === 'none' ? undefined : belowPolicyMessage(e, tls, 'the FTPS server');
      if (below) throw new Error(`${name}: ${below}`);
      if (dest.tls !== 'none' && CERT_ERROR.test(`${e.code ?? ''} ${e.message}`))
        throw new Error(
          `${name}: the server's TLS certificate is not trusted (${e.message}): set caFile to the CA that signed it (or insecureAcceptAnyCertificate: true, which lets a man in the middle take the files)`,
        );
      throw e.message.startsWith(name) ? e : new Error(`${name}: ${e.message}`);
    }
    const insecure =
      dest.tls === 'none'
        ? 'INSECURE: plain FTP (tls "none", insecurePlainFtp): the password and the recordings travel in clear'
        : dest.insecureAcceptAnyCertificate
          ? 'INSECURE: ftps certificate not checked (insecureAcceptAnyCertificate); trust its CA with caFile'
          : undefined;
    if (insecure && !insecureWarned.has(name)) {
      insecureWarned.add(name);
      log.error({ destination: name }, insecure);
    }
    const home = posix.isAbsolute(dest.directory)
      ? '/'
      : await connection.timed('pwd', client.pwd()).catch(() => '/');
    return new FtpConnection(client, dest, posix.resolve(home, dest.directory), timeoutMs, log);
  }

  /** Bounds each operation: a server that stops answering fails the operation instead of hanging. */
  private timed<T>(what: string, p: Promise<T>): Promise<T> {
    let t: NodeJS.Timeout | undefined;
    const timeout = new Promise<never>((_, reject) => {
      t = setTimeout(() => {
        this.client.close(); // the operation in flight fails with it
        reject(new Error(`${describeFtp(this.dest)}: ${what} timed out`));
      }, this.timeoutMs + 1000);
    });
    return Promise.race([p, timeout])
      .catch((err: Error) => {
        if (err.message.startsWith(describeFtp(this.dest))) throw err;
        throw new Error(`${describeFtp(this.dest)}: ${what}: ${err.message}`, { cause: err });
      })
      .finally(() => clearTimeout(t));
  }

  path(rel: string): string {
    return posix.join(this.root, rel);
  }

  /** The size of the file at `abs`, undefined when there is none (or a folder is there). */
  async size(abs: string): Promise<number | undefined> {
    try {
      return await this.timed('size', this.client.size(abs));
    } catch (err) {
      if (this.permanent(err)) return undefined;
      throw err;
    }
  }

  /** A 5xx reply (no such file, not allowed...), as opposed to a connection that failed. */
  private permanent(err: unknown): boolean {
    if (this.client.closed) return false;
    const cause = (err as { cause?: unknown }).cause ?? err;
    return cause instanceof FTPError && cause.code >= 500;
  }

  /** Makes `abs` and its parents; asked again when another connection made one of them meanwhile. */
  async mkdirp(abs: string): Promise<void> {
    for (let attempt = 1; ; attempt++) {
      try {
        await this.timed('mkdir', this.client.ensureDir(abs));
        return;
      } catch (err) {
        if (attempt >= 3 || !this.permanent(err)) throw err;
      }
    }
  }

  /** Writes `data` at `abs` through `.<name>.part` (src/delivery/part-write.ts). */
  writeFile(
    abs: string,
    data: Buffer,
    replace: boolean | 'always',
  ): Promise<'written' | 'resumed' | 'present' | 'exists'> {
    return writeThroughPart(
      {
        size: (x) => this.size(x),
        mkdirp: (x) => this.mkdirp(x),
        put: async (part, d) =>
          void (await this.timed('upload', this.client.uploadFrom(Readable.from([d]), part))),
        resume: (part, d, from) => this.resume(part, d, from),
        place: (part, x, replacing) => this.rename(part, x, replacing),
        describe: describeFtp(this.dest),
        protocol: 'ftp',
        log: this.log,
      },
      abs,
      data,
      replace,
    );
  }

  /**
   * Appends `data` from `from` (the part's size) to `part` (APPE), then reads the whole part back
   * and compares its SHA-256 with the data's: true when it matches. False (upload it again from
   * the start) when it does not, or when the server refuses APPE or RETR (a 5xx: a server
   * without APPE, an account that may write but not read); a dropped connection throws.
   */
  private async resume(part: string, data: Buffer, from: number): Promise<boolean> {
    try {
      await this.timed('append', this.client.appendFrom(Readable.from([data.subarray(from)]), part));
      const hash = createHash('sha256');
      let bytes = 0;
      const sink = new Writable({
        write(chunk: Buffer, _enc, cb) {
          hash.update(chunk);
          bytes += chunk.length;
          cb();
        },
      });
      await this.timed('download', this.client.downloadTo(sink, part));
      return bytes === data.length && hash.digest('hex') === createHash('sha256').update(data).digest('hex');
    } catch (err) {
      if (!this.permanent(err)) throw err;
      this.log.debug({ file: part, err: (err as Error).message }, 'ftp upload not resumable');
      return false;
    }
  }

  /**
   * RNFR/RNTO: most servers (POSIX file systems) replace the target atomically; where the server
   * refuses to rename onto our own earlier file, it is deleted first.
   */
  private async rename(part: string, abs: string, replacing: boolean): Promise<void> {
    try {
      await this.timed('rename', this.client.rename(part, abs));
    } catch (err) {
      if (!replacing || !this.permanent(err)) throw err;
      await this.timed('delete', this.client.remove(abs));
      await this.timed('rename', this.client.rename(part, abs));
    }
  }

  /** APPE: FTP has no writes at an offset; the caller has checked the file's size. */
  async append(abs: string, data: Buffer): Promise<void> {
    await this.timed('append', this.client.appendFrom(Readable.from([data]), abs));
  }

  async read(abs: string): Promise<Buffer> {
    const chunks: Buffer[] = [];
    const sink = new Writable({
      write(chunk: Buffer, _enc, cb) {
        chunks.push(chunk);
        cb();
      },
    });
    await this.timed('download', this.client.downloadTo(sink, abs));
    return Buffer.concat(chunks);
  }

  async remove(abs: string): Promise<void> {
    await this.timed('delete', this.client.remove(abs));
  }

  async close(): Promise<void> {
    this.client.close();
  }
}
