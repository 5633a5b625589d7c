import { exportRoutes } from './export.js';
import { makeKit, type ApiDeps } from './kit.js';
import { auditRoutes } from './resources/audit.js';
import { audioRoutes } from './resources/audio.js';
import { deliveryRoutes } from './resources/deliveries.js';
import { keyRoutes } from './resources/keys.js';
import { callRoutes } from './resources/calls.js';
import { policyRoutes } from './resources/policy.js';
import { retentionRoutes } from './resources/retention.js';
import { customFieldRoutes } from './resources/custom-fields.js';
import { evaluationRoutes } from './resources/evaluations.js';
import { integrityRoutes } from './resources/integrity.js';
import { interactionRoutes } from './resources/interactions.js';
import { liveRoutes } from './resources/live.js';
import { metaRoutes } from './resources/meta.js';
import { nodeRoutes } from './resources/nodes.js';
import { notificationRoutes } from './resources/notifications.js';
import { recordingDetailRoutes } from './resources/recording-detail.js';
import { recordingRoutes, searchQuery, toSearch } from './resources/recordings.js';
import { reportRoutes } from './resources/reports.js';
import { savedSearchRoutes } from './resources/saved-searches.js';
import { languageRoutes } from './resources/languages.js';
import { sessionRoutes } from './resources/sessions.js';
import { settingRoutes } from './resources/settings.js';
import { tokenRoutes } from './resources/tokens.js';
import { userRoutes } from './resources/users.js';
import { mount, need, parse, queryObject, type MountedApi, type RouteDef } from './table.js';

/**
 * The REST API under /api/v1: the route table of every resource module, mounted on one router.
 * Every access to recordings is role- and group-checked and audited.
 */

export type { ApiDeps } from './kit.js';
export { PERMISSION_LEVELS, type PermissionLevel } from './kit.js';
export { AudioAccess } from './access.js';
export type { Ctx } from './table.js';
export { recordingDetailJson } from './resources/recording-detail.js';

/** Every route of the API, in matching order. */
export function apiRoutes(d: ApiDeps): RouteDef[] {
  const k = makeKit(d);
  const table: RouteDef[] = [
    ...metaRoutes(() => table),
    ...sessionRoutes(k),
    ...recordingRoutes(k),
    // Before /recordings/:id, which would take "export" for an id.
    ...exportRoutes({
      db: d.db,
      artifacts: d.artifacts,
      query: searchQuery,
      filters: (url) => toSearch(parse(searchQuery, queryObject(url))),
      audit: k.audit,
      allowed: async (ctx) => {
        const who = need(ctx, 'user');
        await k.access.check(who, 'export');
        return who;
      },
      grantAudio: (ctx, id, details) => k.grantAudio(ctx, id, 'export', details),
      log: k.log,
    }),
    ...recordingDetailRoutes(k),
    ...customFieldRoutes(k),
    ...reportRoutes(k),
    ...savedSearchRoutes(k),
    ...audioRoutes(k),
    ...integrityRoutes(k),
    ...interactionRoutes(k),
    ...evaluationRoutes(k),
    ...liveRoutes(k),
    ...callRoutes(k, d.control),
    ...policyRoutes(k),
    ...retentionRoutes(k),
    ...userRoutes(k),
    ...notificationRoutes(k),
    ...languageRoutes(k),
    ...tokenRoutes(k),
    ...keyRoutes(k),
    ...settingRoutes(k),
    ...deliveryRoutes(k),
    ...auditRoutes(k),
    ...nodeRoutes(k),
  ];
  return table;
}

export function buildApi(d: ApiDeps): MountedApi {
  return mount(apiRoutes(d), (req) => d.auth.authenticate(req));
}
