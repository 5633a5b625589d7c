import { z } from 'zod';
import { NotFoundError, ParseError } from '../../errors.js';
import { FIELD_NAME, type CustomField } from '../../store/custom-fields.js';
import { badRequest, notFound, sendJson } from '../http.js';
import { describe, mapConflict, type Kit } from '../kit.js';
import { need, route, type RouteDef } from '../table.js';

/**
 * Custom fields (order number, ticket, campaign...): admins define them and set their values on
 * recordings; everyone who sees a recording sees its values (list columns, details, search).
 * Every definition change and every value change is audited.
 */

const TYPES = ['text', 'date', 'option'] as const;

const options = z
  .array(z.string().trim().min(1).max(100))
  .min(1, 'an option field needs at least one option')
  .max(100)
  .refine((o) => new Set(o).size === o.length, 'options must be distinct');

const fieldJson = (f: CustomField) => ({
  name: f.name,
  label: f.label,
  type: f.type,
  options: f.options,
  createdBy: f.createdBy,
  createdAt: f.createdAt.toISOString(),
});

/** A store error as the HTTP answer (400 for a value its field refuses). */
function mapStoreError(err: unknown): never {
  if (err instanceof ParseError) throw badRequest(err.message);
  if (err instanceof NotFoundError) throw notFound(err.message);
  return mapConflict(err);
}

export function customFieldRoutes(k: Kit): RouteDef[] {
  const { d, audit } = k;
  return [
    route({
      method: 'GET',
      path: '/custom-fields',
      summary: 'The custom fields, in display order',
      role: 'user',
      async handler(ctx) {
        sendJson(ctx.res, 200, { items: (await d.db.fields.list()).map(fieldJson) });
      },
    }),
    route({
      method: 'POST',
      path: '/custom-fields',
      summary:
        'Define a custom field: name (a-z, 0-9, _), label, type text | date | option (with its options)',
      role: 'admin',
      body: z
        .object({
          name: z.string().regex(FIELD_NAME, 'a lower-case letter, then up to 39 of a-z, 0-9 and _'),
          label: z.string().trim().min(1).max(100),
          type: z.enum(TYPES, { error: `one of ${TYPES.join(', ')}` }),
          options: options.optional(),
        })
        .strict(),
      response: { status: 201 },
      async handler(ctx, { body }) {
        if (body.type === 'option' && !body.options)
          throw badRequest('options: an option field needs its options');
        if (body.type !== 'option' && body.options)
          throw badRequest(`options: only an option field has options (this one is ${body.type})`);
        const f = await d.db.fields
          .create({ ...body, options: body.options ?? [] }, need(ctx).username)
          .catch(mapStoreError);
        await audit(ctx, 'custom-field.create', 'custom-field', f.name, {
          name: f.name,
          label: f.label,
          type: f.type,
          options: f.options,
        });
        sendJson(ctx.res, 201, fieldJson(f));
      },
    }),
    route({
      method: 'PATCH',
      path: '/custom-fields/:name',
      summary: 'Change a custom field’s label or options (409 when a removed option is still in use)',
      role: 'admin',
      body: z
        .object({ label: z.string().trim().min(1).max(100).optional(), options: options.optional() })
        .strict(),
      async handler(ctx, { params, body }) {
        const name = params.name as string;
        const before = await d.db.fields.get(name);
        if (!before) throw notFound(`custom field ${name} not found`);
        if (body.options && before.type !== 'option')
          throw badRequest(`options: only an option field has options (this one is ${before.type})`);
        const after = await d.db.fields.update(name, body).catch(mapStoreError);
        await audit(ctx, 'custom-field.update', 'custom-field', name, {
          before: { label: before.label, options: before.options },
          after: { label: after.label, options: after.options },
        });
        sendJson(ctx.res, 200, fieldJson(after));
      },
    }),
    route({
      method: 'DELETE',
      path: '/custom-fields/:name',
      summary: 'Remove a custom field and its value on every recording',
      role: 'admin',
      async handler(ctx, { params }) {
        const name = params.name as string;
        const gone = await d.db.fields.remove(name);
        if (!gone) throw notFound(`custom field ${name} not found`);
        await audit(ctx, 'custom-field.delete', 'custom-field', name, { values: gone.values });
        sendJson(ctx.res, 200, { deleted: name, values: gone.values });
      },
    }),
    route({
      method: 'PUT',
      path: '/recordings/:id/fields',
      summary: 'Set (a string) or clear (null or "") custom field values of a recording',
      role: 'admin',
      body: z
        .object({
          fields: z
            .record(z.string(), z.string().max(4000).nullable())
            .refine((f) => Object.keys(f).length <= 100, 'at most 100 fields at once'),
        })
        .strict(),
      async handler(ctx, { params, body }) {
        const rec = await k.visibleRecording(ctx, params.id as string);
        const { before, after } = await d.db.fields
          .setValues(rec.id, body.fields, need(ctx).username)
          .catch(mapStoreError);
        // A save that changes nothing (the console sends every field) is no change to audit.
        if (JSON.stringify(before) !== JSON.stringify(after))
          await audit(ctx, 'fields.update', 'recording', rec.id, { ...describe(rec), before, after });
        sendJson(ctx.res, 200, { fields: after });
      },
    }),
  ];
}
