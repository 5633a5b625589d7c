import { z } from 'zod';
import {
  abandonReasonProblem,
  forgetDetails,
  forgetNode,
  NodeForgetRefused,
} from '../../store/node-forget.js';
import { HttpError, notFound, sendJson } from '../http.js';
import { mapConflict, type Kit } from '../kit.js';
import { qBool, qStr, route, type RouteDef } from '../table.js';

/** The cluster's nodes: list them with their state, drain one, forget a dead one. Admin only. */
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
    route({
      method: 'DELETE',
      path: '/nodes/:id',
      summary:
        'Forget a node that is gone for good: down or stopped (409 while alive) and none of its recordings waiting for its data directory (409), unless abandonRecordings gives them up (marked failed, each audited recording.abandon); its registry rows go, audited node.forget',
      role: 'admin',
      query: z.object({
        abandonRecordings: qBool(
          'its data directory is lost for good: mark the recordings waiting for it failed (needs reason)',
        ),
        reason: qStr('why the recordings are given up (required with abandonRecordings=true)'),
      }),
      async handler(ctx, { params, query }) {
        const id = params.id as string;
        const reason = query.reason?.trim() ?? '';
        const problem = query.abandonRecordings === true ? abandonReasonProblem(reason) : undefined;
        if (problem) throw new HttpError(400, `abandonRecordings=true: ${problem}`);
        if (query.abandonRecordings !== true && query.reason !== undefined)
          throw new HttpError(400, 'reason goes with abandonRecordings=true');
        const node = await forgetNode(
          k.d.db.pool,
          id,
          (n) => k.auditEntry(ctx, 'node.forget', 'node', id, forgetDetails(n, reason)),
          query.abandonRecordings === true ? { reason } : undefined,
        ).catch((err: unknown) => {
          // The reason and the waiting recordings, for a client to act on (recover them first).
          if (err instanceof NodeForgetRefused)
            throw new HttpError(409, err.message, {}, { reason: err.reason, recordings: err.recordingIds });
          return mapConflict(err);
        });
        sendJson(ctx.res, 200, {
          node: id,
          forgotten: true,
          status: node.status,
          calls: node.calls,
          abandoned: node.abandoned,
        });
      },
    }),
  ];
}
