import { z } from 'zod';
import {
  CONSOLE_LANGUAGES,
  SITE_LANGUAGE_KEY,
  effectiveLanguage,
  type ConsoleLanguage,
} from '../../store/languages.js';
import { roleRank } from '../../store/users.js';
import { badRequest, forbidden, notFound, sendJson } from '../http.js';
import type { Kit } from '../kit.js';
import { need, route, type RouteDef } from '../table.js';

/**
 * The web console's language at its three levels: a user's own (the user, their supervisor or an
 * admin), a group's default and the site's default (admins). The first one set applies; with none,
 * the console follows the browser. Every change is audited with what it was before.
 */

const choice = z.object({ language: z.enum(CONSOLE_LANGUAGES).nullable() }).strict();

export function languageRoutes(k: Kit): RouteDef[] {
  const { d, audit } = k;
  const languages = d.db.languages;
  /** Audits a change of a level (`from` what it was); asking for what already is is not audited. */
  const changed = async (
    ctx: Parameters<Kit['audit']>[0],
    resource: string,
    id: string,
    from: string | null,
    to: string | null,
    details: Record<string, unknown> = {},
  ) => {
    if (from !== to) await audit(ctx, 'language.update', resource, id, { ...details, from, to });
  };
  return [
    route({
      method: 'GET',
      path: '/languages',
      summary:
        "The console's languages, the site's default and (supervisors and admins) each group's default, and the caller's own language and the one that applies",
      role: 'record-only',
      async handler(ctx) {
        const who = need(ctx);
        const levels = await languages.levels(who.userId);
        const staff = roleRank(who.role) >= roleRank('supervisor');
        sendJson(ctx.res, 200, {
          languages: CONSOLE_LANGUAGES,
          site: levels.site,
          ...(staff ? { groups: Object.fromEntries(await languages.groups()) } : {}),
          own: levels.user,
          ...effectiveLanguage(levels),
        });
      },
    }),
    route({
      method: 'PUT',
      path: '/me/language',
      summary: 'Set or clear (null) your own console language',
      role: 'record-only',
      body: choice,
      async handler(ctx, { body }) {
        const who = need(ctx);
        if (!who.userId) throw badRequest('the admin token has no user to keep a language for');
        const before = (await languages.levels(who.userId)).user;
        await languages.setUser(who.userId, body.language);
        await changed(ctx, 'user', who.userId, before, body.language);
        sendJson(ctx.res, 200, effectiveLanguage(await languages.levels(who.userId)));
      },
    }),
    route({
      method: 'PUT',
      path: '/users/:id/language',
      summary:
        "Set or clear (null) a user's console language: admins for anyone, supervisors for users of a lower role in their groups",
      role: 'supervisor',
      body: choice,
      async handler(ctx, { params, body }) {
        const who = need(ctx);
        const u = await d.db.users.get(params.id as string);
        if (!u) throw notFound(`user ${params.id} not found`);
        if (who.role !== 'admin' && u.id !== who.userId) {
          const inScope = u.group !== null && who.groups.includes(u.group);
          if (!inScope || roleRank(u.role) >= roleRank(who.role))
            throw forbidden('supervisors set the language of users of a lower role in their groups only');
        }
        const before = (await languages.levels(u.id)).user;
        await languages.setUser(u.id, body.language);
        await changed(ctx, 'user', u.id, before, body.language, { username: u.username });
        sendJson(ctx.res, 200, { id: u.id, language: body.language });
      },
    }),
    route({
      method: 'PUT',
      path: '/groups/:name/language',
      summary: "Set or clear (null) a group's default console language",
      role: 'admin',
      body: choice,
      async handler(ctx, { params, body }) {
        const name = params.name as string;
        const before = (await languages.groups()).get(name) ?? null;
        if (!(await languages.setGroup(name, body.language))) throw notFound(`group ${name} not found`);
        await changed(ctx, 'group', name, before, body.language);
        sendJson(ctx.res, 200, { name, language: body.language });
      },
    }),
    route({
      method: 'PUT',
      path: '/languages/site',
      summary: "Set or clear (null) the site's default console language",
      role: 'admin',
      body: choice,
      async handler(ctx, { body }) {
        const who = need(ctx);
        const before = (await languages.levels(null)).site;
        await d.db.users.setSetting(SITE_LANGUAGE_KEY, body.language, who.username);
        await changed(ctx, 'setting', SITE_LANGUAGE_KEY, before, body.language);
        sendJson(ctx.res, 200, { site: body.language satisfies ConsoleLanguage | null });
      },
    }),
  ];
}
