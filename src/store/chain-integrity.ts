import { linkHash } from './chain.js';
import type { Database } from './db.js';

/**
 * The catalogue side of one recording's integrity check (GET /recordings/{id}/integrity): its
 * entry in its day's hash chain against the catalogue, the entry's links and its anchors in the
 * audit trail, and the rest of its day's chain as `srs recordings verify` checks it
 * (docs/pipeline-and-keys.md#verification). The files are read back by the caller
 * (src/storage/verify.ts); src/api/resources/integrity.ts composes the two.
 */

/** One check of a recording: `ok` null when it could not be made (the detail says why). */
export interface IntegrityCheck {
  name: 'file' | 'chain.entry' | 'chain.link' | 'chain.anchor' | 'chain.day';
  /** The file's kind (mp3, wav, ...), for `file` checks. */
  kind?: string;
  ok: boolean | null;
  detail: string;
}

interface Entry {
  day: string;
  seq: number;
  content: string;
  prev_hash: string;
  hash: string;
}
interface Anchor {
  id: string;
  day: string;
  seq: number;
  hash: string;
}
const PARTS = ['id', 'start', 'duration', 'plaintext hashes'];

/** The chain side of one recording, read in one snapshot: its entry, its links and its anchors. */
async function chainChecks(db: Pick<Database, 'pool' | 'chain'>, id: string): Promise<IntegrityCheck[]> {
  const c = await db.pool.connect();
  try {
    await c.query('BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY');
    const row = (
      await c.query<Entry & { current: string | null }>(
        `SELECT to_char(c.day, 'YYYY-MM-DD') AS day, c.seq, c.content, c.prev_hash, c.hash,
                srs_chain_content(r.id) AS current
         FROM recordings r LEFT JOIN recording_chain c ON c.recording_id = r.id WHERE r.id = $1`,
        [id],
      )
    ).rows[0];
    if (!row?.day) {
      const none = 'no chain entry to check';
      return [
        { name: 'chain.entry', ok: false, detail: 'the recording is stored but has no entry in the chain' },
        { name: 'chain.link', ok: null, detail: none },
        { name: 'chain.anchor', ok: null, detail: none },
      ];
    }
    const e = row;
    const at = `entry ${e.seq} of ${e.day}`;
    const changed = e.content
      .split('|')
      .flatMap((p, i) => (p === row.current?.split('|')[i] ? [] : PARTS[i]));
    const entry: IntegrityCheck =
      e.content === row.current
        ? {
            name: 'chain.entry',
            ok: true,
            detail: `${at} holds what the catalogue says now (start, duration, plaintext hashes)`,
          }
        : {
            name: 'chain.entry',
            ok: false,
            detail: `catalogue row altered since it was stored (${changed.join(', ') || 'content'} changed): ${at} holds the original`,
          };

    const link: string[] = [];
    if (linkHash(e.prev_hash, e.content) !== e.hash)
      link.push('its hash does not match its content (recomputed SHA-256 of previous hash and content)');
    if (e.seq === 1 && e.prev_hash !== '') link.push('the first entry of the day names a previous hash');
    if (e.seq > 1) {
      const prev = (
        await c.query<{ hash: string }>(
          'SELECT hash FROM recording_chain WHERE day = $1::date AND seq = $2',
          [e.day, e.seq - 1],
        )
      ).rows[0];
      if (!prev) link.push(`entry ${e.seq - 1} before it is missing`);
      else if (prev.hash !== e.prev_hash)
        link.push(
          `its link to entry ${e.seq - 1} is broken: the previous entry was removed, altered or reordered`,
        );
    }
    const linkCheck: IntegrityCheck = link.length
      ? { name: 'chain.link', ok: false, detail: `${at}: ${link.join('; ')}` }
      : {
          name: 'chain.link',
          ok: true,
          detail: `${at}: hash recomputed from the previous hash and the content${e.seq > 1 ? `, previous entry ${e.seq - 1} links to it` : ' (first of the day)'}`,
        };

    // Anchors in the audit trail: this entry's own (chained before anchoring began: none), and
    // the day's newest, which verify compares with the day's head; this entry must reach it.
    const anchorSql = `SELECT a.id::text AS id, a.details ->> 'day' AS day, (a.details ->> 'seq')::int AS seq,
                         a.details ->> 'hash' AS hash FROM audit a WHERE a.action = 'recording.chained'`;
    const own = (
      await c.query<Anchor>(
        `${anchorSql} AND a.resource = 'recording' AND a.resource_id = $1 ORDER BY a.id DESC LIMIT 1`,
        [id],
      )
    ).rows[0];
    const last = (
      await c.query<Anchor>(`${anchorSql} AND a.details ->> 'day' = $1 ORDER BY a.id DESC LIMIT 1`, [e.day])
    ).rows[0];
    const anchor: string[] = [];
    if (own && (own.day !== e.day || own.seq !== e.seq || own.hash !== e.hash))
      anchor.push(
        `audit row ${own.id} anchored it as entry ${own.seq} of ${own.day} with another hash: the entry was replaced`,
      );
    if (!last) anchor.push(`no anchor of ${e.day} in the audit trail: appended outside the pipeline`);
    else if (last.seq < e.seq)
      anchor.push(
        `the day's newest anchor (audit row ${last.id}) is entry ${last.seq}: this entry has no anchor, appended outside the pipeline`,
      );
    else {
      const path = (
        await c.query<{ seq: number; prev_hash: string; hash: string }>(
          `SELECT seq, prev_hash, hash FROM recording_chain WHERE day = $1::date AND seq BETWEEN $2 AND $3 ORDER BY seq`,
          [e.day, e.seq, last.seq],
        )
      ).rows;
      let prev: (typeof path)[number] | undefined;
      for (const p of path) {
        if (prev && (p.seq !== prev.seq + 1 || p.prev_hash !== prev.hash)) {
          anchor.push(`the links from this entry to the anchored entry ${last.seq} break at entry ${p.seq}`);
          break;
        }
        prev = p;
      }
      if (!anchor.length && (prev?.seq !== last.seq || prev.hash !== last.hash))
        anchor.push(
          `entry ${last.seq} does not match its anchor in audit row ${last.id}: ${prev?.seq === last.seq ? 'entries were replaced' : "the day's last entries were removed"}`,
        );
    }
    const anchorCheck: IntegrityCheck = anchor.length
      ? { name: 'chain.anchor', ok: false, detail: `${at}: ${anchor.join('; ')}` }
      : {
          name: 'chain.anchor',
          ok: true,
          detail: `${at}: ${own ? `anchored in audit row ${own.id}` : 'no anchor of its own (chained before anchoring)'}; it links to entry ${last?.seq}, anchored in audit row ${last?.id}`,
        };
    return [entry, linkCheck, anchorCheck];
  } finally {
    await c.query('ROLLBACK').catch(() => undefined);
    c.release();
  }
}

/**
 * The rest of the day's chain as `srs recordings verify <id>` checks it (every entry, the anchor,
 * recordings missing from it; one snapshot, so recordings stored meanwhile are no finding), less
 * this recording's own findings (its own checks name them).
 */
async function dayCheck(db: Pick<Database, 'chain'>, id: string, day: string): Promise<IntegrityCheck> {
  const all = await db.chain.verifyChain([day]);
  const r = { entries: all.entries, problems: all.problems.filter((p) => p.recordingId !== id) };
  if (!r.problems.length)
    return {
      name: 'chain.day',
      ok: true,
      detail: `${day}: ${r.entries} ${r.entries === 1 ? 'entry' : 'entries'} and the day's anchor verified`,
    };
  const shown = r.problems
    .slice(0, 3)
    .map((p) => `${p.seq === null ? '' : `entry ${p.seq}: `}${p.problem}`)
    .join('; ');
  const more = r.problems.length > 3 ? ` (and ${r.problems.length - 3} more)` : '';
  return { name: 'chain.day', ok: false, detail: `${day}, other entries: ${shown}${more}` };
}

/**
 * The chain checks of one stored recording: its entry against the catalogue, the entry's links and
 * anchors, then its day's chain as verify checks it.
 */
export async function chainIntegrity(
  db: Pick<Database, 'pool' | 'chain'>,
  id: string,
): Promise<IntegrityCheck[]> {
  const checks = await chainChecks(db, id);
  const day =
    (
      await db.pool.query<{ day: string }>(
        `SELECT to_char(day, 'YYYY-MM-DD') AS day FROM recording_chain WHERE recording_id = $1`,
        [id],
      )
    ).rows[0]?.day ?? (await db.chain.dayOf(id));
  if (day) checks.push(await dayCheck(db, id, day));
  return checks;
}
