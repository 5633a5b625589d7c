import { createHash } from 'node:crypto';
import { basename, dirname, join } from 'node:path';
import { Command, Option } from 'commander';
import * as openpgp from 'openpgp';
import type { Config } from '../config.js';
import { NotFoundError } from '../errors.js';
import { encryptToBuffer } from '../pipeline/pgp.js';
import { generateKeyPair, KeyPassphraseError, loadPrivateKey, type KeyType } from '../pipeline/keys.js';
import { LocalArtifactStore, type ArtifactStore } from '../storage/index.js';
import { keyOfPath, readObject } from '../storage/read.js';
import type { Database } from '../store/db.js';
import type { ReencryptTarget } from '../store/keys.js';
import {
  cliActor,
  cliAudit,
  CliError,
  guarded,
  passphraseFor,
  withDatabase,
  withStore,
  type CliIo,
} from './recordings.js';

/**
 * `srs keys generate|list|activate|retire`. Exit codes as for `srs recordings`: 0 done, 1 failure
 * (unknown key, refused change, I/O or database error), 2 usage or passphrase problem.
 */

const sha256 = (b: Uint8Array) => createHash('sha256').update(b).digest('hex');
const FP = /^[0-9A-Fa-f]{40}$/;

function checkFingerprint(fp: string): string {
  if (!FP.test(fp))
    throw new CliError(`"${fp}" is not a key fingerprint (40 hex digits, see srs keys list)`, 2);
  return fp.toUpperCase();
}

const audit = (db: Database, action: string, fingerprint: string, details: Record<string, unknown> = {}) =>
  cliAudit(db, { action, resource: 'key', resourceId: fingerprint, details });

export interface ReencryptReport {
  moved: number;
  alreadyDone: number;
  failed: { recordingId: string; kind: string; error: string }[];
}

/**
 * Moves every stored artifact encrypted to `oldFp` to the active key. Per artifact: check the old
 * ciphertext's hash, decrypt, check the plaintext hash, encrypt to the new key under a new name,
 * read it back and check its hash (and decrypt it when the new private key opens with the same
 * passphrase), then switch the catalogue row + progress + audit in one transaction, and only then
 * remove the old ciphertext. Interrupted at any point, running it again finishes the job. The
 * files are read and written through the artifact store (default: the data directory's).
 */
export async function reencryptKey(o: {
  db: Database;
  dataDir: string;
  store?: ArtifactStore;
  oldFp: string;
  passphrase: string;
  log?: (line: string) => void;
  /** Test hook (SRS_TEST_CRASH_AFTER_STEP): called after the new file is written and after the commit. */
  afterStep?: (step: 'reencrypt-written' | 'reencrypt-committed') => void;
}): Promise<ReencryptReport> {
  const { db, dataDir, oldFp } = o;
  const keysDir = join(dataDir, 'keys');
  const active = await db.keys.active();
  if (!active?.publicKey) throw new CliError('there is no active key with a public key to re-encrypt to', 1);
  if (active.fingerprint === oldFp) throw new CliError('the key to retire is the active key', 1);
  const store = o.store ?? new LocalArtifactStore(dataDir);
  const key = (p: string) => keyOfPath(store, p);
  const remove = (p: string) =>
    Promise.resolve()
      .then(() => store.delete(key(p)))
      .catch(() => undefined);
  const report: ReencryptReport = { moved: 0, alreadyDone: 0, failed: [] };

  // Finish what an interrupted run committed but did not clean up.
  for (const r of await db.keys.reencryptions(oldFp)) {
    if (r.state !== 'done') continue;
    report.alreadyDone++;
    if (r.oldPath !== r.newPath) await remove(r.oldPath);
  }
  const targets = await db.keys.filesUnder(oldFp);
  if (targets.length === 0) return report;

  let oldKey: openpgp.PrivateKey;
  try {
    oldKey = await loadPrivateKey(keysDir, oldFp, o.passphrase);
  } catch (err) {
    if (err instanceof KeyPassphraseError) throw new CliError(err.message, 2);
    throw err;
  }
  const newPublic = await openpgp.readKey({ armoredKey: active.publicKey });
  const newPrivate = await loadPrivateKey(keysDir, active.fingerprint, o.passphrase).catch(() => undefined);

  const one = async (t: ReencryptTarget) => {
    const base = basename(t.path).replace(/(\.[0-9A-F]{16})?\.gpg$/, '');
    const newPath = join(dirname(t.path), `${base}.${active.fingerprint.slice(-16)}.gpg`);
    await db.keys.beginReencrypt(t, active.fingerprint, newPath);
    const { data: cipher, sha256: cipherHash } = await readObject(store, key(t.path));
    if (cipherHash !== t.sha256Cipher)
      throw new Error(`${t.path} does not match its catalogued SHA-256 (run srs recordings verify)`);
    const message = await openpgp.readMessage({ binaryMessage: cipher });
    const { data } = await openpgp.decrypt({ message, decryptionKeys: oldKey, format: 'binary' });
    const plain = data as Uint8Array;
    if (sha256(plain) !== t.sha256Plain)
      throw new Error(`decrypted ${t.kind} does not match its plaintext SHA-256`);
    // The pipeline's own writer, so a re-encrypted file is the same kind of message as a new one.
    const plainBuf = Buffer.from(plain.buffer, plain.byteOffset, plain.byteLength);
    const { cipher: out, sha256Cipher: newHash } = await encryptToBuffer(
      plainBuf,
      newPublic,
      basename(t.path, '.gpg'),
    );
    plainBuf.fill(0);
    // An interrupted run may have left another encryption under the new name: replaced.
    await store.put(key(newPath), out, { sha256: newHash, size: out.length, overwrite: true });
    // Verify what is stored before anything old is let go.
    const { data: back, sha256: backHash } = await readObject(store, key(newPath));
    if (backHash !== newHash) throw new Error(`${newPath} read back with a different SHA-256`);
    if (newPrivate) {
      const m2 = await openpgp.readMessage({ binaryMessage: back });
      const d2 = await openpgp.decrypt({ message: m2, decryptionKeys: newPrivate, format: 'binary' });
      if (sha256(d2.data as Uint8Array) !== t.sha256Plain)
        throw new Error(`${newPath} does not decrypt to the recording's plaintext`);
    }
    o.afterStep?.('reencrypt-written');
    await db.keys.completeReencrypt(
      t,
      { newKey: active.fingerprint, newPath, bytes: out.length, sha256Cipher: newHash },
      cliActor(),
    );
    o.afterStep?.('reencrypt-committed');
    if (newPath !== t.path) await remove(t.path);
    report.moved++;
    o.log?.(`re-encrypted ${t.recordingId} ${t.kind} -> ${newPath}`);
  };
  for (const t of targets) {
    try {
      await one(t);
    } catch (err) {
      report.failed.push({ recordingId: t.recordingId, kind: t.kind, error: (err as Error).message });
      o.log?.(`FAILED ${t.recordingId} ${t.kind}: ${(err as Error).message}`);
    }
  }
  return report;
}

export function keysCommand(
  getConfig: () => Config,
  io: CliIo = { stdout: process.stdout, stderr: process.stderr, stdin: process.stdin },
): Command {
  const cmd = new Command('keys').description('manage the OpenPGP keys recordings are encrypted to');
  const passOpt = () =>
    new Option(
      '--passphrase-file <file>',
      'file holding the key passphrase (else SRS_KEY_PASSPHRASE, else a prompt)',
    );

  cmd
    .command('generate')
    .description('generate a key pair (the private key under the passphrase) and make it the active key')
    .addOption(new Option('--type <type>', 'key type').choices(['rsa4096', 'curve25519']).default('rsa4096'))
    .option('--no-activate', 'keep the current active key')
    .addOption(passOpt())
    .action(
      guarded(io, async (opts: { type: KeyType; activate: boolean; passphraseFile?: string }) => {
        const config = getConfig();
        const passphrase = await passphraseFor(config, io, opts.passphraseFile);
        if (!passphrase) throw new CliError('the passphrase must not be empty', 2);
        const r = await withDatabase(config, async (db) => {
          const g = await generateKeyPair({
            keysDir: join(config.dataDir, 'keys'),
            passphrase,
            type: opts.type,
            db,
            activate: opts.activate,
          });
          await audit(db, 'key.generate', g.fingerprint, { type: g.type, active: opts.activate });
          return g;
        });
        io.stdout.write(`${r.fingerprint}\n`);
        io.stderr.write(
          `generated ${r.type} key ${r.fingerprint} in ${(r.ms / 1000).toFixed(1)} s` +
            `${opts.activate ? '; new recordings are encrypted to it' : ' (not active)'}\n`,
        );
      }),
    );

  cmd
    .command('list')
    .description('list keys, newest first')
    .option('--json', 'print JSON')
    .action(
      guarded(io, async (opts: { json?: boolean }) => {
        const keys = await withDatabase(getConfig(), (db) => db.keys.list());
        if (opts.json) {
          const out = keys.map(({ publicKey: _p, ...k }) => ({
            ...k,
            createdAt: k.createdAt.toISOString(),
            retiredAt: k.retiredAt ? k.retiredAt.toISOString() : null,
          }));
          io.stdout.write(JSON.stringify(out, null, 2) + '\n');
          return;
        }
        io.stdout.write(
          'FINGERPRINT                               TYPE        STATE    FILES  CREATED (UTC)\n',
        );
        for (const k of keys) {
          const state = k.active ? 'active' : k.retiredAt ? 'retired' : 'inactive';
          io.stdout.write(
            `${k.fingerprint.padEnd(42)}${k.algorithm.padEnd(12)}${state.padEnd(9)}${String(k.files ?? 0).padStart(5)}  ` +
              `${k.createdAt.toISOString().replace('T', ' ').slice(0, 19)}\n`,
          );
        }
      }),
    );

  cmd
    .command('activate')
    .description('encrypt new recordings to this key (every server picks it up with its next job)')
    .argument('<fingerprint>')
    .action(
      guarded(io, async (fp: string) => {
        const f = checkFingerprint(fp);
        await withDatabase(getConfig(), async (db) => {
          await db.keys.activate(f);
          await audit(db, 'key.activate', f);
        });
        io.stderr.write(`key ${f} is now the active key\n`);
      }),
    );

  cmd
    .command('retire')
    .description('retire a key (never used again); --reencrypt moves its recordings to the active key')
    .argument('<fingerprint>')
    .option('--reencrypt', 'decrypt every recording under this key and re-encrypt it to the active key')
    .addOption(passOpt())
    .action(
      guarded(io, async (fp: string, opts: { reencrypt?: boolean; passphraseFile?: string }) => {
        const f = checkFingerprint(fp);
        const config = getConfig();
        await withDatabase(config, async (db) => {
          const key = await db.keys.get(f);
          if (!key) throw new NotFoundError(`no key ${f} in the catalogue`);
          if (await db.keys.retire(f))
            await audit(db, 'key.retire', f, { reencrypt: Boolean(opts.reencrypt) });
          io.stderr.write(`key ${f} is retired\n`);
          if (!opts.reencrypt) {
            const left = (await db.keys.filesUnder(f)).length;
            if (left) io.stderr.write(`${left} file(s) are still encrypted to it (use --reencrypt)\n`);
            return;
          }
          const passphrase = await passphraseFor(config, io, opts.passphraseFile);
          const r = await withStore(config, (store) =>
            reencryptKey({
              db,
              dataDir: config.dataDir,
              store,
              oldFp: f,
              passphrase,
              log: (l) => io.stderr.write(`${l}\n`),
              // Test only: die as kill -9 would at a chosen point, to prove the run resumes.
              afterStep: (step) => {
                if (step === config.pipeline.testCrashAfterStep) process.kill(process.pid, 'SIGKILL');
              },
            }),
          );
          await audit(db, 'key.reencrypt.run', f, { moved: r.moved, failed: r.failed.length });
          io.stdout.write(
            `re-encrypted ${r.moved} file(s)${r.alreadyDone ? ` (${r.alreadyDone} done by an earlier run)` : ''}` +
              `${r.failed.length ? `, ${r.failed.length} FAILED (fix and run again)` : ''}\n`,
          );
          if (r.failed.length) process.exitCode = 1;
        });
      }),
    );
  return cmd;
}
