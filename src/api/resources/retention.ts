import { z } from 'zod';
import { HttpError, badRequest, sendJson } from '../http.js';
import type { Kit } from '../kit.js';
import { need, route, type RouteDef } from '../table.js';

/**
 * The retention policy (admins): how long stored recordings are kept, by default and per
 * recording group (`keep`, `<N>d`, `<N>h`). The configuration's (SRS_RETENTION,
 * SRS_RETENTION_GROUPS) applies until one is saved here; the saved one then applies at every
 * node's next purge pass, until it is dropped (DELETE). A change that would purge recordings the
 * policy in force keeps is refused (409, with their number) unless `confirmPurge` repeats that
 * number: nobody deletes months of recordings with a typo. Preserved recordings are never purged.
 */

export interface RetentionView {
  default: string;
  groups: Record<string, string>;
}

/** What the API needs of the running retention policy (app.ts builds it). */
export interface RetentionPort {
  readonly value: RetentionView;
  readonly defaults: RetentionView;
  readonly saved: boolean;
  /** Seconds between purge passes. */
  readonly intervalSeconds: number;
  /** What is wrong with a policy (`field: why`), or null. */
  problem(p: RetentionView): string | null;
  /** How many stored recordings the next pass would purge under `next` and not under the policy in force. */
  newlyDue(next: RetentionView): Promise<number>;
  save(p: RetentionView, by: string): Promise<void>;
  reset(by: string): Promise<void>;
}

const policyText = z.string().trim().min(1).max(16);
const body = z
  .object({
    default: policyText.optional(),
    groups: z.record(z.string().trim().min(1).max(64), policyText).optional(),
    confirmPurge: z.number().int().min(0).optional(),
  })
  .strict();

export function retentionRoutes(k: Kit): RouteDef[] {
  const port = (): RetentionPort => {
    if (!k.d.retention) throw new HttpError(503, 'the retention policy is not available on this server');
    return k.d.retention;
  };
  const view = (p: RetentionPort) => ({
    policy: p.value,
    saved: p.saved,
    defaults: p.defaults,
    intervalSeconds: p.intervalSeconds,
  });
  /** Refuses (409) a change that purges recordings unless `confirm` repeats how many. */
  const guard = async (p: RetentionPort, next: RetentionView, confirm: number | undefined) => {
    const n = await p.newlyDue(next);
    if (n > 0 && confirm !== n)
      throw new HttpError(
        409,
        `this change purges ${n} stored recording${n === 1 ? '' : 's'} at the next purge pass; send it again with confirmPurge: ${n} to go ahead`,
        {},
        { wouldPurge: n },
      );
    return n;
  };
  return [
    route({
      method: 'GET',
      path: '/retention-policy',
      summary:
        'The retention policy in force (saved by an admin, else the configured one), the configured defaults and the seconds between purge passes',
      role: 'admin',
      handler(ctx) {
        sendJson(ctx.res, 200, view(port()));
      },
    }),
    route({
      method: 'PUT',
      path: '/retention-policy',
      summary:
        'Change the retention policy (default and groups: keep, <N>d or <N>h; groups replaced whole when given); applies at the next purge pass on every node. 409 {wouldPurge} when it would purge recordings the policy in force keeps, unless confirmPurge repeats that number',
      role: 'admin',
      body,
      async handler(ctx, { body: b }) {
        const who = need(ctx);
        const p = port();
        const before = p.value;
        const next: RetentionView = {
          default: b.default ?? before.default,
          groups: b.groups ?? before.groups,
        };
        const problem = p.problem(next);
        if (problem) throw badRequest(problem);
        const purges = await guard(p, next, b.confirmPurge);
        await p.save(next, who.username);
        await k.audit(ctx, 'retention-policy.update', 'setting', 'retention.policy', {
          from: before,
          to: next,
          purges,
        });
        sendJson(ctx.res, 200, view(p));
      },
    }),
    route({
      method: 'DELETE',
      path: '/retention-policy',
      summary:
        'Drop the saved retention policy: the configured one applies again at the next purge pass (nothing saved: no change). 409 {wouldPurge} as for PUT, confirmed with ?confirmPurge=N',
      role: 'admin',
      query: z.object({ confirmPurge: z.coerce.number().int().min(0).optional() }).strict(),
      async handler(ctx, { query }) {
        const who = need(ctx);
        const p = port();
        if (p.saved) {
          const before = p.value;
          const purges = await guard(p, p.defaults, query.confirmPurge);
          await p.reset(who.username);
          await k.audit(ctx, 'retention-policy.reset', 'setting', 'retention.policy', {
            from: before,
            to: p.value,
            purges,
          });
        }
        sendJson(ctx.res, 200, view(p));
      },
    }),
  ];
}
