/**
 * SDES keys in the clear. An SDES offer carries the SRTP master keys in its SDP (RFC 4568
 * `a=crypto ... inline:<key>`): whoever reads the SIP message decrypts the media. RFC 4568 section
 * 8.3 asks for signalling that is itself protected (TLS); over UDP or plain TCP the keys are
 * readable by anyone on the path. Each such offer (INVITE, re-INVITE, UPDATE; also our own, in the
 * 200 to a re-INVITE without SDP, and the SRC's answer to it in the ACK) is counted, a
 * warning is logged once per source address per WARN_INTERVAL_MS (a busy SRC would otherwise log a
 * line per call), and with SRS_SDES_REQUIRE_TLS the offer gets 488 with a Warning.
 */
import type { Logger } from '../../log.js';
import { Reject, warning } from './requests.js';
import type { OfferedStream } from './sdp.js';

/** Transports whose signalling is encrypted: TLS, and secure WebSocket (a drachtio-server can take it). */
const ENCRYPTED = new Set(['tls', 'wss']);

/** One warning per source per 10 minutes: enough to be seen in the log, not a line per call. */
export const WARN_INTERVAL_MS = 10 * 60_000;
/** Sources remembered for the warning interval; past this, the oldest are forgotten first. */
const MAX_SOURCES_REMEMBERED = 10_000;

/** The Warning text of the 488 (RFC 3261 section 20.43, code 399). */
export const KEYS_NEED_TLS = 'SRTP keys (a=crypto) require SIP over TLS (SRS_SDES_REQUIRE_TLS)';

/** Whether any m-line of the offer carries an a=crypto line (usable or not, its key is on the wire). */
export function offersSdesKeys(offer: readonly OfferedStream[]): boolean {
  return offer.some((s) => s.crypto.length > 0 || s.cryptoRefused.length > 0);
}

export interface SdesTransportOptions {
  /** SRS_SDES_REQUIRE_TLS: refuse such offers with 488 (else take them, counted and warned). */
  requireTls: boolean;
  log: Logger;
  now?: () => number;
}

/** Counts, warns about and (when required) refuses SDES offers that did not arrive over TLS. */
export class SdesTransportCheck {
  /** Offers with keys that did not arrive over TLS, by `<transport>|<outcome>`. */
  readonly #counts = new Map<string, number>();
  /** When each source was last warned about. */
  readonly #warned = new Map<string, number>();

  constructor(private readonly o: SdesTransportOptions) {}

  /**
   * The offer of a request that arrived over `protocol` (drachtio's: udp, tcp, tls, ws, wss) from
   * `source`: null when it may go on, the 488 to answer when its keys must not be taken.
   */
  check(
    offer: readonly OfferedStream[],
    protocol: string | undefined,
    source: string,
    method: string,
  ): Reject | null {
    const transport = (protocol ?? '').toLowerCase() || 'unknown';
    if (ENCRYPTED.has(transport) || !offersSdesKeys(offer)) return null;
    const refused = this.o.requireTls;
    const key = `${transport}|${refused ? 'refused' : 'accepted'}`;
    this.#counts.set(key, (this.#counts.get(key) ?? 0) + 1);
    this.#warn(source, transport, method, refused);
    return refused ? new Reject(488, 'Not Acceptable Here', { Warning: warning(KEYS_NEED_TLS) }) : null;
  }

  /** The counts for /metrics: one sample per transport and outcome seen. */
  samples(): { labels: { transport: string; outcome: string }; value: number }[] {
    return [...this.#counts].map(([k, value]) => {
      const [transport = '', outcome = ''] = k.split('|');
      return { labels: { transport, outcome }, value };
    });
  }

  #warn(source: string, transport: string, method: string, refused: boolean): void {
    const now = (this.o.now ?? Date.now)();
    const last = this.#warned.get(source);
    if (last !== undefined && now - last < WARN_INTERVAL_MS) return;
    this.#warned.delete(source);
    if (this.#warned.size >= MAX_SOURCES_REMEMBERED) {
      for (const [s, at] of this.#warned) if (now - at >= WARN_INTERVAL_MS) this.#warned.delete(s);
      // Still full: the oldest (first inserted) go.
      for (const s of this.#warned.keys()) {
        if (this.#warned.size < MAX_SOURCES_REMEMBERED) break;
        this.#warned.delete(s);
      }
    }
    this.#warned.set(source, now);
    this.o.log.warn(
      { source, transport, method, refused, nextWarningInMinutes: WARN_INTERVAL_MS / 60_000 },
      refused
        ? 'SRTP keys offered over SIP without TLS: refused with 488 (SRS_SDES_REQUIRE_TLS)'
        : 'SRTP keys offered over SIP without TLS: readable by anyone on the path (set SRS_SDES_REQUIRE_TLS=true to refuse them)',
    );
  }
}
