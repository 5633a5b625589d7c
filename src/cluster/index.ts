import { hostname } from 'node:os';
import type { Config } from '../config.js';

/** The cluster: node registry, drain, live-call registry. See docs/cluster.md. */
export { ClusterNode, type ClusterNodeOptions } from './node.js';
export { ClusterLive, PeerVerifier, peerAudience, peerAuthorization, type ActingFor } from './live.js';
export { ControlRelay } from './control-relay.js';
export type { ClusterConfig } from '../config/cluster.js';

const unspecified = (a: string | undefined): boolean => !a || a === '0.0.0.0' || a === '::';

/** How other nodes and operators reach this node: SIP host:port, media address, HTTP base URL. */
export function nodeAddresses(
  config: Config,
  sipPort: number,
  httpPort: number,
): { sip: string; media: string; http: string } {
  const host = (a: string | undefined): string => (unspecified(a) ? hostname() : (a as string));
  const sipHost = config.sip.publicAddress ?? host(config.sip.host);
  const httpHost = host(config.http.host);
  return {
    sip: `${sipHost}:${sipPort}`,
    media: config.media.advertiseAddress ?? host(config.media.bindAddress),
    http: config.cluster.httpAddress ?? `http://${httpHost}:${httpPort}`,
  };
}

/**
 * Whether the node at `httpAddress` (its registry URL) answers HTTP now, whatever the status:
 * alive. A connection refused, a reset or no answer within `timeoutMs`: not alive.
 */
export async function nodeAnswers(httpAddress: string, timeoutMs = 2000): Promise<boolean> {
  try {
    const r = await fetch(`${httpAddress.replace(/\/$/, '')}/healthz`, {
      signal: AbortSignal.timeout(timeoutMs),
    });
    await r.body?.cancel();
    return true;
  } catch {
    return false;
  }
}
