import assert from 'node:assert/strict';
import { mkdir, readFile, readdir, rm, stat, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { loadConfig } from '../../src/config.js';
import { Decryptor } from '../../src/delivery/decrypt.js';
import { ExportService } from '../../src/delivery/export.js';
import { startDelivery, type Delivery } from '../../src/delivery/index.js';
import { parseTemplate } from '../../src/delivery/template.js';
import { NotifyService } from '../../src/delivery/notify.js';
import { deliveryStatus, type DeliveryStatusView } from '../../src/delivery/status.js';
import type { Database } from '../../src/store/db.js';
import type { CutProxy, Sshd, TestSmtp } from '../helpers/delivery-fixtures.js';
import { sha256Hex, testLog as log, until } from '../helpers/delivery-catalogue.js';
import {
  forgetOffloadState,
  openDeliveryRetryWorld,
  RETRY_PASSPHRASE as PASSPHRASE,
  type DeliveryRetryWorld,
} from '../helpers/delivery-retry-world.js';

/**
 * Failures of the export and mail paths (and all three under startDelivery) against real servers
 * (OpenSSH sftp behind a proxy that can refuse or cut connections, an SMTP server that can refuse
 * mail, a local export root with a blocked folder): retried with backoff, attempts / last error /
 * next attempt visible in deliveryStatus, a failed state after the configured attempts,
 * `retryFailed` re-queueing them, and every step in the hash-chained audit trail. The tests build
 * on each other's recordings and cursors, in order. (Offload batches: offload-retry.test.ts.)
 */

describe('delivery failures: export, mail, startDelivery, retryFailed, audit (real sshd, SMTP, Postgres)', () => {
  let world: DeliveryRetryWorld | undefined;
  let dataDir: string;
  let db: Database;
  let sshd: Sshd;
  let proxy: CutProxy;
  let smtp: TestSmtp;

  const dest = (directory: string) => world!.dest(directory);
  const store = (caller: string, callee: string, hz: number) => world!.store(caller, callee, hz);
  const actions = (resourceId: string) => world!.actions(resourceId);

  before(async () => {
    world = await openDeliveryRetryWorld();
    ({ dataDir, db, sshd, proxy, smtp } = world);
  });

  after(async () => {
    await world?.close();
  });

  it('startDelivery: SFTP down, SMTP refusing, an export name blocked -> failed and visible; retryFailed delivers all once they are fixed', async () => {
    const exportRoot = join(dataDir, 'export');
    await mkdir(exportRoot);
    // A file where the template wants a folder: this recording's export fails, the root answers.
    await writeFile(join(exportRoot, 'blocked'), 'not a folder');
    const audioDir = join(sshd.dir, 'audio-b');
    await mkdir(audioDir);
    const config = loadConfig({ SRS_DATA_DIR: dataDir, SRS_KEY_PASSPHRASE: PASSPHRASE }, {
      offload: { enabled: true, audio: dest(audioDir), maxAttempts: 2, purgeAfterTransfer: false },
      export: {
        enabled: true,
        template: 'blocked/%{recording-id}',
        primary: { type: 'local', directory: exportRoot },
        maxAttempts: 2,
      },
      notifications: {
        enabled: true,
        smtp: smtp.settings(),
        maxAttempts: 2,
        body: 'Recording [RecordingID] of [Username]',
      },
    } as never);
    // Only what is stored from now on: no offload state or cursor from anything before (in this
    // file's world, nothing); the trail keeps what happened.
    await forgetOffloadState(db);
    proxy.down = true;
    smtp.refuse = 550;
    let delivery: Delivery | undefined;
    try {
      delivery = await startDelivery({
        config,
        db,
        log,
        intervalsMs: { offload: 1500, export: 200, notify: 200 },
        retryBaseMs: 50,
      });
      const r = await store('1001', '4930333', 600);
      const failedView = await until<DeliveryStatusView>('everything failed', async () => {
        const s = await deliveryStatus(db.offload);
        const batch = s.offload.batches.some((b) => b.state === 'failed' && b.count === 1);
        return s.export.failed === 1 && s.notifications.failed === 1 && batch && s;
      });
      const ex = failedView.export.recentFailures.find((f) => f.recordingId === r.id)!;
      assert.equal(ex.state, 'failed');
      assert.equal(ex.attempts, 2);
      assert.match(ex.lastError ?? '', /ENOTDIR|EEXIST|not a directory/i);
      assert.equal(ex.nextAttemptAt, null);
      const no = failedView.notifications.recentFailures.find((f) => f.recordingId === r.id)!;
      assert.equal(no.state, 'failed');
      assert.equal(no.attempts, 2);
      assert.match(no.lastError, /550/);
      const smtpTarget = failedView.targets.find((t) => t.name.startsWith('smtp:'))!;
      assert.equal(smtpTarget.ok, false);
      assert.ok(smtpTarget.failures >= 2);
      const batch = failedView.offload.batches.find((b) => b.state === 'failed' && b.count === 1)!;
      assert.equal(batch.attempts, 2);
      assert.ok(batch.lastError);
      assert.equal(smtp.mails.length, 0);
      const exportedBefore = await readdir(exportRoot);
      assert.deepEqual(exportedBefore, ['blocked'], 'no temporary file left behind');

      // Fixed: the server is up, mail is accepted, the folder is free. Re-queue at once.
      proxy.down = false;
      smtp.refuse = undefined;
      await rm(join(exportRoot, 'blocked'));
      const counts = await delivery.retryFailed();
      assert.ok(counts.offload >= 1, JSON.stringify(counts));
      assert.equal(counts.export, 1);
      assert.equal(counts.notifications, 1);
      await until('everything delivered', async () => {
        const s = await deliveryStatus(db.offload);
        return (
          s.export.failed === 0 &&
          s.export.done === 1 &&
          s.notifications.sent === 1 &&
          s.offload.failed === 0 &&
          s.offload.batches.find((b) => b.id === batch.id)?.state === 'done'
        );
      });
      assert.equal(smtp.mails.length, 1);
      assert.match(smtp.mails[0]!.raw, new RegExp(`Recording ${r.id} of alice`));
      const mp3 = await stat(join(exportRoot, 'blocked', `${r.id}.mp3`));
      assert.ok(mp3.size > 1000);
      const row = (await db.recordings.get(r.id))!;
      const day = row.startedAt.toISOString().slice(0, 10).replaceAll('-', '/');
      assert.ok((await readFile(join(exportRoot, day, 'index.csv'), 'utf8')).includes(r.id), 'indexed');
      assert.ok((await readdir(audioDir)).includes(`r_${r.id}.wav`));

      const trail = await actions(r.id);
      for (const a of [
        'export.error',
        'export.failed',
        'export',
        'notification.error',
        'notification.failed',
        'notification.sent',
      ])
        assert.ok(trail.includes(a), `${a} in ${trail.join(' ')}`);
      assert.ok(trail.indexOf('export.failed') < trail.indexOf('export'));
      assert.ok(trail.indexOf('notification.failed') < trail.indexOf('notification.sent'));
      const retry = (await db.audit.search({ action: 'delivery.requeue' })).items[0]!;
      assert.equal(retry.details.export, 1);
      assert.equal(retry.details.notifications, 1);
      assert.equal((await db.audit.verify()).ok, true);
    } finally {
      proxy.down = false;
      smtp.refuse = undefined;
      await delivery?.stop();
    }
  });

  it('mail templates are editable while running; an edit with an unknown tag fails visibly until fixed', async () => {
    const templateFile = join(dataDir, 'mail-edit.txt');
    await writeFile(templateFile, 'v1 [RecordingID]');
    await db.pool.query(`UPDATE delivery_cursors SET since = now() WHERE name = 'notifications'`);
    const svc = new NotifyService({
      repo: db.offload,
      users: db.users,
      decryptor: new Decryptor(dataDir, PASSPHRASE),
      log,
      smtp: smtp.settings(),
      from: 'recorder@example.com',
      subject: 'Recorded',
      templateFile,
      maxAttachmentBytes: 0,
      timeZone: 'UTC',
      intervalMs: 1000,
      retryBaseMs: 1,
      maxAttempts: 3,
    });
    await svc.checkTemplates();
    const before = smtp.mails.length;
    const r1 = await store('1001', '4930444', 300);
    assert.equal(await svc.tick(), 1);
    assert.match(smtp.mails[before]!.raw, new RegExp(`v1 ${r1.id}`));
    await writeFile(templateFile, 'v2 [Username] [NoSuchTag]');
    const r2 = await store('1001', '4930555', 300);
    assert.equal(await svc.tick(), 0);
    const s = await deliveryStatus(db.offload);
    const f = s.notifications.recentFailures.find((x) => x.recordingId === r2.id)!;
    assert.match(f.lastError, /NoSuchTag/);
    assert.equal(f.state, 'pending');
    assert.equal(f.attempts, 1);
    await writeFile(templateFile, 'v2 [Username] [RecordingID]');
    await new Promise((r) => setTimeout(r, 20));
    assert.equal(await svc.tick(), 1);
    assert.match(smtp.mails[before + 1]!.raw, new RegExp(`v2 alice ${r2.id}`));
  });

  it('export: an SFTP destination dropping mid-pass costs its files no attempts and catches up whole', async () => {
    const primary = join(dataDir, 'export-p2');
    await mkdir(primary);
    const remote = join(sshd.dir, 'export-s2');
    await mkdir(remote);
    const svc = new ExportService({
      repo: db.offload,
      decryptor: new Decryptor(dataDir, PASSPHRASE),
      log,
      template: parseTemplate('%{recording-id}'),
      primary: { type: 'local', directory: primary },
      secondary: { type: 'sftp', ...dest(remote), chunkBytes: 4096 },
      intervalMs: 1000,
      retryBaseMs: 300,
      maxAttempts: 1,
    });
    // The secondary has not had anything yet: every recording since the export cursor is due.
    const due = await db.offload.exportDue('secondary', new Date(0), 100);
    assert.ok(due.length >= 3, `${due.length} due`);
    proxy.cutAfterBytes = 30_000;
    const first = await svc.tick();
    proxy.cutAfterBytes = undefined;
    assert.ok(proxy.cuts >= 1);
    assert.ok((first.secondary ?? 0) < due.length, JSON.stringify(first));
    let st = await deliveryStatus(db.offload);
    const t = st.targets.find((x) => x.name.includes(remote))!;
    assert.equal(t.ok, false);
    assert.equal(t.failures, 1);
    assert.equal(st.export.failed, 0, 'maxAttempts 1, yet nothing failed: the destination did');
    const rows = await db.pool.query<{ attempts: number; last_error: string | null }>(
      `SELECT attempts, last_error FROM export_items WHERE destination = 'secondary' AND state <> 'done'`,
    );
    assert.ok(rows.rows.every((r) => r.attempts === 0 && r.last_error === null));
    await new Promise((r) => setTimeout(r, 350));
    const second = await svc.tick();
    assert.equal((first.secondary ?? 0) + (second.secondary ?? 0), due.length);
    st = await deliveryStatus(db.offload);
    assert.equal(st.targets.find((x) => x.name.includes(remote))!.ok, true);
    const files = await readdir(remote, { recursive: true });
    assert.deepEqual(
      files.filter((f) => f.includes('.part')),
      [],
      'no partial file left',
    );
    for (const d of due) {
      const row = (await db.recordings.get(d.id))!;
      const mp3 = await readFile(join(remote, `${d.id}.mp3`));
      assert.equal(sha256Hex(mp3), row.files.find((f) => f.kind === 'mp3')!.sha256Plain);
    }
    const ups = await db.audit.search({ action: 'delivery.target.up', resourceId: t.name });
    assert.equal(ups.total, 1);
  });
  it('audits each destination an exported recording goes to, naming it: the secondary copy is not folded into the primary entry', async () => {
    const primary = join(dataDir, 'export-audit-primary');
    const secondary = join(dataDir, 'export-audit-secondary');
    await mkdir(primary);
    await mkdir(secondary);
    const config = loadConfig({ SRS_DATA_DIR: dataDir, SRS_KEY_PASSPHRASE: PASSPHRASE }, {
      export: {
        enabled: true,
        template: 'audit/%{recording-id}',
        primary: { type: 'local', directory: primary },
        secondary: { type: 'local', directory: secondary },
      },
    } as never);
    await forgetOffloadState(db);
    const delivery = await startDelivery({ config, db, log, intervalsMs: { export: 200 }, retryBaseMs: 50 });
    try {
      const r = await store('1001', '4930444', 523);
      await until('both copies exported', async () => {
        const names = await Promise.all(
          [primary, secondary].map((d) => readdir(join(d, 'audit')).catch(() => [] as string[])),
        );
        return names.every((n) => n.includes(`${r.id}.mp3`));
      });
      const entries = (await db.audit.search({ action: 'delivery', resourceId: r.id })).items;
      const to = entries.map((e) => String(e.details.to)).sort();
      assert.deepEqual(to, [`export.primary: local:${primary}`, `export.secondary: local:${secondary}`]);
      assert.ok(entries.every((e) => e.details.purpose === 'export' && e.actor === 'system'));
    } finally {
      await delivery.stop();
    }
  });
});
