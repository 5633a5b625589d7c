/**
 * Delivery runs once per cluster: two delivery services (as two nodes start them, each with its
 * own connection pool) on one Postgres, every feature on: SFTP offload (real sshd), MP3 export to
 * SFTP, email notifications (real SMTP server). Recordings are stored while both run, both are
 * made to pass at the same moment again and again, then node A stops and B carries on alone. Each
 * recording must reach each destination exactly once: one WAV and one CSV row at the offload
 * server, one MP3 at the export server (a second export would have added a suffixed copy), one
 * email, one audit entry per delivery.
 *
 * The services share one data directory here (the artifacts are on local disk); what is under test
 * is the coordination through the database (a cluster-wide lock per feature, src/store/deliveries/
 * locks.ts), which is the same whatever the artifacts' store.
 */
import assert from 'node:assert/strict';
import { mkdir, mkdtemp, readdir, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { loadConfig, type Config, type ConfigFile } from '../../src/config.js';
import { startDelivery, type Delivery } from '../../src/delivery/index.js';
import { createLogger } from '../../src/log.js';
import { ensureKeyPair } from '../../src/pipeline/keys.js';
import { openDatabase, type Database } from '../../src/store/db.js';
import { until } from '../helpers/cluster.js';
import {
  startSmtp,
  startSshd,
  storeRecording,
  toneWav,
  type Sshd,
  type TestSmtp,
} from '../helpers/delivery-fixtures.js';
import { seedDataDir } from '../helpers/pg-template.js';

const log = createLogger((process.env.TEST_LOG_LEVEL as 'info' | undefined) ?? 'silent');
const PASSPHRASE = 'cluster delivery passphrase';

describe('cluster: delivery runs once per cluster (two delivery services, one Postgres)', () => {
  let dataDir: string;
  let dbA: Database;
  let dbB: Database;
  let sshd: Sshd;
  let smtp: TestSmtp;
  let config: Config;
  let key: { fingerprint: string; publicKeyArmored: string };
  let nodeA: Delivery | undefined;
  let nodeB: Delivery | undefined;
  const dirs = { audio: '', meta: '', export: '' };

  before(async () => {
    dataDir = await mkdtemp(join(tmpdir(), 'srs-cluster-delivery-'));
    await seedDataDir(dataDir);
    dbA = await openDatabase({ dataDir, log });
    dbB = await openDatabase({ databaseUrl: dbA.connectionString, dataDir, log });
    const k = await ensureKeyPair({ keysDir: join(dataDir, 'keys'), passphrase: PASSPHRASE, log, db: dbA });
    key = { fingerprint: k.fingerprint, publicKeyArmored: k.publicKeyArmored };
    sshd = await startSshd();
    smtp = await startSmtp();
    for (const d of ['audio', 'meta', 'export'] as const) {
      dirs[d] = join(sshd.dir, d);
      await mkdir(dirs[d]);
    }
    const sftp = (directory: string) => ({
      host: '127.0.0.1',
      port: sshd.port,
      username: sshd.user,
      privateKeyFile: sshd.clientKey,
      hostKeySha256: sshd.hostKeySha256,
      timeoutSeconds: 20,
      directory,
    });
    const file = {
      offload: { enabled: true, audio: sftp(dirs.audio), metadata: sftp(dirs.meta), manifest: true },
      export: {
        enabled: true,
        template: '%{recording-id}',
        primary: { type: 'sftp', ...sftp(dirs.export) },
      },
      notifications: {
        enabled: true,
        smtp: { host: '127.0.0.1', port: smtp.port, requireTLS: false },
        subject: 'Recorded [RecordingID]',
        recipients: { alice: { email: 'alice@example.com', attach: false } },
      },
    } as unknown as ConfigFile;
    config = loadConfig({ SRS_DATA_DIR: dataDir, SRS_KEY_PASSPHRASE: PASSPHRASE, LOG_LEVEL: 'silent' }, file);
    await dbA.users.create({
      username: 'alice',
      displayName: 'Alice Agent',
      role: 'user',
      group: 'sales',
      numbers: ['1001'],
    });
    // Every feature delivers what is stored from now on.
    for (const c of ['offload', 'export', 'notifications']) await dbA.offload.cursor(c);
    await new Promise((r) => setTimeout(r, 20));
  });

  after(async () => {
    await nodeA?.stop();
    await nodeB?.stop();
    await smtp?.close();
    await sshd?.stop();
    await dbB?.close();
    await dbA?.close();
    if (sshd) await rm(sshd.dir, { recursive: true, force: true });
    if (dataDir) await rm(dataDir, { recursive: true, force: true });
  });

  const start = (db: Database) =>
    startDelivery({
      config,
      db,
      log,
      // Offload batches cut every 2 s (aligned to the clock), export and email passes every 0.2 s.
      intervalsMs: { offload: 2000, export: 200, notify: 200 },
      retryBaseMs: 500,
    });

  const store = (i: number) =>
    storeRecording({
      db: dbA,
      dataDir,
      log,
      key,
      caller: { aor: 'sip:1001@pbx.example', name: 'Alice Agent' },
      callee: { aor: `sip:1415555${String(i).padStart(4, '0')}@carrier.example`, name: '' },
      wav: toneWav(1500, 440 + 40 * i),
    });

  it(
    'delivers each recording once to each destination, with both nodes running and after one stops',
    { timeout: 180_000 },
    async () => {
      nodeA = await start(dbA);
      nodeB = await start(dbB);
      const ids: string[] = [];
      // While both run: recordings arrive, and both nodes are made to pass at the same moments.
      for (let i = 0; i < 4; i++) {
        ids.push((await store(i)).id);
        for (let round = 0; round < 3; round++)
          await Promise.all(
            [nodeA, nodeB].flatMap((n) => [n.export!.tick(), n.notify!.tick(), n.offload!.tick()]),
          );
      }
      // Node A stops (drained); B delivers what comes next on its own.
      await nodeA.stop();
      nodeA = undefined;
      for (let i = 4; i < 7; i++) ids.push((await store(i)).id);

      const delivered = async () => {
        const r = await dbA.pool.query<{ exported: number; notified: number; offloaded: number }>(
          `SELECT (SELECT count(*)::int FROM export_items WHERE recording_id = ANY($1::uuid[]) AND state = 'done') AS exported,
                (SELECT count(*)::int FROM notifications WHERE recording_id = ANY($1::uuid[]) AND state = 'sent') AS notified,
                (SELECT count(*)::int FROM offload_items i JOIN offload_batches b ON b.id = i.batch_id
                  WHERE i.recording_id = ANY($1::uuid[]) AND b.state = 'done') AS offloaded`,
          [ids],
        );
        const x = r.rows[0]!;
        return x.exported === ids.length && x.notified === ids.length && x.offloaded === ids.length;
      };
      await until('every recording delivered by every feature', delivered, 90_000);
      // A few more passes of B (and of the last offload interval): nothing more may arrive.
      await new Promise((r) => setTimeout(r, 2500));
      await nodeB.stop();
      nodeB = undefined;

      // Email: one per recording, to alice.
      const mailsOf = (id: string) =>
        smtp.mails.filter((m) => new RegExp(`^X-SRS-Recording-Id: ${id}\\r?$`, 'mi').test(m.raw));
      for (const id of ids) assert.equal(mailsOf(id).length, 1, `one email for ${id}`);
      assert.equal(smtp.mails.length, ids.length, 'no other email');

      // Export: one MP3 per recording at the SFTP server, no suffixed second copy.
      const exported = (await readdir(dirs.export, { recursive: true })).filter((f) => f.endsWith('.mp3'));
      assert.deepEqual(exported.sort(), ids.map((id) => `${id}.mp3`).sort(), 'each MP3 exported once');

      // Offload: one WAV per recording, each named by exactly one CSV of one batch.
      const wavs = (await readdir(dirs.audio)).filter((f) => f.endsWith('.wav'));
      assert.deepEqual(wavs.sort(), ids.map((id) => `r_${id}.wav`).sort(), 'each WAV offloaded once');
      const csvs = await Promise.all(
        (await readdir(dirs.meta))
          .filter((f) => f.endsWith('.csv'))
          .map((f) => readFile(join(dirs.meta, f), 'utf8')),
      );
      for (const id of ids)
        assert.equal(csvs.filter((c) => c.includes(`r_${id}.wav`)).length, 1, `one CSV names ${id}`);
      const batches = await dbA.pool.query<{ cut_at: Date; n: number }>(
        'SELECT cut_at, count(*)::int AS n FROM offload_batches GROUP BY cut_at HAVING count(*) > 1',
      );
      assert.deepEqual(batches.rows, [], 'one batch per interval boundary');

      // The audit trail agrees: one export and one batch entry per delivery.
      for (const id of ids) {
        const e = await dbA.audit.search({ action: 'export', resourceId: id });
        assert.equal(e.total, 1, `one export audited for ${id}`);
      }
      const cut = await dbA.audit.search({ action: 'offload.batch', limit: 1000 });
      const offloadedCount = cut.items.reduce(
        (s, e) => s + Number((e.details as { count?: number }).count ?? 0),
        0,
      );
      assert.equal(offloadedCount, ids.length, 'the finished batches hold each recording once');
    },
  );
});
