import type { Logger } from '../log.js';
import { S3DestinationClient, s3Labels, TargetError } from './s3.js';
import type { S3Destination } from '../storage/s3-destination-config.js';
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

/** Connects to an SFTP or FTP destination. */
export async function openFileConnection(
  d: (SftpDestination & { type?: string }) | (FtpDestination & { type: 'ftp' }),
  log: Logger,
): Promise<FileConnection> {
  return d.type === 'ftp'
    ? FtpConnection.open(d as FtpDestination, log)
    : SftpConnection.open(d as SftpDestination, log);
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

export async function openOffloadSink(d: OffloadDestination, log: Logger): Promise<OffloadSink> {
  if (isS3(d)) {
    const c = new S3DestinationClient(d);
    return {
      labels: c.labels,
      write: (name, data) => c.write(name, data, true),
      close: () => c.close(),
    };
  }
  const conn = await openFileConnection(d, log);
  return {
    labels: destinationLabels(d),
    write: async (name, data) => {
      const r = await conn.writeFile(conn.path(name), data, true);
      if (r === 'exists') throw new Error(`${fileServerLabel(d)}: ${name} exists`); // not with replace
      return r;
    },
    close: () => conn.close(),
  };
}
