import { EventEmitter } from 'node:events';
import { ClusterLive } from '../../src/cluster/live.js';
import { createLogger } from '../../src/log.js';
import type { NodesRepository } from '../../src/store/nodes.js';

/**
 * Node A's live view for the relay tests: no call of its own, the other nodes' calls as
 * `remoteCalls` lists them (rows of `cluster_calls` with their node's address), read every 50 ms,
 * and a cluster secret, so that listen-in to them is relayed.
 */
export function clusterLiveOf(remoteCalls: () => unknown[]): ClusterLive {
  const nodes = { remoteCalls: () => Promise.resolve(remoteCalls()) } as unknown as NodesRepository;
  return new ClusterLive({
    nodeId: 'node-a',
    local: Object.assign(new EventEmitter(), { activeCalls: () => [] }),
    nodes,
    intervalMs: 50,
    secret: 'relay-test-secret-0123456789',
    taps: undefined,
    log: createLogger('silent'),
  });
}
