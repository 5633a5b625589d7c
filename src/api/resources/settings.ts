import { z } from 'zod';
import { conflict, sendJson } from '../http.js';
import {
  DEFAULT_SETTINGS,
  PERMISSION_LEVELS,
  type Kit,
  type PermissionLevel,
  type SettingKey,
} from '../kit.js';
import { need, route, type RouteDef } from '../table.js';

/** Settings (admins): who may listen (play, listen-in), download/export, and delete recordings. */
export function settingRoutes(k: Kit): RouteDef[] {
  const current = async (): Promise<Record<string, unknown>> => {
    const out: Record<string, unknown> = {};
    for (const key of Object.keys(DEFAULT_SETTINGS) as SettingKey[]) out[key] = await k.setting(key);
    return out;
  };
  return [
    route({
      method: 'GET',
      path: '/settings',
      summary: 'Settings (permissions.listen, permissions.download, permissions.delete)',
      role: 'admin',
      async handler(ctx) {
        sendJson(ctx.res, 200, { settings: await current(), levels: PERMISSION_LEVELS });
      },
    }),
    route({
      method: 'PUT',
      path: '/settings',
      summary: 'Change settings: nobody | admin | supervisor | user ("nobody" for delete is irreversible)',
      role: 'admin',
      body: z
        .object({
          'permissions.listen': z.enum(PERMISSION_LEVELS).optional(),
          'permissions.download': z.enum(PERMISSION_LEVELS).optional(),
          'permissions.delete': z.enum(PERMISSION_LEVELS).optional(),
        })
        .strict(),
      async handler(ctx, { body }) {
        const who = need(ctx);
        const changes: Record<string, { from: unknown; to: unknown }> = {};
        for (const [key, v] of Object.entries(body) as [SettingKey, PermissionLevel][]) {
          const before = await k.setting(key);
          if (before === v) continue;
          // "Nobody" for deletion is irreversible (as in the reference product): no one can lift it.
          if (key === 'permissions.delete' && before === 'nobody')
            throw conflict('deletion was set to "nobody", which is irreversible');
          await k.d.db.users.setSetting(key, v, who.username);
          changes[key] = { from: before, to: v };
        }
        if (Object.keys(changes).length > 0)
          await k.audit(ctx, 'setting.update', 'setting', Object.keys(changes).join(','), changes);
        // Who may listen changed: live listen-ins are checked again (those now refused stop).
        if (changes['permissions.listen']) k.d.accessChanged?.();
        sendJson(ctx.res, 200, { settings: await current() });
      },
    }),
  ];
}
