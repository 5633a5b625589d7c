import { connect } from 'node:net';
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
 * Whether the node at `httpAddress` (its registry URL) is alive: a TCP connection to its HTTP port
 * completes within `timeoutMs`. A connection refused (a process killed a moment ago), a reset or
 * no connection in time: not alive. Nothing is sent: this is a question about the process, not a
 * connection carrying data, so neither the TLS policy nor the peer's certificate decides it (a
 * peer whose TLS ours refuses is still alive and still writes its live calls' spools). A process
 * frozen (SIGSTOP) counts as alive, its kernel accepting the connection: it writes again when it
 * resumes.
 */
export function nodeAnswers(httpAddress: string, timeoutMs = 2000): Promise<boolean> {
  let url: URL;
  try {
    url = new URL(httpAddress);
  } catch {
    return Promise.resolve(false);
  }
  const defaultPort = url.protocol === 'https:' ? 443 : url.protocol === 'http:' ? 80 : 0;
  if (!defaultPort) return Promise.resolve(false);
  const host = url.hostname.replace(/^\[(.*)\]$/, '$1');
  const port = url.port ? Number(url.port) : defaultPort;
  return new Promise((resolve) => {
    const sock = connect({ host, port, timeout: timeoutMs });
    const done = (alive: boolean) => {
      sock.destroy();
      resolve(alive);
    };
    sock.once('connect', () => done(true));
    sock.once('timeout', () => done(false));
    sock.once('error', () => done(false));
  });
}
