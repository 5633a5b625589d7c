/**
 * A BYE whose remote target cannot be reached goes once more to where the dialog's INVITE came
 * from. The remote target is the INVITE's Contact, which an SRC behind NAT fills with its private
 * address, or which names a port that is closed; that BYE fails (a transport error, a timeout, a
 * 408) and the SRC would keep streaming to a session that is gone. Its source address and port
 * reached us, and RFC 3581's symmetric response routing sends responses there for the same reason:
 * over UDP the BYE is resent to them; over TCP/TLS only on the connection the INVITE came on, while
 * it is open (a new connection to the SRC's ephemeral port would reach nothing). Either way the
 * dialog ends.
 */
import type { Dialog } from './dialogs.js';
import type { Peer } from './transactions.js';
import type { TransportName } from './transport.js';
import type { EdgeLogger } from './types.js';

/** What followed a BYE whose remote target failed (srs_sip_bye_fallback_total). */
export interface ByeFallbackCounters {
  /** Resent to the INVITE's source. */
  resent: number;
  /** ... and answered there (a final response). */
  answered: number;
  /** ... and not answered there either (transport error, timeout, 408). */
  unanswered: number;
  /** Not resent: no source to try (the same address as the target, or its connection is gone). */
  notResent: number;
}

export function newByeFallbackCounters(): ByeFallbackCounters {
  return { resent: 0, answered: 0, unanswered: 0, notResent: 0 };
}

function samePeer(a: Peer, b: Peer): boolean {
  return a.transport === b.transport && a.address === b.address && a.port === b.port;
}

export class ByeFallback {
  readonly counters = newByeFallbackCounters();

  constructor(
    private readonly log: EdgeLogger,
    private readonly hasConnection: (transport: TransportName, address: string, port: number) => boolean,
  ) {}

  /**
   * The BYE of dialog `d` to `failed` (undefined: its target did not resolve) failed for `why`:
   * the INVITE's source to resend it to (counted and logged), or undefined (counted and logged).
   */
  target(d: Dialog, failed: Peer | undefined, why: string): Peer | undefined {
    const s = d.source;
    const usable =
      !!s &&
      !(failed && samePeer(s, failed)) &&
      (s.transport === 'udp' || this.hasConnection(s.transport, s.address, s.port));
    const contact = failed ? `${failed.transport}:${failed.address}:${failed.port}` : d.remoteTarget;
    if (!usable || !s) {
      this.counters.notResent++;
      this.log.warn(
        { callId: d.callId, contact, why },
        'BYE to the remote target failed and the INVITE source cannot be tried; the dialog ends here',
      );
      return undefined;
    }
    this.counters.resent++;
    this.log.warn(
      { callId: d.callId, contact, source: `${s.transport}:${s.address}:${s.port}`, why },
      'BYE to the remote target failed; resending it to the INVITE source',
    );
    return s;
  }

  /** The BYE resent to the source got a final response (`status`, 0: none: timeout, transport). */
  outcome(d: Dialog, status: number): void {
    if (status > 0 && status !== 408) {
      this.counters.answered++;
      this.log.info({ callId: d.callId, status }, 'BYE answered at the INVITE source');
    } else {
      this.counters.unanswered++;
      this.log.warn(
        { callId: d.callId, status },
        'BYE not answered at the INVITE source either; the dialog ends here',
      );
    }
  }
}
