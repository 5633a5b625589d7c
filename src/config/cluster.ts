import { hostname } from 'node:os';
import { z } from 'zod';
import { httpUrl, integer, optionalString } from './values.js';

/**
 * Cluster settings (`cluster` in the configuration), validated by src/config.ts, the one reader of
 * the environment, with the rest; src/cluster takes the result (ClusterConfig).
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

/** The cluster settings read from the environment: key in `cluster` -> variable. */
export const CLUSTER_ENV = {
  nodeId: 'SRS_NODE_ID',
  httpAddress: 'SRS_NODE_HTTP_ADDRESS',
  heartbeatSeconds: 'SRS_NODE_HEARTBEAT_SECONDS',
  drainTimeoutSeconds: 'SRS_DRAIN_TIMEOUT_SECONDS',
  secret: 'SRS_CLUSTER_SECRET',
} as const;

export const clusterSchema = z.object({
  nodeId: z
    .string()
    .regex(/^[A-Za-z0-9][A-Za-z0-9._-]{0,62}$/, 'letters, digits, . _ - (up to 63), e.g. srs-a'),
  httpAddress: optionalString.pipe(httpUrl.optional()),
  heartbeatSeconds: integer(1, 300),
  drainTimeoutSeconds: integer(0, 7 * 86_400),
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
  const pick = (key: keyof typeof CLUSTER_ENV, fv: unknown, dflt?: unknown): unknown => {
    const e = env[CLUSTER_ENV[key]];
    return e !== undefined && e !== '' ? e : fv !== undefined ? fv : dflt;
  };
  // The default id takes the SIP port as given; a bad port is refused on its own (sip.port).
  const port = /^\d{1,5}$/.test(String(sipPort).trim()) ? String(sipPort).trim() : '5060';
  return {
    nodeId: pick('nodeId', f.nodeId, `${hostname().split('.')[0] || 'srs'}-${port}`),
    httpAddress: pick('httpAddress', f.httpAddress),
    heartbeatSeconds: pick('heartbeatSeconds', f.heartbeatSeconds, 5),
    drainTimeoutSeconds: pick('drainTimeoutSeconds', f.drainTimeoutSeconds, 0),
    secret: pick('secret', f.secret),
  };
}
