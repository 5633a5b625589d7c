import { z } from 'zod';
import { sendJson } from '../http.js';
import type { Kit } from '../kit.js';
import { COUNT_QUERY, countUpTo, qDate, qInt, qStr, route, type RouteDef } from '../table.js';

/** The audit trail (admins): search it and check its hash chain. */
export function auditRoutes({ d }: Kit): RouteDef[] {
  return [
    route({
      method: 'GET',
      path: '/audit',
      summary: 'Search the audit trail, newest first',
      role: 'admin',
      query: z.object({
        from: qDate('at or after'),
        to: qDate('before'),
        actor: qStr('username'),
        action: qStr(
          'login, playback, download, export, delete, preserve, note.add, setting.update, delivery.retry, ...',
        ),
        resource: qStr('recording, user, session, setting, key, token, group, delivery'),
        resourceId: qStr('id of the resource'),
        q: qStr('text in the details'),
        limit: qInt('page size (default 50, max 1000)', 1, 1000),
        offset: qInt('skip this many'),
        count: COUNT_QUERY,
      }),
      async handler(ctx, { query }) {
        const { count, ...filters } = query;
        sendJson(
          ctx.res,
          200,
          await d.db.audit.search({
            ...filters,
            limit: filters.limit ?? 50,
            offset: filters.offset ?? 0,
            ...countUpTo(count),
          }),
        );
      },
    }),
    route({
      method: 'GET',
      path: '/audit/verify',
      summary: 'Check the audit hash chain',
      role: 'admin',
      async handler(ctx) {
        sendJson(ctx.res, 200, await d.db.audit.verify());
      },
    }),
  ];
}
