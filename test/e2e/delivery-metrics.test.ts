import assert from 'node:assert/strict';
import { mkdir } from 'node:fs/promises';
import { connect, createServer, type Server } from 'node:net';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { Metrics } from '../../src/api/metrics.js';
import { startHttpServer } from '../../src/api/server.js';
import { loadConfig, type Config } from '../../src/config.js';
import { Decryptor } from '../../src/delivery/decrypt.js';
import { ExportService } from '../../src/delivery/export.js';
import { OffloadService, type OffloadOptions } from '../../src/delivery/offload.js';
import { registerDeliveryMetrics, targetLabels } from '../../src/delivery/status.js';
import { parseTemplate } from '../../src/delivery/template.js';
import type { Database } from '../../src/store/db.js';
import { testLog as log } from '../helpers/delivery-catalogue.js';
import { freePort, testNotifier, type Sshd, type TestSmtp } from '../helpers/delivery-fixtures.js';
import {
  openDeliveryRetryWorld,
  RETRY_PASSPHRASE as PASSPHRASE,
  type DeliveryRetryWorld,
} from '../helpers/delivery-retry-world.js';

/**
 * The delivery metrics on the real /metrics endpoint (src/delivery/status.ts
 * `registerDeliveryMetrics`), over a real embedded Postgres with the real offload (OpenSSH sftp
 * at a port that is closed, then opened), MP3 export (a local root) and notifier (a real SMTP
 * server that can refuse): batches by state, the oldest pending batch's age, the last success,
 * destination health, the export backlog and failures, notifications by state; nothing of a
 * feature that is off; the rest of /metrics served while the delivery query fails. The exposition
 * is parsed (families, labels, values), not searched. The tests build on each other, in order.
 */

interface Sample {
  name: string;
  labels: Record<string, string>;
  value: number;
}

/** Prometheus text format 0.0.4: every sample under its family's TYPE, no series twice. */
function parseExposition(text: string): { types: Map<string, string>; samples: Sample[] } {
  const types = new Map<string, string>();
  const samples: Sample[] = [];
  const seen = new Set<string>();
  for (const line of text.split('\n')) {
    if (line === '') continue;
    const meta = /^# (HELP|TYPE) ([a-zA-Z_:][a-zA-Z0-9_:]*) (.+)$/.exec(line);
    if (meta) {
      if (meta[1] === 'TYPE') {
        assert.match(meta[3]!, /^(counter|gauge|histogram|summary|untyped)$/, line);
        assert.ok(!types.has(meta[2]!), `TYPE twice: ${line}`);
        types.set(meta[2]!, meta[3]!);
      }
      continue;
    }
    const m = /^([a-zA-Z_:][a-zA-Z0-9_:]*)(?:\{(.*)\})? (\S+)$/.exec(line);
    assert.ok(m, `not a sample line: ${JSON.stringify(line)}`);
    const labels: Record<string, string> = {};
    const body = m[2] ?? '';
    const re = /([a-zA-Z_][a-zA-Z0-9_]*)="((?:[^"\\]|\\.)*)"(,|$)/gy;
    let end = 0;
    for (let l = re.exec(body); l; l = re.exec(body)) {
      labels[l[1]!] = l[2]!.replace(/\\(["\\n])/g, (_, c: string) => (c === 'n' ? '\n' : c));
      end = re.lastIndex;
      if (l[3] === '') break;
    }
    assert.equal(end, body.length, `bad labels: ${line}`);
    const name = m[1]!;
    const family = types.has(name) ? name : name.replace(/_(bucket|sum|count)$/, '');
    assert.ok(types.has(family), `sample before its TYPE: ${line}`);
    const value = Number(m[3]!.replace(/^\+Inf$/, 'Infinity'));
    assert.ok(!Number.isNaN(value), line);
    const key = `${name}${JSON.stringify(Object.entries(labels).sort())}`;
    assert.ok(!seen.has(key), `series twice: ${line}`);
    seen.add(key);
    samples.push({ name, labels, value });
  }
  return { types, samples };
}

type Scrape = ReturnType<typeof parseExposition> & {
  /** The samples of `name` whose labels include `labels`. */
  all(name: string, labels?: Record<string, string>): Sample[];
  /** The value of the one sample of `name` with `labels` (asserted to be exactly one). */
  value(name: string, labels?: Record<string, string>): number;
};

const scrapeOf = (text: string): Scrape => {
  const p = parseExposition(text);
  const all = (name: string, labels: Record<string, string> = {}) =>
    p.samples.filter((s) => s.name === name && Object.entries(labels).every(([k, v]) => s.labels[k] === v));
  return {
    ...p,
    all,
    value(name, labels = {}) {
      const found = all(name, labels);
      assert.equal(found.length, 1, `${name}${JSON.stringify(labels)}: ${JSON.stringify(found)}`);
      return found[0]!.value;
    },
  };
};

/** A Metrics behind a real HTTP server: `scrape()` GETs /metrics and parses it. */
async function serveMetrics(metrics: Metrics) {
  const server = await startHttpServer({
    host: '127.0.0.1',
    port: 0,
    log,
    health: async () => ({ ok: true, details: {} }),
    metrics,
  });
  const a = server.address();
  const url = `http://127.0.0.1:${typeof a === 'object' && a ? a.port : 0}/metrics`;
  return {
    async scrape(): Promise<Scrape> {
      const res = await fetch(url);
      assert.equal(res.status, 200);
      assert.match(res.headers.get('content-type') ?? '', /^text\/plain; version=0\.0\.4/);
      return scrapeOf(await res.text());
    },
    close: () => new Promise<void>((r) => server.close(() => r())),
  };
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
const nowS = () => Date.now() / 1000;

describe('delivery metrics on /metrics (real Postgres, sshd, SMTP, HTTP)', { timeout: 300_000 }, () => {
  let world: DeliveryRetryWorld | undefined;
  let db: Database;
  let sshd: Sshd;
  let smtp: TestSmtp;
  let config: Config;
  let http: Awaited<ReturnType<typeof serveMetrics>> | undefined;
  let opened: Server | undefined;
  let closedPort: number;
  let audioDir: string;
  let exportRoot: string;
  let decryptor: Decryptor;
  /** The delivery reads (statements) the metrics made. */
  let reads = 0;

  before(async () => {
    world = await openDeliveryRetryWorld('srs-delivery-metrics-');
    ({ db, sshd, smtp } = world);
    decryptor = new Decryptor(world.dataDir, PASSPHRASE);
    closedPort = await freePort();
    audioDir = join(sshd.dir, 'metrics-audio');
    exportRoot = join(world.dataDir, 'export');
    await mkdir(audioDir);
    await mkdir(exportRoot);
    config = loadConfig({ SRS_DATA_DIR: world.dataDir, SRS_KEY_PASSPHRASE: PASSPHRASE }, {
      // The offload goes to a port nothing listens on (until the test opens it to sshd).
      offload: { enabled: true, audio: { ...world.dest(audioDir), port: closedPort } },
      export: {
        enabled: true,
        template: '%{recording-id}',
        primary: { type: 'local', directory: exportRoot },
      },
      notifications: { enabled: true, smtp: smtp.settings(), body: 'Recording [RecordingID]' },
    } as never);
    const metrics = new Metrics();
    metrics.counter('srs_test_other_total', 'A series that is not delivery.')(7);
    registerDeliveryMetrics(
      metrics,
      { deliveryMetrics: (o) => (reads++, db.offload.deliveryMetrics(o)) },
      config,
    );
    http = await serveMetrics(metrics);
  });

  after(async () => {
    await http?.close();
    await new Promise<void>((r) => (opened ? opened.close(() => r()) : r()));
    await world?.close();
  });

  it('offload: a batch failing at a closed port is queued, ages, its destination 0; done, last success and 1 once the port opens', async () => {
    const interval = 60_000;
    await db.offload.cursor('offload');
    let clock = (Math.floor(Date.now() / interval) + 1) * interval + interval / 2;
    const svc = new OffloadService({
      repo: db.offload,
      decryptor,
      dataDir: world!.dataDir,
      log,
      audio: config.offload.audio as OffloadOptions['audio'],
      intervalMs: interval,
      purgeAfterTransfer: false,
      manifest: true,
      retryBaseMs: 1000,
      maxAttempts: 5,
      now: () => new Date(clock),
    });
    const before = reads;
    const s0 = await http!.scrape();
    assert.equal(reads - before, 1, 'one read for every delivery series of a scrape');
    assert.equal(s0.types.get('srs_offload_batches'), 'gauge');
    for (const state of ['queued', 'transferring', 'done', 'failed'])
      assert.equal(s0.value('srs_offload_batches', { state }), 0, state);
    assert.equal(s0.value('srs_offload_oldest_pending_age_seconds'), 0);
    assert.equal(s0.value('srs_offload_last_success_timestamp_seconds'), 0);
    assert.deepEqual(s0.all('srs_delivery_destination_up'), [], 'nothing tried yet');
    assert.equal(s0.value('srs_delivery_enabled', { feature: 'offload' }), 1);

    await world!.store('1001', '4930111', 400);
    // The boundary after the store (a store that crossed a minute fell past a boundary taken before it).
    clock = (Math.floor(Date.now() / interval) + 1) * interval + interval / 2;
    await svc.tick();
    const s1 = await http!.scrape();
    assert.equal(s1.value('srs_offload_batches', { state: 'queued' }), 1);
    assert.equal(s1.value('srs_offload_batches', { state: 'done' }), 0);
    assert.equal(s1.value('srs_offload_batches', { state: 'failed' }), 0);
    assert.equal(s1.value('srs_offload_failed_attempts'), 1);
    assert.equal(s1.value('srs_offload_last_success_timestamp_seconds'), 0);
    const age1 = s1.value('srs_offload_oldest_pending_age_seconds');
    assert.ok(age1 >= 0 && age1 < 30, `${age1}`);
    const sftp = { feature: 'offload', kind: 'sftp' };
    const [up] = s1.all('srs_delivery_destination_up', sftp);
    assert.equal(up?.value, 0, 'the destination is failing');
    // Where it is, without the user: no credentials in labels.
    assert.equal(up.labels.destination, `sftp://127.0.0.1:${closedPort}${audioDir}`);
    assert.equal(s1.value('srs_delivery_destination_failures', sftp), 1);
    for (const s of s1.samples)
      for (const v of Object.values(s.labels)) assert.ok(!v.includes('@'), `${s.name} ${v}`);

    await sleep(1200);
    const s2 = await http!.scrape();
    assert.equal(s2.value('srs_offload_batches', { state: 'queued' }), 1);
    const age2 = s2.value('srs_offload_oldest_pending_age_seconds');
    assert.ok(age2 - age1 >= 1 && age2 - age1 < 10, `${age1} -> ${age2}: the age grows`);

    // The port opens (to sshd); the retry after its backoff delivers the batch.
    opened = createServer((c) => {
      const u = connect(sshd.port, '127.0.0.1');
      c.pipe(u).pipe(c);
      c.on('error', () => u.destroy());
      u.on('error', () => c.destroy());
    });
    await new Promise<void>((r) => opened!.listen(closedPort, '127.0.0.1', r));
    clock += 1000;
    const t0 = Math.floor(nowS());
    await svc.tick();
    const s3 = await http!.scrape();
    assert.equal(s3.value('srs_offload_batches', { state: 'queued' }), 0);
    assert.equal(s3.value('srs_offload_batches', { state: 'done' }), 1);
    assert.equal(s3.value('srs_offload_oldest_pending_age_seconds'), 0);
    assert.equal(s3.value('srs_offload_failed_attempts'), 0);
    const last = s3.value('srs_offload_last_success_timestamp_seconds');
    assert.ok(last >= t0 - 1 && last <= nowS() + 1, `${t0} <= ${last}`);
    assert.equal(s3.value('srs_delivery_destination_up', sftp), 1);
    assert.equal(s3.value('srs_delivery_destination_failures', sftp), 0);
  });

  it('export: the backlog per destination, failures for good and retrying, the last success', async () => {
    await db.offload.cursor('export');
    const s0 = await http!.scrape();
    assert.equal(s0.value('srs_export_backlog', { destination: 'primary' }), 0);
    assert.deepEqual(s0.all('srs_export_backlog', { destination: 'secondary' }), [], 'none configured');
    const a = await world!.store('2002', '4930222', 300);
    const b = await world!.store('2002', '4930333', 300);
    // Both names b's MP3 could take are folders: its export fails while the root answers.
    const block = async (id: string) => {
      await mkdir(join(exportRoot, `${id}.mp3`));
      await mkdir(join(exportRoot, `${id}-${id.slice(0, 8)}.mp3`));
    };
    await block(b.id);
    const s1 = await http!.scrape();
    assert.equal(s1.value('srs_export_backlog', { destination: 'primary' }), 2);
    assert.equal(s1.value('srs_export_last_success_timestamp_seconds', { destination: 'primary' }), 0);
    assert.equal(s1.value('srs_export_failed', { destination: 'primary' }), 0);
    const svc = (maxAttempts: number) =>
      new ExportService({
        repo: db.offload,
        decryptor,
        log,
        template: parseTemplate(config.export.template),
        primary: { type: 'local', directory: exportRoot },
        intervalMs: 1000,
        maxAttempts,
        retryBaseMs: 600_000,
      });
    const t0 = Math.floor(nowS());
    assert.deepEqual(await svc(1).tick(), { primary: 1 });
    const s2 = await http!.scrape();
    assert.equal(s2.value('srs_export_backlog', { destination: 'primary' }), 0);
    assert.equal(s2.value('srs_export_failed', { destination: 'primary' }), 1);
    assert.equal(s2.value('srs_export_retrying', { destination: 'primary' }), 0);
    const last = s2.value('srs_export_last_success_timestamp_seconds', { destination: 'primary' });
    assert.ok(last >= t0 - 1 && last <= nowS() + 1, `${t0} <= ${last}`);
    const local = { feature: 'export', kind: 'local', destination: exportRoot };
    assert.equal(s2.value('srs_delivery_destination_up', local), 1);

    // One more that fails once with attempts left: retrying, and still in the backlog.
    const c = await world!.store('2002', '4930444', 300);
    await block(c.id);
    await svc(3).tick();
    const s3 = await http!.scrape();
    assert.equal(s3.value('srs_export_backlog', { destination: 'primary' }), 1);
    assert.equal(s3.value('srs_export_retrying', { destination: 'primary' }), 1);
    assert.equal(s3.value('srs_export_failed', { destination: 'primary' }), 1);
    assert.ok(a.id !== c.id);
  });

  it('notifications: counts by state from the real notifier and SMTP; the SMTP destination failing', async () => {
    await db.offload.cursor('notifications');
    const svc = (maxAttempts: number, retryBaseMs: number) =>
      testNotifier(
        { db, decryptor, log, smtp },
        { body: 'Recording [RecordingID]', maxAttempts, retryBaseMs },
      );
    try {
      await world!.store('1001', '4930555', 300);
      assert.equal(await svc(1, 1).tick(), 1);
      smtp.refuse = 550;
      await world!.store('1001', '4930666', 300);
      assert.equal(await svc(1, 1).tick(), 0, 'failed for good (maxAttempts 1)');
      smtp.refuse = 451;
      await world!.store('1001', '4930777', 300);
      assert.equal(await svc(3, 600_000).tick(), 0, 'pending, its retry in 10 min');
    } finally {
      smtp.refuse = undefined;
    }
    const s = await http!.scrape();
    assert.equal(s.types.get('srs_notifications'), 'gauge');
    assert.deepEqual(Object.fromEntries(s.all('srs_notifications').map((x) => [x.labels.state, x.value])), {
      pending: 1,
      sent: 1,
      failed: 1,
    });
    const mail = { feature: 'notifications', kind: 'smtp', destination: `127.0.0.1:${smtp.port}` };
    assert.equal(s.value('srs_delivery_destination_up', mail), 0);
    assert.equal(s.value('srs_delivery_destination_failures', mail), 2);
  });

  it('destination labels: the kind, and where without user, password or query', () => {
    assert.deepEqual(targetLabels('ftp:ftp://bob@files.example:21/in'), {
      kind: 'ftp',
      destination: 'ftp://files.example:21/in',
    });
    assert.deepEqual(targetLabels('s3:s3://arch/calls/ at https://key:secret@minio.example:9000?x=1'), {
      kind: 's3',
      destination: 's3://arch/calls/ at https://minio.example:9000',
    });
    assert.deepEqual(targetLabels('smtp:mail.example:587'), {
      kind: 'smtp',
      destination: 'mail.example:587',
    });
  });

  it('a feature that is off: srs_delivery_enabled 0 and none of its series', async () => {
    const off = loadConfig({ SRS_DATA_DIR: world!.dataDir }, {} as never);
    const metrics = new Metrics();
    registerDeliveryMetrics(metrics, db.offload, off);
    const other = await serveMetrics(metrics);
    try {
      const s = await other.scrape();
      for (const feature of ['offload', 'export', 'notifications'])
        assert.equal(s.value('srs_delivery_enabled', { feature }), 0, feature);
      const names = [...s.types.keys()].filter((n) =>
        /^srs_(offload|export|notifications|delivery_dest)/.test(n),
      );
      assert.deepEqual(names, []);
    } finally {
      await other.close();
    }
  });

  it('a failing delivery query leaves its series out of that scrape; the rest of /metrics is served', async () => {
    await db.pool.query('ALTER TABLE delivery_counts RENAME TO delivery_counts_away');
    try {
      const s = await http!.scrape();
      assert.equal(s.value('srs_test_other_total'), 7);
      assert.equal(s.value('srs_delivery_enabled', { feature: 'offload' }), 1);
      assert.deepEqual(s.all('srs_offload_batches'), []);
      assert.deepEqual(s.all('srs_notifications'), []);
      assert.equal(s.types.get('srs_offload_batches'), 'gauge', 'the family is still declared');
    } finally {
      await db.pool.query('ALTER TABLE delivery_counts_away RENAME TO delivery_counts');
    }
    const back = await http!.scrape();
    assert.equal(back.value('srs_offload_batches', { state: 'done' }), 1);
    assert.equal(back.all('srs_notifications').length, 3);
  });
});
