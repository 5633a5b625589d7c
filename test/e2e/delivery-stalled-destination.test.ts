/**
 * A destination that stops answering mid-transfer and never closes its connection (a hung sshd, a
 * peer whose application froze: TCP still acknowledges, nothing else comes back, no FIN). Real
 * OpenSSH sftp behind a proxy that can freeze every connection; real Postgres. The pass must end
 * (the stalled operation times out after timeoutSeconds and the connection is dropped, not waited
 * on), its files cost no attempts, and the next pass over a fresh connection delivers them.
 */
import assert from 'node:assert/strict';
import { mkdir, readFile, readdir } from 'node:fs/promises';
import { createServer, connect, type AddressInfo, type Server, type Socket } from 'node:net';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { Decryptor } from '../../src/delivery/decrypt.js';
import { ExportService } from '../../src/delivery/export.js';
import { OffloadService } from '../../src/delivery/offload.js';
import { parseTemplate } from '../../src/delivery/template.js';
import { sha256Hex, testLog as log } from '../helpers/delivery-catalogue.js';
import {
  openDeliveryRetryWorld,
  RETRY_PASSPHRASE as PASSPHRASE,
  type DeliveryRetryWorld,
} from '../helpers/delivery-retry-world.js';

interface FreezeProxy {
  port: number;
  /** Freeze each connection once this many client bytes went through (undefined: never). */
  freezeAfterBytes: number | undefined;
  frozen: number;
  close(): Promise<void>;
}

/** Forwards to `target`; a frozen connection stays open, swallows everything and answers nothing. */
async function startFreezeProxy(target: number): Promise<FreezeProxy> {
  const sockets = new Set<Socket>();
  const state: FreezeProxy = {
    port: 0,
    freezeAfterBytes: undefined,
    frozen: 0,
    close: async () => {
      for (const s of sockets) s.destroy();
      await new Promise<void>((r) => server.close(() => r()));
    },
  };
  // allowHalfOpen: the client's FIN is acknowledged by the kernel and never answered.
  const server: Server = createServer({ allowHalfOpen: true }, (client) => {
    const up = connect(target, '127.0.0.1');
    sockets.add(client);
    sockets.add(up);
    let sent = 0;
    let frozen = false;
    client.on('data', (d: Buffer) => {
      if (frozen) return;
      if (state.freezeAfterBytes !== undefined && sent + d.length > state.freezeAfterBytes) {
        frozen = true;
        state.frozen++;
        return;
      }
      sent += d.length;
      up.write(d);
    });
    up.on('data', (d: Buffer) => {
      if (!frozen) client.write(d);
    });
    client.on('end', () => {
      if (!frozen) up.end();
    });
    up.on('close', () => {
      if (!frozen) client.destroy();
    });
    client.on('error', () => undefined);
    up.on('error', () => undefined);
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  state.port = (server.address() as AddressInfo).port;
  return state;
}

interface MuteServer {
  port: number;
  /** true: accepts and never says a word; false: forwards to `target`. */
  mute: boolean;
  /** Connections open now (a client that gave up has closed its own). */
  open: number;
  /** Connections accepted so far. */
  accepted: number;
  close(): Promise<void>;
}

/** A TCP server that accepts and stays silent while `mute` (no SSH banner, nothing), else a proxy. */
async function startMuteServer(target: number): Promise<MuteServer> {
  const sockets = new Set<Socket>();
  const state: MuteServer = {
    port: 0,
    mute: true,
    open: 0,
    accepted: 0,
    close: async () => {
      for (const s of sockets) s.destroy();
      await new Promise<void>((r) => server.close(() => r()));
    },
  };
  const server: Server = createServer({ allowHalfOpen: true }, (client) => {
    sockets.add(client);
    state.open++;
    state.accepted++;
    client.once('close', () => state.open--);
    client.on('error', () => undefined);
    if (state.mute) return;
    const up = connect(target, '127.0.0.1');
    sockets.add(up);
    client.pipe(up).pipe(client);
    up.on('error', () => client.destroy());
    up.on('close', () => client.destroy());
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  state.port = (server.address() as AddressInfo).port;
  return state;
}

/** `p`, or 'stuck' when it has not settled after `ms` (a hang, not a measured time). */
/** An export whose primary is SFTP through `mutePort` (a server that never answers) and whose secondary a local directory. */
async function exportToMute(
  w: DeliveryRetryWorld,
  name: string,
  mutePort: number,
  timeoutSeconds: number,
  intervalMs: number,
): Promise<{ local: string; remote: string; svc: ExportService }> {
  const local = join(w.dataDir, `${name}-secondary`);
  await mkdir(local);
  const remote = join(w.sshd.dir, `${name}-primary`);
  await mkdir(remote);
  const svc = new ExportService({
    repo: w.db.offload,
    decryptor: new Decryptor(w.dataDir, PASSPHRASE),
    log,
    template: parseTemplate('%{recording-id}'),
    primary: { type: 'sftp', ...w.dest(remote), port: mutePort, timeoutSeconds },
    secondary: { type: 'local', directory: local },
    intervalMs,
    retryBaseMs: 100,
    maxAttempts: 3,
  });
  return { local, remote, svc };
}

const orStuck = <T>(p: Promise<T>, ms: number): Promise<T | 'stuck'> =>
  Promise.race([p, new Promise<'stuck'>((r) => setTimeout(() => r('stuck'), ms).unref())]);

describe('delivery: a destination that stalls mid-transfer without closing (real sshd, Postgres)', () => {
  let world: DeliveryRetryWorld | undefined;
  let freeze: FreezeProxy;

  before(async () => {
    world = await openDeliveryRetryWorld('srs-delivery-stall-');
    freeze = await startFreezeProxy(world.sshd.port);
  });
  after(async () => {
    await freeze?.close();
    await world?.close();
  });

  const sftp = (directory: string) => ({
    ...world!.dest(directory),
    port: freeze.port,
    timeoutSeconds: 2,
    chunkBytes: 4096,
  });

  it('export: the pass ends, its files cost no attempts, the next pass delivers them', async () => {
    const w = world!;
    const primary = join(w.dataDir, 'stall-primary');
    await mkdir(primary);
    const remote = join(w.sshd.dir, 'stall-export');
    await mkdir(remote);
    const svc = new ExportService({
      repo: w.db.offload,
      decryptor: new Decryptor(w.dataDir, PASSPHRASE),
      log,
      template: parseTemplate('%{recording-id}'),
      primary: { type: 'local', directory: primary },
      secondary: { type: 'sftp', ...sftp(remote) },
      intervalMs: 1000,
      retryBaseMs: 100,
      maxAttempts: 1,
    });
    // The export delivers what is stored once it runs.
    await svc.tick();
    const fixtures = [await w.store('1001', '+4930111', 440), await w.store('1002', '+4930222', 550)];
    freeze.freezeAfterBytes = 8_000;
    const first = await orStuck(svc.tick(), 60_000);
    assert.notEqual(first, 'stuck', 'the export pass never ended');
    assert.ok(freeze.frozen >= 1, JSON.stringify(first));
    // The destination failed, not the files: none of them lost an attempt.
    const rows = await w.db.pool.query<{ attempts: number }>(
      `SELECT attempts FROM export_items WHERE destination = 'secondary' AND state <> 'done'`,
    );
    assert.ok(rows.rows.length >= 1, 'something was left for the next pass');
    assert.ok(
      rows.rows.every((r) => r.attempts === 0),
      JSON.stringify(rows.rows),
    );
    freeze.freezeAfterBytes = undefined;
    await new Promise((r) => setTimeout(r, 150));
    const second = await orStuck(svc.tick(), 60_000);
    assert.notEqual(second, 'stuck', 'the second export pass never ended');
    for (const f of fixtures) {
      const row = (await w.db.recordings.get(f.id))!;
      const mp3 = await readFile(join(remote, `${f.id}.mp3`));
      assert.equal(sha256Hex(mp3), row.files.find((x) => x.kind === 'mp3')!.sha256Plain);
    }
  });

  it('export: a destination that accepts and never answers does not hold back the other; it is retried after', async (t) => {
    const w = world!;
    const mute = await startMuteServer(w.sshd.port);
    try {
      const timeoutSeconds = 5;
      const { local, remote, svc } = await exportToMute(w, 'mute', mute.port, timeoutSeconds, 1000);
      // The export delivers what is stored once it runs (nothing due yet: no connection made).
      assert.deepEqual(await svc.tick(), { primary: 0, secondary: 0 });
      assert.equal(mute.open, 0);
      const f = await w.store('1005', '+4930555', 880);
      const t0 = Date.now();
      let settled = false;
      const pass = svc.tick().finally(() => (settled = true));
      // When the secondary has the file: how long it took, and whether the primary still hung then.
      let arrival: { ms: number; hanging: number } | undefined;
      while (!arrival && Date.now() - t0 < 60_000) {
        const there = await readFile(join(local, `${f.id}.mp3`)).then(
          () => true,
          () => false,
        );
        if (there) arrival = { ms: Date.now() - t0, hanging: mute.open };
        else if (settled) break;
        else await new Promise((r) => setTimeout(r, 50));
      }
      const first = await orStuck(pass, 60_000);
      assert.ok(arrival, `the secondary never got ${f.id}: ${JSON.stringify(first)}`);
      t.diagnostic(
        `the secondary had the file after ${arrival.ms} ms (the silent primary's timeout: ${timeoutSeconds} s)`,
      );
      assert.ok(
        arrival.hanging >= 1 && arrival.ms < timeoutSeconds * 1000,
        `the secondary got the file after ${arrival.ms} ms, with ${arrival.hanging} connection(s) to the silent primary still open (its timeout: ${timeoutSeconds} s)`,
      );
      assert.notEqual(first, 'stuck', 'the export pass never ended');
      assert.equal((first as Record<string, number>).primary, 0);
      assert.ok(((first as Record<string, number>).secondary ?? 0) >= 1, JSON.stringify(first));
      // The primary: down, its files waiting without a lost attempt, tried again after its backoff.
      const label = `sftp:sftp://${w.sshd.user}@127.0.0.1:${mute.port}${remote}`;
      const target = await w.db.pool.query<{ ok: boolean; failures: number }>(
        'SELECT ok, failures FROM delivery_targets WHERE name = $1',
        [label],
      );
      assert.deepEqual(target.rows, [{ ok: false, failures: 1 }]);
      const waiting = await w.db.pool.query(
        `SELECT 1 FROM export_items WHERE destination = 'primary' AND recording_id = $1`,
        [f.id],
      );
      assert.equal(waiting.rowCount, 0, 'the unreachable destination cost the file an attempt');
      mute.mute = false;
      await new Promise((r) => setTimeout(r, 300));
      const second = await orStuck(svc.tick(), 60_000);
      assert.notEqual(second, 'stuck', 'the second export pass never ended');
      assert.ok(((second as Record<string, number>).primary ?? 0) >= 1, JSON.stringify(second));
      const row = (await w.db.recordings.get(f.id))!;
      const sha = row.files.find((x) => x.kind === 'mp3')!.sha256Plain;
      assert.equal(sha256Hex(await readFile(join(remote, `${f.id}.mp3`))), sha);
      assert.equal(sha256Hex(await readFile(join(local, `${f.id}.mp3`))), sha);
      // Once each: one export entry per destination, whichever ran first.
      const exports = await w.db.pool.query<{ d: string }>(
        `SELECT details->>'destination' AS d FROM audit WHERE action = 'export' AND resource_id = $1 ORDER BY d`,
        [f.id],
      );
      assert.deepEqual(
        exports.rows.map((r) => r.d),
        ['primary', 'secondary'],
      );
      assert.deepEqual(await w.actions(label), ['delivery.target.down', 'delivery.target.up']);
    } finally {
      await mute.close();
    }
  });

  it('export: the healthy destination gets new recordings every tick while the other pass still hangs', async (t) => {
    const w = world!;
    const mute = await startMuteServer(w.sshd.port);
    const timeoutSeconds = 6;
    const { local, svc } = await exportToMute(w, 'hang', mute.port, timeoutSeconds, 200);
    const at = (id: string) =>
      readFile(join(local, `${id}.mp3`)).then(
        () => true,
        () => false,
      );
    /** How long after `t0` the secondary had `id`, and the silent primary's connections then. */
    const arrival = async (id: string, t0: number) => {
      while (Date.now() - t0 < 60_000) {
        if (await at(id)) return { ms: Date.now() - t0, open: mute.open, accepted: mute.accepted };
        await new Promise((r) => setTimeout(r, 50));
      }
      return undefined;
    };
    const ids: string[] = [];
    try {
      // The service's own loop (start), as in production: one pass every intervalMs.
      svc.start();
      const a = await w.store('1006', '+4930666', 330);
      ids.push(a.id);
      const first = await arrival(a.id, Date.now());
      assert.ok(first, `the secondary never got ${a.id}`);
      assert.equal(mute.accepted, 1, 'the primary was tried once');
      // Stored after the first pass started, while the primary's connection still hangs.
      const b = await w.store('1007', '+4930777', 220);
      ids.push(b.id);
      const second = await arrival(b.id, Date.now());
      assert.ok(second, `the secondary never got ${b.id}`);
      t.diagnostic(
        `the secondary had the first recording after ${first.ms} ms, the second ${second.ms} ms after it was stored; the silent primary: ${second.open} open, ${second.accepted} accepted (timeout ${timeoutSeconds} s)`,
      );
      assert.ok(
        second.accepted === 1 && second.open === 1 && second.ms < (timeoutSeconds * 1000) / 2,
        `the second recording reached the secondary after ${second.ms} ms, with the primary's first connection ${second.accepted === 1 && second.open === 1 ? 'still hanging' : 'ended'} (its timeout: ${timeoutSeconds} s)`,
      );
    } finally {
      // The hanging connection is dropped: the primary's pass ends at once, then the loop stops.
      await mute.close();
      await svc.stop();
    }
    // Each recording once at the secondary, nothing at the primary and no attempt lost there.
    const exports = await w.db.pool.query<{ d: string; n: string }>(
      `SELECT details->>'destination' AS d, count(*) AS n FROM audit
       WHERE action = 'export' AND resource_id = ANY($1::text[]) GROUP BY d`,
      [ids],
    );
    const items = await w.db.pool.query(
      `SELECT 1 FROM export_items WHERE destination = 'primary' AND recording_id = ANY($1::uuid[])`,
      [ids],
    );
    assert.equal(items.rowCount, 0, 'the unreachable primary cost the files an attempt');
    assert.deepEqual(exports.rows, [{ d: 'secondary', n: '2' }]);
  });

  it('offload: the batch attempt ends and the next one delivers the batch', async () => {
    const w = world!;
    const audio = join(w.sshd.dir, 'stall-offload');
    await mkdir(audio);
    const svc = new OffloadService({
      repo: w.db.offload,
      decryptor: new Decryptor(w.dataDir, PASSPHRASE),
      dataDir: w.dataDir,
      log,
      audio: { type: 'sftp', ...sftp(audio) },
      intervalMs: 100,
      purgeAfterTransfer: false,
      manifest: false,
      maxAttempts: 5,
      parallel: 2,
      retryBaseMs: 100,
    });
    await svc.tick();
    await w.store('1003', '+4930333', 660);
    await w.store('1004', '+4930444', 770);
    await new Promise((r) => setTimeout(r, 150));
    freeze.freezeAfterBytes = 8_000;
    const first = await orStuck(svc.tick(), 60_000);
    assert.notEqual(first, 'stuck', 'the offload pass never ended');
    assert.ok(freeze.frozen >= 2, `${freeze.frozen} frozen`);
    freeze.freezeAfterBytes = undefined;
    await new Promise((r) => setTimeout(r, 300));
    const second = await orStuck(svc.tick(), 60_000);
    assert.notEqual(second, 'stuck', 'the second offload pass never ended');
    const files = await readdir(audio);
    assert.ok(
      files.some((f) => f.endsWith('.csv')),
      `no CSV in ${files.join(', ')}`,
    );
    assert.deepEqual(
      files.filter((f) => f.includes('.part')),
      [],
    );
  });
});
