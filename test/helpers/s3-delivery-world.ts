import type { Readable } from 'node:stream';
import { CreateBucketCommand, PutBucketVersioningCommand } from '@aws-sdk/client-s3';
import { S3ArtifactStore } from '../../src/storage/index.js';
import type { Database } from '../../src/store/db.js';
import { startCutProxy, type CutProxy, type StoredFixture } from './delivery-fixtures.js';
import { openDeliveryCatalogue, testLog, type DeliveryCatalogue } from './delivery-catalogue.js';
import { startS3Server, type S3Server } from './s3-server.js';

/**
 * What the `s3` delivery destination tests deliver to and from: a Ceph radosgw of their own
 * (scripts/s3-server.sh, one start per file), a primary bucket (versioned: every write of a key is
 * kept, so "delivered once" can be counted) and a secondary one reached through a TCP proxy that
 * can refuse connections, so the secondary can fail on its own; stopping radosgw (rgw-stop) is the
 * primary's outage. Delivered from a catalogue of their own (Postgres, data directory, key).
 */

export const S3_DELIVERY_PASSPHRASE = 'delivery s3 passphrase';

export interface S3DeliveryWorldOptions {
  /** The data directory's name prefix (`<tmp>/<name>XXXXXX`). */
  name: string;
  /** The primary bucket (versioned) and the secondary one, made at the start. */
  buckets: readonly [primary: string, secondary: string];
  /**
   * radosgw's port: a free one, or TEST_RGW_PORT + this offset when TEST_RGW_PORT is set (runs
   * beside other suites that pick theirs; each file that uses this world gives its own offset).
   */
  rgwPortOffset: number;
}

export interface S3DeliveryWorld {
  readonly server: S3Server;
  readonly proxy: CutProxy;
  readonly dataDir: string;
  readonly db: Database;
  /** The environment loadConfig reads: the data directory and the key passphrase. */
  env(): Record<string, string>;
  /** A whole bucket, to look at what arrived (prefix '' so every key shows); closed with the world. */
  bucket(name: string): S3ArtifactStore;
  /** The keys under `prefix`, sorted. */
  keys(s: S3ArtifactStore, prefix: string): Promise<string[]>;
  /** An object's bytes. */
  body(s: S3ArtifactStore, key: string): Promise<Buffer>;
  /**
   * An s3 destination as the configuration file gives it: primary straight to radosgw with a
   * credentials file; the secondary through the proxy with credentials from the environment.
   */
  s3Setting(primary: string, secondary: string, prefix: string): Record<string, unknown>;
  /** Stores a tone recording in the catalogue (DeliveryCatalogue.store). */
  store(caller: string, callee: string, seconds: number, hz: number): Promise<StoredFixture>;
  /** The audit trail's actions on one resource, oldest first. */
  actions(resourceId: string): Promise<string[]>;
  /** Closes the buckets' clients, the proxy and the catalogue, and stops radosgw. */
  close(): Promise<void>;
}

const read = async (r: Readable) => {
  const parts: Buffer[] = [];
  for await (const c of r) parts.push(c as Buffer);
  return Buffer.concat(parts);
};

/** Starts radosgw and the proxy, makes the buckets and opens the catalogue; undone on failure. */
export async function openS3DeliveryWorld(opts: S3DeliveryWorldOptions): Promise<S3DeliveryWorld> {
  const base = Number(process.env.TEST_RGW_PORT ?? '') || undefined;
  const port = base === undefined ? undefined : base + opts.rgwPortOffset;
  const stores: S3ArtifactStore[] = [];
  let server: S3Server | undefined;
  let proxy: CutProxy | undefined;
  let catalogue: DeliveryCatalogue | undefined;
  const close = async () => {
    for (const s of stores) await s.close();
    await proxy?.close();
    await catalogue?.close();
    await server?.stop();
  };
  try {
    const srv = await startS3Server(port ? { port } : {});
    server = srv;
    console.log(`# radosgw started in ${srv.startMs} ms`);
    const prx = await startCutProxy(Number(new URL(srv.endpoint).port));
    proxy = prx;
    // The secondary locations take the SDK's default chain: the environment.
    process.env.AWS_ACCESS_KEY_ID = srv.accessKeyId;
    process.env.AWS_SECRET_ACCESS_KEY = srv.secretAccessKey;
    const bucket = (name: string) => {
      const s = new S3ArtifactStore({
        backend: 's3',
        bucket: name,
        prefix: '',
        region: srv.region,
        endpoint: srv.endpoint,
        forcePathStyle: true,
        credentialsFile: srv.credentialsFile,
        sseKmsKeyId: undefined,
        partSizeMiB: 5,
        maxAttempts: 1,
      });
      stores.push(s);
      return s;
    };
    const [primary, secondary] = opts.buckets;
    const admin = bucket(primary);
    for (const b of [primary, secondary]) await admin.client.send(new CreateBucketCommand({ Bucket: b }));
    await admin.client.send(
      new PutBucketVersioningCommand({ Bucket: primary, VersioningConfiguration: { Status: 'Enabled' } }),
    );
    const cat = await openDeliveryCatalogue(opts.name, S3_DELIVERY_PASSPHRASE, testLog);
    catalogue = cat;
    const { dataDir, db } = cat;
    for (const c of ['offload', 'export']) await db.offload.cursor(c);
    await new Promise((r) => setTimeout(r, 20));
    return {
      server: srv,
      proxy: prx,
      dataDir,
      db,
      env: () => ({ SRS_DATA_DIR: dataDir, SRS_KEY_PASSPHRASE: S3_DELIVERY_PASSPHRASE }),
      bucket,
      keys: async (s, prefix) => {
        const out: string[] = [];
        for await (const o of s.list(prefix)) out.push(o.key);
        return out.sort();
      },
      body: async (s, k) => read((await s.get(k)).body),
      s3Setting: (primaryBucket, secondaryBucket, prefix) => ({
        type: 's3',
        bucket: primaryBucket,
        prefix,
        region: srv.region,
        endpoint: srv.endpoint,
        forcePathStyle: true,
        credentialsFile: srv.credentialsFile,
        partSizeMiB: 5,
        maxAttempts: 1,
        secondary: {
          bucket: secondaryBucket,
          prefix: `copy/${prefix}`,
          region: srv.region,
          endpoint: `http://127.0.0.1:${prx.port}`,
          forcePathStyle: true,
        },
      }),
      store: (caller, callee, seconds, hz) => cat.store(caller, callee, seconds, hz),
      actions: (resourceId) => cat.actions(resourceId),
      close,
    };
  } catch (err) {
    await close().catch(() => undefined);
    throw err;
  }
}
