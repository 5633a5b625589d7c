/** The OpenAPI 3.1 description of /api/v1, served at /api/v1/openapi.json. */

type Op = {
  summary: string;
  role?: string;
  query?: [string, string, string][];
  body?: Record<string, unknown>;
  responses?: Record<string, string>;
  binary?: boolean;
  /** Media types of a non-JSON success response (exports). */
  produces?: string[];
  /** The success status when not the default (201 for POST, 200 otherwise). */
  status?: string;
};

const q = (name: string, type: string, description: string): [string, string, string] => [
  name,
  type,
  description,
];

/** The recording search filters, shared by the search and the export. */
const SEARCH_FILTERS = [
  q('from', 'date-time', 'started at or after'),
  q('to', 'date-time', 'started before'),
  q('participant', 'string', 'substring of a participant number/AOR or name'),
  q('callId', 'string', 'SIP Call-ID'),
  q('sessionId', 'string', 'SIPREC session id'),
  q('minDurationMs', 'integer', 'minimum duration'),
  q('maxDurationMs', 'integer', 'maximum duration'),
  q('group', 'string', 'recording group'),
  q('state', 'string', 'recording | processing | stored | failed | purged (deleted; excluded by default)'),
  q('category', 'string', 'category'),
  q('preserved', 'boolean', 'only preserved (true) or not (false)'),
];
const idParam = { name: 'id', in: 'path', required: true, schema: { type: 'string', format: 'uuid' } };

const ops: Record<string, Record<string, Op>> = {
  '/login': {
    post: {
      summary:
        'Log in; sets the srs_session cookie and returns the session token (usable as a Bearer token). 429 with Retry-After after repeated failures.',
      role: 'anyone',
      body: {
        type: 'object',
        required: ['username', 'password'],
        properties: { username: { type: 'string' }, password: { type: 'string' } },
      },
    },
  },
  '/logout': { post: { summary: 'End the current session' } },
  '/me': { get: { summary: 'The current principal and what it may do' } },
  '/me/password': {
    post: {
      summary: 'Change own password',
      body: {
        type: 'object',
        properties: { current: { type: 'string' }, password: { type: 'string', minLength: 8 } },
      },
    },
  },
  '/recordings': {
    get: {
      summary:
        'Search recordings visible to the caller (own for users, their groups for supervisors, all for admins), newest first',
      role: 'user',
      query: [
        ...SEARCH_FILTERS,
        q('limit', 'integer', 'page size (default 50, max 1000)'),
        q('offset', 'integer', 'skip this many'),
      ],
    },
  },
  '/recordings/export': {
    get: {
      summary:
        'Export for compliance: the catalogue rows matching the search filters (or ids) as CSV (format=csv, UTF-8, up to 10000 rows), or their decrypted audio in a tar archive (format=tar, up to 500 recordings; one file per recording plus index.csv with size, SHA-256 and status), streamed, never written to disk in plaintext. Roles per the permissions.download setting; one audit entry "export" lists the ids. 400 when more match than one export takes.',
      role: 'user',
      query: [
        q('format', 'string', 'csv (default) or tar'),
        q('audio', 'string', 'for tar: mp3 (default) or wav; a recording without it gets the other'),
        q('ids', 'string', 'recording ids, comma-separated or repeated (instead of or with the filters)'),
        ...SEARCH_FILTERS,
      ],
      produces: ['text/csv', 'application/x-tar'],
    },
    post: {
      summary:
        'The same export with the ids (and format, audio) in a JSON body, for more ids than a URL holds; the search filters may still be given in the query string',
      role: 'user',
      body: {
        type: 'object',
        properties: {
          ids: { type: 'array', items: { type: 'string', format: 'uuid' } },
          format: { enum: ['csv', 'tar'] },
          audio: { enum: ['mp3', 'wav'] },
        },
      },
      produces: ['text/csv', 'application/x-tar'],
      status: '200',
    },
  },
  '/recordings/{id}': {
    get: {
      summary: 'Details: participants, streams, files, metadata, events timeline, notes, categories',
      role: 'user',
    },
    delete: {
      summary:
        'Delete: wipes the files, keeps a tombstone (state purged). Roles per the permissions.delete setting; 409 when preserved or not stored',
      role: 'user',
    },
  },
  '/recordings/{id}/audio': {
    get: {
      summary: 'Audio decrypted on the server, for playback; supports Range requests. Audited as playback.',
      role: 'user',
      query: [
        q(
          'format',
          'string',
          'mp3 (default), wav (the mono mix), stereo or legN (extra outputs, SRS_OUTPUTS)',
        ),
      ],
      binary: true,
    },
  },
  '/recordings/{id}/download': {
    get: {
      summary: 'Audio as an attachment (roles per permissions.download). Audited as download.',
      role: 'user',
      query: [
        q(
          'format',
          'string',
          'mp3 (default), wav (the mono mix), stereo or legN (extra outputs, SRS_OUTPUTS)',
        ),
      ],
      binary: true,
    },
  },
  '/recordings/{id}/waveform': {
    get: {
      summary: 'Peak levels for a waveform',
      role: 'user',
      query: [q('points', 'integer', 'buckets (default 600)')],
    },
  },
  '/recordings/{id}/preserve': {
    put: { summary: 'Preserve (protects from deletion)', role: 'user' },
    delete: { summary: 'Lift preservation (not allowed below the preserver’s role)', role: 'user' },
  },
  '/recordings/{id}/notes': {
    get: { summary: 'Notes', role: 'user' },
    post: {
      summary: 'Add a note',
      role: 'user',
      body: { type: 'object', properties: { body: { type: 'string' } } },
    },
  },
  '/recordings/{id}/notes/{noteId}': {
    delete: { summary: 'Delete a note (not one written by a higher role)', role: 'user' },
  },
  '/recordings/{id}/categories': {
    put: {
      summary: 'Replace the categories',
      role: 'user',
      body: { type: 'object', properties: { categories: { type: 'array', items: { type: 'string' } } } },
    },
  },
  '/categories': { get: { summary: 'Categories in use, with counts', role: 'user' } },
  '/calls': { get: { summary: 'Active calls visible to the caller, with duration and media health' } },
  '/users': {
    get: { summary: 'Users', role: 'admin' },
    post: {
      summary: 'Create a user',
      role: 'admin',
      body: {
        type: 'object',
        required: ['username', 'role'],
        properties: {
          username: { type: 'string' },
          password: { type: 'string', minLength: 8 },
          role: { enum: ['record-only', 'user', 'supervisor', 'admin'] },
          displayName: { type: 'string' },
          group: { type: 'string' },
          extraGroups: { type: 'array', items: { type: 'string' } },
          numbers: { type: 'array', items: { type: 'string' } },
        },
      },
    },
  },
  '/users/{id}': {
    patch: { summary: 'Change a user (any field of POST /users, plus disabled)', role: 'admin' },
    delete: { summary: 'Delete a user (their recordings stay)', role: 'admin' },
  },
  '/groups': {
    get: { summary: 'Groups', role: 'supervisor' },
    post: { summary: 'Create a group', role: 'admin' },
  },
  '/tokens': {
    get: { summary: 'Own API tokens (admins: ?all=true)' },
    post: {
      summary: 'Create an API token (returned once)',
      body: { type: 'object', properties: { name: { type: 'string' } } },
    },
  },
  '/tokens/{id}': { delete: { summary: 'Revoke an API token' } },
  '/keys': { get: { summary: 'Encryption keys (audited)', role: 'admin' } },
  '/settings': {
    get: { summary: 'Settings (permissions.download, permissions.delete)', role: 'admin' },
    put: {
      summary: 'Change settings: nobody | admin | supervisor | user ("nobody" for delete is irreversible)',
      role: 'admin',
    },
  },
  '/delivery': {
    get: {
      summary:
        'Delivery status: enabled, per-target health (last success, last error), the last SFTP offload batches (state, count, attempts, error, manifest), export and notification counters with recent failures',
      role: 'admin',
    },
  },
  '/delivery/retry': {
    post: {
      summary:
        'Retry failed deliveries now (offload batches, exports, notifications); audited as delivery.retry. 503 when delivery is off.',
      role: 'admin',
      status: '200',
    },
  },
  '/audit': {
    get: {
      summary: 'Search the audit trail, newest first',
      role: 'admin',
      query: [
        q('from', 'date-time', 'at or after'),
        q('to', 'date-time', 'before'),
        q('actor', 'string', 'username'),
        q(
          'action',
          'string',
          'login, playback, download, export, delete, preserve, note.add, setting.update, delivery.retry, ...',
        ),
        q('resource', 'string', 'recording, user, session, setting, key, token, group, delivery'),
        q('resourceId', 'string', 'id of the resource'),
        q('q', 'string', 'text in the details'),
        q('limit', 'integer', 'page size'),
        q('offset', 'integer', 'skip'),
      ],
    },
  },
  '/audit/verify': { get: { summary: 'Check the audit hash chain', role: 'admin' } },
};

export function openApiDocument(): Record<string, unknown> {
  const paths: Record<string, unknown> = {};
  for (const [path, methods] of Object.entries(ops)) {
    const item: Record<string, unknown> = {};
    for (const [method, op] of Object.entries(methods)) {
      const params: unknown[] = [];
      if (path.includes('{id}')) params.push(idParam);
      if (path.includes('{noteId}')) params.push({ ...idParam, name: 'noteId' });
      for (const [name, type, description] of op.query ?? [])
        params.push({
          name,
          in: 'query',
          description,
          schema: type === 'date-time' ? { type: 'string', format: 'date-time' } : { type },
        });
      item[method] = {
        summary: op.summary,
        description: `Minimum role: ${op.role ?? 'any authenticated principal'}.`,
        parameters: params,
        ...(op.body
          ? { requestBody: { required: true, content: { 'application/json': { schema: op.body } } } }
          : {}),
        ...(path === '/login' ? { security: [] } : {}),
        responses: {
          [op.status ?? (method === 'post' && path !== '/login' && path !== '/logout' ? '201' : '200')]:
            op.binary
              ? { description: 'audio', content: { 'audio/mpeg': {}, 'audio/wav': {} } }
              : op.produces
                ? { description: 'file', content: Object.fromEntries(op.produces.map((t) => [t, {}])) }
                : { description: 'JSON', content: { 'application/json': {} } },
          ...(op.binary
            ? {
                '206': { description: 'partial content (Range)' },
                '416': { $ref: '#/components/responses/Error' },
              }
            : {}),
          '400': { $ref: '#/components/responses/Error' },
          '401': { $ref: '#/components/responses/Error' },
          '403': { $ref: '#/components/responses/Error' },
          '404': { $ref: '#/components/responses/Error' },
        },
      };
    }
    paths[path] = item;
  }
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
