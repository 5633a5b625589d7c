import Srf from 'drachtio-srf';
import { rateLimited, type Logger } from '../../log.js';
import { CapacityError } from '../../errors.js';
import type { RecordingPort } from '../../recording/types.js';
import { buildAnswer, type AnswerRules, type OfferedStream, type SrtpMode } from './sdp.js';
import { newLocalKey } from './sdes.js';
import { participantsForLabels } from './metadata.js';
import {
  DEFAULT_POLICY,
  callDirection,
  compilePolicy,
  type CompiledPolicy,
  type RecordingPolicyConfig,
} from './policy.js';
import { answerOf, type Slot } from './session.js';
import { rateLimiter, type Admission } from './admission.js';
import { agreedTimer, negotiateSessionTimer, type SessionTimerConfig } from './session-timer.js';
import { partiesOf } from './call-metadata.js';
import { runExcludedDialog } from './excluded-dialog.js';
import { runRecordingDialog } from './dialog.js';
import { sipFieldValues, type FieldSource } from './sip-fields.js';
import { RETRY_MAX_DELAY_MS, stopRetrying } from './srf-retry.js';
import type { SdesTransportCheck } from './sdes-transport.js';
import {
  REASONS,
  Reject,
  capacityReject,
  checkRequire,
  isUnspecified,
  localAddress,
  parseBody,
  planStreams,
  readMetadataOr413,
  recognisedBy,
  warning,
} from './requests.js';

export interface SiprecAppOptions {
  /** drachtio server to connect to: the embedded edge or an external drachtio-server. */
  drachtio: { host: string; port: number; secret: string };
  recording: RecordingPort;
  log: Logger;
  /** Address for SDP c= lines; default: the local address the INVITE arrived on. */
  mediaAddress?: string | undefined;
  /** Address for our Contact; default: the local address and port the INVITE arrived on. */
  publicAddress?: string | undefined;
  retryAfterSeconds?: number;
  /** Recording policy; default: record every call. */
  policy?: RecordingPolicyConfig;
  /** The policy current now (src/recording/live-policy.ts), read at each INVITE; wins over `policy`. */
  currentPolicy?: (() => CompiledPolicy) | undefined;
  /** New sessions per second accepted (burst of one second); 0 or unset = no limit. */
  maxCallsPerSecond?: number;
  /** SRS_SRTP: take SRTP or plain RTP (accept, the default), only SRTP (require), or only plain RTP (off). */
  srtp?: SrtpMode;
  /** SDES offers that did not arrive over TLS: counted, warned, refused with SRS_SDES_REQUIRE_TLS. */
  sdesTransport?: SdesTransportCheck;
  /** Who may record and how much (src/sip/app/admission.ts); unset = everyone, no limits. */
  admission?: Admission;
  /** RFC 4028 session timers as UAS; unset = not offered. */
  sessionTimer?: SessionTimerConfig;
  /** Mutual TLS: the verified client certificate subject of the SRC's connection, stored with the recording. */
  tlsSubjectOf?: (address: string, port: number) => string | undefined;
  /** Custom field values to read from each INVITE (sip.fieldsFrom), and where they go. */
  fieldsFrom?: readonly FieldSource[];
  setFields?: (recordingId: string, values: Record<string, string>) => Promise<void>;
  /**
   * Why this node takes no new call now (draining, at capacity), or null. When set, OPTIONS and
   * new INVITEs are answered 503 (a load balancer's probe then moves calls elsewhere).
   */
  refusal?: () => string | null;
}

export interface SiprecApp {
  /** Connected and authenticated to the drachtio server now. */
  readonly connected: boolean;
  /**
   * Settles on the first answer of the drachtio server: resolves when connected, rejects when it
   * refused the secret. Until then (and after a lost connection) drachtio-srf keeps retrying.
   */
  readonly ready: Promise<void>;
  /** Closes the connection (or stops the retries while there is none). */
  close(): void;
}

/** The transport a request arrived over, as drachtio says (udp, tcp, tls, ws, wss). */
const protocolOf = (req: Srf.SrfRequest): string | undefined =>
  (req as unknown as { protocol?: string }).protocol;

/**
 * The SIPREC application, written with drachtio-srf. It connects to a drachtio server (the
 * embedded edge or a real drachtio-server) and answers every INVITE with a final response.
 * Returned at once: it takes calls whenever the connection is up, however late that is.
 */
export function startSiprecApp(o: SiprecAppOptions): SiprecApp {
  const srf = new Srf();
  const log = o.log.child({ part: 'siprec' });
  // Refusals are counted in /metrics; a flood of them is not a line each.
  const logRejected = rateLimited(log, 'info', 'SIPREC INVITE rejected');
  const logOverCapacity = rateLimited(log, 'warn', 'over capacity');
  const rules: AnswerRules = { srtp: o.srtp ?? 'accept', decodable: o.recording.decodable };
  const fixedPolicy = compilePolicy(o.policy ?? DEFAULT_POLICY);
  const admitRate = rateLimiter(o.maxCallsPerSecond ?? 0);
  const retryAfter = String(o.retryAfterSeconds ?? 5);
  const drachtio = `${o.drachtio.host}:${o.drachtio.port}`;
  let connected = false;
  let closed = false;
  // One warning per stretch without drachtio; the retries after it (every few seconds) at debug.
  let warned = false;
  const lost = (msg: string, detail: Record<string, unknown>): void => {
    connected = false;
    if (closed) return;
    if (warned) log.debug({ ...detail, drachtio }, msg);
    else log.warn({ ...detail, drachtio }, `${msg}; retrying until drachtio answers`);
    warned = true;
  };

  srf.on('error', (err: Error) => lost('drachtio connection error', { err: err.message }));
  // A drachtio server that goes away cleanly ends the socket without an error.
  (srf as unknown as NodeJS.EventEmitter).on('close', () => {
    if (connected) lost('drachtio connection closed', {});
  });

  // SRCs probe recorders with OPTIONS and fail over on no answer (SIPREC-NOTES.md).
  (srf as unknown as { options(fn: (req: Srf.SrfRequest, res: Srf.SrfResponse) => void): void }).options(
    (_req, res) => {
      const headers = {
        Accept: 'application/sdp, multipart/mixed, application/rs-metadata+xml',
        Allow: 'INVITE, ACK, BYE, CANCEL, OPTIONS, UPDATE',
        Supported: 'siprec',
      };
      const why = o.refusal?.();
      if (why)
        res.send(503, 'Service Unavailable', {
          headers: { ...headers, 'Retry-After': retryAfter, Warning: warning(why) },
        });
      else res.send(200, { headers });
    },
  );

  srf.invite((req, res) => {
    void handleInvite(req, res).catch((err: unknown) => {
      log.error({ err }, 'INVITE handler failed');
      if (!res.finalResponseSent)
        res.send(500, 'Server Internal Error', { headers: { Warning: warning('internal error') } });
    });
  });

  async function handleInvite(req: Srf.SrfRequest, res: Srf.SrfResponse): Promise<void> {
    const callId = req.get('Call-ID');
    const clog = log.child({ callId });
    let recordingId: string | null = null;
    const source: string = req.source_address ?? '';
    const protocol = protocolOf(req);
    let tracked = false;
    try {
      const refused = o.refusal?.();
      if (refused)
        throw new Reject(503, 'Service Unavailable', {
          'Retry-After': retryAfter,
          Warning: warning(refused),
        });
      const refusedSource = o.admission?.checkSource(source);
      if (refusedSource) throw new Reject(refusedSource.status, refusedSource.reason, refusedSource.headers);
      // RFC 4028 section 7.1: an SRC may require the session timer, which this server runs when set.
      checkRequire(req, o.sessionTimer ? ['timer'] : []);
      const timer = o.sessionTimer ? negotiateSessionTimer(req, o.sessionTimer) : null;
      if (timer && 'reject' in timer) throw new Reject(422, 'Session Interval Too Small', timer.reject);
      const { offer, sdp, metadataXml } = parseBody(req);
      const keysRefused = o.sdesTransport?.check(offer, protocol, source, 'INVITE');
      if (keysRefused) throw keysRefused;
      const md = readMetadataOr413(metadataXml, clog);
      const refusedSession = o.admission?.checkSession(source, offer.filter((s) => s.port !== 0).length);
      if (refusedSession)
        throw new Reject(refusedSession.status, refusedSession.reason, refusedSession.headers);
      // Counted now, before any await: simultaneous INVITEs from one source cannot all pass the check.
      o.admission?.track(source, true);
      tracked = true;
      const { record, choices } = planStreams(offer, md, rules, source);
      if (!admitRate()) {
        throw new Reject(503, 'Service Unavailable', {
          'Retry-After': '1',
          Warning: warning(`call rate limit reached (${o.maxCallsPerSecond} new sessions per second)`),
        });
      }
      // The policy current when the INVITE arrived decides the whole call.
      const policy = o.currentPolicy?.() ?? fixedPolicy;
      const decision = policy.decide(partiesOf(md));
      // Built only when it is written: at hundreds of calls a second servers log at warn.
      if (clog.isLevelEnabled('info'))
        clog.info(
          {
            recognisedBy: recognisedBy(req, metadataXml),
            policy: { record: decision.record, direction: decision.direction, scope: decision.scope },
            caller: decision.caller,
            callee: decision.callee,
            reason: decision.reason,
          },
          'SIPREC INVITE',
        );
      if (!decision.record && policy.config.excludedAction === 'decline') {
        const status = policy.config.declineStatus;
        throw new Reject(status, REASONS[status] ?? 'Not Recorded', {
          Warning: warning(`not recorded by policy: ${decision.reason}`),
        });
      }

      const local = localAddress(req);
      const mediaAddress = o.mediaAddress ?? (isUnspecified(local?.host) ? '127.0.0.1' : local!.host);
      const contactHost = o.publicAddress ?? local?.host ?? '127.0.0.1';
      const param = protocol === 'tcp' || protocol === 'tls' ? `;transport=${protocol}` : '';
      const contact = `<sip:${contactHost}${local ? `:${local.port}` : ''}${param}>;+sip.srs`;
      let ports: number[] = [];
      if (!decision.record && tracked) {
        // Answered but not recorded: not a session of the source's count.
        o.admission?.track(source, false);
        tracked = false;
      }
      if (decision.record) {
        const started = await o.recording.start({
          callId,
          srcAddress: `${req.source_address}:${req.source_port}`,
          sessionId: md?.sessions[0]?.id ?? null,
          participants: md ? participantsForLabels(md) : [],
          metadataXml,
          streams: record,
          interactionId: md?.groups[0]?.slice(0, 256) ?? null,
          direction: callDirection(decision, policy.config),
        });
        recordingId = started.recordingId;
        ports = started.ports;
        const fields = o.fieldsFrom?.length
          ? sipFieldValues((n) => req.get(n), metadataXml, o.fieldsFrom)
          : {};
        if (o.setFields && Object.keys(fields).length > 0)
          void o
            .setFields(started.recordingId, fields)
            .catch((err: unknown) => clog.warn({ err }, 'could not store the custom fields the SRC sent'));
        const subject = o.tlsSubjectOf?.(source, Number(req.source_port));
        if (subject !== undefined) {
          void o.recording
            .addEvents(started.recordingId, [
              { at: new Date(), type: 'src-tls-identity', detail: { subject } },
            ])
            .catch((err: unknown) => clog.warn({ err }, 'could not store the SRC certificate subject'));
          clog.info({ subject }, 'SRC authenticated by its TLS client certificate');
        }
      }
      // Every m-line of the offer, recorded or declined (policy-excluded calls: all declined).
      const slots: Slot[] = offer.map((s) => {
        const i = record.findIndex((r) => r.index === s.index);
        const choice = choices.get(s.index) ?? null;
        const port = i >= 0 && decision.record ? (ports[i] ?? 0) : 0;
        return {
          index: s.index,
          label: s.label,
          port,
          choice: port ? choice : null,
          localKey: port && choice?.crypto ? newLocalKey(choice.crypto.suite) : null,
          paused: s.direction === 'inactive',
        };
      });
      const answer = buildAnswer(sdp, answerOf(slots), mediaAddress, 1);
      const checkKeys = (r: Srf.SrfRequest, offer: OfferedStream[]): Reject | null =>
        o.sdesTransport?.check(
          offer,
          protocolOf(r),
          r.source_address ?? source,
          r.method === 'INVITE' ? 're-INVITE' : r.method,
        ) ?? null;
      const timerOf = agreedTimer(timer);
      const id = recordingId;
      // The callback form: srf calls it as it creates the dialog, and the dialog's listeners are
      // attached there and then. A promise would attach them a turn later, after srf may already
      // have read the SRC's ACK and a re-INVITE behind it (one read from the edge) and answered that
      // re-INVITE itself with the old SDP: its new streams unrecorded, its metadata lost.
      await new Promise<void>((resolve, reject) =>
        srf.createUAS(
          req,
          res,
          {
            localSdp: answer,
            headers: {
              Contact: contact,
              'Content-Type': 'application/sdp',
              ...timerOf.timerHeaders,
            },
          },
          (err: unknown, dialog: Srf.Dialog) => {
            if (err) {
              reject(err as Error);
              return;
            }
            if (clog.isLevelEnabled('info'))
              clog.info(
                { recordingId: id, ports },
                decision.record ? 'SIPREC session answered' : 'SIPREC session answered, not recorded',
              );
            // Nothing to record: its offers are answered on port 0 until the BYE or its timer expires.
            if (id === null)
              runExcludedDialog({ dialog, log: clog, mediaAddress, contact, answer, ...timerOf, checkKeys });
            else
              try {
                runRecordingDialog({
                  dialog,
                  recordingId: id,
                  recording: o.recording,
                  log: clog,
                  rules,
                  mediaAddress,
                  contact,
                  retryAfter,
                  md,
                  slots,
                  answer,
                  ...timerOf,
                  checkStreams: (n) => o.admission?.checkStreams(n) ?? null,
                  checkKeys,
                  untrack: () => {
                    if (tracked) o.admission?.track(source, false);
                    tracked = false;
                  },
                });
              } catch (e) {
                reject(e as Error);
                return;
              }
            resolve();
          },
        ),
      );
    } catch (err) {
      if (tracked) o.admission?.track(source, false);
      if (recordingId)
        void o.recording
          .end(recordingId, 'not-answered')
          .catch((e: unknown) => clog.error({ err: e }, 'could not end the unanswered recording'));
      if (res.finalResponseSent) return;
      if (err instanceof Reject) {
        logRejected({ status: err.status, headers: err.headers }, clog);
        res.send(err.status, err.reason, { headers: err.headers });
      } else if (err instanceof CapacityError) {
        logOverCapacity({ err: err.message }, clog);
        const x = capacityReject(err, retryAfter);
        res.send(x.status, x.reason, { headers: x.headers });
      } else if ((err as { status?: number }).status === 487) {
        clog.info('INVITE cancelled');
      } else {
        throw err;
      }
    }
  }

  let settle: { resolve: () => void; reject: (err: Error) => void } | undefined;
  const ready = new Promise<void>((resolve, reject) => (settle = { resolve, reject }));
  // Whoever started the app decides what a refusal means; a late one is logged below.
  ready.catch(() => {});
  srf.on('connect', (err: Error | null, hostport: string) => {
    if (closed) {
      // A connection attempt that was under way when the app was closed.
      if (!err) srf.disconnect();
      return;
    }
    if (err) {
      const refused = new Error(`drachtio server ${drachtio}: ${err.message} (check DRACHTIO_SECRET)`);
      log.error({ drachtio }, refused.message);
      settle?.reject(refused);
      return;
    }
    connected = true;
    warned = false;
    log.info({ hostport, drachtio }, 'connected to drachtio server');
    settle?.resolve();
  });
  // drachtio-srf connects, and reconnects after a lost connection, on its own.
  void srf.connect({
    host: o.drachtio.host,
    port: o.drachtio.port,
    secret: o.drachtio.secret,
    reconnect: { retryMaxDelay: RETRY_MAX_DELAY_MS },
  } as Srf.SrfConfig);
  return {
    get connected() {
      return connected;
    },
    ready,
    close() {
      if (closed) return;
      closed = true;
      stopRetrying(srf);
      if (connected) {
        log.info({ drachtio }, 'closing the drachtio connection');
        srf.disconnect();
      }
      connected = false;
    },
  };
}
