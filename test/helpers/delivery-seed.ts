import assert from 'node:assert/strict';
import { rm } from 'node:fs/promises';
import { after, before } from 'node:test';
import { Decryptor } from '../../src/delivery/decrypt.js';
import type { FtpDestination } from '../../src/delivery/ftp.js';
import { OffloadService } from '../../src/delivery/offload.js';
import type { SftpDestination } from '../../src/delivery/sftp.js';
import type { Database } from '../../src/store/db.js';
import { openDeliveryCatalogue, testLog, type DeliveryCatalogue } from './delivery-catalogue.js';
import {
  startCutProxy,
  startSshd,
  type CutProxy,
  type StoredFixture,
  type Sshd,
} from './delivery-fixtures.js';
import { startFtpServer, type FtpServer } from './ftp-server.js';

/**
 * The users and calls the offload / export / notification / journal tests deliver: alice (sales, 1001,
 * wants attachments) and bob (support, 1002) subscribed to emails, every feature's cursor set,
 * then three calls stored after it.
 */
export interface SeededCalls {
  /** alice calls out; the remote name has a quote and a newline. */
  a: StoredFixture;
  /** bob is called from outside. */
  b: StoredFixture;
  /** A call with no user. */
  c: StoredFixture;
}

export async function seedDeliveryCalls(catalogue: DeliveryCatalogue): Promise<SeededCalls> {
  const { db } = catalogue;
  await db.users.create({
    username: 'alice',
    displayName: 'Alice Agent',
    role: 'user',
    group: 'sales',
    numbers: ['1001'],
  });
  await db.users.create({
    username: 'bob',
    displayName: 'Bob',
    role: 'user',
    group: 'support',
    numbers: ['1002'],
  });
  assert.equal(await db.offload.subscribe('alice', 'alice@example.com', true, true), true);
  assert.equal(await db.offload.subscribe('bob', 'bob@example.com', false, true), true);
  assert.equal(await db.offload.subscribe('nobody', 'x@example.com', false, true), false);
  // Every feature delivers only what is stored after it was first enabled.
  for (const c of ['offload', 'export', 'notifications', 'journal']) await db.offload.cursor(c);
  await new Promise((r) => setTimeout(r, 20));
  return {
    a: await catalogue.store('1001', '14155550123', 12, 440, ['Alice Agent', 'Dr. "Who"\nThe Second']),
    b: await catalogue.store('4930123456', '1002', 10, 660),
    c: await catalogue.store('5550001', '5550002', 8, 880),
  };
}

/** A fourth call by alice, 6 s, the one the size-limit email and the export's taken name use. */
export const storeFourthCall = (catalogue: DeliveryCatalogue): Promise<StoredFixture> =>
  catalogue.store('1001', '14155550199', 6, 500);

/** An SFTP destination on `sshd` (through `port`, e.g. a cut proxy) with key login and a pinned key. */
export function sftpDest(
  sshd: Sshd,
  port: number,
  over: Partial<SftpDestination> & { directory: string },
): SftpDestination {
  return {
    host: '127.0.0.1',
    port,
    username: sshd.user,
    privateKeyFile: sshd.clientKey,
    hostKeySha256: sshd.hostKeySha256,
    timeoutSeconds: 20,
    // Small chunks, so the WAVs of a few seconds span several and a drop leaves a resumable part.
    chunkBytes: 8 * 1024,
    ...over,
  };
}

/**
 * The SFTP delivery tests' world: a catalogue with the seeded calls and the fourth one, a real
 * sshd behind a proxy that can cut the connection, and a decryptor for the recordings.
 */
export interface SftpDeliveryWorld {
  catalogue: DeliveryCatalogue;
  decryptor: Decryptor;
  sshd: Sshd;
  proxy: CutProxy;
  rec: SeededCalls & { d: StoredFixture };
  /** An SFTP destination through the proxy. */
  dest(over: Partial<SftpDestination> & { directory: string }): SftpDestination;
  close(): Promise<void>;
}

/** An SFTP delivery world as a describe block uses it, with the catalogue's database and data dir. */
export type SftpWorldInUse = Omit<SftpDeliveryWorld, 'close'> & { db: Database; dataDir: string };

/**
 * Starts an SFTP delivery world in the calling describe block's `before` and closes it in its
 * `after`. The returned object's fields are there once `before` has run.
 */
export function useSftpDeliveryWorld(passphrase: string): SftpWorldInUse {
  let world: SftpDeliveryWorld | undefined;
  const inUse = {} as SftpWorldInUse;
  before(async () => {
    world = await startSftpDeliveryWorld(passphrase);
    const { close: _close, ...parts } = world;
    Object.assign(inUse, parts, { db: world.catalogue.db, dataDir: world.catalogue.dataDir });
  });
  after(async () => {
    await world?.close();
  });
  return inUse;
}

export async function startSftpDeliveryWorld(passphrase: string): Promise<SftpDeliveryWorld> {
  const catalogue = await openDeliveryCatalogue('srs-delivery-', passphrase, testLog);
  const decryptor = new Decryptor(catalogue.dataDir, passphrase);
  const sshd = await startSshd();
  const proxy = await startCutProxy(sshd.port);
  const seeded = await seedDeliveryCalls(catalogue);
  const rec = { ...seeded, d: await storeFourthCall(catalogue) };
  return {
    catalogue,
    decryptor,
    sshd,
    proxy,
    rec,
    dest: (over) => sftpDest(sshd, proxy.port, over),
    async close() {
      await proxy.close();
      await sshd.stop();
      await catalogue.close();
      await rm(sshd.dir, { recursive: true, force: true });
    },
  };
}

/**
 * The FTP delivery tests' world: a catalogue with the seeded calls and the fourth one, a real
 * FTPS server (pyftpdlib, TLS required) and a decryptor; `offload` makes the offload service
 * those tests run (carrier format with a manifest, 1 s retry base), on a clock of their own.
 */
export interface FtpDeliveryWorld {
  catalogue: DeliveryCatalogue;
  decryptor: Decryptor;
  ftps: FtpServer;
  rec: SeededCalls & { d: StoredFixture };
  /** Just past the next offload boundary (every `intervalMs`), taken once the calls are stored. */
  firstClock: number;
  offload(
    audio: FtpDestination & { type: 'ftp' },
    metadata: (FtpDestination & { type: 'ftp' }) | undefined,
    now: () => Date,
  ): OffloadService;
  close(): Promise<void>;
}

export async function startFtpDeliveryWorld(
  prefix: string,
  passphrase: string,
  intervalMs: number,
): Promise<FtpDeliveryWorld> {
  const catalogue = await openDeliveryCatalogue(prefix, passphrase, testLog);
  const decryptor = new Decryptor(catalogue.dataDir, passphrase);
  const ftps = await startFtpServer();
  const seeded = await seedDeliveryCalls(catalogue);
  const rec = { ...seeded, d: await storeFourthCall(catalogue) };
  // A boundary taken before the recordings were stored could fall between the offload cursor
  // and them, under load, and cut an empty batch.
  const firstClock = (Math.floor(Date.now() / intervalMs) + 1) * intervalMs + 1000;
  return {
    catalogue,
    decryptor,
    ftps,
    rec,
    firstClock,
    offload: (audio, metadata, now) =>
      new OffloadService({
        repo: catalogue.db.offload,
        decryptor,
        dataDir: catalogue.dataDir,
        log: testLog,
        audio,
        metadata,
        intervalMs,
        purgeAfterTransfer: false,
        manifest: true,
        retryBaseMs: 1000,
        now,
      }),
    async close() {
      await ftps.stop();
      await catalogue.close();
    },
  };
}
