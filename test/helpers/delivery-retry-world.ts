import assert from 'node:assert/strict';
import { rm } from 'node:fs/promises';
import type { SftpDestination } from '../../src/delivery/sftp.js';
import type { Database } from '../../src/store/db.js';
import {
  startCutProxy,
  startSmtp,
  startSshd,
  type CutProxy,
  type Sshd,
  type StoredFixture,
  type TestSmtp,
} from './delivery-fixtures.js';
import { openDeliveryCatalogue, testLog as log, type DeliveryCatalogue } from './delivery-catalogue.js';

/**
 * What the delivery failure tests (offload-retry, offload-delivery-failures) run against: real
 * servers that can be made to fail (OpenSSH sftp behind a proxy that can refuse or cut
 * connections, an SMTP server that can refuse mail), a catalogue of their own (Postgres, data
 * directory, key) and the user `alice` (number 1001) subscribed to notifications. One world per
 * file.
 */

export const RETRY_PASSPHRASE = 'delivery retry passphrase';

export interface DeliveryRetryWorld {
  readonly dataDir: string;
  readonly db: Database;
  readonly sshd: Sshd;
  /** In front of sshd: every SFTP destination from `dest` goes through it. */
  readonly proxy: CutProxy;
  readonly smtp: TestSmtp;
  /** An SFTP destination writing to `directory` on sshd, through the proxy. */
  dest(directory: string): SftpDestination;
  /** Stores a 3 s tone at `hz` in the catalogue (DeliveryCatalogue.store). */
  store(caller: string, callee: string, hz: number): Promise<StoredFixture>;
  /** The audit trail's actions on one resource, oldest first. */
  actions(resourceId: string): Promise<string[]>;
  /** Stops the servers, closes the catalogue and removes sshd's directory. */
  close(): Promise<void>;
}

/** Opens the catalogue, starts sshd, the proxy and SMTP, and subscribes alice; undone on failure. */
export async function openDeliveryRetryWorld(name = 'srs-delivery-retry-'): Promise<DeliveryRetryWorld> {
  let catalogue: DeliveryCatalogue | undefined;
  let sshd: Sshd | undefined;
  let proxy: CutProxy | undefined;
  let smtp: TestSmtp | undefined;
  const close = async () => {
    await smtp?.close();
    await proxy?.close();
    await sshd?.stop();
    await catalogue?.close();
    if (sshd) await rm(sshd.dir, { recursive: true, force: true });
  };
  try {
    const cat = await openDeliveryCatalogue(name, RETRY_PASSPHRASE, log);
    catalogue = cat;
    const { dataDir, db } = cat;
    const ssh = await startSshd();
    sshd = ssh;
    const prx = await startCutProxy(ssh.port);
    proxy = prx;
    const mail = await startSmtp();
    smtp = mail;
    await db.users.create({
      username: 'alice',
      displayName: 'Alice Agent',
      role: 'user',
      group: 'sales',
      numbers: ['1001'],
    });
    assert.equal(await db.offload.subscribe('alice', 'alice@example.com', false, true), true);
    return {
      dataDir,
      db,
      sshd: ssh,
      proxy: prx,
      smtp: mail,
      dest: (directory) => ({
        host: '127.0.0.1',
        port: prx.port,
        username: ssh.user,
        privateKeyFile: ssh.clientKey,
        hostKeySha256: ssh.hostKeySha256,
        timeoutSeconds: 20,
        directory,
      }),
      store: (caller, callee, hz) => cat.store(caller, callee, 3, hz),
      actions: (resourceId) => cat.actions(resourceId),
      close,
    };
  } catch (err) {
    await close();
    throw err;
  }
}

/** Forgets every offload batch and every delivery cursor (the audit trail keeps what happened). */
export async function forgetOffloadState(db: Database): Promise<void> {
  await db.pool.query('DELETE FROM offload_items');
  await db.pool.query('DELETE FROM offload_batches');
  await db.pool.query('DELETE FROM delivery_cursors');
}
