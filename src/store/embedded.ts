import { mkdir, stat, unlink, writeFile } from 'node:fs/promises';
import { setTimeout as sleep } from 'node:timers/promises';
import pg from 'pg';
import { readIfExists as readText } from '../files.js';
import type { Logger } from '../log.js';
import {
  EmbeddedPostgresError,
  livePostmaster,
  loadOrCreateSettings,
  pathsFor,
  pidAlive,
  socketFits,
  socketPath,
  withLock,
  dataDirWriteError,
  type EmbeddedSettings,
} from './embedded-files.js';
import { startOwn, stopByPid } from './embedded-process.js';

export { EmbeddedPostgresError, pidAlive, type EmbeddedSettings } from './embedded-files.js';
export { postgresCommand } from './embedded-process.js';

/**
 * Embedded Postgres in `<dataDir>/pg`, used when no DATABASE_URL is configured.
 *
 * Several processes share one instance: the server and the `srs` CLI run beside it. The first one
 * to need the database starts it and becomes its owner (written to `<dataDir>/pg.owner`); later
 * ones attach over TCP. Only the owner stops it. If the owner died (kill -9) and its postgres
 * child survived, the next process adopts that postgres rather than starting a second one.
 * Every decision is taken under a lock file so that two processes starting at once agree.
 */

export interface EmbeddedPostgresHandle {
  readonly connectionString: string;
  readonly settings: EmbeddedSettings;
  /** True when this process started (or adopted) the instance and will stop it on close(). */
  readonly owned: boolean;
  /** Stops postgres if this process owns it; otherwise does nothing. Safe to call twice. */
  close(): Promise<void>;
}

type Probe = 'ok' | 'refused' | 'starting' | 'other';

/** How often the owner checks that its embedded Postgres still runs. */
const SUPERVISE_MS = 2000;

async function probe(s: EmbeddedSettings, database = 'postgres'): Promise<{ state: Probe; error?: Error }> {
  const client = new pg.Client({
    host: '127.0.0.1',
    port: s.port,
    user: s.user,
    password: s.password,
    database,
    connectionTimeoutMillis: 3000,
  });
  client.on('error', () => undefined);
  try {
    await client.connect();
    await client.query('select 1');
    return { state: 'ok' };
  } catch (err) {
    const e = err as NodeJS.ErrnoException & { code?: string };
    if (e.code === 'ECONNREFUSED') return { state: 'refused', error: e };
    // 57P03: the database system is starting up / shutting down.
    if (e.code === '57P03') return { state: 'starting', error: e };
    return { state: 'other', error: e };
  } finally {
    await client.end().catch(() => undefined);
  }
}

async function ensureDatabase(s: EmbeddedSettings): Promise<void> {
  const client = new pg.Client({
    host: '127.0.0.1',
    port: s.port,
    user: s.user,
    password: s.password,
    database: 'postgres',
  });
  client.on('error', () => undefined);
  await client.connect();
  try {
    const r = await client.query('select 1 from pg_database where datname = $1', [s.database]);
    if (r.rowCount === 0) {
      await client
        .query(`create database ${client.escapeIdentifier(s.database)}`)
        .catch((err: { code?: string }) => {
          if (err.code !== '42P04') throw err; // created meanwhile by someone else
        });
    }
  } finally {
    await client.end().catch(() => undefined);
  }
}

/**
 * Start the embedded Postgres in `<dataDir>/pg` or attach to the one already running there.
 */
export async function ensureEmbeddedPostgres(opts: {
  dataDir: string;
  log: Logger;
}): Promise<EmbeddedPostgresHandle> {
  const log = opts.log;
  const p = pathsFor(opts.dataDir);
  await mkdir(p.dataDir, { recursive: true }).catch((err: unknown) => {
    throw dataDirWriteError(err, p.lock);
  });
  return withLock(
    p.lock,
    async () => {
      const s = await loadOrCreateSettings(p, log);
      let stop: (() => Promise<void>) | undefined;

      let pid = await livePostmaster(p);
      let r = await probe(s);
      // A postmaster that is alive but not answering yet is starting up (or recovering).
      const deadline = Date.now() + 60_000;
      while (r.state !== 'ok' && pid !== undefined && Date.now() < deadline) {
        await sleep(200);
        pid = await livePostmaster(p);
        r = await probe(s);
      }
      if (r.state === 'other' && pid !== undefined) {
        throw new EmbeddedPostgresError(
          `cannot connect to embedded postgres on port ${s.port}: ${r.error?.message}`,
          {
            cause: r.error,
          },
        );
      }

      if (r.state === 'ok' && pid !== undefined) {
        const ownerPid = Number((await readText(p.owner))?.trim());
        // The owner may be this very process (a second openDatabase here): attach as well.
        if (pidAlive(ownerPid)) {
          log.debug({ port: s.port, owner: ownerPid }, 'embedded postgres: attached to running instance');
        } else {
          // Its starter is gone (killed); take it over so that somebody stops it.
          await writeFile(p.owner, String(process.pid));
          const adopted = pid;
          stop = () => stopByPid(adopted, log);
          log.info({ port: s.port, pid }, 'embedded postgres: adopted an instance whose owner has exited');
        }
      } else if (r.state === 'ok') {
        // Something answers with our credentials but postmaster.pid does not name a live postgres.
        throw new EmbeddedPostgresError(
          `port ${s.port} answers but ${p.postmasterPid} names no live postgres; is another process using ${p.pgDir}?`,
        );
      } else {
        const started = await startOwn(p, s, log);
        await writeFile(p.owner, String(process.pid));
        stop = started.stop;
      }

      await ensureDatabase(s);

      let closed = false;
      const credentials = `${encodeURIComponent(s.user)}:${encodeURIComponent(s.password)}`;
      // The Unix socket when the server has one (an instance started by an older version has not).
      const viaSocket =
        socketFits(p, s.port) &&
        (await stat(socketPath(p, s.port))
          .then((st) => st.isSocket())
          .catch(() => false));
      const connectionString = viaSocket
        ? `postgres://${credentials}@/${encodeURIComponent(s.database)}?host=${encodeURIComponent(p.pgDir)}&port=${s.port}`
        : `postgres://${credentials}@127.0.0.1:${s.port}/${encodeURIComponent(s.database)}`;
      // The instance this process owns is kept running: one that exits or is killed (the OOM killer)
      // is started again, so calls are taken again without an operator (they get 503 meanwhile).
      let supervisor: NodeJS.Timeout | undefined;
      if (stop) {
        let checking = false;
        supervisor = setInterval(() => {
          if (closed || checking) return;
          checking = true;
          void restartIfGone()
            .catch((err: unknown) =>
              log.error({ err: (err as Error).message }, 'embedded postgres: restart failed; trying again'),
            )
            .finally(() => (checking = false));
        }, SUPERVISE_MS);
        supervisor.unref();
      }
      const restartIfGone = async (): Promise<void> => {
        if ((await livePostmaster(p)) !== undefined) return;
        await withLock(
          p.lock,
          async () => {
            if (closed || (await livePostmaster(p)) !== undefined) return;
            log.warn(
              { port: s.port },
              'embedded postgres is not running (it exited or was killed): starting it again',
            );
            const started = await startOwn(p, s, log);
            stop = started.stop;
            await writeFile(p.owner, String(process.pid));
            log.info({ port: s.port }, 'embedded postgres: started again');
          },
          log,
        );
      };
      const handle: EmbeddedPostgresHandle = {
        connectionString,
        settings: { ...s },
        owned: stop !== undefined,
        async close() {
          clearInterval(supervisor);
          if (closed || !stop) return;
          closed = true;
          await withLock(p.lock, async () => {
            await stop?.();
            const owner = Number((await readText(p.owner))?.trim());
            if (owner === process.pid) await unlink(p.owner).catch(() => undefined);
          });
          log.info('embedded postgres: stopped');
        },
      };
      return handle;
    },
    log,
  );
}
