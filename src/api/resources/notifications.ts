import { z } from 'zod';
import { SETTINGS_CHANGED, type SubscriptionsRepository } from '../../store/deliveries/subscriptions.js';
import type { NotificationSubscription } from '../../store/offload.js';
import { badRequest, forbidden, notFound, sendJson } from '../http.js';
import { mapConflict, permits, type Kit } from '../kit.js';
import { need, route, type Ctx, type RouteDef } from '../table.js';

/**
 * Each user's email notifications of their stored recordings (src/delivery/notify.ts): an address,
 * an email for each stored recording on or off, the recording attached or not. Admins set anyone's,
 * every signed-in user their own (the admin token is no user and has none). A change is audited
 * (`notification-settings.update`) with the old and new value of each setting that changed; the
 * config file's `notifications.recipients` no longer overwrites a user's settings once changed here
 * (docs/delivery.md).
 *
 * Who may take audio away (docs/access-security.md): a user turns `attach` on only when
 * `permissions.download` allows their role (403 otherwise; the notifier checks it again for every
 * email, so a right taken away later stops the attachments). An address is the admin's to give
 * (here, the users CSV, the directory sync, the config file): a user keeps the one they have, turns
 * the emails on or off, or removes it, but sets no new one (403), so that a stolen session cannot
 * send every future recording to a mailbox outside. Admins set their own as anyone's.
 */

/** A notification address as the API and the users CSV take it. */
export const emailAddress = z
  .string()
  .trim()
  .max(254, 'at most 254 characters')
  .pipe(z.email({ error: 'not a valid email address' }));

const settingsBody = z
  .object({
    email: emailAddress.nullable().describe('The address; null removes the settings (no more emails)'),
    enabled: z.boolean().default(false).describe('An email for each stored recording of theirs'),
    attach: z.boolean().default(false).describe('The recording attached to the email (MP3)'),
  })
  .strict()
  .superRefine((b, c) => {
    if (b.email !== null) return;
    for (const k of ['enabled', 'attach'] as const)
      if (b[k]) c.addIssue({ code: 'custom', path: [k], message: 'true needs an email address' });
  });
type SettingsBody = z.output<typeof settingsBody>;

const FIELDS = ['email', 'enabled', 'attach'] as const;
/** A setting's value, none counting as no address and both flags off. */
const valueOf = (s: NotificationSubscription | null, f: (typeof FIELDS)[number]) =>
  s ? s[f] : f === 'email' ? null : false;

/** `{from, to}` for each setting that changed (none: nothing to audit). */
export function changesOf(from: NotificationSubscription | null, to: NotificationSubscription | null) {
  const out: Record<string, { from: unknown; to: unknown }> = {};
  for (const f of FIELDS)
    if (valueOf(from, f) !== valueOf(to, f)) out[f] = { from: valueOf(from, f), to: valueOf(to, f) };
  return out;
}

export function notificationRoutes({ d, audit, setting }: Kit): RouteDef[] {
  // The delivery state keeps the subscriptions.
  const repo = (): SubscriptionsRepository => d.db.offload;
  const json = (u: { id: string; username: string }, s: NotificationSubscription | null | undefined) => ({
    userId: u.id,
    username: u.username,
    email: s?.email ?? null,
    enabled: s?.enabled ?? false,
    attach: s?.attach ?? false,
  });
  const show = async (ctx: Ctx, u: { id: string; username: string }) =>
    sendJson(ctx.res, 200, json(u, await repo().subscription(u.id)));
  /** What a user may set for themselves (admins: anything): 403 naming the rule otherwise. */
  const mayChangeOwn = async (ctx: Ctx, u: { id: string }, body: SettingsBody) => {
    const who = need(ctx);
    if (who.role === 'admin') return;
    const level = await setting('permissions.download');
    if (body.attach && !permits(level, who.role))
      throw forbidden(
        `attaching the recording needs the download permission (permissions.download: ${level}); set attach to false`,
      );
    const had = (await repo().subscription(u.id))?.email ?? null;
    if (body.email !== null && body.email.toLowerCase() !== had?.toLowerCase())
      throw forbidden(
        had === null
          ? 'a notification address is set by an admin; ask one to set yours'
          : `a new notification address is set by an admin; keep ${had} or remove it (email null)`,
      );
  };
  const change = async (ctx: Ctx, u: { id: string; username: string }, body: SettingsBody) => {
    const to = body.email === null ? null : { email: body.email, enabled: body.enabled, attach: body.attach };
    const r = await repo().setSubscription(u.id, to).catch(mapConflict);
    const changes = changesOf(r.from, r.to);
    if (Object.keys(changes).length > 0)
      await audit(ctx, SETTINGS_CHANGED, 'user', u.id, { username: u.username, changes });
    sendJson(ctx.res, 200, json(u, r.to));
  };
  /** The caller as a user (400 for the admin token, which has no user row). */
  const self = (ctx: Ctx) => {
    const who = need(ctx);
    if (!who.userId)
      throw badRequest(
        'the admin token is no user and has no email notifications; set a user’s with /users/{id}/notifications',
      );
    return { id: who.userId, username: who.username };
  };
  const user = async (id: string) => {
    const u = await d.db.users.get(id);
    if (!u) throw notFound(`user ${id} not found`);
    return u;
  };
  const summary = '{email, enabled, attach}; email null removes them, enabled or attach true needs an email';
  return [
    route({
      method: 'GET',
      path: '/me/notifications',
      summary: 'Own email notifications of stored recordings: {email, enabled, attach}',
      role: 'record-only',
      async handler(ctx) {
        await show(ctx, self(ctx));
      },
    }),
    route({
      method: 'PUT',
      path: '/me/notifications',
      summary: `Set own email notifications: ${summary}. attach true needs the download permission, a new address an admin (403). Audited (notification-settings.update)`,
      errors: {
        403: 'attach true without the download permission (permissions.download), or an address other than the one an admin set',
      },
      role: 'record-only',
      body: settingsBody,
      async handler(ctx, { body }) {
        const u = self(ctx);
        await mayChangeOwn(ctx, u, body);
        await change(ctx, u, body);
      },
    }),
    route({
      method: 'GET',
      path: '/users/:id/notifications',
      summary: "A user's email notifications of stored recordings: {email, enabled, attach}",
      role: 'admin',
      async handler(ctx, { params }) {
        await show(ctx, await user(params.id as string));
      },
    }),
    route({
      method: 'PUT',
      path: '/users/:id/notifications',
      summary: `Set a user's email notifications: ${summary}. The recording is attached only while the user may download. Audited (notification-settings.update)`,
      role: 'admin',
      body: settingsBody,
      async handler(ctx, { params, body }) {
        await change(ctx, await user(params.id as string), body);
      },
    }),
  ];
}
