import { z } from 'zod';
import { ConfigError } from '../../errors.js';
import type { LivePolicy, PolicySettings } from '../../recording/live-policy.js';
import { HttpError, badRequest, sendJson } from '../http.js';
import type { Kit } from '../kit.js';
import { need, route, type RouteDef } from '../table.js';

/**
 * The recording policy (admins): which calls are recorded, by direction, scope, internal numbers
 * and blacklist, and what an excluded call gets. The configuration's policy applies until one is
 * saved here; the saved one then wins, on every node, for the calls that start afterwards, until
 * it is dropped (DELETE) and the configuration's applies again (src/recording/live-policy.ts).
 */

/** What the API needs of the running policy (app.ts passes it). */
export type PolicyPort = Pick<
  LivePolicy<unknown>,
  'config' | 'defaults' | 'saved' | 'check' | 'save' | 'reset'
>;

const patterns = z.array(z.string().trim().min(1).max(64)).max(1000);
const policyBody = z
  .object({
    direction: z.enum(['inbound', 'outbound', 'both']).optional(),
    scope: z.enum(['internal', 'external', 'both']).optional(),
    internalNumbers: patterns.optional(),
    blacklist: patterns.optional(),
    excludedAction: z.enum(['answer', 'decline']).optional(),
    declineStatus: z
      .number()
      .int()
      .min(400, 'a SIP status 400-699')
      .max(699, 'a SIP status 400-699')
      .optional(),
  })
  .strict();

export function policyRoutes(k: Kit): RouteDef[] {
  const port = (): PolicyPort => {
    if (!k.d.policy) throw new HttpError(503, 'the recording policy is not available on this server');
    return k.d.policy;
  };
  const view = (p: PolicyPort) => ({ policy: p.config, saved: p.saved, defaults: p.defaults });
  return [
    route({
      method: 'GET',
      path: '/recording-policy',
      summary:
        'The recording policy in force (saved by an admin, else the configured one), and the configured defaults',
      role: 'admin',
      handler(ctx) {
        sendJson(ctx.res, 200, view(port()));
      },
    }),
    route({
      method: 'PUT',
      path: '/recording-policy',
      summary:
        'Change the recording policy (fields left out keep their value); applies to calls that start afterwards, on every node',
      role: 'admin',
      body: policyBody,
      async handler(ctx, { body }) {
        const who = need(ctx);
        const p = port();
        const before = p.config;
        const next: PolicySettings = { ...before, ...body };
        // Each pattern checked by the SIP front end's checkPattern: a bad one names itself.
        try {
          p.check(next);
        } catch (err) {
          if (err instanceof ConfigError) throw badRequest(err.message);
          throw err;
        }
        await p.save(next, who.username);
        await k.audit(ctx, 'policy.update', 'setting', 'recording.policy', { from: before, to: next });
        sendJson(ctx.res, 200, view(p));
      },
    }),
    route({
      method: 'DELETE',
      path: '/recording-policy',
      summary:
        'Drop the saved recording policy: the configured one applies again to calls that start afterwards, on every node (nothing saved: no change)',
      role: 'admin',
      async handler(ctx) {
        const who = need(ctx);
        const p = port();
        if (p.saved) {
          const before = p.config;
          await p.reset(who.username);
          await k.audit(ctx, 'policy.reset', 'setting', 'recording.policy', { from: before, to: p.config });
        }
        sendJson(ctx.res, 200, view(p));
      },
    }),
  ];
}
