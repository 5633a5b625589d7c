import { z } from 'zod';
import { NotFoundError } from '../../errors.js';
import {
  CONTROL_ACTIONS,
  RECORD_MODES,
  normalizeSettings,
  type ControlAction,
} from '../../recording/control-policy.js';
import { ControlError, type RecordingControl } from '../../recording/control.js';
import { HttpError, notFound, sendJson } from '../http.js';
import type { Kit } from '../kit.js';
import { need, qStr, route, type Ctx, type RouteDef } from '../table.js';

/**
 * Recording control: pause / resume / start / stop of a live call, by its recording id
 * or by a participant's number or its Call-ID (CTI and PBX integrations), and the admins' record
 * modes and control settings. The policy and its effects are src/recording/control.ts.
 */

/** What the API needs of the recording control (app.ts passes the running one). */
export type ControlPort = Pick<
  RecordingControl,
  'act' | 'find' | 'findAnywhere' | 'visibleCalls' | 'settings' | 'saveSettings' | 'reload' | 'notRecorded'
>;

const modeBody = z.object({ mode: z.enum(RECORD_MODES).nullable() }).strict();
const settingsBody = z
  .object({
    defaultMode: z.enum(RECORD_MODES).optional(),
    keepUnstarted: z.enum(['metadata', 'none']).optional(),
    onDemandFrom: z.enum(['press', 'call']).optional(),
    combine: z.enum(['most-audio', 'least-audio']).optional(),
    dtmf: z
      .object(
        Object.fromEntries(
          CONTROL_ACTIONS.map((a) => [
            a,
            z
              .string()
              .regex(/^[0-9*#A-D]{1,8}$/, 'digits 0-9 * # A-D')
              .optional(),
          ]),
        ) as Record<ControlAction, z.ZodOptional<z.ZodString>>,
      )
      .strict()
      .nullable()
      .optional(),
  })
  .strict();

export function callRoutes(k: Kit, control: ControlPort | undefined): RouteDef[] {
  const { d, audit } = k;
  const ctl = (): ControlPort => {
    if (!control) throw new HttpError(503, 'recording control is not available on this server');
    return control;
  };
  const channel = (ctx: Ctx) => (ctx.who?.via === 'session' ? 'web' : 'api');
  const run = async (
    ctx: Ctx,
    action: ControlAction,
    target: { recordingId?: string; number?: string; callId?: string },
  ) => {
    const who = need(ctx);
    try {
      // The caller's own secret goes with an action relayed to the node holding the call.
      const credential = d.auth.credentialOf(ctx.req)?.secret;
      const r = await ctl().act({ who, channel: channel(ctx), action, ip: ctx.ip, target, credential });
      sendJson(ctx.res, 200, r);
    } catch (err) {
      if (err instanceof ControlError) throw new HttpError(err.status, err.message);
      throw err;
    }
  };
  const byId = CONTROL_ACTIONS.map((action) =>
    route({
      method: 'POST',
      path: `/calls/:id/${action}`,
      summary: `${action[0]?.toUpperCase()}${action.slice(1)} the recording of a live call (audited; 404 for a call the caller may not control, 403 when its record mode forbids it)`,
      role: 'record-only',
      async handler(ctx, { params }) {
        await run(ctx, action, { recordingId: params.id as string });
      },
    }),
  );
  const byQuery = CONTROL_ACTIONS.map((action) =>
    route({
      method: 'POST',
      path: `/calls/${action}`,
      summary: `${action[0]?.toUpperCase()}${action.slice(1)} the recording of the live call with this participant number or Call-ID`,
      role: 'record-only',
      query: z.object({
        number: qStr("A participant's number or extension (the user part of its AOR)"),
        callId: qStr('The SIP Call-ID of the recorded call'),
      }),
      async handler(ctx, { query }) {
        if (!query.number && !query.callId) throw new HttpError(400, 'give ?number= or ?callId=');
        await run(ctx, action, query.number ? { number: query.number } : { callId: query.callId as string });
      },
    }),
  );
  return [
    ...byQuery,
    ...byId,
    route({
      method: 'GET',
      path: '/calls/:id/control',
      summary: "A live call's record mode, control state and the actions the caller may take now",
      role: 'record-only',
      async handler(ctx, { params }) {
        const who = need(ctx);
        let call;
        try {
          // Another node's call: as that node last published it.
          call = await ctl().findAnywhere(who, { recordingId: params.id as string });
        } catch (err) {
          if (err instanceof ControlError) throw notFound(err.message);
          throw err;
        }
        const c = call.control;
        sendJson(ctx.res, 200, {
          recordingId: call.recordingId,
          callId: call.callId,
          ...c,
          actions: (who.role === 'admin' ? c?.adminAllowed : c?.allowed) ?? [],
        });
      },
    }),
    route({
      method: 'GET',
      path: '/recording-control',
      summary: 'Record-mode settings, the modes of users and groups, and calls answered without audio',
      role: 'admin',
      async handler(ctx) {
        const [users, groups] = await Promise.all([d.db.users.list(), d.db.users.listGroups()]);
        const table = await d.db.recordModes.table();
        const modeOf = new Map(table.users.map((u) => [u.userId, u.mode]));
        sendJson(ctx.res, 200, {
          settings: ctl().settings,
          modes: RECORD_MODES,
          users: users.map((u) => ({
            id: u.id,
            username: u.username,
            numbers: u.numbers,
            mode: modeOf.get(u.id) ?? null,
          })),
          groups: groups.map((g) => ({ name: g.name, mode: table.groups.get(g.name) ?? null })),
          notRecorded: ctl().notRecorded,
        });
      },
    }),
    route({
      method: 'PUT',
      path: '/recording-control/settings',
      summary:
        'Change the record-mode settings (default mode, keepUnstarted, onDemandFrom, combine, phone codes)',
      role: 'admin',
      body: settingsBody,
      async handler(ctx, { body }) {
        const who = need(ctx);
        const before = ctl().settings;
        const next = normalizeSettings({ ...before, ...body });
        // Phone control turned on with some codes: the others keep theirs (off when null).
        await ctl().saveSettings(next, who.username);
        await audit(ctx, 'setting.update', 'setting', 'recording.control', { from: before, to: next });
        sendJson(ctx.res, 200, { settings: next });
      },
    }),
    route({
      method: 'PUT',
      path: '/recording-control/users/:id',
      summary: "Set a user's record mode (null: the group's, else the default)",
      role: 'admin',
      body: modeBody,
      async handler(ctx, { params, body }) {
        await d.db.recordModes.setUserMode(params.id as string, body.mode).catch(mapNotFound);
        await ctl().reload();
        await audit(ctx, 'record-mode.update', 'user', params.id as string, { mode: body.mode });
        sendJson(ctx.res, 200, { id: params.id, mode: body.mode });
      },
    }),
    route({
      method: 'PUT',
      path: '/recording-control/groups/:name',
      summary: "Set a group's record mode (null: the default)",
      role: 'admin',
      body: modeBody,
      async handler(ctx, { params, body }) {
        await d.db.recordModes.setGroupMode(params.name as string, body.mode).catch(mapNotFound);
        await ctl().reload();
        await audit(ctx, 'record-mode.update', 'group', params.name as string, { mode: body.mode });
        sendJson(ctx.res, 200, { name: params.name, mode: body.mode });
      },
    }),
  ];
}

function mapNotFound(err: unknown): never {
  if (err instanceof NotFoundError) throw notFound(err.message);
  throw err;
}
