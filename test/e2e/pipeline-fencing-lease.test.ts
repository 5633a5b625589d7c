/**
 * The node's liveness lease across a Postgres restart, in a real `srs serve` with its embedded
 * Postgres: the postmaster is killed (kill -9) and the server starts it again by itself. The
 * node must take its liveness lock (pg_locks, classid 78660005) again, or every finalize run it
 * begins afterwards looks orphaned to the reaper, is queued again while its handler still runs
 * and is stored twice. A slow encoder (ffmpeg behind a wrapper that sleeps first) makes the run
 * last well past a reaper check (10 s) and a retry delay (1 s).
 */
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { chmod, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import { createLogger } from '../../src/log.js';
import { openDatabase } from '../../src/store/db.js';
import { run, startTestServer, type TestServer } from '../helpers/server.js';
import { sendLoopbackTone } from '../helpers/rtp.js';
import { SiprecUac } from '../helpers/siprec-uac.js';
import { listRecordings, waitForState } from '../helpers/sipp.js';

const log = createLogger('silent');
const sha = (b: Uint8Array) => createHash('sha256').update(b).digest('hex');
/** Seconds the wrapped ffmpeg sleeps before encoding. */
const ENCODE_DELAY_S = 12;

/** Granted liveness locks (NODE_LOCK, src/store/jobs.ts) in the server's embedded Postgres. */
async function livenessLocks(dataDir: string): Promise<number> {
  const db = await openDatabase({ dataDir, log });
  try {
    const r = await db.pool.query<{ n: number }>(
      `SELECT count(*)::int AS n FROM pg_locks WHERE locktype = 'advisory' AND classid = 78660005 AND granted`,
    );
    return r.rows[0]!.n;
  } finally {
    await db.close();
  }
}

/** The server's log lines with this message about this recording. */
const linesAbout = (server: TestServer, id: string, msg: string): number =>
  server
    .output()
    .split('\n')
    .filter((l) => l.includes(`"msg":${JSON.stringify(msg)}`) && l.includes(id)).length;

describe('pipeline fencing: the liveness lease after a Postgres restart', { timeout: 240_000 }, () => {
  let server: TestServer | undefined;
  let tools: string | undefined;
  after(async () => {
    await server?.stop();
    if (tools) await rm(tools, { recursive: true, force: true });
  });

  it('takes its lock again and finalizes a call ended after the restart exactly once', async (t) => {
    tools = await mkdtemp(join(tmpdir(), 'srs-slow-ffmpeg-'));
    const which = await run('sh', ['-c', 'command -v ffmpeg']);
    assert.equal(which.code, 0, 'ffmpeg is installed');
    const wrapper = join(tools, 'ffmpeg');
    // fluent-ffmpeg asks for the formats and encoders first: only the encode itself is slow.
    await writeFile(
      wrapper,
      `#!/bin/sh\ncase " $* " in *" -formats "*|*" -encoders "*) ;; *) sleep ${ENCODE_DELAY_S} ;; esac\n` +
        `exec ${which.stdout.trim()} "$@"\n`,
    );
    await chmod(wrapper, 0o755);
    server = await startTestServer({
      SRS_MP3_ENCODER: 'ffmpeg',
      SRS_FFMPEG_PATH: wrapper,
      SRS_JOB_RETRY_DELAY: '1',
    });
    await server.waitFor(/SIPREC recording server ready/, 60_000);
    assert.equal(await livenessLocks(server.dataDir), 1, 'the node holds its lock at start');

    // The OOM killer's way: the postmaster dies at once; the server starts it again.
    const pgDir = join(server.dataDir, 'pg');
    const pid = Number((await readFile(join(pgDir, 'postmaster.pid'), 'utf8')).split('\n')[0]);
    process.kill(pid, 'SIGKILL');
    await server.waitFor(/embedded postgres: started again/, 60_000);
    let locks = 0;
    for (const deadline = Date.now() + 20_000; Date.now() < deadline;) {
      locks = await livenessLocks(server.dataDir).catch(() => 0);
      if (locks > 0) break;
      await new Promise((r) => setTimeout(r, 500));
    }

    // A call ended after the restart: its finalize runs for more than ENCODE_DELAY_S.
    // The server takes calls again once its database check sees Postgres answer (503 until then).
    let uac = await SiprecUac.open(server.sipPort);
    let inv = await uac.invite({ streams: 1 });
    for (const deadline = Date.now() + 30_000; inv.status === 503 && Date.now() < deadline;) {
      uac.close();
      await new Promise((r) => setTimeout(r, 1000));
      uac = await SiprecUac.open(server.sipPort);
      inv = await uac.invite({ streams: 1 });
    }
    assert.equal(inv.status, 200, inv.text);
    await sendLoopbackTone(inv.ports[0] as number, 2000, 0x61);
    assert.match(await uac.request('BYE'), /^SIP\/2\.0 200/);
    uac.close();
    const rec = await waitForState(server, uac.callId, 'stored');
    // Long enough for a second attempt (reaped at the next check, retried after 1 s, encoding for
    // ENCODE_DELAY_S) to finish and log too.
    await new Promise((r) => setTimeout(r, (ENCODE_DELAY_S + 13) * 1000));

    const stored = linesAbout(server, rec.id, 'recording stored');
    const orphaned = linesAbout(server, rec.id, 'finalize job orphaned by a dead node: queued again');
    const figures = `liveness locks after the restart: ${locks}; "recording stored" lines: ${stored}; "orphaned" lines: ${orphaned}`;
    t.diagnostic(figures);
    assert.ok(locks >= 1, `the lock is held again (${figures})`);
    assert.equal(orphaned, 0, `the live node's run was not reaped (${figures})`);
    assert.equal(stored, 1, `stored exactly once (${figures})`);

    // The files on disk are the ones the catalogue names.
    const [listed] = (await listRecordings(server)).filter((r) => r.id === rec.id);
    assert.ok(listed);
    for (const f of listed.files) {
      const onDisk: Buffer = await readFile(join(server.dataDir, f.path));
      assert.equal(sha(onDisk), f.sha256Cipher, `${f.kind} matches its catalogue hash (${figures})`);
    }
  });
});
