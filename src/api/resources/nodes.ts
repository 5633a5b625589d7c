import { notFound, sendJson } from '../http.js';
import type { Kit } from '../kit.js';
import { route, type RouteDef } from '../table.js';

/** The cluster's nodes: list them with their state, drain one. Admin only. */
export function nodeRoutes(k: Kit): RouteDef[] {
  const cluster = k.d.cluster;
  if (!cluster) return [];
  return [
    route({
      method: 'GET',
      path: '/nodes',
      summary:
        'The nodes of the cluster: addresses, calls in use, status (up, draining, stopped, or down when 3 heartbeats are missed)',
      role: 'admin',
      async handler(ctx) {
        const items = (await cluster.nodes.list()).map((n) => ({ ...n, self: n.id === cluster.nodeId }));
        sendJson(ctx.res, 200, { items });
      },
    }),
    route({
      method: 'POST',
      path: '/nodes/:id/drain',
      summary:
        'Drain a node: it refuses new calls (OPTIONS and INVITE 503), lets live calls end, waits for its recordings to be stored, then exits',
      role: 'admin',
      response: { status: 202 },
      async handler(ctx, { params }) {
        const id = params.id as string;
        if (!(await cluster.nodes.requestDrain(id))) throw notFound(`no running node ${id}`);
        await k.audit(ctx, 'node.drain', 'node', id);
        sendJson(ctx.res, 202, { node: id, drainRequested: true });
      },
    }),
  ];
}
