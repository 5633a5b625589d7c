import type pg from 'pg';
import { QueryTimeoutError } from '../errors.js';
import {
  parseParticipantMatch,
  participantSql,
  regexError,
  type ParticipantMatch,
} from './participant-match.js';
import { isUuid } from './uuid.js';
import { inTransaction } from './tx.js';
import type { RecordingSearch } from './users-access.js';

/**
 * The recordings search's WHERE clause and order (src/store/users-access.ts `search`): each filter
 * of a RecordingSearch as a predicate on recordings `r`, its values pushed as parameters.
 */

/** The values of `recordings.direction` (007_catalogue.sql); a recording not stored yet has none. */
export const DIRECTIONS = ['inbound', 'outbound', 'internal', 'unknown'] as const;
export type Direction = (typeof DIRECTIONS)[number];

/**
 * The caller's or callee's number as the catalogue has it (ANI / DNIS, set when the recording is
 * stored), else, before that, the first (caller) or second (callee) participant's: as the
 * deliveries show them (src/store/deliveries/common.ts).
 */
const partyNumber = (party: 'caller' | 'callee'): string =>
  `coalesce(r.${party}_number, (SELECT nullif(srs_aor_number(p.aor), '') FROM participants p
     WHERE p.recording_id = r.id AND p.ordinal = ${party === 'caller' ? 1 : 2}))`;

/** `m` (the participant filter's syntax) matched against the number `expr`, its value as `param`. */
function numberSql(expr: string, m: ParticipantMatch, param: string): { sql: string; arg: string } {
  switch (m.kind) {
    case 'regex':
      return { sql: `${expr} ~* ${param}`, arg: m.source };
    case 'pattern':
      return { sql: `${expr} ILIKE ${param}`, arg: m.like };
    default:
      return { sql: `strpos(lower(${expr}), lower(${param})) > 0`, arg: m.value };
  }
}

/**
 * The search's WHERE clause: `scope` (scopeSql's, whose parameters are already in `args`) and
 * every filter of `s`, their values pushed onto `args`.
 */
export function searchWhere(s: RecordingSearch, args: unknown[], scope: string): string {
  const where = [scope];
  const add = (sql: string, v: unknown) => {
    args.push(v);
    where.push(sql.replaceAll('?', `$${args.length}`));
  };
  if (s.from) add('r.started_at >= ?', s.from);
  if (s.to) add('r.started_at < ?', s.to);
  if (s.storedFrom) add('r.stored_at >= ?', s.storedFrom);
  if (s.storedTo) add('r.stored_at < ?', s.storedTo);
  if (s.participant) {
    const m = participantSql(parseParticipantMatch(s.participant, 'participant'), `$${args.length + 1}`);
    args.push(m.arg);
    where.push(`EXISTS (SELECT 1 FROM participants p WHERE p.recording_id = r.id AND ${m.sql})`);
  }
  for (const party of ['caller', 'callee'] as const) {
    const v = s[party];
    if (!v) continue;
    const m = numberSql(partyNumber(party), parseParticipantMatch(v, party), `$${args.length + 1}`);
    args.push(m.arg);
    where.push(m.sql);
  }
  if (s.direction) add(`coalesce(r.direction, 'unknown') = ?`, s.direction);
  if (s.q)
    add(
      `(r.call_id = ?
        OR EXISTS (SELECT 1 FROM participants p WHERE p.recording_id = r.id
                   AND (strpos(lower(p.aor), lower(?)) > 0 OR strpos(lower(p.name), lower(?)) > 0))
        OR EXISTS (SELECT 1 FROM recording_notes n WHERE n.recording_id = r.id AND strpos(lower(n.body), lower(?)) > 0)
        OR EXISTS (SELECT 1 FROM recording_fields v WHERE v.recording_id = r.id AND strpos(lower(v.value), lower(?)) > 0))`,
      s.q,
    );
  if (s.callId) add('r.call_id = ?', s.callId);
  if (s.interaction) add('r.interaction_id = ?', s.interaction);
  if (s.sessionId) add('r.session_id = ?', s.sessionId);
  if (s.minDurationMs !== undefined) add('r.duration_ms >= ?', s.minDurationMs);
  if (s.maxDurationMs !== undefined) add('r.duration_ms <= ?', s.maxDurationMs);
  if (s.state) add('r.state = ?', s.state);
  else where.push(`r.state <> 'purged'`);
  if (s.category)
    add(
      'EXISTS (SELECT 1 FROM recording_categories c WHERE c.recording_id = r.id AND c.category = ?)',
      s.category,
    );
  if (s.field) {
    args.push(s.field.name, s.field.value);
    const [n, v] = [`$${args.length - 1}`, `$${args.length}`];
    where.push(
      `EXISTS (SELECT 1 FROM recording_fields v JOIN custom_fields f ON f.name = v.field
         WHERE v.recording_id = r.id AND v.field = ${n}
           AND CASE WHEN f.type = 'text' THEN strpos(lower(v.value), lower(${v})) > 0 ELSE v.value = ${v} END)`,
    );
  }
  if (s.owner === 'none')
    where.push(`NOT EXISTS (SELECT 1 FROM recording_owners o WHERE o.recording_id = r.id)`);
  else if (s.owner)
    add(`EXISTS (SELECT 1 FROM recording_owners o WHERE o.recording_id = r.id AND o.username = ?)`, s.owner);
  if (s.group)
    add(
      `EXISTS (SELECT 1 FROM recording_owners o WHERE o.recording_id = r.id AND o.group_name = ?)`,
      s.group,
    );
  if (s.preserved !== undefined) add(`(r.preserved_at IS NOT NULL) = ?`, s.preserved);
  if (s.ids) add('r.id = ANY(?::uuid[])', s.ids.filter(isUuid));
  return where.join(' AND ');
}

/**
 * The search's order: newest call first by default; `stored`: oldest stored first, then by id (a
 * total order, so limit/offset pages neither repeat nor skip a recording; not yet stored: last).
 */
export const searchOrder = (s: RecordingSearch): string =>
  s.sort === 'stored' ? 'r.stored_at ASC NULLS LAST, r.id' : 'r.started_at DESC, r.id';

/**
 * A `/regular expression/` given for the participant, caller or callee that Postgres does not
 * take: a ParseError (400) naming the filter, before the search runs. Too long or too complex ones
 * are refused earlier still, without Postgres (parseParticipantMatch).
 */
export async function checkNumberPatterns(pool: pg.Pool | pg.PoolClient, s: RecordingSearch): Promise<void> {
  for (const filter of ['participant', 'caller', 'callee'] as const) {
    const m = s[filter] ? parseParticipantMatch(s[filter], filter) : undefined;
    if (m?.kind !== 'regex') continue;
    await pool.query(`SELECT '' ~* $1`, [m.source]).catch((err: unknown) => {
      throw regexError(err, filter, true);
    });
  }
}

/** The search's time limit when none is given (limits.searchTimeoutMs): 30 s. */
export const SEARCH_TIMEOUT_MS = 30_000;

/**
 * Runs the search's queries (`fn`, on one connection) in a transaction whose statements each stop
 * after `ms` (statement_timeout; a wait for a lock counts): a `/regex/` or text filter over a
 * large catalogue would otherwise run as long as Postgres lets it. A stopped search is a
 * QueryTimeoutError, which the API answers 503 with what to do.
 */
export async function withSearchTimeout<T>(
  pool: pg.Pool,
  ms: number,
  fn: (c: pg.PoolClient) => Promise<T>,
): Promise<T> {
  return inTransaction(pool, async (c) => {
    await c.query(`SELECT set_config('statement_timeout', $1, true)`, [String(Math.max(1, Math.round(ms)))]);
    return fn(c);
  }).catch((err: unknown) => {
    if ((err as { code?: string }).code !== '57014') throw err;
    throw new QueryTimeoutError(
      `the search took longer than ${ms / 1000} s and was stopped: narrow it (a shorter time range, ` +
        'fewer or plainer number and text filters) and try again',
    );
  });
}
