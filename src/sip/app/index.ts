import Srf from 'drachtio-srf';
import type { Logger } from '../../log.js';
import { CapacityError, ParseError } from '../../errors.js';
import type { RecordingPort, StreamOffer } from '../../recording/types.js';
import { UnsupportedBodyError, extractSiprecBody } from './multipart.js';
import { buildAnswer, chooseCodec, parseOffer, type AnswerStream, type OfferedStream } from './sdp.js';
import { parseMetadata, participantsForLabels, type RecordingMetadata } from './metadata.js';

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

/** Per m-line: record it (with a codec) or decline it (port 0). */
function planStreams(offer: OfferedStream[]): { record: StreamOffer[]; declined: Set<number> } {
  const record: StreamOffer[] = [];
  const declined = new Set<number>();
  for (const s of offer) {
    const choice = s.port === 0 ? null : chooseCodec(s);
    if (!choice) {
      declined.add(s.index);
      continue;
    }
    record.push({
      index: s.index,
      label: s.label,
      codec: choice.codec,
      pt: choice.pt,
      telephoneEventPt: s.telephoneEventPt,
    });
  }
  if (record.length === 0) {
    throw new Reject(488, 'Not Acceptable Here', {
      Warning: `305 srs "no stream offers a supported codec (PCMU or PCMA over RTP/AVP)"`,
    });
  }
  return { record, declined };
}

function answerStreams(offer: OfferedStream[], record: StreamOffer[], ports: number[]): AnswerStream[] {
  return offer.map((s) => {
    const i = record.findIndex((r) => r.index === s.index);
    const r = record[i];
    if (!r) return { index: s.index, port: 0, choice: null, telephoneEventPt: null };
    return {
      index: s.index,
      port: ports[i] as number,
      choice: { pt: r.pt, codec: r.codec },
      telephoneEventPt: r.telephoneEventPt,
    };
  });
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
  let connected = false;
  let closed = false;
  let sessionVersion = 1;

  srf.on('error', (err: Error) => {
    connected = false;
    if (!closed) log.warn({ err: err.message }, 'drachtio connection error; retrying');
  });

  (srf as unknown as { options(fn: (req: Srf.SrfRequest, res: Srf.SrfResponse) => void): void }).options(
    (_req, res) => res.send(200, { headers: { Accept: 'application/sdp, multipart/mixed' } }),
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
    try {
      checkRequire(req);
      const { offer, sdp, metadataXml } = parseBody(req);
      const { record } = planStreams(offer);
      const md = readMetadata(metadataXml, clog);
      const participants = md ? participantsForLabels(md) : [];

      const local = localAddress(req);
      const mediaAddress = o.mediaAddress ?? (isUnspecified(local?.host) ? '127.0.0.1' : local!.host);
      const started = await o.recording.start({
        callId,
        srcAddress: `${req.source_address}:${req.source_port}`,
        sessionId: md?.sessions[0]?.id ?? null,
        participants,
        metadataXml,
        streams: record,
      });
      recordingId = started.recordingId;
      const ports = started.ports;
      const localSdp = buildAnswer(sdp, answerStreams(offer, record, ports), mediaAddress, sessionVersion++);
      const contactHost = o.publicAddress ?? local?.host ?? '127.0.0.1';
      const contact = `<sip:${contactHost}${local ? `:${local.port}` : ''}>;+sip.srs`;
      const dialog = await srf.createUAS(req, res, {
        localSdp,
        headers: { Contact: contact, 'Content-Type': 'application/sdp' },
      });
      const id = recordingId;
      clog.info({ recordingId: id, ports }, 'SIPREC session answered');

      dialog.on('destroy', () => void o.recording.end(id, 'bye'));
      dialog.on('modify', (mreq: Srf.SrfRequest, mres: Srf.SrfResponse) => {
        // Re-INVITEs are idempotent here: keep each recorded m-line on its port, decline new ones.
        try {
          const next = parseBody(mreq);
          const answer = buildAnswer(
            next.sdp,
            answerStreams(next.offer, record, ports).map((a, i) =>
              next.offer[i]?.port === 0 ? { ...a, port: 0, choice: null } : a,
            ),
            mediaAddress,
            sessionVersion++,
          );
          mres.send(200, { body: answer, headers: { Contact: contact, 'Content-Type': 'application/sdp' } });
        } catch (err) {
          const r = err instanceof Reject ? err : new Reject(500, 'Server Internal Error');
          mres.send(r.status, r.reason, { headers: r.headers });
        }
      });
      dialog.on('update', (_ureq: Srf.SrfRequest, ures: Srf.SrfResponse) => ures.send(200));
    } catch (err) {
      if (recordingId) void o.recording.end(recordingId, 'not-answered');
      if (res.finalResponseSent) return;
      if (err instanceof Reject) {
        clog.info({ status: err.status, headers: err.headers }, 'SIPREC INVITE rejected');
        res.send(err.status, err.reason, { headers: err.headers });
      } else if (err instanceof CapacityError) {
        clog.warn({ err: err.message }, 'over capacity');
        res.send(503, 'Service Unavailable', {
          headers: { 'Retry-After': String(o.retryAfterSeconds ?? 5), Warning: warning(err.message) },
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
            new Error(`drachtio server ${o.drachtio.host}:${o.drachtio.port}: ${err.message} (check DRACHTIO_SECRET)`),
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
