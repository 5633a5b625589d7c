/**
 * Two `srs serve` nodes on one Postgres sharing ONE data directory (docs/cluster.md): a node that
 * restarts must leave the other node's live calls alone. Its startup recovery finalizes the calls
 * left `recording` by a process that died; before, it took the other node's live call too (its
 * spool is in the shared directory), stored it part-way as interrupted and wiped the spool under
 * the node still recording it, so the rest of the call was lost.
 */
import assert from 'node:assert/strict';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { createLogger } from '../../src/log.js';
import { openDatabase, type Database } from '../../src/store/db.js';
import { toneLevelDb } from '../helpers/audio.js';
import { wavOf } from '../helpers/recording.js';
import { sendLoopbackTone } from '../helpers/rtp.js';
import { startTestServer, type TestServer } from '../helpers/server.js';
import { SiprecUac } from '../helpers/siprec-uac.js';
import { listRecordings, waitForState } from '../helpers/sipp.js';
import { seedDataDir } from '../helpers/pg-template.js';

describe('cluster on one shared data directory: a restarting node leaves live calls alone', () => {
  let dbDir: string;
  let dir: string;
  let db: Database;
  let a: TestServer;
  let b: TestServer;
  let env: Record<string, string>;
  const node = async (id: string, from: number) => {
    const s = await startTestServer(
      {
        ...env,
        SRS_NODE_ID: id,
        RTP_PORT_MIN: String(from),
        RTP_PORT_MAX: String(from + 199),
      },
      dir,
    );
    await s.waitFor(/SIPREC recording server ready/, 60_000);
    return s;
  };

  before(async () => {
    dbDir = await mkdtemp(join(tmpdir(), 'srs-shared-db-'));
    await seedDataDir(dbDir);
    dir = await mkdtemp(join(tmpdir(), 'srs-shared-'));
    db = await openDatabase({ dataDir: dbDir, log: createLogger('silent') });
    env = { DATABASE_URL: db.connectionString, SRS_NODE_HEARTBEAT_SECONDS: '1' };
    a = await node('node-a', 31000);
    b = await node('node-b', 31200);
  });

  after(async () => {
    await a?.stop('SIGKILL').catch(() => undefined);
    await b?.stop('SIGKILL').catch(() => undefined);
    await db?.close();
    for (const d of [dir, dbDir]) if (d) await rm(d, { recursive: true, force: true });
  });

  it('records the whole call of one node while the other restarts', { timeout: 180_000 }, async () => {
    const uac = await SiprecUac.open(a.sipPort);
    const inv = await uac.invite({ streams: 1 });
    assert.equal(inv.status, 200, inv.text);
    const port = inv.ports[0]!;
    await sendLoopbackTone(port, 1500, 0x81);
    // B restarts on the same data directory while A's call goes on.
    assert.equal(await b.stop(), 0);
    b = await node('node-b', 31200);
    const live = (await listRecordings(a)).find((r) => r.callId === uac.callId);
    assert.equal(live?.state, 'recording', 'the live call of A is still recording');
    assert.doesNotMatch(b.output(), /interrupted recording recovered/);
    assert.match(b.output(), /live call of another node on this data directory; not touched/);
    await sendLoopbackTone(port, 1500, 0x81);
    assert.match(await uac.request('BYE'), /^SIP\/2\.0 200/);
    uac.close();
    const rec = await waitForState(a, uac.callId, 'stored');
    const row = await db.recordings.get(rec.id);
    assert.ok((row?.durationMs ?? 0) > 3000, `the whole call: ${row?.durationMs} ms`);
    const pcm = await wavOf(a, rec);
    const ms = pcm.length / 8;
    assert.ok(toneLevelDb(pcm, ms - 1200, ms - 300, 440) > -3, 'the audio after the restart is there');
  });
});
