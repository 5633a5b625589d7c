import { basename, dirname, join } from 'node:path';
import * as openpgp from 'openpgp';
import { CiphertextHashError, decryptArtifact } from '../pgp-decrypt.js';
import { NotFoundError, SrsError } from '../errors.js';
import type { Logger } from '../log.js';
import { LocalArtifactStore, type ArtifactStore } from '../storage/index.js';
import { keyOfPath, readError, readObject } from '../storage/read.js';
import type { PendingDeletionInput } from '../store/pending-deletions.js';
import type { Database } from '../store/db.js';
import type { ReencryptActor, ReencryptTarget } from '../store/keys.js';
import { REENCRYPT_LOCK, whileLocked } from '../store/session-lock.js';
import { loadPrivateKey } from './keys.js';
import { encryptToBuffer } from './pgp.js';
import { removeOrRecord } from './retention-pending.js';

/**
 * Moving a retired key's recordings to the active key: one routine for `srs keys retire
 * --reencrypt` and for the server's background service (asked for with POST
 * /keys/{fp}/retire). One run at a time in the whole cluster (a Postgres advisory lock): two runs
 * over one key would write the same new file.
 */

/** A re-encryption that cannot start: no active key, the key to move is the active one, a run elsewhere. */
export class ReencryptError extends SrsError {
  constructor(message: string) {
    super('ERR_REENCRYPT', message);
  }
}

export interface ReencryptReport {
  moved: number;
  alreadyDone: number;
  failed: { recordingId: string; kind: string; error: string }[];
  /**
   * Old ciphertexts the store refused to remove (Object Lock, legal hold, an error): recorded in
   * pending_deletions, removed by the retention pass once it can. The run is finished only when
   * none of its key's are left.
   */
  pending: PendingDeletionInput[];
}

export type ReencryptStep = 'reencrypt-written' | 'reencrypt-committed';

/**
 * Moves every stored artifact encrypted to `oldFp` to the active key. Per artifact: check the old
 * ciphertext's hash, decrypt, check the plaintext hash, encrypt to the new key under a new name,
 * read it back and check its hash (and decrypt it when the new private key opens with the same
 * passphrase), then switch the catalogue row + progress + audit in one transaction, and only then
 * remove the old ciphertext (a refused removal is recorded in pending_deletions and reported, never
 * ignored). Interrupted at any point, running it again finishes the job. The
 * files are read and written through the artifact store (default: the data directory's).
 * Throws KeyPassphraseError when the passphrase does not open the old key, ReencryptError when
 * the run cannot start.
 */
export async function reencryptKey(o: {
  db: Database;
  dataDir: string;
  store?: ArtifactStore;
  oldFp: string;
  passphrase: string;
  /** Default true: a key without a file in keys/ is taken from the catalogue (keys.inCatalogue). */
  inCatalogue?: boolean;
  by: ReencryptActor;
  log?: (line: string) => void;
  /** Test hook (SRS_TEST_CRASH_AFTER_STEP): called after the new file is written and after the commit. */
  afterStep?: (step: ReencryptStep) => void;
  /** Checked between files: true stops the run (the rest waits for the next one). */
  stopping?: () => boolean;
}): Promise<ReencryptReport> {
  const run = await whileLocked(o.db.pool, REENCRYPT_LOCK, () => reencryptLocked(o));
  if (!run.ran)
    throw new ReencryptError('another re-encryption is running (a server node or srs keys): try again later');
  return run.value;
}

async function reencryptLocked(o: Parameters<typeof reencryptKey>[0]): Promise<ReencryptReport> {
  const { db, dataDir, oldFp } = o;
  const keysDir = join(dataDir, 'keys');
  const active = await db.keys.active();
  if (!active?.publicKey)
    throw new ReencryptError('there is no active key with a public key to re-encrypt to');
  if (active.fingerprint === oldFp) throw new ReencryptError('the key to retire is the active key');
  const store = o.store ?? new LocalArtifactStore(dataDir);
  const key = (p: string) => keyOfPath(store, p);
  const report: ReencryptReport = { moved: 0, alreadyDone: 0, failed: [], pending: [] };
  /** Removes an old ciphertext; a refusal is recorded (pending_deletions) and reported. */
  const remove = async (recordingId: string, p: string) => {
    const pending = await removeOrRecord({
      store,
      pending: db.pendingDeletions,
      path: p,
      recordingId,
      source: 'reencrypt',
      keyFingerprint: oldFp,
      log: { error: () => undefined },
    });
    if (pending) {
      report.pending.push(pending);
      o.log?.(
        `old file ${p} of ${recordingId} not removed (${pending.reason}${pending.retainUntil ? ` until ${pending.retainUntil.toISOString()}` : ''}): pending, the retention pass removes it`,
      );
    }
  };

  // Finish what an interrupted run committed but did not clean up.
  for (const r of await db.keys.reencryptions(oldFp)) {
    if (r.state !== 'done') continue;
    report.alreadyDone++;
    if (r.oldPath !== r.newPath) await remove(r.recordingId, r.oldPath);
  }
  const targets = await db.keys.filesUnder(oldFp);
  if (targets.length === 0) return report;

  const catalogue = o.inCatalogue === false ? undefined : db.keys;
  const oldKey = await loadPrivateKey(keysDir, oldFp, o.passphrase, catalogue);
  const newPublic = await openpgp.readKey({ armoredKey: active.publicKey });
  const newPrivate = await loadPrivateKey(keysDir, active.fingerprint, o.passphrase, catalogue).catch(
    () => undefined,
  );

  const one = async (t: ReencryptTarget) => {
    const base = basename(t.path).replace(/(\.[0-9A-F]{16})?\.gpg$/, '');
    const newPath = join(dirname(t.path), `${base}.${active.fingerprint.slice(-16)}.gpg`);
    await db.keys.beginReencrypt(t, active.fingerprint, newPath);
    // Decrypted as it streams from the store, into one buffer (src/pgp-decrypt.ts).
    const decryptStored = async (
      path: string,
      k: openpgp.PrivateKey,
      sha256Cipher: string,
      changed: string,
    ) => {
      try {
        return await decryptArtifact(await store.get(key(path)), k, { sha256Cipher });
      } catch (err) {
        if (err instanceof CiphertextHashError) throw new Error(changed);
        throw readError(err, key(path));
      }
    };
    const old = await decryptStored(
      t.path,
      oldKey,
      t.sha256Cipher,
      `${t.path} does not match its catalogued SHA-256 (run srs recordings verify)`,
    );
    if (old.sha256Plain !== t.sha256Plain) {
      old.plain.fill(0);
      throw new Error(`decrypted ${t.kind} does not match its plaintext SHA-256`);
    }
    // The pipeline's own writer, so a re-encrypted file is the same kind of message as a new one.
    let written;
    try {
      written = await encryptToBuffer(old.plain, newPublic, basename(t.path, '.gpg'));
    } finally {
      old.plain.fill(0);
    }
    const { cipher: out, sha256Cipher: newHash } = written;
    // An interrupted run may have left another encryption under the new name: replaced.
    await store.put(key(newPath), out, { sha256: newHash, size: out.length, overwrite: true });
    // Verify what is stored before anything old is let go.
    if (newPrivate) {
      const back = await decryptStored(
        newPath,
        newPrivate,
        newHash,
        `${newPath} read back with a different SHA-256`,
      );
      back.plain.fill(0);
      if (back.sha256Plain !== t.sha256Plain)
        throw new Error(`${newPath} does not decrypt to the recording's plaintext`);
    } else {
      const { sha256: backHash } = await readObject(store, key(newPath));
      if (backHash !== newHash) throw new Error(`${newPath} read back with a different SHA-256`);
    }
    o.afterStep?.('reencrypt-written');
    await db.keys.completeReencrypt(
      t,
      { newKey: active.fingerprint, newPath, bytes: out.length, sha256Cipher: newHash },
      o.by,
    );
    o.afterStep?.('reencrypt-committed');
    if (newPath !== t.path) await remove(t.recordingId, t.path);
    report.moved++;
    o.log?.(`re-encrypted ${t.recordingId} ${t.kind} -> ${newPath}`);
  };
  for (const t of targets) {
    if (o.stopping?.()) break;
    try {
      await one(t);
    } catch (err) {
      report.failed.push({ recordingId: t.recordingId, kind: t.kind, error: (err as Error).message });
      o.log?.(`FAILED ${t.recordingId} ${t.kind}: ${(err as Error).message}`);
    }
  }
  return report;
}

export interface ReencryptService {
  /** Looks for requested re-encryptions now (after a request through the API). */
  kick(): void;
  stop(): Promise<void>;
}

/**
 * The server's re-encryption of retired keys asked for through the API: at start (an interrupted
 * run resumes), when kicked, and every `intervalMs` while a request is unfinished. Only keys whose
 * private key this node holds (in keys/, or in the catalogue with keys.inCatalogue) are taken.
 * Each pass writes its outcome on the key (finished, or the failures) and a `key.reencrypt.run`
 * audit entry as the admin who asked.
 */
export function startReencryptService(o: {
  db: Database;
  dataDir: string;
  store: ArtifactStore;
  passphrase: string;
  /** Default true (keys.inCatalogue). */
  inCatalogue?: boolean;
  log: Logger;
  intervalMs?: number;
  afterStep?: (step: ReencryptStep) => void;
}): ReencryptService {
  const { db, log } = o;
  let running: Promise<void> | undefined;
  let again = false;
  let stopped = false;
  const pass = async (): Promise<void> => {
    for (const k of await db.keys.reencryptRequests()) {
      if (stopped) return;
      const fp = k.fingerprint;
      // Another node's key, not in the catalogue nor copied here: left to that node.
      const catalogue = o.inCatalogue === false ? undefined : db.keys;
      const held = await loadPrivateKey(join(o.dataDir, 'keys'), fp, o.passphrase, catalogue).then(
        () => true,
        (err: unknown) => !(err instanceof NotFoundError),
      );
      if (!held) continue;
      const by = { actor: k.reencrypt?.requestedBy ?? 'api', via: 'api' as const };
      let error: string | null = null;
      let finished = false;
      try {
        const r = await reencryptKey({
          ...o,
          oldFp: fp,
          by,
          log: (l) => log.debug({ key: fp }, l),
          stopping: () => stopped,
        });
        if (stopped) return;
        // A job that began before the key was retired may have stored files under it since the
        // run listed them: then it is not finished, and the next pass (intervalMs) takes them.
        // Nor while an old ciphertext is still in the store (pending_deletions: the retention pass
        // removes it once its lock ends; the next pass here sees it gone).
        finished =
          r.failed.length === 0 &&
          (await db.keys.filesUnder(fp)).length === 0 &&
          (await db.pendingDeletions.count(fp)) === 0;
        if (r.failed.length)
          error = `${r.failed.length} file(s) failed, e.g. ${r.failed[0]?.recordingId} ${r.failed[0]?.kind}: ${r.failed[0]?.error}`;
        await db.audit.append({
          actor: by.actor,
          actorRole: 'admin',
          ip: '',
          via: 'api',
          action: 'key.reencrypt.run',
          resource: 'key',
          resourceId: fp,
          details: { moved: r.moved, failed: r.failed.length, pending: r.pending.length },
        });
        log.info(
          { key: fp, moved: r.moved, failed: r.failed.length, pending: r.pending.length },
          'key re-encryption pass',
        );
      } catch (err) {
        // Another run holds the lock: it does this key too; nothing to record.
        if (err instanceof ReencryptError && /another re-encryption/.test(err.message)) return;
        error = (err as Error).message;
        log.warn({ err, key: fp }, 'key re-encryption failed');
      }
      await db.keys.reencryptOutcome(fp, { finished, error });
    }
  };
  const run = (): void => {
    if (stopped) return;
    if (running) {
      again = true;
      return;
    }
    running = pass()
      .catch((err: unknown) => log.warn({ err }, 'key re-encryption pass failed'))
      .finally(() => {
        running = undefined;
        if (again) {
          again = false;
          run();
        }
      });
  };
  const timer = setInterval(run, o.intervalMs ?? 600_000);
  timer.unref();
  run();
  return {
    kick: run,
    async stop() {
      stopped = true;
      clearInterval(timer);
      await running;
    },
  };
}
