import { createHash } from 'node:crypto';
import { userInfo } from 'node:os';
import { join } from 'node:path';
import { Command, InvalidArgumentError, Option } from 'commander';
import * as openpgp from 'openpgp';
import { writeFileDurable } from '../files.js';
import { readSettingFileText } from '../config/setting-file.js';
import type { Config } from '../config.js';
import { NotFoundError, SrsError } from '../errors.js';
import { createLogger } from '../log.js';
import { KeyPassphraseError, loadPrivateKey } from '../pipeline/keys.js';
import { openDatabase, type Database } from '../store/db.js';
import type { RecordingFile, RecordingRow } from '../store/types.js';
import {
  createArtifactStore,
  InvalidKeyError,
  ObjectNotFoundError,
  StorageError,
  type ArtifactStore,
} from '../storage/index.js';
import { keyOfPath, readError, readObject } from '../storage/read.js';
import { recordingJsonCore } from '../api/resources/recording-detail.js';
import { searchQuery, toSearch } from '../api/resources/recordings.js';
import { parse } from '../api/table.js';
import { ADMIN_TOKEN_PRINCIPAL } from '../store/user-model.js';
import type { RecordingSearch } from '../store/users-access.js';
import { verifyRecordings } from './verify.js';

export { verifyRecordings, type VerifyProblem, type VerifyReport } from './verify.js';

/**
 * `srs recordings list|get`. Errors print one line (`srs: ...`) to stderr, never a stack trace,
 * and set process.exitCode:
 *   0  done
 *   1  failure: unknown recording, no such artifact, integrity mismatch, database or I/O error
 *   2  no usable passphrase: none given and no TTY to ask on, or a wrong one; bad usage
 *   3  `verify` found a missing, changed or substituted file or a broken hash chain
 * The database is opened per command: attached to a running embedded Postgres (the server's),
 * or started for the command and stopped after it. Artifacts are read through the configured
 * artifact store (SRS_STORAGE: the data directory, or the S3 bucket), so any node can run them.
 */

export interface CliIo {
  stdout: NodeJS.WritableStream;
  stderr: NodeJS.WritableStream;
  stdin: NodeJS.ReadStream;
}

export class CliError extends SrsError {
  constructor(
    message: string,
    readonly exitCode: number,
  ) {
    super('ERR_CLI', message);
  }
}

/** A whole-number option: digits only (no sign, exponent or fraction), from `min` to `max`; else exit 2. */
export function wholeNumber(flag: string, value: string, min: number, max: number): number {
  const n = /^[0-9]{1,16}$/.test(value) ? Number(value) : NaN;
  if (!(n >= min && n <= max)) throw new CliError(`${flag} must be a whole number from ${min} to ${max}`, 2);
  return n;
}

interface ListFlags {
  json?: boolean;
  limit: string;
  offset: string;
  text?: string;
  from?: string;
  to?: string;
  state?: string;
  field?: string;
  interaction?: string;
}

/** `list`'s search flags checked like the API's filters (exit 2 naming the flag), or undefined: none. */
function listFilters(o: ListFlags): RecordingSearch | undefined {
  const flags = {
    text: 'q',
    from: 'from',
    to: 'to',
    state: 'state',
    field: 'field',
    interaction: 'interaction',
  };
  const query: Record<string, string> = {};
  for (const [flag, key] of Object.entries(flags)) {
    const v = o[flag as keyof typeof flags];
    if (v !== undefined) query[key] = v;
  }
  if (Object.keys(query).length === 0) return undefined;
  try {
    return toSearch(parse(searchQuery, query));
  } catch (err) {
    // The API's message names its parameter; say the flag instead.
    const message = (err as Error).message.replace(/^q:/, 'text:').replace(/^(\w+):/, '--$1:');
    throw new CliError(message, 2);
  }
}

/** The JSON shape of one recording in `list --json`. */
export function recordingJson(r: RecordingRow) {
  return {
    ...recordingJsonCore(r),
    streams: r.streams.map((s) => ({ ...s })),
    files: r.files.map((f) => ({ ...f })),
    events: (r.events ?? []).map((e) => ({ ...e })),
  };
}

function table(rows: RecordingRow[]): string {
  const head = ['ID', 'STARTED (UTC)', 'DURATION', 'STATE', 'CALL-ID', 'PARTICIPANTS'];
  const body = rows.map((r) => [
    r.id,
    r.startedAt.toISOString().replace('T', ' ').slice(0, 19),
    r.durationMs === null ? '-' : `${(r.durationMs / 1000).toFixed(1)}s`,
    r.state,
    r.callId,
    r.participants.map((p) => p.name || p.aor || p.participantId || '?').join(', ') || '-',
  ]);
  const widths = head.map((h, i) => Math.max(h.length, ...body.map((b) => (b[i] ?? '').length)));
  const line = (cells: string[]) =>
    cells
      .map((c, i) => (i === cells.length - 1 ? c : c.padEnd(widths[i] ?? 0)))
      .join('  ')
      .trimEnd();
  return [line(head), ...body.map(line)].join('\n') + '\n';
}

/** Reads a line from the terminal without echoing it. */
function promptHidden(io: CliIo, question: string): Promise<string> {
  const stdin = io.stdin;
  return new Promise((resolve, reject) => {
    let value = '';
    const done = (err?: Error) => {
      stdin.setRawMode(false);
      stdin.pause();
      stdin.removeListener('data', onData);
      io.stderr.write('\n');
      if (err) reject(err);
      else resolve(value);
    };
    const onData = (chunk: Buffer | string) => {
      for (const ch of chunk.toString('utf8')) {
        if (ch === '\r' || ch === '\n' || ch === '\u0004') return done();
        if (ch === '\u0003') return done(new CliError('cancelled', 2));
        if (ch === '\u007f' || ch === '\b') value = value.slice(0, -1);
        else value += ch;
      }
    };
    io.stderr.write(question);
    stdin.setRawMode(true);
    stdin.resume();
    stdin.on('data', onData);
  });
}

export async function passphraseFor(config: Config, io: CliIo, file: string | undefined): Promise<string> {
  if (file) {
    let text: string;
    try {
      text = await readSettingFileText(file);
    } catch (err) {
      throw new CliError(`cannot read passphrase file ${file}: ${(err as Error).message}`, 2);
    }
    return text.replace(/\r?\n$/, '');
  }
  if (config.keys.passphrase) return config.keys.passphrase;
  if (io.stdin.isTTY) return promptHidden(io, 'Passphrase for the recording key: ');
  throw new CliError(
    'a passphrase is needed: use --passphrase-file, set SRS_KEY_PASSPHRASE, or run on a terminal',
    2,
  );
}

export async function withDatabase<T>(config: Config, fn: (db: Database) => Promise<T>): Promise<T> {
  // Logs would mix with the command's output on stdout: the CLI reports through its errors instead.
  const db = await openDatabase({
    databaseUrl: config.databaseUrl,
    dataDir: config.dataDir,
    log: createLogger('silent'),
  });
  try {
    return await fn(db);
  } finally {
    await db.close();
  }
}

/** Who the CLI acts as in the audit trail: `cli:<unix user>`. */
export const cliActor = (): string => `cli:${userInfo().username}`;

/** An audit entry by the CLI (actor cliActor()), as the API records a console user. */
export async function cliAudit(
  db: Database,
  e: { action: string; resource: string; resourceId: string; details?: Record<string, unknown> },
): Promise<void> {
  await db.audit.append({
    actor: cliActor(),
    actorRole: 'admin',
    ip: '',
    via: 'cli',
    details: {},
    ...e,
  });
}

const sha256 = (b: Uint8Array) => createHash('sha256').update(b).digest('hex');

/** The configured artifact store, for one command. */
export async function withStore<T>(config: Config, fn: (store: ArtifactStore) => Promise<T>): Promise<T> {
  const store = createArtifactStore(config.storage, config.dataDir);
  try {
    return await fn(store);
  } finally {
    await store.close();
  }
}

/** A store error in one line. */
function storeMessage(err: unknown): string {
  const e = readError(err, '');
  if (e instanceof ObjectNotFoundError || e instanceof InvalidKeyError) return 'not in the store';
  if (e instanceof StorageError && e.retryable) return `the store is unavailable (${e.message})`;
  return e instanceof Error ? e.message : String(e);
}

async function getArtifact(
  config: Config,
  io: CliIo,
  id: string,
  opts: { format: RecordingFile['kind']; out: string; passphraseFile?: string },
): Promise<void> {
  const { rec, file, sharedKey } = await withDatabase(config, async (db) => {
    const r = await db.recordings.get(id);
    if (!r) throw new NotFoundError(`recording ${id} not found`);
    const f = r.files.find((x) => x.kind === opts.format);
    // A key generated on another node of a cluster: its locked copy in the catalogue.
    const shared =
      f?.keyFingerprint && config.keys.inCatalogue ? await db.keys.privateKey(f.keyFingerprint) : undefined;
    return { rec: r, file: f, sharedKey: shared };
  });
  if (!file) {
    const have = rec.files.map((f) => f.kind).join(', ') || 'none';
    throw new NotFoundError(
      `recording ${id} has no ${opts.format} artifact (state: ${rec.state}; artifacts: ${have})`,
    );
  }
  const cipher = await withStore(config, async (store) => {
    try {
      const o = await readObject(store, keyOfPath(store, file.path));
      if (o.sha256 !== file.sha256Cipher)
        throw new CliError(
          `${file.path} does not match the catalogue's SHA-256: the file was altered or damaged`,
          1,
        );
      return o.data;
    } catch (err) {
      if (err instanceof CliError) throw err;
      throw new CliError(`cannot read ${file.path} from ${store.location}: ${storeMessage(err)}`, 1);
    }
  });
  const passphrase = await passphraseFor(config, io, opts.passphraseFile);
  let key: openpgp.PrivateKey;
  try {
    key = await loadPrivateKey(join(config.dataDir, 'keys'), file.keyFingerprint, passphrase, {
      privateKey: () => Promise.resolve(sharedKey),
    });
  } catch (err) {
    if (err instanceof KeyPassphraseError) throw new CliError(err.message, 2);
    throw err;
  }
  const message = await openpgp.readMessage({ binaryMessage: cipher });
  const { data } = await openpgp.decrypt({ message, decryptionKeys: key, format: 'binary' });
  const plain = data as Uint8Array;
  if (sha256(plain) !== file.sha256Plain) {
    throw new CliError(`decrypted ${opts.format} does not match the catalogue's SHA-256`, 1);
  }
  if (opts.out === '-') {
    io.stdout.write(plain);
    return;
  }
  await writeFileDurable(opts.out, plain, {
    mode: 0o600,
    exactMode: true,
    tmp: `${opts.out}.${process.pid}.part`,
  });
  io.stderr.write(`wrote ${opts.out} (${plain.length} bytes, sha256 ${file.sha256Plain})\n`);
}

/** `--format`: mp3, wav, stereo or leg<N>. */
function formatArg(v: string): RecordingFile['kind'] {
  if (v === 'mp3' || v === 'wav' || v === 'stereo' || /^leg[0-9]+$/.test(v))
    return v as RecordingFile['kind'];
  throw new InvalidArgumentError('use mp3, wav, stereo or leg<N> (e.g. leg0)');
}

/** Runs an action; any error becomes one line on stderr and an exit code. */
export function guarded<A extends unknown[]>(io: CliIo, fn: (...args: A) => Promise<void>) {
  return async (...args: A) => {
    try {
      await fn(...args);
    } catch (err) {
      // A bad configuration is a usage error, as for `srs serve` (exit 2).
      const code =
        err instanceof CliError ? err.exitCode : err instanceof SrsError && err.code === 'ERR_CONFIG' ? 2 : 1;
      const msg = err instanceof Error ? err.message : String(err);
      io.stderr.write(`srs: ${msg.split('\n')[0]}\n`);
      process.exitCode = code;
    }
  };
}

export function recordingsCommand(
  getConfig: () => Config,
  io: CliIo = { stdout: process.stdout, stderr: process.stderr, stdin: process.stdin },
): Command {
  const cmd = new Command('recordings').description('list recordings and export their audio');

  cmd
    .command('list')
    .description('list recordings, newest first')
    .option('--json', 'print a JSON array')
    .option('--limit <n>', 'at most this many (1 to 1000000)', '50')
    .option('--offset <n>', 'skip this many', '0')
    .option('--text <text>', 'any text: a number or name, a note, a custom field value, or the exact Call-ID')
    .option('--from <time>', 'started at or after (ISO 8601)')
    .option('--to <time>', 'started before (ISO 8601)')
    .option('--state <state>', 'recording, processing, stored, failed or purged')
    .option('--field <name:value>', 'a custom field value (a text field: substring; date, option: exact)')
    .option('--interaction <id>', 'the recordings of one interaction')
    .action(
      guarded(io, async (opts: ListFlags) => {
        const limit = wholeNumber('--limit', opts.limit, 1, 1_000_000);
        const offset = wholeNumber('--offset', opts.offset, 0, 1_000_000_000);
        const filters = listFilters(opts);
        const config = getConfig();
        const rows = await withDatabase(config, async (db) => {
          if (!filters) return db.recordings.list({ limit, offset });
          // The API's search (as an admin: every recording), then each row as the plain list has it.
          const found = await db.access.search(ADMIN_TOKEN_PRINCIPAL, { ...filters, limit, offset });
          const got = await Promise.all(found.items.map((i) => db.recordings.get(i.id)));
          return got.filter((r): r is RecordingRow => r !== undefined);
        });
        io.stdout.write(opts.json ? JSON.stringify(rows.map(recordingJson), null, 2) + '\n' : table(rows));
      }),
    );

  cmd
    .command('get')
    .description('decrypt a recording artifact to a file')
    .argument('<id>', 'recording id')
    .addOption(
      new Option(
        '--format <format>',
        'which artifact: mp3, wav (mono mix), stereo (one party per channel), leg0, leg1... (one stream); stereo and legN when SRS_OUTPUTS made them',
      )
        .argParser(formatArg)
        .default('mp3'),
    )
    .requiredOption('--out <file>', "where to write the plaintext ('-' for stdout)")
    .option(
      '--passphrase-file <file>',
      'file holding the key passphrase (else SRS_KEY_PASSPHRASE, else a prompt)',
    )
    .action(
      guarded(
        io,
        async (id: string, opts: { format: RecordingFile['kind']; out: string; passphraseFile?: string }) => {
          await getArtifact(getConfig(), io, id, opts);
        },
      ),
    );

  cmd
    .command('verify')
    .description("check stored files against their catalogued SHA-256 and each day's hash chain")
    .argument('[id]', "one recording (its files, and its day's chain)")
    .option('--all', "every stored recording and every day's chain")
    .option('--json', 'print the report as JSON')
    .action(
      guarded(io, async (id: string | undefined, opts: { all?: boolean; json?: boolean }) => {
        if (!id && !opts.all) throw new CliError('give a recording id or --all', 2);
        if (id && opts.all) throw new CliError('give a recording id or --all, not both', 2);
        const config = getConfig();
        const report = await withDatabase(config, (db) =>
          withStore(config, (store) => verifyRecordings(db, store, id)),
        );
        if (opts.json) io.stdout.write(JSON.stringify(report, null, 2) + '\n');
        else {
          for (const p of report.problems)
            io.stdout.write(`${p.code.padEnd(12)} ${p.recordingId ?? '-'}  ${p.detail}\n`);
          io.stdout.write(
            `verified ${report.recordings} recording(s), ${report.files} file(s), ${report.chainDays} day(s) of chain ` +
              `(${report.chainEntries} entries): ${report.problems.length ? `${report.problems.length} PROBLEM(S)` : 'all good'}\n`,
          );
        }
        if (report.problems.length) process.exitCode = 3;
      }),
    );

  return cmd;
}
