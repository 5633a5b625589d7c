import { HttpError, sendJson } from '../http.js';
import type { Kit } from '../kit.js';
import { need, route, type RouteDef } from '../table.js';

/** Delivery (admins): offload, export and notification status, and a retry of what failed. */
export function deliveryRoutes({ d, audit }: Kit): RouteDef[] {
  return [
    route({
      method: 'GET',
      path: '/delivery',
      summary:
        'Delivery status: enabled, per-target health (last success, last error), the last offload batches (SFTP or S3; state, count, attempts, error, manifest), export and notification counters with recent failures',
      role: 'admin',
      async handler(ctx) {
        if (!d.deliveryStatus) throw new HttpError(503, 'delivery status is not available on this server');
        const status = (await d.deliveryStatus()) as Record<string, unknown>;
        sendJson(ctx.res, 200, { enabled: d.delivery !== undefined, ...status });
      },
    }),
    route({
      method: 'POST',
      path: '/delivery/retry',
      summary:
        'Retry failed deliveries now (offload batches, exports, notifications); audited as delivery.retry. 503 when delivery is off.',
      role: 'admin',
      response: { status: 200 },
      async handler(ctx) {
        const who = need(ctx);
        if (!d.delivery)
          throw new HttpError(
            503,
            'delivery is off on this server (enable offload, export or notifications in the configuration)',
          );
        const retried = await d.delivery.retryFailed(who.username);
        await audit(ctx, 'delivery.retry', 'delivery', '', { retried });
        sendJson(ctx.res, 200, { retried });
      },
    }),
  ];
}
