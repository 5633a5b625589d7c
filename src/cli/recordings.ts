import { join, resolve } from 'node:path';
import { Command, InvalidArgumentError, Option } from 'commander';
import type * as openpgp from 'openpgp';
import { writeFileDurable } from '../files.js';
import type { Config } from '../config.js';
import { NotFoundError, QueryTimeoutError } from '../errors.js';
import { KeyPassphraseError, loadPrivateKey } from '../pipeline/keys.js';
import { CiphertextHashError, decryptArtifact, PgpDecryptError } from '../pgp-decrypt.js';
import type { RecordingFile, RecordingRow } from '../store/types.js';
import { InvalidKeyError, ObjectNotFoundError, StorageError } from '../storage/index.js';
import { keyOfPath, readError } from '../storage/read.js';
import { recordingJsonCore } from '../api/resources/recording-detail.js';
import { searchQuery, toSearch } from '../api/resources/recordings.js';
import { parse } from '../api/table.js';
import { ADMIN_TOKEN_PRINCIPAL } from '../store/user-model.js';
import type { RecordingSearch } from '../store/users-access.js';
import { verifyRecordings } from './verify.js';
import {
  cliAudit,
  CliError,
  guarded,
  passphraseFor,
  seconds,
  wholeNumber,
  withDatabase,
  withStore,
  type CliIo,
} from './common.js';

export { verifyRecordings, type VerifyProblem, type VerifyReport } from './verify.js';

/**
 * `srs recordings list|get`. Errors print one line (`srs: ...`) to stderr, never a stack trace,
 * and set process.exitCode:
 *   0  done
 *   1  failure: unknown recording, no such artifact, integrity mismatch, database or I/O error
 *   2  no usable passphrase: none given and no TTY to ask on, or a wrong one; bad usage
 *   3  `verify` found a missing, changed or substituted file or a broken hash chain; `list`
 *      (a search or the plain list) ran past its time limit (--timeout, else SRS_SEARCH_TIMEOUT_MS)
 * The database is opened per command: attached to a running embedded Postgres (the server's),
 * or started for the command and stopped after it. Artifacts are read through the configured
 * artifact store (SRS_STORAGE: the data directory, or the S3 bucket), so any node can run them.
 */

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
  timeout?: string;
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

/** A store error in one line. */
function storeMessage(err: unknown): string {
  const e = readError(err, '');
  if (e instanceof ObjectNotFoundError || e instanceof InvalidKeyError) return 'not in the store';
  if (e instanceof StorageError && e.retryable) return `the store is unavailable (${e.message})`;
  return e instanceof Error ? e.message : String(e);
}

/**
 * `srs recordings get`: the artifact decrypted, checked against the catalogue, audited
 * (`download` by `cli:<unix user>`, with the format and where it went) and only then written: no
 * entry, no audio (docs/access-security.md#permissions-on-audio).
 */
async function getArtifact(
  config: Config,
  io: CliIo,
  id: string,
  opts: { format: RecordingFile['kind']; out: string; passphraseFile?: string },
): Promise<void> {
  await withDatabase(config, async (db) => {
    const rec = await db.recordings.get(id);
    if (!rec) throw new NotFoundError(`recording ${id} not found`);
    const file = rec.files.find((x) => x.kind === opts.format);
    if (!file) {
      const have = rec.files.map((f) => f.kind).join(', ') || 'none';
      throw new NotFoundError(
        `recording ${id} has no ${opts.format} artifact (state: ${rec.state}; artifacts: ${have})`,
      );
    }
    // A key generated on another node of a cluster: its locked copy in the catalogue.
    const sharedKey = config.keys.inCatalogue ? await db.keys.privateKey(file.keyFingerprint) : undefined;
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
    // Decrypted as it streams from the store, into one buffer (src/pgp-decrypt.ts).
    const plain = await withStore(config, async (store) => {
      try {
        const r = await decryptArtifact(await store.get(keyOfPath(store, file.path)), key, {
          sha256Cipher: file.sha256Cipher,
        });
        if (r.sha256Plain === file.sha256Plain) return r.plain;
        r.plain.fill(0);
        return null;
      } catch (err) {
        if (err instanceof CiphertextHashError)
          throw new CliError(
            `${file.path} does not match the catalogue's SHA-256: the file was altered or damaged`,
            1,
          );
        if (err instanceof PgpDecryptError)
          throw new CliError(`cannot decrypt ${file.path}: ${err.message}`, 1);
        throw new CliError(`cannot read ${file.path} from ${store.location}: ${storeMessage(err)}`, 1);
      }
    });
    if (!plain) {
      throw new CliError(`decrypted ${opts.format} does not match the catalogue's SHA-256`, 1);
    }
    const to = opts.out === '-' ? 'stdout' : resolve(opts.out);
    await cliAudit(db, {
      action: 'download',
      resource: 'recording',
      resourceId: id,
      details: { purpose: 'download', format: opts.format, out: to },
    });
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
  });
}

/** `--format`: mp3, wav, stereo or leg<N>. */
function formatArg(v: string): RecordingFile['kind'] {
  if (v === 'mp3' || v === 'wav' || v === 'stereo' || /^leg[0-9]+$/.test(v))
    return v as RecordingFile['kind'];
  throw new InvalidArgumentError('use mp3, wav, stereo or leg<N> (e.g. leg0)');
}

export function recordingsCommand(
  getConfig: () => Config,
  io: CliIo = { stdout: process.stdout, stderr: process.stderr, stdin: process.stdin },
): Command {
  const cmd = new Command('recordings').description('list recordings and export their audio');

  /** The most one search returns (src/store/users-access.ts); longer lists are read page by page. */
  const SEARCH_PAGE = 1000;
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
    .option(
      '--timeout <seconds>',
      "time limit of each query (the search's, or the plain list's), 0.1 to 3600 (default: SRS_SEARCH_TIMEOUT_MS's, 30); exit 3 when it runs out",
    )
    .action(
      guarded(io, async (opts: ListFlags) => {
        const limit = wholeNumber('--limit', opts.limit, 1, 1_000_000);
        const offset = wholeNumber('--offset', opts.offset, 0, 1_000_000_000);
        // The same range as SRS_SEARCH_TIMEOUT_MS (100-3600000 ms).
        const timeoutMs =
          opts.timeout === undefined ? undefined : seconds('--timeout', opts.timeout, 0.1, 3600);
        const filters = listFilters(opts);
        const config = getConfig();
        const searchTimeoutMs = timeoutMs ?? config.limits.searchTimeoutMs;
        const rows = await withDatabase(
          config,
          async (db) => {
            if (!filters) return db.recordings.list({ limit, offset });
            // The API's search (as an admin: every recording), a page of at most SEARCH_PAGE at a time,
            // then each row as the plain list has it.
            const out: RecordingRow[] = [];
            for (let at = offset; out.length < limit;) {
              const page = Math.min(SEARCH_PAGE, limit - out.length);
              const found = await db.access.search(ADMIN_TOKEN_PRINCIPAL, {
                ...filters,
                limit: page,
                offset: at,
              });
              const got = await Promise.all(found.items.map((i) => db.recordings.get(i.id)));
              out.push(...got.filter((r): r is RecordingRow => r !== undefined));
              if (found.items.length < page) break;
              at += page;
            }
            return out;
          },
          { searchTimeoutMs },
        ).catch((err: unknown) => {
          // Stopped by its time limit (the search or the plain list): too broad (or the table is
          // busy), not a database fault.
          if (!(err instanceof QueryTimeoutError)) throw err;
          throw new CliError(
            `the search took longer than ${searchTimeoutMs / 1000} s (${timeoutMs === undefined ? 'SRS_SEARCH_TIMEOUT_MS' : '--timeout'}) and was stopped: ` +
              'narrow it (a shorter --from/--to range, fewer or plainer --text and --field filters) or raise --timeout',
            3,
          );
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
