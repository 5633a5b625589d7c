/** A recording's events (REST API) and its decrypted mono WAV, for end-to-end tests. */
import assert from 'node:assert/strict';
import { join } from 'node:path';
import type { TestServer } from './server.js';
import type { ListedRecording } from './sipp.js';
import { gpgDecrypt } from './gpg.js';
import { decodeUlawWav } from './audio.js';
import { createLogger } from '../../src/log.js';
import { finalizeQueueOf, startPipeline, type Pipeline } from '../../src/pipeline/index.js';
import type { Database } from '../../src/store/db.js';

/**
 * A pipeline that only queues finalize jobs, on the data directory's queue (or `finalizeQueue`):
 * the servers under test (started on that data directory) run them.
 */
export async function enqueueOnlyPipeline(
  db: Database,
  dataDir: string,
  o: { retryLimit?: number; finalizeQueue?: string } = {},
): Promise<Pipeline> {
  return startPipeline({
    finalizeQueue: await finalizeQueueOf(dataDir),
    db,
    mixer: { mix: () => Promise.reject(new Error('enqueue only')) },
    dataDir,
    log: createLogger('silent'),
    concurrency: 0,
    mp3: { bitrateKbps: 32, sampleRate: 8000 },
    key: { fingerprint: 'none', publicKeyArmored: '' },
    retryDelaySeconds: 1,
    ...o,
  });
}

export async function recordingEvents(
  server: TestServer,
  id: string,
): Promise<{ type: string; text: string }[]> {
  const r = await fetch(`http://127.0.0.1:${server.httpPort}/api/v1/recordings/${id}`, {
    headers: { authorization: `Bearer ${server.token}` },
  });
  assert.equal(r.status, 200, await r.clone().text());
  return ((await r.json()) as { events: { type: string; text: string }[] }).events;
}

/** A stored recording's WAV (`wav`: the mix; `leg0`, `leg1` ...: one leg), decrypted and decoded. */
export async function wavOf(server: TestServer, rec: ListedRecording, kind = 'wav'): Promise<Int16Array> {
  const f = rec.files.find((x) => x.kind === kind);
  assert.ok(f, `${kind} catalogued`);
  return decodeUlawWav(
    await gpgDecrypt(
      join(server.dataDir, 'keys', 'private.asc'),
      server.passphrase,
      join(server.dataDir, f.path),
    ),
  );
}
