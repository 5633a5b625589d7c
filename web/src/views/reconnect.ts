/**
 * When the live view's monitor socket tries again after it closed (src/monitor: the close codes).
 *
 * - 4401 (revoked: logout, token revoked, access changed) and 4403: never again on this page. A
 *   new login opens the view anew, and with it a new socket.
 * - 4429 (too many monitor sockets for this user) and 1008 (too many requests): backed off, from
 *   5 s, doubling up to 60 s. Another window must close first, so trying every second only adds
 *   load.
 * - Anything else (server restart 1001, network loss 1006): from 1 s, doubling up to 60 s.
 *
 * Each delay is drawn between half and all of its step (jitter), so that many consoles cut off
 * together do not come back together. `retries` counts the attempts since the last snapshot.
 */
export type CloseReason = 'too-many-sockets' | 'policy' | 'lost';

export const RECONNECT_MAX_MS = 60_000;

export function nextAttempt(
  code: number,
  retries: number,
  random: () => number = Math.random,
): { delayMs: number; reason: CloseReason } | null {
  if (code === 4401 || code === 4403) return null;
  const reason: CloseReason = code === 4429 ? 'too-many-sockets' : code === 1008 ? 'policy' : 'lost';
  const first = reason === 'lost' ? 1000 : 5000;
  const step = Math.min(RECONNECT_MAX_MS, first * 2 ** Math.min(retries, 10));
  return { delayMs: Math.round(step * (0.5 + random() / 2)), reason };
}
