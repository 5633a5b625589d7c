import { hostname } from 'node:os';
import { z } from 'zod';

/**
 * Cluster settings (`cluster` in the configuration). A leaf module (zod only), so that
 * src/config.ts, the one reader of the environment, builds and validates them with the rest.
 *
 * Env (highest) > config file `cluster: {...}` > defaults:
 *   SRS_NODE_ID (default: <host name>-<SIP port>, stable across restarts and distinct for nodes
 *   sharing a host),
 *   SRS_NODE_HTTP_ADDRESS (how other nodes reach this node's HTTP server, default
 *   http://<HTTP_HOST, or the host name when it is 0.0.0.0>:<HTTP_PORT>),
 *   SRS_NODE_HEARTBEAT_SECONDS (default 5; a node is shown down after 3 missed),
 *   SRS_DRAIN_TIMEOUT_SECONDS (default 0: a drain waits for every live call to end),
 *   SRS_CLUSTER_SECRET (node-to-node authentication; unset: no relay between nodes).
 */

const optionalString = z
  .string()
  .optional()
  .transform((v) => (v === undefined || v === '' ? undefined : v));

export const clusterSchema = z.object({
  nodeId: z
    .string()
    .regex(/^[A-Za-z0-9][A-Za-z0-9._-]{0,62}$/, 'letters, digits, . _ - (up to 63), e.g. srs-a'),
  httpAddress: optionalString.pipe(z.url({ protocol: /^https?$/ }).optional()),
  heartbeatSeconds: z.coerce.number().int().min(1).max(300),
  drainTimeoutSeconds: z.coerce
    .number()
    .int()
    .min(0)
    .max(7 * 86_400),
  secret: optionalString.pipe(z.string().min(16, 'at least 16 characters').optional()),
});

export type ClusterConfig = z.infer<typeof clusterSchema>;

type Env = Readonly<Record<string, string | undefined>>;

/** The raw `cluster` settings from the environment and the config file, for clusterSchema. */
export function clusterSettings(
  env: Env,
  file: Readonly<Record<string, unknown>> | undefined,
  sipPort: unknown,
): unknown {
  const f = file ?? {};
  const pick = (e: string | undefined, fv: unknown, dflt?: unknown): unknown =>
    e !== undefined && e !== '' ? e : fv !== undefined ? fv : dflt;
  return {
    nodeId: pick(env.SRS_NODE_ID, f.nodeId, `${hostname().split('.')[0] || 'srs'}-${String(sipPort)}`),
    httpAddress: pick(env.SRS_NODE_HTTP_ADDRESS, f.httpAddress),
    heartbeatSeconds: pick(env.SRS_NODE_HEARTBEAT_SECONDS, f.heartbeatSeconds, 5),
    drainTimeoutSeconds: pick(env.SRS_DRAIN_TIMEOUT_SECONDS, f.drainTimeoutSeconds, 0),
    secret: pick(env.SRS_CLUSTER_SECRET, f.secret),
  };
}
