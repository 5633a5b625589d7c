import { z } from 'zod';
import type { SavedSearch } from '../../store/saved-searches.js';
import { badRequest, notFound, sendJson } from '../http.js';
import { mapConflict, type Kit } from '../kit.js';
import { need, parse, route, type RouteDef } from '../table.js';
import { searchQuery, toSearch } from './recordings.js';

/**
 * Saved searches: each user's named recordings searches, for the console's list (users and above;
 * the admin token, which is no user, has none). A search is kept as the query string of GET
 * /recordings, checked like that search's filters when it is saved.
 */

const json = (s: SavedSearch) => ({
  id: s.id,
  name: s.name,
  query: s.query,
  createdAt: s.createdAt.toISOString(),
});

/** `query` checked as the recordings search's filters, and written back in their order. */
function checkedQuery(query: string): string {
  const given = new URLSearchParams(query.replace(/^\?/, ''));
  const known = Object.keys(searchQuery.shape);
  const unknown = [...new Set(given.keys())].filter((k) => !known.includes(k));
  if (unknown.length > 0)
    throw badRequest(`query: ${unknown.join(', ')} is not a search filter (filters: ${known.join(', ')})`);
  const values = Object.fromEntries(given);
  try {
    toSearch(parse(searchQuery, values));
  } catch (err) {
    throw badRequest(`query: ${(err as Error).message}`);
  }
  const out = new URLSearchParams();
  for (const k of known) if (values[k] !== undefined && values[k] !== '') out.set(k, values[k]);
  return out.toString();
}

export function savedSearchRoutes(k: Kit): RouteDef[] {
  const { d } = k;
  /** The caller's user id (400 for the admin token, which has no saved searches). */
  const userOf = (ctx: Parameters<typeof need>[0]): string => {
    const who = need(ctx, 'user');
    if (!who.userId) throw badRequest('the admin token is no user and has no saved searches');
    return who.userId;
  };
  return [
    route({
      method: 'GET',
      path: '/me/searches',
      summary: 'Own saved recordings searches, by name',
      role: 'user',
      async handler(ctx) {
        sendJson(ctx.res, 200, { items: (await d.db.savedSearches.list(userOf(ctx))).map(json) });
      },
    }),
    route({
      method: 'POST',
      path: '/me/searches',
      summary: 'Save a recordings search under a name (query: the query string of GET /recordings)',
      role: 'user',
      body: z.object({ name: z.string().trim().min(1).max(100), query: z.string().max(2000) }).strict(),
      response: { status: 201 },
      async handler(ctx, { body }) {
        const userId = userOf(ctx);
        const saved = await d.db.savedSearches
          .add(userId, body.name, checkedQuery(body.query))
          .catch(mapConflict);
        sendJson(ctx.res, 201, json(saved));
      },
    }),
    route({
      method: 'DELETE',
      path: '/me/searches/:id',
      summary: 'Delete an own saved search',
      role: 'user',
      async handler(ctx, { params }) {
        if (!(await d.db.savedSearches.remove(userOf(ctx), params.id as string)))
          throw notFound(`saved search ${params.id} not found`);
        sendJson(ctx.res, 200, { deleted: params.id });
      },
    }),
  ];
}
