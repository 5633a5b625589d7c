import { get as httpGet } from 'node:http';
import { get as httpsGet } from 'node:https';
import { hostname } from 'node:os';
import type { Config } from '../config.js';
import type { TlsPolicy } from '../config/tls-policy.js';

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
 * alive. A connection refused, a reset, a TLS handshake refused or no answer within `timeoutMs`:
 * not alive. An https:// peer is held to `tls` (the server's TLS policy): node:https rather than
 * fetch, whose TLS options Node does not expose without the undici package.
 */
export function nodeAnswers(httpAddress: string, tls?: TlsPolicy, timeoutMs = 2000): Promise<boolean> {
  let url: URL;
  try {
    url = new URL(`${httpAddress.replace(/\/$/, '')}/healthz`);
  } catch {
    return Promise.resolve(false);
  }
  const get = url.protocol === 'https:' ? httpsGet : url.protocol === 'http:' ? httpGet : null;
  if (!get) return Promise.resolve(false);
  return new Promise((resolve) => {
    const req = get(
      url,
      { signal: AbortSignal.timeout(timeoutMs), agent: false, ...(url.protocol === 'https:' ? tls : {}) },
      (res) => {
        res.resume();
        req.destroy();
        resolve(true);
      },
    );
    req.on('error', () => resolve(false));
  });
}
