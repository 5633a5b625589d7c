import { join } from 'node:path';
import { Command, Option } from 'commander';
import type { Config } from '../config.js';
import { NotFoundError } from '../errors.js';
import { generateKeyPair, KeyPassphraseError, loadPrivateKey, type KeyType } from '../pipeline/keys.js';
import { generatedPassphraseFile } from '../app/first-start.js';
import { reencryptKey, ReencryptError } from '../pipeline/reencrypt.js';
import type { Database } from '../store/db.js';
import {
  cliActor,
  cliAudit,
  CliError,
  guarded,
  passphraseFor,
  withDatabase,
  withStore,
  type CliIo,
} from './common.js';

/**
 * `srs keys generate|list|activate|retire`. Exit codes as for `srs recordings`: 0 done, 1 failure
 * (unknown key, refused change, I/O or database error), 2 usage or passphrase problem.
 */

const FP = /^[0-9A-Fa-f]{40}$/;

function checkFingerprint(fp: string): string {
  if (!FP.test(fp))
    throw new CliError(`"${fp}" is not a key fingerprint (40 hex digits, see srs keys list)`, 2);
  return fp.toUpperCase();
}

/**
 * Every key shares the server's passphrase: a new key under another one would make new recordings
 * unplayable in the console (503 "wrong passphrase"). Refused (exit 2) when `passphrase` does not
 * open the active key; passes when there is no active key or no private half of it here.
 */
async function opensActiveKey(config: Config, db: Database, passphrase: string): Promise<void> {
  const active = await db.keys.active();
  if (!active) return;
  try {
    await loadPrivateKey(
      join(config.dataDir, 'keys'),
      active.fingerprint,
      passphrase,
      config.keys.inCatalogue ? db.keys : undefined,
    );
  } catch (err) {
    if (err instanceof KeyPassphraseError)
      throw new CliError(
        `this passphrase does not open the active key ${active.fingerprint}: every key must share the server's passphrase (SRS_KEY_PASSPHRASE, else the generated ${generatedPassphraseFile(config.dataDir)}). Give that one, or add --other-passphrase to change it on purpose`,
        2,
      );
    if (!(err instanceof NotFoundError)) throw err;
  }
}

const audit = (db: Database, action: string, fingerprint: string, details: Record<string, unknown> = {}) =>
  cliAudit(db, { action, resource: 'key', resourceId: fingerprint, details });

export function keysCommand(
  getConfig: () => Config,
  io: CliIo = { stdout: process.stdout, stderr: process.stderr, stdin: process.stdin },
): Command {
  const cmd = new Command('keys').description('manage the OpenPGP keys recordings are encrypted to');
  const passOpt = () =>
    new Option(
      '--passphrase-file <file>',
      'file holding the key passphrase (else SRS_KEY_PASSPHRASE, else the generated <data>/secrets/recording-key-passphrase, else a prompt)',
    );

  cmd
    .command('generate')
    .description('generate a key pair (the private key under the passphrase) and make it the active key')
    .addOption(new Option('--type <type>', 'key type').choices(['rsa4096', 'curve25519']).default('rsa4096'))
    .option('--no-activate', 'keep the current active key')
    .addOption(passOpt())
    .option(
      '--other-passphrase',
      'accept a passphrase that is not the one of the active key and the server (the server must then be given it)',
    )
    .action(
      guarded(
        io,
        async (opts: {
          type: KeyType;
          activate: boolean;
          passphraseFile?: string;
          otherPassphrase?: boolean;
        }) => {
          const config = getConfig();
          const passphrase = await passphraseFor(config, io, opts.passphraseFile);
          if (!passphrase) throw new CliError('the passphrase must not be empty', 2);
          if (!opts.otherPassphrase && config.keys.passphrase && passphrase !== config.keys.passphrase)
            throw new CliError(
              `this passphrase is not the server's (SRS_KEY_PASSPHRASE): a key under it could not be played in the console. Give the server's passphrase, or add --other-passphrase to change it on purpose`,
              2,
            );
          const r = await withDatabase(config, async (db) => {
            if (!opts.otherPassphrase) await opensActiveKey(config, db, passphrase);
            const g = await generateKeyPair({
              keysDir: join(config.dataDir, 'keys'),
              passphrase,
              type: opts.type,
              db,
              activate: opts.activate,
              inCatalogue: config.keys.inCatalogue,
            });
            await audit(db, 'key.generate', g.fingerprint, { type: g.type, active: opts.activate });
            return g;
          });
          io.stdout.write(`${r.fingerprint}\n`);
          io.stderr.write(
            `generated ${r.type} key ${r.fingerprint} in ${(r.ms / 1000).toFixed(1)} s` +
              `${opts.activate ? '; new recordings are encrypted to it' : ' (not active)'}\n`,
          );
        },
      ),
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
              inCatalogue: config.keys.inCatalogue,
              by: { actor: cliActor(), via: 'cli' },
              log: (l) => io.stderr.write(`${l}\n`),
              // Test only: die as kill -9 would at a chosen point, to prove the run resumes.
              afterStep: (step) => {
                if (step === config.pipeline.testCrashAfterStep) process.kill(process.pid, 'SIGKILL');
              },
            }).catch((err: unknown) => {
              if (err instanceof KeyPassphraseError) throw new CliError(err.message, 2);
              if (err instanceof ReencryptError) throw new CliError(err.message, 1);
              throw err;
            }),
          );
          await audit(db, 'key.reencrypt.run', f, {
            moved: r.moved,
            failed: r.failed.length,
            pending: r.pending.length,
          });
          io.stdout.write(
            `re-encrypted ${r.moved} file(s)${r.alreadyDone ? ` (${r.alreadyDone} done by an earlier run)` : ''}` +
              `${r.failed.length ? `, ${r.failed.length} FAILED (fix and run again)` : ''}` +
              `${r.pending.length ? `, ${r.pending.length} old file(s) not yet removed from the store (pending deletion: the retention pass removes them once the store allows; not finished until then)` : ''}\n`,
          );
          if (r.failed.length) process.exitCode = 1;
        });
      }),
    );
  return cmd;
}
