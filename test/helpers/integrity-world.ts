import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { chmod, mkdir, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { createServer, type Server } from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createLogger } from '../../src/log.js';
import { ulawWavHeader } from '../../src/media/wav.js';
import type { MixOptions, MixResult } from '../../src/media/types.js';
import { startPipeline, type Pipeline } from '../../src/pipeline/index.js';
import { ensureKeyPair } from '../../src/pipeline/keys.js';
import { openDatabase, type Database } from '../../src/store/db.js';
import { encodeUlaw, tone } from './audio.js';
import { seedDataDir } from './pg-template.js';
import { SRS_BIN, run } from './server.js';

/**
 * The world of the pipeline-integrity tests (test/unit/pipeline-verify.test.ts and
 * pipeline-integrity.test.ts): a real embedded Postgres, a real pipeline with hooks (a real HTTP
 * server that fails its first delivery, a real script) and the real `srs` CLI on the same data
 * directory. The mixer makes a 4 s tone whose frequency the spool's `hz` file names.
 */

export const PASS = 'integrity-test-passphrase';

const log = createLogger('silent');

export class ToneMixer {
  async mix(o: MixOptions): Promise<MixResult> {
    const hz = Number(await readFile(join(o.spoolDir, 'hz'), 'utf8'));
    const u = encodeUlaw(tone(hz, 4000, 8000));
    const wav = Buffer.concat([ulawWavHeader(u.length), u]);
    const r = { samples: u.length, durationMs: 4000, legs: 1 };
    if (!o.wavPath) return { ...r, data: wav };
    await writeFile(o.wavPath, wav);
    return { ...r, wavPath: o.wavPath };
  }
}

export interface IntegrityWorld {
  dataDir: string;
  db: Database;
  pipeline: Pipeline;
  /** The environment of an `srs` command on this data directory. */
  env: Record<string, string>;
  /** Documents the webhook accepted (its first request is answered 500). */
  received: { id: string; files: { sha256Cipher: string }[]; fields: Record<string, string> }[];
  /** Requests the webhook saw, the refused first one included. */
  hookRequests(): number;
  /** The Idempotency-Key header of each request, in order (the refused first one included). */
  hookKeys: (string | undefined)[];
  /** Where the hook script writes `<recording id>.json`. */
  hookOut: string;
  /** A recording created, ended and run through the pipeline: stored (with these custom field values). */
  newStored(o?: {
    hz?: number;
    startedAt?: Date;
    aor?: string;
    fields?: Record<string, string>;
  }): Promise<string>;
  srs(...args: string[]): ReturnType<typeof run>;
  /** What an attacker with the database superuser can do: bypass the append-only triggers. */
  tamper(sql: string, params?: unknown[]): Promise<void>;
  close(): Promise<void>;
}

export async function startIntegrityWorld(): Promise<IntegrityWorld> {
  const dataDir = await mkdtemp(join(tmpdir(), 'srs-integrity-'));
  await seedDataDir(dataDir);
  const db = await openDatabase({ dataDir, log });
  const key = await ensureKeyPair({ keysDir: join(dataDir, 'keys'), passphrase: PASS, log, db });
  const received: IntegrityWorld['received'] = [];
  let hookRequests = 0;
  const hookKeys: (string | undefined)[] = [];
  const hookServer: Server = createServer((req, res) => {
    hookKeys.push(req.headers['idempotency-key'] as string | undefined);
    let body = '';
    req.on('data', (d: Buffer) => (body += d.toString()));
    req.on('end', () => {
      hookRequests++;
      if (hookRequests === 1) {
        res.writeHead(500).end('try again'); // the first delivery fails and must be retried
        return;
      }
      received.push(JSON.parse(body) as (typeof received)[number]);
      res.writeHead(204).end();
    });
  });
  await new Promise<void>((r) => hookServer.listen(0, '127.0.0.1', r));
  const port = (hookServer.address() as { port: number }).port;
  const hookOut = join(dataDir, 'hook-out');
  await mkdir(hookOut);
  const script = join(dataDir, 'hook.sh');
  await writeFile(script, `#!/bin/sh\ncat > "${hookOut}/$SRS_RECORDING_ID.json"\n`);
  await chmod(script, 0o755);
  const pipeline = await startPipeline({
    db,
    mixer: new ToneMixer(),
    dataDir,
    log,
    concurrency: 2,
    mp3: { bitrateKbps: 32, sampleRate: 8000 },
    key: { fingerprint: key.fingerprint, publicKeyArmored: key.publicKeyArmored },
    retryDelaySeconds: 1,
    pollingIntervalSeconds: 0.5,
    hooks: { url: `http://127.0.0.1:${port}/hook`, command: script, timeoutSeconds: 5 },
  });
  const env: Record<string, string> = {
    ...(process.env as Record<string, string>),
    SRS_DATA_DIR: dataDir,
    SRS_KEY_PASSPHRASE: PASS,
    LOG_LEVEL: 'silent',
  };
  delete env.DATABASE_URL;

  return {
    dataDir,
    db,
    pipeline,
    env,
    received,
    hookRequests: () => hookRequests,
    hookKeys,
    hookOut,
    async newStored(o = {}) {
      const id = randomUUID();
      await db.recordings.create({
        id,
        sessionId: `s-${id.slice(0, 6)}`,
        callId: `c-${id}@pbx`,
        srcAddress: '192.0.2.9:5060',
        startedAt: o.startedAt ?? new Date(),
        participants: [
          { participantId: 'a', aor: o.aor ?? 'sip:1001@pbx', name: 'Alice', sendsLabels: ['1'] },
          { participantId: 'b', aor: 'tel:+4930123', name: 'Bob', sendsLabels: ['2'] },
        ],
        streams: [{ label: '1', streamId: 's1', legId: 'leg0', codec: 'PCMU', port: 20000 }],
        metadataXml: null,
      });
      if (o.fields) await db.fields.setValues(id, o.fields, 'test');
      await db.recordings.markEnded(id, new Date(), 4000, null);
      const spool = join(dataDir, 'spool', id);
      await mkdir(spool, { recursive: true });
      await writeFile(join(spool, 'hz'), String(o.hz ?? 700));
      await pipeline.enqueueFinalize(id);
      await pipeline.idle();
      assert.equal((await db.recordings.get(id))?.state, 'stored');
      return id;
    },
    srs: (...args) => run(process.execPath, [SRS_BIN, ...args], { env }),
    tamper: (sql, params = []) => tamperAs(db, sql, params),
    async close() {
      await pipeline.stop();
      await new Promise<void>((r) => hookServer.close(() => r()));
      await db.close();
      await rm(dataDir, { recursive: true, force: true });
    },
  };
}

/** What an attacker with the database superuser can do: a statement past the append-only triggers. */
export async function tamperAs(
  db: Pick<Database, 'pool'>,
  sql: string,
  params: unknown[] = [],
): Promise<void> {
  const c = await db.pool.connect();
  try {
    await c.query('SET session_replication_role = replica');
    await c.query(sql, params);
  } finally {
    await c.query('RESET session_replication_role');
    c.release();
  }
}
