import { stat } from 'node:fs/promises';
import { join } from 'node:path';
import { z } from 'zod';
import { lockedObject, refusalOf, StorageUnavailableError, type ArtifactStore } from '../../storage/index.js';
import { keyOfPath } from '../../storage/read.js';
import type { Database } from '../../store/db.js';
import type { RecordingRow } from '../../store/types.js';
import { roleRank } from '../../store/users.js';
import { badRequest, conflict, forbidden, HttpError, notFound, sendJson } from '../http.js';
import { describe, permits, type Kit } from '../kit.js';
import { need, route, type Ctx, type RouteDef } from '../table.js';

/**
 * The actions on one recording that the single routes (recordings.ts) and the bulk route share:
 * the same rules, the same errors (HttpError), the same audit entries.
 */

export const CATEGORY = z.string().trim().min(1).max(100);

/** A file of a deleted recording still in the store: its removal is pending (pending_deletions). */
export interface PendingFile {
  path: string;
  reason: 'object-lock' | 'legal-hold' | 'error';
  retainUntil: string | null;
  error?: string;
}
export const MAX_CATEGORIES = 50;

export function recordingActions(k: Kit) {
  const { d, audit } = k;
  return {
    /**
     * Deletes: wipes the files, keeps a tombstone. A failed recording (finalize gave up) has no
     * files but its plaintext spool, which is wiped. Per permissions.delete; 409 when preserved, or
     * neither stored nor failed, or held in the store (Object Lock on any version, legal hold).
     * The files the store still refuses once the tombstone is written (an error, a hold placed
     * meanwhile) are recorded in pending_deletions, audited (`delete.pending`) and returned: the
     * route then answers 202, not a plain "deleted".
     */
    async remove(ctx: Ctx, rec: RecordingRow): Promise<{ pending: PendingFile[] }> {
      const level = await k.setting('permissions.delete');
      if (!permits(level, need(ctx).role)) throw forbidden(`deletion is allowed to: ${level}`);
      const ann = await d.db.access.annotations(rec.id);
      if (ann.preservedAt)
        throw conflict(
          `recording is preserved by ${ann.preservedBy}; lift the preservation before deleting it`,
        );
      if ((rec.state as string) === 'purged') throw conflict(`recording ${rec.id} is already deleted`);
      const from = rec.state === 'failed' ? 'failed' : 'stored';
      if (rec.state !== from)
        throw conflict(`recording is ${rec.state}; only stored or failed recordings can be deleted`);
      if (from === 'failed' && !d.wipeDir)
        throw conflict('recording is failed; this server cannot wipe its spool');
      // Through the artifact store (a local file, or the object with every version in a bucket).
      const store = d.artifacts.store;
      // An object under an unexpired Object Lock cannot be removed: refuse before anything is
      // marked deleted, and say so (audited), rather than report a deletion that did not happen.
      const locked = await lockedObject(
        store,
        rec.files.map((f) => keyOfPath(store, f.path)),
      ).catch((err: unknown) => {
        throw err instanceof StorageUnavailableError
          ? new HttpError(503, `the artifact store is unavailable; try again later (${err.message})`, {
              'Retry-After': '10',
            })
          : err;
      });
      if (locked) {
        const until = locked.retainUntil?.toISOString() ?? 'an unknown date';
        await audit(ctx, 'delete-refused', 'recording', rec.id, {
          ...describe(rec),
          reason: locked.retainUntil ? 'object-lock' : 'legal-hold',
          key: locked.key,
          mode: locked.mode ?? null,
          retainUntil: locked.retainUntil?.toISOString() ?? null,
          legalHold: locked.legalHold,
        });
        const why = [
          ...(locked.retainUntil
            ? [`under ${locked.mode ?? 'an'} Object Lock retention until ${until}`]
            : []),
          ...(locked.legalHold ? ['under an S3 legal hold'] : []),
        ].join(' and ');
        throw conflict(
          `recording ${rec.id} is ${why} (${locked.key}); it cannot be deleted ${locked.legalHold ? 'while the hold is on' : 'before then'}`,
        );
      }
      // The tombstone and its `delete` entry commit together, before any file goes: a crash or an
      // audit trail refusing the entry leaves the recording as it was, never deleted unaudited.
      const spoolHere = from === 'failed' && (await isDir(join(d.dataDir, 'spool', rec.id)));
      const files = await d.db.access.deleteUnpreserved(rec.id, from, (fs) =>
        k.auditEntry(ctx, 'delete', 'recording', rec.id, {
          ...describe(rec),
          files: fs.map((f) => f.path),
          ...(from === 'failed'
            ? { state: 'failed', spool: spoolHere ? 'wiped after this entry' : 'not on this node' }
            : {}),
        }),
      );
      if (!files) throw conflict('recording was preserved, changed or removed meanwhile');
      if (spoolHere) await wipeSpool(k, ctx, rec.id);
      // A file the store refuses now is recorded (pending_deletions: retention tries it again and
      // audits its removal) and said, never answered as deleted.
      const pending: PendingFile[] = [];
      for (const f of files) {
        const p = await removeFile(k, rec.id, store, f.path);
        if (p)
          pending.push({
            path: p.path,
            reason: p.reason,
            retainUntil: p.retainUntil?.toISOString() ?? null,
            ...(p.error ? { error: p.error } : {}),
          });
      }
      if (pending.length)
        await audit(ctx, 'delete.pending', 'recording', rec.id, {
          pending,
          retry: 'each retention pass tries them again; each removal is audited (deletion.completed)',
        }).catch((err: unknown) =>
          k.log.error({ err, recordingId: rec.id }, 'could not audit a pending deletion'),
        );
      return { pending };
    },

    /**
     * Preserves; 409 when the recording is deleted, or a higher role preserved it already
     * (preserving again would make the preservation this role's, which it could then lift).
     */
    async preserve(ctx: Ctx, rec: RecordingRow): Promise<void> {
      const who = need(ctx);
      const deleted = `recording ${rec.id} is deleted; a deleted recording cannot be preserved`;
      if ((rec.state as string) === 'purged') throw conflict(deleted);
      const ann = await d.db.access.annotations(rec.id);
      const rank = roleRank(who.role);
      if (ann.preservedRank !== null && rank < ann.preservedRank)
        throw conflict(`already preserved by ${ann.preservedBy}, a higher role`);
      const done = await d.db.access.setPreserved(rec.id, who.username, rank);
      if (done === 'deleted') throw conflict(deleted);
      if (done === 'missing') throw notFound(`recording ${rec.id} not found`);
      if (done === 'higher') throw conflict('preserved by a higher role meanwhile');
      if (done === 'changed') throw conflict('the preservation changed meanwhile; try again');
      await audit(ctx, 'preserve', 'recording', rec.id, describe(rec));
    },

    /**
     * Lifts a preservation; 403 below the preserver's role (checked by the clearing statement
     * itself). Nothing to lift: nothing written, nothing audited.
     */
    async unpreserve(ctx: Ctx, rec: RecordingRow): Promise<void> {
      const done = await d.db.access.clearPreserved(rec.id, roleRank(need(ctx).role));
      if (done.outcome === 'higher')
        throw forbidden(`preserved by ${done.preservedBy}, a higher role; you cannot lift it`);
      if (done.outcome === 'cleared') await audit(ctx, 'unpreserve', 'recording', rec.id, describe(rec));
    },

    /** Replaces the categories (audited as categories.update with before and after); the new ones. */
    async setCategories(ctx: Ctx, rec: RecordingRow, categories: string[]): Promise<string[]> {
      const before = (await d.db.access.annotations(rec.id)).categories;
      const after = await d.db.access.setCategories(rec.id, [...new Set(categories)], need(ctx).username);
      await audit(ctx, 'categories.update', 'recording', rec.id, { before, after });
      return after;
    },

    /** Adds or removes one category; nothing is written (nor audited) when it is already so. */
    async changeCategory(ctx: Ctx, rec: RecordingRow, category: string, add: boolean): Promise<void> {
      const before = (await d.db.access.annotations(rec.id)).categories;
      if (before.includes(category) === add) return;
      const next = add ? [...before, category] : before.filter((c) => c !== category);
      if (next.length > MAX_CATEGORIES)
        throw badRequest(`a recording has at most ${MAX_CATEGORIES} categories`);
      const after = await d.db.access.setCategories(rec.id, next, need(ctx).username);
      await audit(ctx, 'categories.update', 'recording', rec.id, { before, after });
    },
  };
}

/**
 * Removes a deleted recording's file through the store; a refusal (Object Lock, legal hold, an
 * error) is recorded in pending_deletions (the retention pass tries it again) and returned.
 */
async function removeFile(
  k: Kit,
  recordingId: string,
  store: ArtifactStore,
  path: string,
): Promise<
  { path: string; reason: PendingFile['reason']; retainUntil?: Date | undefined; error?: string } | undefined
> {
  try {
    await store.delete(keyOfPath(store, path));
    return undefined;
  } catch (err) {
    const r = refusalOf(err);
    k.log.error(
      { err, path, recordingId, reason: r.reason, store: store.location },
      'a deleted recording file was refused by the store: recorded as a pending deletion',
    );
    const pending = (k.d.db as Partial<Pick<Database, 'pendingDeletions'>>).pendingDeletions;
    await pending
      ?.record({ path, recordingId, source: 'delete', ...r }, { audit: false })
      .catch((e: unknown) => k.log.error({ err: e, path }, 'could not record a pending deletion'));
    return { path, ...r };
  }
}

const isDir = (dir: string) =>
  stat(dir).then(
    (s) => s.isDirectory(),
    () => false,
  );

/**
 * Wipes the spool of a failed recording just marked purged (its `delete` entry written), as the
 * pipeline wipes spools. A wipe that fails is logged and audited (`delete.spool-wipe-failed`); the
 * next retention pass wipes it (src/pipeline/retention-failed.ts), as it does a spool on another
 * node's disk.
 */
async function wipeSpool(k: Kit, ctx: Ctx, id: string): Promise<void> {
  const dir = join(k.d.dataDir, 'spool', id);
  try {
    await k.d.wipeDir?.(dir);
  } catch (err) {
    k.log.error(
      { err, recordingId: id, spool: dir },
      'could not wipe the spool of a deleted failed recording',
    );
    await k
      .audit(ctx, 'delete.spool-wipe-failed', 'recording', id, {
        error: (err as Error).message,
        retry: 'the next retention pass wipes it',
      })
      .catch((e: unknown) => k.log.error({ err: e, recordingId: id }, 'could not audit the failed wipe'));
  }
}

const BULK_ACTIONS = ['add-category', 'remove-category', 'preserve', 'unpreserve', 'delete'] as const;
export const BULK_MAX = 500;

const bulkBody = z
  .object({
    ids: z
      .array(z.string().uuid({ error: 'not a recording id (a UUID)' }), {
        error: 'an array of recording ids',
      })
      .min(1, { error: 'at least one recording id' })
      .max(BULK_MAX, { error: `at most ${BULK_MAX} recordings at once` }),
    action: z.enum(BULK_ACTIONS, { error: `one of ${BULK_ACTIONS.join(', ')}` }),
    category: CATEGORY.optional(),
  })
  .refine((b) => !b.action.endsWith('-category') || b.category !== undefined, {
    error: 'a category is required for add-category and remove-category',
    path: ['category'],
  });

/** POST /recordings/bulk: one action on many recordings, each by the single action's rules. */
export function recordingBulkRoutes(k: Kit): RouteDef[] {
  const act = recordingActions(k);
  return [
    route({
      method: 'POST',
      path: '/recordings/bulk',
      summary: `One action (${BULK_ACTIONS.join(', ')}) on up to ${BULK_MAX} recordings, each by the rules of the single action (a recording the caller may not see: not found); {results: [{id, ok, error?, status?}], done, failed}`,
      role: 'user',
      body: bulkBody,
      async handler(ctx, { body }) {
        const results: {
          id: string;
          ok: boolean;
          error?: string;
          status?: number;
          pending?: PendingFile[];
        }[] = [];
        for (const id of [...new Set(body.ids.map((x) => x.toLowerCase()))]) {
          try {
            const rec = await k.visibleRecording(ctx, id);
            if (body.action === 'delete') {
              const { pending } = await act.remove(ctx, rec);
              // Deleted, but files still in the store: said (status 202), not a plain ok.
              results.push(pending.length ? { id, ok: true, status: 202, pending } : { id, ok: true });
              continue;
            } else if (body.action === 'preserve') await act.preserve(ctx, rec);
            else if (body.action === 'unpreserve') await act.unpreserve(ctx, rec);
            else await act.changeCategory(ctx, rec, body.category ?? '', body.action === 'add-category');
            results.push({ id, ok: true });
          } catch (err) {
            if (!(err instanceof HttpError)) {
              k.log.error({ err, id, action: body.action }, 'bulk recording action failed');
              results.push({ id, ok: false, error: 'internal error', status: 500 });
            } else results.push({ id, ok: false, error: err.message, status: err.status });
          }
        }
        const done = results.filter((r) => r.ok).length;
        sendJson(ctx.res, 200, { results, done, failed: results.length - done });
      },
    }),
  ];
}
