import assert from 'node:assert/strict';
import { cp } from 'node:fs/promises';
import { join } from 'node:path';
import { peerAudience } from '../../src/cluster/live.js';
import type { Database } from '../../src/store/db.js';
import { decodeUlawWav, rmsDbfs, toneLevelDb } from './audio.js';
import { freePort, run, startTestServer, type TestServer } from './server.js';
import { SCENARIOS } from './sipp.js';

/** What the cluster tests share: calls through SIPp, a node's log, its API, its stored audio. */

/** Recording ids this node answered (its log), in order. */
export const answered = (s: TestServer): string[] =>
  [...s.output().matchAll(/"recordingId":"([0-9a-f-]{36})"[^\n]*"msg":"SIPREC session answered"/g)].map(
    (m) => m[1] as string,
  );

/** Recording ids whose finalize job this node ran to the end (its log). */
export const storedBy = (s: TestServer): string[] =>
  [...s.output().matchAll(/"recordingId":"([0-9a-f-]{36})"[^\n]*"msg":"recording stored"/g)].map(
    (m) => m[1] as string,
  );

/**
 * SIPp `siprec-cluster.xml` (ACK and BYE follow the 200's Record-Route, RTP: a 440 Hz PCMU tone
 * looped) to host 127.0.0.1:`port`: `calls` calls of `ms` each at `rate` per second.
 */
export async function sippCalls(port: number, calls: number, rate: number, ms: number) {
  return run(
    'sipp',
    [
      ...['-sf', 'siprec-cluster.xml', '-m', String(calls), '-r', String(rate), '-d', String(ms)],
      ...['-s', 'srs', '-i', '127.0.0.1', '-p', String(await freePort(true))],
      ...['-mp', String(42000 + 4 * Math.floor(Math.random() * 4000))],
      ...['-timeout', '60s', '-timeout_error', '-nostdin', '-trace_err'],
      `127.0.0.1:${port}`,
    ],
    { cwd: SCENARIOS, timeoutMs: 70_000 },
  );
}

export async function api<T>(s: TestServer, path: string): Promise<T> {
  const r = await fetch(`http://127.0.0.1:${s.httpPort}/api/v1${path}`, {
    headers: { authorization: `Bearer ${s.token}` },
  });
  const text = await r.text();
  assert.equal(r.status, 200, `${path}: ${r.status} ${text}`);
  return JSON.parse(text) as T;
}

/** `explain`: what to add to the failure when the wait times out (the state that says why). */
export async function until<T>(
  what: string,
  fn: () => Promise<T | undefined | false>,
  ms = 30_000,
  explain?: () => Promise<string>,
): Promise<T> {
  const deadline = Date.now() + ms;
  for (;;) {
    const v = await fn();
    if (v) return v;
    if (Date.now() >= deadline) {
      const why = explain ? await explain().catch((err: Error) => `(explain failed: ${err.message})`) : '';
      assert.fail(`timed out waiting for ${what}${why ? `\n${why}` : ''}`);
    }
    await new Promise((r) => setTimeout(r, 250));
  }
}

/** A node's warnings and errors (pino levels 40 and up), the last `n`. */
export function warnings(s: Pick<TestServer, 'output'>, n = 20): string {
  return s
    .output()
    .split('\n')
    .filter((l) => /"level":(4|5|6)0/.test(l))
    .slice(-n)
    .join('\n');
}

/**
 * The recording's mono mix played back through `s`'s API (decrypted on that node) holds the
 * SIPp stream's 440 Hz tone at a real level, not silence.
 */
export async function assertToneVia(s: TestServer, recordingId: string, label: string): Promise<void> {
  const r = await fetch(`http://127.0.0.1:${s.httpPort}/api/v1/recordings/${recordingId}/audio?format=wav`, {
    headers: { authorization: `Bearer ${s.token}` },
  });
  const body = Buffer.from(await r.arrayBuffer());
  assert.equal(
    r.status,
    200,
    `${label}: audio of ${recordingId}: ${r.status} ${body.toString().slice(0, 300)}`,
  );
  const pcm = decodeUlawWav(body);
  const ms = pcm.length / 8;
  assert.ok(ms >= 1000, `${label}: ${ms} ms of audio`);
  const level = rmsDbfs(pcm, 0, ms);
  assert.ok(level > -30, `${label}: audio at ${level.toFixed(1)} dBFS, not silence`);
  const tone = toneLevelDb(pcm, 0, ms, 440);
  // On failure, the file's level and tone share by half second say where it went wrong.
  const profile = () => {
    const parts: string[] = [];
    for (let t = 0; t + 500 <= ms; t += 500)
      parts.push(
        `${t}: ${rmsDbfs(pcm, t, t + 500).toFixed(0)} dBFS ${toneLevelDb(pcm, t, t + 500, 440).toFixed(1)} dB`,
      );
    return parts.join(', ');
  };
  assert.ok(
    tone > -3,
    `${label}: the 440 Hz tone (${tone.toFixed(1)} dB of the energy); ${ms} ms: ${profile()}`,
  );
}

/** A second node's recording key: a copy of the first node's `keys/` (docs/cluster.md). */
export async function copyKeys(from: string, to: string): Promise<void> {
  await cp(join(from, 'keys'), join(to, 'keys'), { recursive: true, preserveTimestamps: true });
}

/**
 * Two nodes on their own data directories: A starts first and makes the recording key, B starts
 * with a copy of A's `keys/` and nothing else of A's. RTP ports `rtpBase..+199` for A, the next
 * 200 for B.
 */
export async function startNodePair(
  env: Record<string, string>,
  dirA: string,
  dirB: string,
  rtpBase: number,
): Promise<{ a: TestServer; b: TestServer }> {
  const node = async (id: string, dir: string, from: number) => {
    const s = await startTestServer(
      { ...env, SRS_NODE_ID: id, RTP_PORT_MIN: String(from), RTP_PORT_MAX: String(from + 199) },
      dir,
    );
    await s.waitFor(/SIPREC recording server ready/, 60_000);
    return s;
  };
  const a = await node('node-a', dirA, rtpBase);
  await copyKeys(dirA, dirB);
  return { a, b: await node('node-b', dirB, rtpBase + 200) };
}

/** The audience of a peer credential for node `id` as it runs now (its registry instance token). */
export async function audienceOf(db: Pick<Database, 'pool'>, id: string): Promise<string> {
  const r = await db.pool.query<{ instance: string }>('SELECT instance FROM cluster_nodes WHERE id = $1', [
    id,
  ]);
  assert.ok(r.rows[0], `node ${id} is registered`);
  return peerAudience(id, r.rows[0].instance);
}
