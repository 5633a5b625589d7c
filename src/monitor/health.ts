/**
 * Media health of live calls for the monitor: each leg's loss, and the poll that publishes a
 * call-update when a call's loss counters change.
 */
import type { WebSocket } from 'ws';
import type { ActiveCall } from '../recording/types.js';
import type { Client, LegHealthCounters, MonitorOptions } from './types.js';

interface MediaHealth {
  legId: string;
  packetsReceived: number;
  packetsLost: number;
  lossPercent: number;
}

/** Each leg's counters and loss (percent, two decimals). */
export function healthOf(stats: { legs: readonly LegHealthCounters[] } | undefined): MediaHealth[] {
  return (stats?.legs ?? []).map((l) => ({
    legId: l.legId,
    packetsReceived: l.packetsReceived,
    packetsLost: l.packetsLost,
    lossPercent:
      l.packetsReceived + l.packetsLost > 0
        ? Math.round((10000 * l.packetsLost) / (l.packetsReceived + l.packetsLost)) / 100
        : 0,
  }));
}

/**
 * Every `statsIntervalMs` (default 1 s), while clients are connected, sends a call-update (`view`)
 * of each live call whose loss counters changed to the clients that may see it. Returns the timer.
 */
export function startHealthPoll(
  o: Pick<MonitorOptions, 'stats' | 'counters' | 'source' | 'statsIntervalMs'>,
  clients: ReadonlyMap<WebSocket, Client>,
  view: (call: ActiveCall) => unknown,
  sendText: (ws: WebSocket, text: string) => void,
): NodeJS.Timeout {
  const lastHealth = new Map<string, string>();
  const statsTimer = setInterval(() => {
    if ((!o.stats && !o.counters) || clients.size === 0) return;
    // One engine call for every live call when the batched counters are there.
    const all = o.counters?.();
    const statsOf = (id: string) => {
      if (!all) return o.stats?.(id);
      const legs = all.get(id);
      return legs && { legs };
    };
    const live = new Set<string>();
    for (const call of o.source.activeCalls()) {
      live.add(call.recordingId);
      const media = healthOf(statsOf(call.recordingId));
      const key = JSON.stringify(media.map((m) => [m.packetsLost, m.packetsReceived > 0]));
      if (lastHealth.get(call.recordingId) === key) continue;
      lastHealth.set(call.recordingId, key);
      const text = JSON.stringify({ type: 'call-update', call: view(call) });
      for (const [ws, c] of clients) if (c.filter(call.participants)) sendText(ws, text);
    }
    for (const id of lastHealth.keys()) if (!live.has(id)) lastHealth.delete(id);
  }, o.statsIntervalMs ?? 1000);
  statsTimer.unref();
  return statsTimer;
}
