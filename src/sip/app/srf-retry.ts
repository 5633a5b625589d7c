import type Srf from 'drachtio-srf';

/** drachtio-srf's longest pause between two connection attempts (its default has no bound). */
export const RETRY_MAX_DELAY_MS = 2000;

/**
 * Stops drachtio-srf's reconnect loop. Srf#disconnect needs a connected socket, so while none is
 * up (drachtio not started yet, or gone) the pending retry is cancelled here, on its WireProtocol.
 */
export function stopRetrying(srf: Srf): void {
  const wp = (
    srf as unknown as {
      app?: {
        client?: { wp?: { closing?: boolean; reconnectVars?: { retryTimer?: NodeJS.Timeout | null } } };
      };
    }
  ).app?.client?.wp;
  if (!wp) return;
  wp.closing = true;
  if (wp.reconnectVars?.retryTimer) {
    clearTimeout(wp.reconnectVars.retryTimer);
    wp.reconnectVars.retryTimer = null;
  }
}
