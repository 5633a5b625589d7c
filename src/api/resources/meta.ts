import { sendJson } from '../http.js';
import { openApiDocument } from '../openapi.js';
import { route, type RouteDef } from '../table.js';

/** The API's front door: GET /api/v1 lists the entry points; the OpenAPI document describes them all. */
export function metaRoutes(table: () => readonly RouteDef[]): RouteDef[] {
  return [
    route({
      method: 'GET',
      path: '/',
      summary: 'This list: the API’s entry points (one per resource) and where its OpenAPI document is',
      role: 'anyone',
      handler(ctx) {
        const entries = new Map<string, { path: string; methods: string[]; summary: string }>();
        for (const r of table()) {
          const top = r.path.split('/')[1] ?? '';
          if (!top || r.path.includes(':')) continue;
          const path = `/api/v1${r.path}`;
          const e = entries.get(path) ?? { path, methods: [], summary: r.summary };
          e.methods.push(r.method);
          entries.set(path, e);
        }
        sendJson(ctx.res, 200, {
          name: 'siprec-recorder API',
          version: '1',
          openapi: '/api/v1/openapi.json',
          authentication:
            'POST /api/v1/login (session cookie), or Authorization: Bearer <API token or admin token>',
          entryPoints: [...entries.values()],
        });
      },
    }),
    route({
      method: 'GET',
      path: '/openapi.json',
      summary: 'This API’s OpenAPI 3.1 document, written from the route table',
      role: 'anyone',
      handler(ctx) {
        sendJson(ctx.res, 200, openApiDocument(table()), { 'cache-control': 'public, max-age=60' });
      },
    }),
  ];
}
