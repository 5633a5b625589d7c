import Srf from 'drachtio-srf';
import type { Logger } from '../../log.js';
import { CapacityError, ParseError } from '../../errors.js';
import type { RecordingPort, SessionEvent, StreamOffer } from '../../recording/types.js';
import { UnsupportedBodyError, extractMetadataXml, extractSiprecBody } from './multipart.js';
import {
  buildAnswer,
  chooseStream,
  parseOffer,
  type AnswerRules,
  type Choice,
  type OfferedStream,
  type SrtpMode,
} from './sdp.js';
import { newLocalKey } from './sdes.js';
import { mergeMetadata, parseMetadata, participantsForLabels, type RecordingMetadata } from './metadata.js';
import { DEFAULT_POLICY, compilePolicy, type CallParties, type RecordingPolicyConfig } from './policy.js';
import { answerOf, applyPlan, planOffer, streamOffer, type Slot } from './session.js';
import { usableMediaAddress, type Admission } from './admission.js';
import { negotiateSessionTimer, SessionTimer, type SessionTimerConfig } from './session-timer.js';

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
  /** New sessions per second accepted (burst of one second); 0 or unset = no limit. */
  maxCallsPerSecond?: number;
  /** SRS_SRTP: take SRTP or plain RTP (accept, the default), only SRTP (require), or only plain RTP (off). */
  srtp?: SrtpMode;
  /** Who may record and how much (src/sip/app/admission.ts); unset = everyone, no limits. */
  admission?: Admission;
  /** RFC 4028 session timers as UAS; unset = not offered. */
  sessionTimer?: SessionTimerConfig;
  /** Mutual TLS: the verified client certificate subject of the SRC's connection, stored with the recording. */
  tlsSubjectOf?: (address: string, port: number) => string | undefined;
  /**
   * Why this node takes no new call now (draining, at capacity), or null. When set, OPTIONS and
   * new INVITEs are answered 503 (a load balancer's probe then moves calls elsewhere).
   */
  refusal?: () => string | null;
}

export interface SiprecApp {
  readonly connected: boolean;
  close(): void;
}

/** Require option-tags we implement (RFC 7866 section 6.1.1). */
const SUPPORTED_REQUIRE = new Set(['siprec']);

/** A final response decided before any dialog exists; every INVITE path ends in one. */
class Reject extends Error {
  constructor(
    readonly status: number,
    readonly reason: string,
    readonly headers: Record<string, string> = {},
  ) {
    super(`${status} ${reason}`);
  }
}

const warning = (text: string): string => `399 srs "${text.replace(/["\\\r\n]/g, ' ')}"`;

function localAddress(req: Srf.SrfRequest): { host: string; port: string } | null {
  const on = (req as unknown as { receivedOn?: string }).receivedOn;
  if (!on) return null;
  const i = on.lastIndexOf(':');
  return i > 0 ? { host: on.slice(0, i), port: on.slice(i + 1) } : null;
}

function isUnspecified(addr: string | undefined): boolean {
  return !addr || addr === '0.0.0.0' || addr === '::';
}

function checkRequire(req: Srf.SrfRequest): void {
  const value = req.has('Require') ? req.get('Require') : '';
  const unsupported = value
    .split(',')
    .map((t) => t.trim())
    .filter((t) => t && !SUPPORTED_REQUIRE.has(t.toLowerCase()));
  if (unsupported.length > 0) {
    throw new Reject(420, 'Bad Extension', { Unsupported: unsupported.join(', ') });
  }
}

function parseBody(req: Srf.SrfRequest): { offer: OfferedStream[]; sdp: string; metadataXml: string | null } {
  const contentType = req.has('Content-Type') ? req.get('Content-Type') : undefined;
  try {
    const body = extractSiprecBody(contentType, req.body ?? '');
    return { offer: parseOffer(body.sdp), sdp: body.sdp, metadataXml: body.metadataXml };
  } catch (err) {
    if (err instanceof UnsupportedBodyError) {
      throw new Reject(415, 'Unsupported Media Type', { Accept: err.accept.join(', ') });
    }
    if (err instanceof ParseError) throw new Reject(400, 'Bad Request', { Warning: warning(err.message) });
    throw err;
  }
}

/**
 * Per m-line: record it (codecs, SRTP key) or decline it (port 0); 488 with the reasons in a
 * Warning when nothing can be recorded (RFC 3261 §20.43, code 305: incompatible media format).
 */
function planStreams(
  offer: OfferedStream[],
  md: RecordingMetadata | null,
  rules: AnswerRules,
  source = '',
): { record: StreamOffer[]; choices: Map<number, Choice> } {
  const record: StreamOffer[] = [];
  const choices = new Map<number, Choice>();
  const reasons: string[] = [];
  for (const s of offer) {
    const c = chooseStream(s, rules);
    if ('declined' in c) {
      if (!reasons.includes(c.declined)) reasons.push(c.declined);
      continue;
    }
    choices.set(s.index, c);
    record.push({
      ...streamOffer(s, c, s.label === null ? null : (streamIdsOf(md)[s.label] ?? null)),
      // Ingress trust: the leg latches on the SRC's media address (native/src/latch.h).
      remoteHost: usableMediaAddress(s.connection, source),
      remotePort: s.port,
    });
  }
  if (record.length === 0) {
    const why = `no stream can be recorded: ${reasons.join('; ')}`.replace(/["\\\r\n]/g, ' ').slice(0, 400);
    throw new Reject(488, 'Not Acceptable Here', { Warning: `305 srs "${why}"` });
  }
  return { record, choices };
}

/** label -> metadata stream_id. */
function streamIdsOf(md: RecordingMetadata | null): Record<string, string> {
  const out: Record<string, string> = {};
  for (const s of md?.streams ?? []) if (s.label !== null && out[s.label] === undefined) out[s.label] = s.id;
  return out;
}

/**
 * Caller and callee for the recording policy: Ribbon's callData From/To when present, else the
 * first two participants of the metadata (SRCs list the caller first), else unknown.
 */
function partiesOf(md: RecordingMetadata | null): CallParties {
  const ext = md?.extensions ?? {};
  const p = md?.participants ?? [];
  return {
    caller: ext.from ?? p[0]?.aor ?? null,
    callee: ext.to ?? p[1]?.aor ?? null,
  };
}

/** How the request says it is a recording session (RFC 7866 or a vendor variant), for the log. */
function recognisedBy(req: Srf.SrfRequest, metadataXml: string | null): string {
  const require = req.has('Require') ? req.get('Require').toLowerCase() : '';
  if (/(^|,)\s*siprec\s*(,|$)/.test(require)) return 'require-siprec';
  const contact = req.has('Contact') ? req.get('Contact') : '';
  if (/[;<]\s*\+sip\.src\b/i.test(contact))
    return contact.includes('>') && /\+sip\.src[^>]*>/i.test(contact) ? 'contact-src-in-uri' : 'contact-src';
  if (/;\s*src\b/i.test(contact)) return 'contact-src-broadworks';
  if (metadataXml !== null) return 'rs-metadata-body';
  return 'plain-sdp';
}

/** Standard reason phrases for the decline status a policy may be configured with. */
const REASONS: Record<number, string> = {
  403: 'Forbidden',
  404: 'Not Found',
  480: 'Temporarily Unavailable',
  486: 'Busy Here',
  488: 'Not Acceptable Here',
  503: 'Service Unavailable',
  603: 'Decline',
};

/** Token bucket: `rate` new sessions a second with a burst of one second. */
function rateLimiter(rate: number): () => boolean {
  if (!(rate > 0)) return () => true;
  const burst = Math.max(1, rate);
  let tokens = burst;
  let last = performance.now();
  return () => {
    const now = performance.now();
    tokens = Math.min(burst, tokens + ((now - last) / 1000) * rate);
    last = now;
    if (tokens < 1) return false;
    tokens -= 1;
    return true;
  };
}

/** Participant ids joined and left between two metadata states, for events. */
function participantChanges(
  before: RecordingMetadata | null,
  after: RecordingMetadata,
  at: Date,
): SessionEvent[] {
  const events: SessionEvent[] = [];
  for (const p of after.participants) {
    const old = before?.participants.find((x) => x.id === p.id);
    if (!old) {
      events.push({
        at: p.associateTime ? new Date(p.associateTime) : at,
        type: 'participant-joined',
        detail: { participantId: p.id, aor: p.aor, name: p.name },
      });
    }
    if (p.disassociateTime !== undefined && old?.disassociateTime === undefined) {
      events.push({
        at: new Date(p.disassociateTime),
        type: 'participant-left',
        detail: { participantId: p.id, aor: p.aor, name: p.name },
      });
    }
  }
  // A complete document that no longer lists someone: they left.
  if (after.dataMode === 'complete' && before) {
    for (const p of before.participants) {
      if (p.disassociateTime === undefined && !after.participants.some((x) => x.id === p.id)) {
        events.push({
          at,
          type: 'participant-left',
          detail: { participantId: p.id, aor: p.aor, name: p.name },
        });
      }
    }
  }
  return events.map((e) => (Number.isNaN(e.at.getTime()) ? { ...e, at } : e));
}

function emptyMd(): RecordingMetadata {
  return {
    dialect: 'unknown',
    dataMode: 'partial',
    sessions: [],
    participants: [],
    streams: [],
    participantStreams: [],
    extensions: {},
  };
}

function readMetadata(xml: string | null, log: Logger): RecordingMetadata | null {
  if (!xml) return null;
  try {
    return parseMetadata(xml);
  } catch (err) {
    // RFC 7866 lets the SRS record without metadata; keep the raw XML with the recording.
    log.warn({ err: (err as Error).message }, 'rs-metadata could not be parsed; recording without it');
    return null;
  }
}

/**
 * The SIPREC application, written with drachtio-srf. It connects to a drachtio server (the
 * embedded edge or a real drachtio-server) and answers every INVITE with a final response.
 */
export function startSiprecApp(o: SiprecAppOptions): Promise<SiprecApp> {
  const srf = new Srf();
  const log = o.log.child({ part: 'siprec' });
  const rules: AnswerRules = { srtp: o.srtp ?? 'accept', decodable: o.recording.decodable };
  const policy = compilePolicy(o.policy ?? DEFAULT_POLICY);
  const admitRate = rateLimiter(o.maxCallsPerSecond ?? 0);
  const retryAfter = String(o.retryAfterSeconds ?? 5);
  let connected = false;
  let closed = false;

  srf.on('error', (err: Error) => {
    connected = false;
    if (!closed) log.warn({ err: err.message }, 'drachtio connection error; retrying');
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
      checkRequire(req);
      const timer = o.sessionTimer ? negotiateSessionTimer(req, o.sessionTimer) : null;
      if (timer && 'reject' in timer) throw new Reject(422, 'Session Interval Too Small', timer.reject);
      const { offer, sdp, metadataXml } = parseBody(req);
      let md = readMetadata(metadataXml, clog);
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
      const protocol = (req as unknown as { protocol?: string }).protocol;
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
        });
        recordingId = started.recordingId;
        ports = started.ports;
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
      let slots: Slot[] = offer.map((s) => {
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
      let version = 1;
      let lastAnswer = buildAnswer(sdp, answerOf(slots), mediaAddress, version);
      const dialog = await srf.createUAS(req, res, {
        localSdp: lastAnswer,
        headers: {
          Contact: contact,
          'Content-Type': 'application/sdp',
          ...(timer && 'headers' in timer ? timer.headers : {}),
        },
      });
      const id = recordingId;
      if (clog.isLevelEnabled('info'))
        clog.info(
          { recordingId: id, ports },
          decision.record ? 'SIPREC session answered' : 'SIPREC session answered, not recorded',
        );
      if (id === null) return; // nothing to record: the dialog lives until the BYE, answered by drachtio-srf.

      const initiallyPaused = slots.filter((x) => x.port !== 0 && x.paused).map((x) => x.index);
      if (initiallyPaused.length > 0) {
        void o.recording
          .updateStreams(id, { add: [], remove: [], pause: initiallyPaused })
          .catch((err: unknown) => clog.warn({ err }, 'could not pause the inactive streams'));
      }

      /** Serialises in-dialog requests: each sees the state the previous one left. */
      let chain: Promise<unknown> = Promise.resolve();
      const serial = (fn: () => Promise<void>): void => {
        chain = chain.then(fn, fn);
      };

      async function applyMetadata(xml: string | null): Promise<void> {
        if (xml === null || id === null) return;
        const update = readMetadata(xml, clog);
        if (!update) {
          await o.recording.addEvents(id, [
            { at: new Date(), type: 'metadata', detail: { xml, parsed: false } },
          ]);
          return;
        }
        const merged = mergeMetadata(md, update);
        const events = participantChanges(md, merged, new Date());
        md = merged;
        const participants = participantsForLabels(merged);
        await o.recording.updateMetadata(id, {
          participants,
          streamIds: streamIdsOf(merged),
          metadataXml: xml,
          parsed: {
            dialect: update.dialect,
            dataMode: update.dataMode,
            participants: update.participants.map((p) => p.id),
            streams: update.streams.map((x) => x.id),
          },
        });
        await o.recording.addEvents(id, events);
      }

      /** A new offer (re-INVITE or UPDATE with SDP): returns the answer. */
      async function handleOffer(next: {
        offer: OfferedStream[];
        sdp: string;
        metadataXml: string | null;
      }): Promise<string> {
        const plan = planOffer(slots, next.offer, rules);
        let added: number[] = [];
        if (id !== null && !plan.unchanged) {
          // Metadata arriving with the offer names the new streams.
          const ids = streamIdsOf(
            next.metadataXml
              ? mergeMetadata(md, readMetadata(next.metadataXml, clog) ?? md ?? emptyMd())
              : md,
          );
          plan.add = plan.add.map((a) => ({
            ...a,
            streamId: a.label === null ? null : (ids[a.label] ?? null),
          }));
          added = (
            await o.recording.updateStreams(id, {
              add: plan.add,
              remove: plan.remove,
              pause: plan.pauseChanges.filter((c) => c.paused).map((c) => c.index),
              resume: plan.pauseChanges.filter((c) => !c.paused).map((c) => c.index),
              rekey: plan.rekey,
            })
          ).ports;
        }
        slots = applyPlan(slots, next.offer, plan, added);
        await applyMetadata(next.metadataXml);
        const candidate = buildAnswer(next.sdp, answerOf(slots), mediaAddress, version);
        // RFC 3264 §8: the version moves only when the answer changes.
        if (candidate !== lastAnswer) {
          version++;
          lastAnswer = buildAnswer(next.sdp, answerOf(slots), mediaAddress, version);
        }
        clog.info(
          {
            add: plan.add.length,
            remove: plan.remove.length,
            pause: plan.pauseChanges,
            rekey: plan.rekey.map((r) => ({ index: r.index, suite: r.srtp?.suite ?? 'plain RTP' })),
            unchanged: plan.unchanged,
          },
          'SIPREC offer in dialog',
        );
        return lastAnswer;
      }

      const fail = (r: Srf.SrfResponse, err: unknown): void => {
        const x =
          err instanceof Reject
            ? err
            : err instanceof CapacityError
              ? new Reject(503, 'Service Unavailable', {
                  'Retry-After':
                    err.retryAfterSeconds === undefined ? retryAfter : String(err.retryAfterSeconds),
                  Warning: warning(err.message),
                })
              : new Reject(500, 'Server Internal Error', { Warning: warning('internal error') });
        if (!(err instanceof Reject)) clog.warn({ err }, 'in-dialog request failed');
        if (!r.finalResponseSent) r.send(x.status, x.reason, { headers: x.headers });
      };

      // The server ends the call itself (RTP timeout, maximum duration, disk floor, session timer,
      // shutdown): BYE to the SRC, then the recording ends with that reason.
      let endReason = 'bye';
      let untrack = (): void => {
        if (tracked) o.admission?.track(source, false);
        tracked = false;
      };
      const terminate = (reason: string): void => {
        if (endReason !== 'bye') return;
        endReason = reason;
        clog.info({ recordingId: id, reason }, 'ending the call: BYE to the SRC');
        // RFC 3326 Reason: why the recorder hung up (shown in the SRC's logs).
        (
          dialog as unknown as {
            destroy(opts: { headers: Record<string, string> }, cb: (err?: Error) => void): void;
          }
        ).destroy({ headers: { Reason: `SIP;cause=200;text="${reason}"` } }, (err) => {
          if (err) clog.warn({ err: err.message }, 'BYE to the SRC failed');
        });
        serial(() => o.recording.end(id, reason));
      };
      o.recording.onTerminate?.(id, terminate);
      const timerHeaders = timer && 'headers' in timer ? timer.headers : {};
      const sessionTimer =
        timer && 'interval' in timer
          ? new SessionTimer(timer.interval, () => terminate('session-timer-expired'))
          : null;
      const ended = (): void => {
        sessionTimer?.stop();
        untrack();
        untrack = () => undefined;
      };
      dialog.on('destroy', () => {
        ended();
        serial(() => o.recording.end(id, endReason));
      });
      // An ACK and a BYE in one read from drachtio: the dialog ended before this listener existed.
      if (!(dialog as unknown as { connected?: boolean }).connected) {
        ended();
        serial(() => o.recording.end(id, 'bye'));
      }
      dialog.on('modify', (mreq: Srf.SrfRequest, mres: Srf.SrfResponse) => {
        sessionTimer?.refresh();
        serial(async () => {
          try {
            checkRequire(mreq);
            const answer = await handleOffer(parseBody(mreq));
            mres.send(200, {
              body: answer,
              headers: { Contact: contact, 'Content-Type': 'application/sdp', ...timerHeaders },
            });
          } catch (err) {
            fail(mres, err);
          }
        });
      });
      dialog.on('update', (ureq: Srf.SrfRequest, ures: Srf.SrfResponse) => {
        sessionTimer?.refresh();
        serial(async () => {
          try {
            const contentType = ureq.has('Content-Type') ? ureq.get('Content-Type') : undefined;
            const raw = ureq.body ?? '';
            let sdpInside = false;
            try {
              sdpInside = raw.trim() !== '' && extractSiprecBody(contentType, raw).sdp !== '';
            } catch {
              sdpInside = false;
            }
            if (sdpInside) {
              const answer = await handleOffer(parseBody(ureq));
              ures.send(200, {
                body: answer,
                headers: { Contact: contact, 'Content-Type': 'application/sdp', ...timerHeaders },
              });
              return;
            }
            let xml: string | null;
            try {
              xml = extractMetadataXml(contentType, raw);
            } catch (err) {
              throw new Reject(400, 'Bad Request', { Warning: warning((err as Error).message) });
            }
            if (xml === null && raw.trim() !== '') {
              throw new Reject(415, 'Unsupported Media Type', {
                Accept: 'application/sdp, multipart/mixed, application/rs-metadata+xml',
              });
            }
            await applyMetadata(xml);
            ures.send(200, { headers: timerHeaders });
          } catch (err) {
            fail(ures, err);
          }
        });
      });
    } catch (err) {
      if (tracked) o.admission?.track(source, false);
      if (recordingId) void o.recording.end(recordingId, 'not-answered');
      if (res.finalResponseSent) return;
      if (err instanceof Reject) {
        clog.info({ status: err.status, headers: err.headers }, 'SIPREC INVITE rejected');
        res.send(err.status, err.reason, { headers: err.headers });
      } else if (err instanceof CapacityError) {
        clog.warn({ err: err.message }, 'over capacity');
        res.send(503, 'Service Unavailable', {
          headers: {
            'Retry-After': err.retryAfterSeconds === undefined ? retryAfter : String(err.retryAfterSeconds),
            Warning: warning(err.message),
          },
        });
      } else if ((err as { status?: number }).status === 487) {
        clog.info('INVITE cancelled');
      } else {
        throw err;
      }
    }
  }

  return new Promise((resolve, reject) => {
    let first = true;
    srf.on('connect', (err: Error | null, hostport: string) => {
      if (err) {
        if (first) {
          closed = true;
          srf.disconnect();
          reject(
            new Error(
              `drachtio server ${o.drachtio.host}:${o.drachtio.port}: ${err.message} (check DRACHTIO_SECRET)`,
            ),
          );
        }
        return;
      }
      connected = true;
      log.info(
        { hostport, drachtio: `${o.drachtio.host}:${o.drachtio.port}` },
        'connected to drachtio server',
      );
      if (first) {
        first = false;
        resolve({
          get connected() {
            return connected;
          },
          close() {
            closed = true;
            srf.disconnect();
          },
        });
      }
    });
    void srf.connect({ host: o.drachtio.host, port: o.drachtio.port, secret: o.drachtio.secret });
  });
}
