import type { ActiveCall } from '../../recording/types.js';
import { participantFilter } from '../../store/users.js';
import { sendJson } from '../http.js';
import type { Kit } from '../kit.js';
import { need, route, type RouteDef } from '../table.js';

/** Calls being recorded now, as far as the principal may see them, with their media health. */
export function liveRoutes({ d }: Kit): RouteDef[] {
  return [
    route({
      method: 'GET',
      path: '/calls',
      summary:
        'Active calls visible to the caller, with duration and media health (this node), on every node of the cluster (nodeId)',
      role: 'record-only',
      async handler(ctx) {
        const visible = await participantFilter(d.db.users, need(ctx));
        const now = Date.now();
        const items = d.live
          .activeCalls()
          .filter((c) => visible(c.participants))
          .map((c) => ({
            ...c,
            durationMs: now - new Date(c.startedAt).getTime(),
            media: d.stats?.(c.recordingId)?.legs.map((l) => {
              const sent = l.packetsReceived + l.packetsLost;
              return {
                legId: l.legId,
                packetsReceived: l.packetsReceived,
                packetsLost: l.packetsLost,
                lossPercent: sent > 0 ? (100 * l.packetsLost) / sent : 0,
              };
            }),
          }));
        // Other nodes' calls from the cluster-wide registry, marked with their node.
        const remote = d.cluster
          ? (await d.cluster.nodes.remoteCalls(d.cluster.nodeId))
              .map((r) => r.call as unknown as ActiveCall & { nodeId: string })
              .filter((c) => visible(c.participants))
              .map((c) => ({ ...c, durationMs: now - new Date(c.startedAt).getTime() }))
          : [];
        const self = d.cluster ? { nodeId: d.cluster.nodeId } : {};
        sendJson(ctx.res, 200, { items: [...items.map((c) => ({ ...c, ...self })), ...remote] });
      },
    }),
  ];
}
