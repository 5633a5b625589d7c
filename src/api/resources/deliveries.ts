import { HttpError, notFound, sendJson } from '../http.js';
import type { Kit } from '../kit.js';
import { need, route, type RouteDef } from '../table.js';

/** One step of an access test, as src/delivery/destination.ts answers it. */
interface AccessStep {
  step: string;
  ok: boolean;
  ms: number;
  error?: string;
}

/**
 * What the running delivery (src/delivery `Delivery`, passed in as `d.delivery`) offers besides the
 * retry: its destinations by name and their access test. Read by shape: the API does not import
 * delivery.
 */
interface Destinations {
  destinations?(): { name: string; kind: string; settings: string[] }[];
  testAccess?(name: string): Promise<{ ok: boolean; steps: AccessStep[] } | undefined>;
}

/**
 * Delivery (admins): offload, export and notification status, a retry of what failed, and a test
 * of a destination's access (log in, write, read back and delete a probe file).
 */
export function deliveryRoutes({ d, audit, log }: Kit): RouteDef[] {
  const running = () => d.delivery as (NonNullable<typeof d.delivery> & Destinations) | undefined;
  return [
    route({
      method: 'GET',
      path: '/delivery',
      summary:
        'Delivery status: enabled, the configured destinations (name, kind, settings), per-target health (last success, last error), the last offload batches (SFTP or S3; state, count, attempts, error, manifest), export and notification counters with recent failures',
      role: 'admin',
      async handler(ctx) {
        if (!d.deliveryStatus) throw new HttpError(503, 'delivery status is not available on this server');
        const status = (await d.deliveryStatus()) as Record<string, unknown>;
        const destinations = (running()?.destinations?.() ?? []).map(({ name, kind, settings }) => ({
          name,
          kind,
          settings,
        }));
        sendJson(ctx.res, 200, { enabled: d.delivery !== undefined, destinations, ...status });
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
    route({
      method: 'POST',
      path: '/delivery/destinations/:name/test',
      summary:
        'Test access to a delivery destination (its name as GET /delivery lists it in destinations and targets, URL-encoded) with its real settings: log in, the directory, write a probe file the way uploads do (.part + rename), read it back, delete it; bounded by the destination’s timeout. 200 with ok and the steps (step, ok, ms, the error without passwords), also when a step fails; 404 for a name not configured. Audited as delivery.destination-test.',
      role: 'admin',
      response: { status: 200 },
      async handler(ctx, { params }) {
        const who = need(ctx);
        const name = params.name ?? '';
        const result = await running()?.testAccess?.(name);
        if (!result)
          throw notFound(
            `no delivery destination named ${JSON.stringify(name)} runs on this server (GET /delivery lists them under destinations)`,
          );
        const failed = result.steps.find((s) => !s.ok);
        await audit(ctx, 'delivery.destination-test', 'delivery-destination', name, {
          name,
          ok: result.ok,
          ...(failed ? { step: failed.step } : {}),
        });
        log.info(
          {
            destination: name,
            actor: who.username,
            ok: result.ok,
            ...(failed ? { step: failed.step, err: failed.error } : {}),
          },
          'delivery destination access tested',
        );
        sendJson(ctx.res, 200, { name, ...result });
      },
    }),
  ];
}
