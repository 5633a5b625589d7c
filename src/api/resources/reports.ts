import { z } from 'zod';
import { csvLine } from '../../csv.js';
import type { ReportBy } from '../../store/reports.js';
import { badRequest, sendCsv, sendJson } from '../http.js';
import type { Kit } from '../kit.js';
import { need, qDate, qStr, route, type RouteDef } from '../table.js';

/** Reports (counts and durations of the recordings the caller may see, per day, user or group). */

const BY = ['day', 'user', 'group'] as const;

export function reportRoutes(k: Kit): RouteDef[] {
  return [
    route({
      method: 'GET',
      path: '/reports',
      summary:
        'Recordings per day, user or group (calls, total, average and longest duration) within the caller’s scope; format=csv downloads it',
      role: 'user',
      query: z.object({
        by: z.enum(BY, { error: `one of ${BY.join(', ')}` }).describe('day | user | group'),
        from: qDate('started at or after'),
        to: qDate('started before'),
        tz: qStr('IANA time zone the days are cut in (default UTC)'),
        format: z.enum(['json', 'csv'], { error: 'json or csv' }).optional().describe('json (default) | csv'),
      }),
      response: { produces: ['application/json', 'text/csv'] },
      async handler(ctx, { query }) {
        const timeZone = query.tz ?? 'UTC';
        if (!(await k.d.db.reports.knowsTimeZone(timeZone)))
          throw badRequest(`tz: "${timeZone.slice(0, 60)}" is not a time zone (e.g. Europe/Berlin)`);
        if (query.from && query.to && query.from >= query.to) throw badRequest('from: must be before to');
        const by = query.by as ReportBy;
        const report = await k.d.db.reports.recordings(need(ctx, 'user'), {
          by,
          from: query.from,
          to: query.to,
          timeZone,
        });
        if (query.format !== 'csv') {
          sendJson(ctx.res, 200, { by, timeZone, from: query.from ?? null, to: query.to ?? null, ...report });
          return;
        }
        const none = by === 'day' ? '' : by === 'user' ? '(no user)' : '(no group)';
        let body = `\uFEFF${csvLine([by, 'calls', 'total_s', 'average_s', 'longest_s'])}`;
        for (const r of report.rows)
          body += csvLine([r.key ?? none, r.calls, r.totalSeconds, r.averageSeconds, r.longestSeconds]);
        const t = report.total;
        body += csvLine(['total', t.calls, t.totalSeconds, t.averageSeconds, t.longestSeconds]);
        sendCsv(ctx.res, `recordings-by-${by}.csv`, body);
      },
    }),
  ];
}
