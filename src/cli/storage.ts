import { join } from 'node:path';
import { Command } from 'commander';
import type { Config } from '../config.js';
import { objectLockFor } from '../pipeline/retention.js';
import { artifactMetadata } from '../pipeline/store-step.js';
import {
  ChecksumMismatchError,
  LocalArtifactStore,
  S3ArtifactStore,
  sha256Of,
  StorageError,
  type ArtifactStore,
} from '../storage/index.js';
import type { Database } from '../store/db.js';
import type { CatalogueFile } from '../store/chain.js';
import type { RecordingFile } from '../store/types.js';
import { CliError, cliAudit, guarded, tlsPolicy, withDatabase, type CliIo } from './common.js';

/**
 * `srs storage migrate`: moves a node's local artifacts (`<dataDir>/recordings/...`) to the
 * configured object store. For every file of every stored recording in the catalogue:
 *   - already in the store with the catalogue's SHA-256 and size: skipped (its local copy, if
 *     any, is removed once the object is read back and verified);
 *   - else uploaded from the local file with the catalogue's SHA-256 (the store refuses other
 *     bytes), the same metadata and Object Lock as the pipeline's uploads, read back and hashed,
 *     and only then is the local file wiped (kept with --keep-local).
 * The catalogue does not change (its paths are the store's keys). Safe to interrupt and run again:
 * a re-run skips what is already there and verified. Audited: the run (before anything moves: no
 * entry, no run), each file copied (before its upload: no entry, that file stays), and the
 * outcome. Exit codes: 0 every file is in the store (or
 * would be, with --dry-run); 1 some file could not be moved (listed; the others are done), or the
 * store or the database failed; 2 bad usage (the store is not s3).
 */

export type MigrateOutcome = 'copied' | 'already-there' | 'would-copy' | 'would-remove-local' | 'failed';

export interface MigrateReport {
  files: number;
  copied: number;
  alreadyThere: number;
  /** Local copies removed after their object was verified. */
  localRemoved: number;
  /** --dry-run: files that would be copied. */
  wouldCopy: number;
  failed: { path: string; recordingId: string; reason: string }[];
  bytesCopied: number;
}

export interface MigrateOptions {
  db: Database;
  config: Config;
  remote: ArtifactStore;
  dryRun?: boolean;
  keepLocal?: boolean;
  /** One line per file and a summary. */
  progress?: (line: string) => void;
}

export async function migrateArtifacts(o: MigrateOptions): Promise<MigrateReport> {
  const local = new LocalArtifactStore(o.config.dataDir);
  const storage = o.config.storage;
  const lock = storage.backend === 's3' ? storage.objectLock : undefined;
  const report: MigrateReport = {
    files: 0,
    copied: 0,
    alreadyThere: 0,
    localRemoved: 0,
    wouldCopy: 0,
    failed: [],
    bytesCopied: 0,
  };
  const total = await o.db.chain.storedFileCount();
  const say = o.progress ?? (() => undefined);
  const to = o.remote.location;
  if (!o.dryRun)
    await cliAudit(o.db, {
      action: 'storage.migrate',
      resource: 'storage',
      resourceId: to,
      details: { files: total, keepLocal: Boolean(o.keepLocal) },
    });

  /** Reads the object back; true when it is the catalogue's bytes. */
  const verified = async (f: CatalogueFile): Promise<boolean> => {
    const back = await sha256Of(o.remote, f.path);
    return back.sha256 === f.sha256Cipher && back.size === f.bytes;
  };
  const removeLocal = async (f: CatalogueFile): Promise<string> => {
    if (o.keepLocal) return 'local copy kept';
    await local.delete(f.path);
    report.localRemoved++;
    return 'local copy removed';
  };
  const retentionOf = async (recordingId: string) => {
    if (!lock) return {};
    const rec = await o.db.recordings.get(recordingId);
    const groups =
      Object.keys(o.config.retention.groups).length > 0 ? await o.db.retention.groupsOf(recordingId) : [];
    const r = objectLockFor(lock, o.config.retention, rec?.startedAt ?? new Date(), groups);
    return { retention: { mode: r.mode, until: r.until } };
  };

  const one = async (f: CatalogueFile): Promise<[MigrateOutcome, string]> => {
    const there = await o.remote.head(f.path);
    const hasLocal = await local.exists(f.path);
    if (there) {
      // An object put by other means has no SHA-256 in its metadata: then its content decides.
      const same =
        there.size === f.bytes &&
        (there.sha256 === f.sha256Cipher || (there.sha256 === undefined && (await verified(f))));
      if (!same)
        return [
          'failed',
          `the store holds other content under this key (sha256 ${there.sha256 ?? 'unknown'}, ${there.size} bytes): left alone, local file kept`,
        ];
      report.alreadyThere++;
      if (!hasLocal || o.keepLocal) return ['already-there', 'already in the store'];
      if (o.dryRun) return ['would-remove-local', 'already in the store; the local copy would be removed'];
      if (!(await verified(f)))
        return [
          'failed',
          'in the store, but its content read back differs from the catalogue: local file kept',
        ];
      return ['already-there', `already in the store, verified; ${await removeLocal(f)}`];
    }
    if (!hasLocal) return ['failed', 'missing: neither in the data directory nor in the store'];
    if (o.dryRun) {
      report.wouldCopy++;
      return ['would-copy', `would copy (${f.bytes} bytes)`];
    }
    const file: RecordingFile = { ...f, kind: f.kind as RecordingFile['kind'] };
    // The recording's ciphertext leaves the data directory for the store: on the trail first.
    await cliAudit(o.db, {
      action: 'artifact.copy',
      resource: 'recording',
      resourceId: f.recordingId,
      details: { kind: f.kind, path: f.path, to, removeLocal: !o.keepLocal },
    });
    try {
      await o.remote.put(
        f.path,
        { path: join(o.config.dataDir, f.path) },
        {
          sha256: f.sha256Cipher,
          size: f.bytes,
          metadata: artifactMetadata(f.recordingId, file),
          ...(await retentionOf(f.recordingId)),
        },
      );
    } catch (err) {
      if (err instanceof ChecksumMismatchError)
        return ['failed', `the local file does not match the catalogue (${err.message}): not copied, kept`];
      throw err;
    }
    if (!(await verified(f)))
      return ['failed', 'uploaded, but its content read back differs from the catalogue: local file kept'];
    report.copied++;
    report.bytesCopied += f.bytes;
    return ['copied', `copied, verified; ${await removeLocal(f)}`];
  };

  let after: string | undefined;
  for (;;) {
    const page = await o.db.chain.files(undefined, after, 200);
    if (page.length === 0) break;
    for (const f of page) {
      report.files++;
      let outcome: MigrateOutcome;
      let detail: string;
      try {
        [outcome, detail] = await one(f);
      } catch (err) {
        // The store out of reach ends the run (re-run to resume); other errors are this file's.
        if (err instanceof StorageError && err.retryable) throw err;
        [outcome, detail] = ['failed', err instanceof Error ? err.message : String(err)];
      }
      if (outcome === 'failed')
        report.failed.push({ path: f.path, recordingId: f.recordingId, reason: detail });
      say(`[${report.files}/${total}] ${f.path}: ${outcome === 'failed' ? `FAILED: ${detail}` : detail}`);
    }
    after = page[page.length - 1]?.recordingId;
  }
  if (!o.dryRun)
    await cliAudit(o.db, {
      action: 'storage.migrate.done',
      resource: 'storage',
      resourceId: to,
      details: {
        files: report.files,
        copied: report.copied,
        alreadyThere: report.alreadyThere,
        localRemoved: report.localRemoved,
        failed: report.failed.length,
      },
    });
  return report;
}

export function storageCommand(
  getConfig: () => Config,
  io: CliIo = { stdout: process.stdout, stderr: process.stderr, stdin: process.stdin },
): Command {
  const cmd = new Command('storage').description('the artifact store (docs/storage.md)');
  cmd
    .command('migrate')
    .description(
      "move this node's local recording files to the configured S3 store: each one uploaded, read back and verified against the catalogue's SHA-256, then removed locally; safe to run again (resumes)",
    )
    .option('--dry-run', 'show what would be copied or removed; change nothing')
    .option('--keep-local', 'keep the local files after their objects are verified')
    .option('--json', 'print the summary as JSON')
    .action(
      guarded(io, async (opts: { dryRun?: boolean; keepLocal?: boolean; json?: boolean }) => {
        const config = getConfig();
        if (config.storage.backend !== 's3')
          throw new CliError(
            'srs storage migrate copies to an object store: set SRS_STORAGE=s3 and the S3_* settings (docs/storage.md)',
            2,
          );
        const remote = new S3ArtifactStore({ ...config.storage, tlsPolicy: tlsPolicy(config) });
        try {
          await remote.checkBucket();
          const report = await withDatabase(config, (db) =>
            migrateArtifacts({
              db,
              config,
              remote,
              dryRun: opts.dryRun,
              keepLocal: opts.keepLocal,
              progress: (line) => io.stdout.write(`${line}\n`),
            }),
          ).catch((err: unknown) => {
            if (err instanceof StorageError && err.retryable)
              throw new CliError(`${err.message}; the store is unavailable: run again to resume`, 1);
            throw err;
          });
          if (opts.json) io.stdout.write(`${JSON.stringify({ dryRun: Boolean(opts.dryRun), ...report })}\n`);
          else if (opts.dryRun)
            io.stdout.write(
              `dry run: ${report.files} file(s): ${report.wouldCopy} would be copied, ${report.alreadyThere} already in ${remote.location}, ${report.failed.length} failed; nothing changed\n`,
            );
          else
            io.stdout.write(
              `${report.files} file(s): ${report.copied} copied (${report.bytesCopied} bytes), ${report.alreadyThere} already in ${remote.location}, ${report.localRemoved} local cop${report.localRemoved === 1 ? 'y' : 'ies'} removed, ${report.failed.length} failed\n`,
            );
          if (report.failed.length > 0)
            throw new CliError(
              `${report.failed.length} file(s) not moved (see above); the others are done: fix and run again`,
              1,
            );
        } finally {
          await remote.close();
        }
      }),
    );
  return cmd;
}
