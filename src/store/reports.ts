import type pg from 'pg';
import { scopeSql } from './users-access.js';
import type { Principal } from './users.js';

/**
 * Reports: the recordings a principal may see (the search's scope), counted and timed per day (in
 * a time zone), per user (the users whose numbers took part; a call between two users counts for
 * both) or per group (those users' groups). Deleted recordings are left out, like the search does.
 */

export type ReportBy = 'day' | 'user' | 'group';

export interface ReportFigures {
  calls: number;
  /** Sum of the recordings' durations (a recording still running counts 0). */
  totalSeconds: number;
  /** Over the recordings that have a duration; 0 when none has. */
  averageSeconds: number;
  longestSeconds: number;
}

export interface ReportRow extends ReportFigures {
  /** The day (YYYY-MM-DD), username or group; null: no user (no group) took part. */
  key: string | null;
}

export interface Report {
  rows: ReportRow[];
  /** Every recording once (a call of two users is in two user rows, once here). */
  total: ReportFigures;
}

export interface ReportQuery {
  by: ReportBy;
  from?: Date | undefined;
  to?: Date | undefined;
  /** An IANA time zone Postgres knows (the caller checks it); days are cut there. */
  timeZone: string;
}

interface FigureRow {
  key: string | null;
  calls: string;
  total_ms: string | null;
  timed: string;
  longest_ms: string | null;
}

const FIGURES = `count(*) AS calls, sum(r.duration_ms) AS total_ms, count(r.duration_ms) AS timed,
  max(r.duration_ms) AS longest_ms`;

const figures = (x: FigureRow): ReportFigures => {
  const total = Number(x.total_ms ?? 0) / 1000;
  const timed = Number(x.timed);
  return {
    calls: Number(x.calls),
    totalSeconds: Math.round(total),
    averageSeconds: timed > 0 ? Math.round(total / timed) : 0,
    longestSeconds: Math.round(Number(x.longest_ms ?? 0) / 1000),
  };
};

export interface ReportsRepository {
  /** The report of `q` over what `who` may see. */
  recordings(who: Principal, q: ReportQuery): Promise<Report>;
  /** Whether Postgres knows the time zone (its names, old and new: Asia/Kolkata, Asia/Calcutta, Etc/UTC). */
  knowsTimeZone(name: string): Promise<boolean>;
}

export function reportsRepository(pool: pg.Pool): ReportsRepository {
  let zones: Promise<Set<string>> | undefined;
  return {
    recordings: (who, q) => recordingsReport(pool, who, q),
    async knowsTimeZone(name) {
      // Read once (about 1,200 names; the view reads the zone files each time).
      zones ??= pool
        .query<{ name: string }>('SELECT name FROM pg_timezone_names')
        .then((r) => new Set(r.rows.map((x) => x.name)));
      try {
        return (await zones).has(name);
      } catch (err) {
        zones = undefined;
        throw err;
      }
    },
  };
}

async function recordingsReport(pool: pg.Pool, who: Principal, q: ReportQuery): Promise<Report> {
  const args: unknown[] = [];
  const where = [scopeSql(who, args), `r.state <> 'purged'`];
  if (q.from) {
    args.push(q.from);
    where.push(`r.started_at >= $${args.length}`);
  }
  if (q.to) {
    args.push(q.to);
    where.push(`r.started_at < $${args.length}`);
  }
  const w = where.join(' AND ');
  let sql: string;
  const rowArgs = [...args];
  if (q.by === 'day') {
    rowArgs.push(q.timeZone);
    sql = `SELECT to_char(r.started_at AT TIME ZONE $${rowArgs.length}, 'YYYY-MM-DD') AS key, ${FIGURES}
           FROM recordings r WHERE ${w} GROUP BY 1 ORDER BY 1`;
  } else {
    // Owners at the call (recording_owners), as the scope counts them.
    const column = q.by === 'user' ? 'o.username' : 'o.group_name';
    sql = `SELECT k.key, ${FIGURES}
           FROM recordings r
           LEFT JOIN LATERAL (SELECT DISTINCT ${column} AS key FROM recording_owners o
                              WHERE o.recording_id = r.id AND ${column} IS NOT NULL) k ON TRUE
           WHERE ${w} GROUP BY 1 ORDER BY count(*) DESC, 1 NULLS LAST`;
  }
  const rows = await pool.query<FigureRow>(sql, rowArgs);
  const total = await pool.query<FigureRow>(
    `SELECT NULL AS key, ${FIGURES} FROM recordings r WHERE ${w}`,
    args,
  );
  return {
    rows: rows.rows.map((x) => ({ key: x.key, ...figures(x) })),
    total: figures(total.rows[0] as FigureRow),
  };
}
