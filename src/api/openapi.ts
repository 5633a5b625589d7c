import { z } from 'zod';
import type { RouteDef } from './table.js';

/**
 * The OpenAPI 3.1 description of /api/v1, served at /api/v1/openapi.json: written from the route
 * table (paths, methods, roles, and the zod schemas the routes validate their query and body with).
 */

const ERROR = { $ref: '#/components/responses/Error' };

/** The JSON Schema of what a zod schema accepts (its input: query strings before conversion). */
function jsonSchema(schema: z.ZodType): Record<string, unknown> {
  const { $schema: _drop, ...rest } = z.toJSONSchema(schema, { io: 'input', unrepresentable: 'any' });
  return rest;
}

/** '/recordings/:id/notes/:noteId' -> '/recordings/{id}/notes/{noteId}' */
export const openApiPath = (path: string) => path.replace(/:([a-zA-Z]+)/g, '{$1}');

function parameters(r: RouteDef): unknown[] {
  const out: unknown[] = [...r.path.matchAll(/:([a-zA-Z]+)/g)].map((m) => ({
    name: m[1],
    in: 'path',
    required: true,
    schema: { type: 'string' },
  }));
  const props = (r.query ? jsonSchema(r.query).properties : undefined) as
    Record<string, { description?: string }> | undefined;
  for (const [name, schema] of Object.entries(props ?? {})) {
    const { description, ...rest } = schema;
    out.push({ name, in: 'query', description, schema: rest });
  }
  return out;
}

function responses(r: RouteDef): Record<string, unknown> {
  const status = String(r.response?.status ?? (r.method === 'POST' && r.path !== '/login' ? 201 : 200));
  const content = r.response?.audio
    ? { 'audio/mpeg': {}, 'audio/wav': {} }
    : r.response?.produces
      ? Object.fromEntries(r.response.produces.map((t) => [t, {}]))
      : { 'application/json': {} };
  const description = r.response?.audio ? 'audio' : r.response?.produces ? 'file' : 'JSON';
  return {
    [status]: { description, content },
    ...(r.response?.audio ? { '206': { description: 'partial content (Range)' }, '416': ERROR } : {}),
    '400': ERROR,
    '401': ERROR,
    '403': ERROR,
    '404': ERROR,
    ...Object.fromEntries(
      Object.entries(r.errors ?? {}).map(([s, description]) => [s, { ...ERROR, description }]),
    ),
  };
}

function operation(r: RouteDef): Record<string, unknown> {
  return {
    summary: r.summary,
    description: `Minimum role: ${r.role === 'record-only' ? 'any authenticated principal' : r.role}.`,
    parameters: parameters(r),
    ...(r.body
      ? {
          requestBody: {
            required: true,
            content: { 'application/json': { schema: jsonSchema(r.body) } },
          },
        }
      : {}),
    ...(r.role === 'anyone' ? { security: [] } : {}),
    responses: responses(r),
  };
}

export function openApiDocument(table: readonly RouteDef[]): Record<string, unknown> {
  const paths: Record<string, Record<string, unknown>> = {};
  for (const r of table) (paths[openApiPath(r.path)] ??= {})[r.method.toLowerCase()] = operation(r);
  return {
    openapi: '3.1.0',
    info: {
      title: 'siprec-recorder API',
      version: '1',
      description:
        'Recordings and their export, live calls, users, keys, delivery status and the audit trail. Authenticate with the srs_session cookie (POST /login), an API token (Authorization: Bearer srs_...), or the server admin token. Errors are JSON {"error": "...", "status": N}.',
    },
    servers: [{ url: '/api/v1' }],
    security: [{ bearer: [] }, { cookie: [] }],
    components: {
      securitySchemes: {
        bearer: { type: 'http', scheme: 'bearer' },
        cookie: { type: 'apiKey', in: 'cookie', name: 'srs_session' },
      },
      responses: {
        Error: {
          description: 'error',
          content: {
            'application/json': {
              schema: {
                type: 'object',
                properties: { error: { type: 'string' }, status: { type: 'integer' } },
              },
            },
          },
        },
      },
    },
    paths,
  };
}
