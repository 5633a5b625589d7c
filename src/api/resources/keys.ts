import { sendJson } from '../http.js';
import type { Kit } from '../kit.js';
import { route, type RouteDef } from '../table.js';

/** The recording encryption keys (admins; every listing is audited). */
export function keyRoutes({ d, audit }: Kit): RouteDef[] {
  return [
    route({
      method: 'GET',
      path: '/keys',
      summary: 'Encryption keys (audited)',
      role: 'admin',
      async handler(ctx) {
        const keys = await d.db.keys.list();
        await audit(ctx, 'key.list', 'key', '', { count: keys.length });
        sendJson(ctx.res, 200, { items: keys });
      },
    }),
  ];
}
