/**
 * The end-of-call hand-off when the process or its database fails at the wrong moment (audit-durability
 * finding 10), with the real server and its embedded Postgres:
 * - `srs serve` kills itself (SRS_TEST_CRASH_AFTER_STEP=call-ended) between markEnded and the
 *   finalize job: the restart stores the call with its measured duration, not flagged interrupted;
 * - a hand-off that gives up after SRS_HANDOFF_RETRY_LIMIT while Postgres is away is tried again
 *   periodically: the recording is stored once Postgres is back, without a restart.
 */
import assert from 'node:assert/strict';
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import { sendLoopbackTone } from '../helpers/rtp.js';
import { startTestServer, type TestServer } from '../helpers/server.js';
import { SiprecUac } from '../helpers/siprec-uac.js';
import { listRecordings, waitForState } from '../helpers/sipp.js';

describe(
  'end-of-call hand-off: crash after markEnded, database away past the retry limit',
  { timeout: 300_000 },
  () => {
    const servers: TestServer[] = [];
    after(async () => {
      for (const s of servers) await s.stop();
    });

    /** A one-stream call with a `toneMs` tone, hung up. */
    async function call(server: TestServer, toneMs: number, before?: () => void): Promise<string> {
      const uac = await SiprecUac.open(server.sipPort);
      const inv = await uac.invite({ streams: 1 });
      assert.equal(inv.status, 200, inv.text);
      await sendLoopbackTone(inv.ports[0] as number, toneMs, 0x61);
      before?.();
      const bye = uac.request('BYE');
      await bye.catch(() => undefined);
      uac.close();
      return uac.callId;
    }

    it('a call killed between its end and its finalize job keeps its measured duration, not interrupted', async () => {
      const first = await startTestServer({ SRS_TEST_CRASH_AFTER_STEP: 'call-ended' });
      servers.push(first);
      await first.waitFor(/SIPREC recording server ready/, 60_000);
      const died = new Promise<string | null>((resolve) =>
        first.proc.once('exit', (_c, sig) => resolve(sig)),
      );
      const callId = await call(first, 2000);
      assert.equal(await died, 'SIGKILL', `killed after markEnded:\n${first.output().slice(-2000)}`);

      const second = await startTestServer({}, first.dataDir);
      servers.push(second);
      await second.waitFor(/SIPREC recording server ready/, 90_000);
      const rec = await waitForState(second, callId, 'stored');
      const listed = (await listRecordings(second)).find((r) => r.callId === callId) as {
        interrupted?: boolean;
        durationMs: number | null;
      };
      assert.notEqual(listed.interrupted, true, 'not flagged interrupted');
      assert.match(second.output(), /its hand-off not finished: queued for finalizing/);
      // The measured duration (INVITE to BYE) is at least the tone: its last packet leaves at 1,980 ms.
      assert.ok(rec.durationMs !== null && rec.durationMs >= 1980, `duration ${rec.durationMs}`);
    });

    it('a hand-off given up after its retry limit is stored once Postgres is back, without a restart', async () => {
      const server = await startTestServer({ SRS_HANDOFF_RETRY_LIMIT: '0' });
      servers.push(server);
      await server.waitFor(/SIPREC recording server ready/, 60_000);
      const pgDir = join(server.dataDir, 'pg');
      const pid = Number((await readFile(join(pgDir, 'postmaster.pid'), 'utf8')).split('\n')[0]);
      // Postgres stops (fast shutdown) as the SRC hangs up: the hand-off fails once and gives up (limit 0).
      const callId = await call(server, 1000, () => process.kill(pid, 'SIGINT'));
      await server.waitFor(/could not hand the recording to the pipeline/, 30_000);
      await server.waitFor(/embedded postgres: started again/, 60_000);
      // Tried again every 30 s: stored within the minute waitForState allows.
      const rec = await waitForState(server, callId, 'stored');
      assert.match(server.output(), /end-of-call hand-off done on a later try/);
      assert.ok(rec.durationMs !== null && rec.durationMs >= 980, `duration ${rec.durationMs}`);
    });
  },
);
