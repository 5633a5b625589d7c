import { z } from 'zod';
import type { RecordingRow, RecordingState } from '../../store/types.js';
import { DIRECTIONS } from '../../store/recording-search.js';
import type { RecordingSearch } from '../../store/users-access.js';
import { roleRank } from '../../store/users.js';
import { FIELD_NAME } from '../../store/custom-fields.js';
import { badRequest, forbidden, notFound, sendJson } from '../http.js';
import { recordingRoute, type Kit } from '../kit.js';
import { CATEGORY, MAX_CATEGORIES, recordingActions, recordingBulkRoutes } from './recording-actions.js';
import {
  COUNT_QUERY,
  countUpTo,
  need,
  qBool,
  qDate,
  qEnum,
  qInt,
  qStr,
  route,
  type Ctx,
  type RouteDef,
} from '../table.js';

/** Recordings: search, delete, preserve, notes, categories (details, audio and export live apart). */

const STATES = ['recording', 'processing', 'stored', 'failed', 'purged'] as const;
const SORTS = ['started', 'stored'] as const;

/** The recordings search filters (GET /recordings and the exports). */
export const searchQuery = z.object({
  from: qDate('started at or after'),
  to: qDate('started before'),
  storedFrom: qDate(
    'stored at or after (not the call start: a call stored late is found; an offload resumes from its last pull)',
  ),
  storedTo: qDate('stored before'),
  participant: qStr(
    'a participant: a substring of its number/AOR or name; a pattern with * and ? (1001*, *@pbx.example) matched whole; or /regex/',
  ),
  caller: qStr(
    "the caller's number (ANI; before storing, the first participant's): a substring; a pattern with * and ? (+4930*) matched whole; or /regex/",
  ),
  callee: qStr(
    "the called number (DNIS; before storing, the second participant's): a substring; a pattern with * and ? matched whole; or /regex/",
  ),
  direction: z
    .enum(DIRECTIONS, { error: `one of ${DIRECTIONS.join(', ')}` })
    .optional()
    .describe('inbound | outbound | internal | unknown (unknown: also a recording not stored yet)'),
  q: qStr(
    'any text: a substring (any case) of a participant number/AOR or name, a note or a custom field value, or the exact Call-ID',
  ),
  callId: qStr('SIP Call-ID'),
  sessionId: qStr('SIPREC session id'),
  minDurationMs: qInt('minimum duration'),
  maxDurationMs: qInt('maximum duration'),
  group: qStr('recording group'),
  interaction: qStr('the recordings of one interaction (a SIPREC communication session group)'),
  owner: qStr(
    'username: the recordings that user owned at the call; none: the recordings no user owned at the call (ownership is fixed at the call)',
  ),
  state: z
    .enum(STATES, { error: `one of ${STATES.join(', ')}` })
    .optional()
    .describe('recording | processing | stored | failed | purged (deleted; excluded by default)'),
  category: qStr('category'),
  field: qStr(
    'custom field value, <name>:<value> (a text field matches a case-insensitive substring, a date or option field the exact value)',
  ),
  preserved: qBool('only preserved (true) or not (false)'),
});

export const toSearch = ({ field, ...q }: z.output<typeof searchQuery>): RecordingSearch => ({
  ...q,
  ...(field !== undefined ? { field: fieldFilter(field) } : {}),
  state: q.state as RecordingState | 'purged' | undefined,
});

/** `name:value` of the `field` filter; 400 when it is not that. */
function fieldFilter(v: string): { name: string; value: string } {
  const at = v.indexOf(':');
  const name = at > 0 ? v.slice(0, at) : '';
  const value = v.slice(at + 1).trim();
  if (!FIELD_NAME.test(name) || value === '')
    throw badRequest(`field: "${v.slice(0, 60)}" is not <field name>:<value> (e.g. order_no:10001)`);
  return { name, value };
}

export function recordingRoutes(k: Kit): RouteDef[] {
  const { d, audit } = k;
  const onRecording = recordingRoute(k);
  const act = recordingActions(k);
  /** Pins a note or takes its pin down; a change is audited, asking for what already is is not. */
  const pinNote = async (ctx: Ctx, rec: RecordingRow, noteId: string, pin: boolean): Promise<void> => {
    const note = await d.db.access.getNote(noteId);
    if (!note || note.recordingId !== rec.id) throw notFound(`note ${noteId} not found`);
    const who = need(ctx);
    if (pin === (note.pinned !== null)) {
      sendJson(ctx.res, 200, note);
      return;
    }
    if (!pin && note.pinned && roleRank(who.role) < note.pinned.rank)
      throw forbidden(`pinned by ${note.pinned.by}, a higher role`);
    const after = await d.db.access.setNotePin(
      note.id,
      pin ? { by: who.username, rank: roleRank(who.role) } : null,
    );
    if (!after) throw notFound(`note ${note.id} not found`);
    await audit(ctx, pin ? 'note.pin' : 'note.unpin', 'recording', rec.id, {
      noteId: note.id,
      author: note.author,
    });
    sendJson(ctx.res, 200, after);
  };

  return [
    ...recordingBulkRoutes(k),
    route({
      method: 'GET',
      path: '/recordings',
      summary:
        'Search recordings visible to the caller (own for users, their groups for supervisors, all for admins), newest first (sort=stored: oldest stored first)',
      role: 'user',
      errors: { 503: 'the search took longer than its time limit (SRS_SEARCH_TIMEOUT_MS): narrow it' },
      query: searchQuery.extend({
        sort: qEnum(
          SORTS,
          'started (default): newest call first; stored: oldest stored first, then by id (a stable order to page through)',
        ),
        limit: qInt('page size (default 50, max 1000)', 1, 1000),
        offset: qInt('skip this many'),
        count: COUNT_QUERY,
      }),
      async handler(ctx, { query }) {
        const { limit = 50, offset = 0, sort, count, ...filters } = query;
        const result = await d.db.access.search(need(ctx), {
          ...toSearch(filters),
          sort,
          limit,
          offset,
          ...countUpTo(count),
        });
        sendJson(ctx.res, 200, {
          total: result.total,
          totalExact: result.totalExact,
          limit,
          offset,
          items: result.items,
        });
      },
    }),
    onRecording(
      'DELETE',
      '/recordings/:id',
      'Delete: wipes the files (a failed recording: its spool), keeps a tombstone (state purged). Roles per the permissions.delete setting; 409 when preserved, neither stored nor failed, or held by the store (Object Lock, legal hold). 202 {deleted, pending} when the recording is deleted but the store refused to remove some files: they are retried and each removal audited',
      async (ctx, rec) => {
        const { pending } = await act.remove(ctx, rec);
        if (pending.length) sendJson(ctx.res, 202, { deleted: rec.id, pending });
        else sendJson(ctx.res, 200, { deleted: rec.id });
      },
    ),
    onRecording('PUT', '/recordings/:id/preserve', 'Preserve (protects from deletion)', async (ctx, rec) => {
      await act.preserve(ctx, rec);
      sendJson(ctx.res, 200, { preserved: true });
    }),
    onRecording(
      'DELETE',
      '/recordings/:id/preserve',
      'Lift preservation (not allowed below the preserver’s role)',
      async (ctx, rec) => {
        await act.unpreserve(ctx, rec);
        sendJson(ctx.res, 200, { preserved: false });
      },
    ),
    onRecording('GET', '/recordings/:id/notes', 'Notes', async (ctx, rec) => {
      sendJson(ctx.res, 200, { items: (await d.db.access.annotations(rec.id)).notes });
    }),
    onRecording(
      'POST',
      '/recordings/:id/notes',
      'Add a note',
      async (ctx, rec, { body }) => {
        const who = need(ctx);
        const note = await d.db.access.addNote(rec.id, who.username, roleRank(who.role), body.body);
        const details = { noteId: note.id, body: body.body.slice(0, 500) };
        await audit(ctx, 'note.add', 'recording', rec.id, details);
        sendJson(ctx.res, 201, note);
      },
      z.object({ body: z.string().trim().min(1).max(10000) }),
    ),
    onRecording(
      'DELETE',
      '/recordings/:id/notes/:noteId',
      'Delete a note (not one written by a higher role)',
      async (ctx, rec, { params }) => {
        const note = await d.db.access.getNote(params.noteId as string);
        if (!note || note.recordingId !== rec.id) throw notFound(`note ${params.noteId} not found`);
        if (roleRank(need(ctx).role) < note.authorRank)
          throw forbidden(`note written by ${note.author}, a higher role`);
        await d.db.access.deleteNote(note.id);
        await audit(ctx, 'note.delete', 'recording', rec.id, { noteId: note.id, author: note.author });
        sendJson(ctx.res, 200, { deleted: note.id });
      },
    ),
    onRecording('PUT', '/recordings/:id/notes/:noteId/pin', 'Pin a note above the others', (ctx, rec, i) =>
      pinNote(ctx, rec, i.params.noteId as string, true),
    ),
    onRecording(
      'DELETE',
      '/recordings/:id/notes/:noteId/pin',
      "Take down a note's pin (not one a higher role put up)",
      (ctx, rec, i) => pinNote(ctx, rec, i.params.noteId as string, false),
    ),
    onRecording(
      'PUT',
      '/recordings/:id/categories',
      'Replace the categories',
      async (ctx, rec, { body }) => {
        const after = await act.setCategories(ctx, rec, body.categories);
        sendJson(ctx.res, 200, { categories: after });
      },
      z.object({ categories: z.array(CATEGORY).max(MAX_CATEGORIES) }),
    ),
    route({
      method: 'GET',
      path: '/categories',
      summary: 'Categories in use on the recordings the caller may see, with counts',
      role: 'user',
      async handler(ctx) {
        sendJson(ctx.res, 200, { items: await d.db.access.allCategories(need(ctx)) });
      },
    }),
  ];
}
