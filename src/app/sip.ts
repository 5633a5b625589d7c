/**
 * The SIP side: who may record (admission), the embedded SIP edge (unless an external
 * drachtio-server is configured) and the SIPREC application connected to it.
 */
import { listenError } from './listen-errors.js';
import { randomBytes } from 'node:crypto';
import type { Config } from '../config.js';
import { limitLines, rateLimited, type Logger } from '../log.js';
import type { RecordingService } from '../recording/service.js';
import type { CustomFieldsRepository } from '../store/custom-fields.js';
import {
  DEFAULT_SRC_ALLOW,
  compileAllowList,
  createAdmission,
  type Admission,
} from '../sip/app/admission.js';
import { startSiprecApp, type SiprecApp } from '../sip/app/index.js';
import { startSipEdge, type SipEdge } from '../sip/edge/index.js';
import { readSipTls, tlsPolicy } from './tls.js';
import type { CompiledPolicy } from '../sip/app/policy.js';
import { SdesTransportCheck } from '../sip/app/sdes-transport.js';
import type { Metrics } from '../api/metrics.js';
import type { Defer } from './shutdown.js';

export interface DrachtioAddress {
  host: string;
  port: number;
  secret: string;
}

/** Admission from SRS_SRC_ALLOW and the per-source limits; warns when it is open or left default. */
export function callAdmission(
  security: Config['security'],
  refuseAll: () => string | null,
  log: Logger,
): Admission {
  const admission = createAdmission({
    srcAllow: security.srcAllow,
    maxStreamsPerSession: security.maxStreamsPerSession,
    maxSessionsPerSource: security.maxSessionsPerSource,
    maxCallsPerSecondPerSource: security.maxCallsPerSecondPerSource,
    refuseAll,
  });
  if (security.minSessionExpiresSeconds < 90)
    log.warn(
      { minSE: security.minSessionExpiresSeconds },
      'SRS_MIN_SE is below 90 s, the smallest Min-SE RFC 4028 allows: SRCs may refresh that often (meant for tests)',
    );
  if (admission.open) {
    log.warn('SRS_SRC_ALLOW=any: every source address may open recordings');
  } else if (!security.srcAllow) {
    log.warn(
      { allow: admission.allow },
      'SRS_SRC_ALLOW is not set: only loopback and private addresses may record; set it to your SRCs',
    );
    process.stderr.write(
      `
  WARNING: SRS_SRC_ALLOW is not set. Recording is open to every loopback and private
` +
        `  address (${admission.allow.join(', ')}).
  Set SRS_SRC_ALLOW to your SRCs' addresses.

`,
    );
  }
  return admission;
}

/**
 * The edge's lines a flood of connections would repeat (src/sip/edge/transport.ts; control.ts for
 * the loopback control port, where an application connects once).
 */
const EDGE_LIMITED_LINES = [
  'sip tcp connection refused: over the connection limit',
  'sip tcp connection refused: source not allowed (SRS_SRC_ALLOW)',
  'closing sip tcp connection',
  'sip tcp connection gone before it was accepted',
  'drachtio app connected',
  'drachtio app disconnected',
  'drachtio app failed to authenticate',
  'control message before authenticate, closing',
] as const;

/**
 * The drachtio server the application connects to: the configured external one (no edge), or the
 * embedded edge started here on the SIP ports with its control port on loopback.
 */
export async function startEdge(
  config: Config,
  log: Logger,
  defer: Defer,
): Promise<{ edge: SipEdge | null; drachtio: DrachtioAddress }> {
  if (config.drachtio.host)
    return {
      edge: null,
      drachtio: {
        host: config.drachtio.host,
        port: config.drachtio.port,
        secret: config.drachtio.secret ?? '',
      },
    };
  const secret = randomBytes(16).toString('hex');
  if (config.sip.t1Ms < 500)
    log.warn(
      { t1Ms: config.sip.t1Ms },
      'SIP_T1_MS is below 500 ms, the RFC 3261 default: retransmissions come sooner and transactions give up after 64*T1 (for a network known to be fast, or tests)',
    );
  const files = await readSipTls(config);
  const tls = files ? { port: config.sip.tlsPort, ...files, ...tlsPolicy(config) } : undefined;
  const ports: [string, number, string][] = [
    ['SIP_PORT', config.sip.port, 'udp'],
    ['SIP_PORT', config.sip.port, 'tcp'],
    ...(tls ? [['SIP_TLS_PORT', tls.port, 'tls'] as [string, number, string]] : []),
  ];
  const edge = await startSipEdge({
    sip: {
      host: config.sip.host,
      port: config.sip.port,
      publicAddress: config.sip.publicAddress,
      ...(tls ? { tls } : {}),
      // A BYE to an SRC's Contact over a new TLS connection: the listeners' policy too.
      tlsClient: tlsPolicy(config),
      limits: {
        maxConnections: config.security.maxConnections,
        maxPerAddress: config.security.maxConnectionsPerAddress,
        maxHeaderBytes: config.security.maxHeaderBytes,
        headerTimeoutMs: config.security.headerTimeoutMs,
      },
      // Who may not record may not hold a TCP/TLS connection either: closed when accepted.
      allowSource: compileAllowList(config.security.srcAllow ?? DEFAULT_SRC_ALLOW) ?? undefined,
    },
    control: { host: '127.0.0.1', port: 0, secret },
    timers: { t1: config.sip.t1Ms },
    // Refused and closed connections are an outsider's to cause: at most 20 lines per 10 s each.
    log: limitLines(log.child({ part: 'edge' }), EDGE_LIMITED_LINES),
  }).catch((err: unknown) => {
    throw listenError(err, ports);
  });
  defer(() => edge.close());
  return { edge, drachtio: { host: '127.0.0.1', port: edge.controlPort, secret } };
}

export interface SiprecParts {
  config: Config;
  drachtio: DrachtioAddress;
  edge: SipEdge | null;
  recording: RecordingService;
  admission: Admission;
  /** Why new INVITEs (and OPTIONS) are answered 503 now, or null. */
  refusal: () => string | null;
  /** Where the custom field values SRCs send (sip.fieldsFrom) are stored. */
  fields?: Pick<CustomFieldsRepository, 'setValues'>;
  /** The recording policy at run time (saved by admins, else the configured one). */
  policy?: () => CompiledPolicy;
  /** Where srs_sdes_offers_without_tls_total goes (/metrics). */
  metrics?: Pick<Metrics, 'collect'>;
  log: Logger;
}

/** A warning at startup for each field of sip.fieldsFrom that no admin has defined (yet). */
export async function warnUndefinedSipFields(
  sources: Config['sip']['fieldsFrom'],
  fields: Pick<CustomFieldsRepository, 'list'>,
  log: Logger,
): Promise<void> {
  if (sources.length === 0) return;
  const defined = new Set((await fields.list()).map((f) => f.name));
  const missing = [...new Set(sources.map((s) => s.field))].filter((f) => !defined.has(f));
  if (missing.length > 0)
    log.warn(
      { fields: missing },
      'SRS_FIELDS_FROM_SIP names custom fields that are not defined: their values are not stored until an admin defines them',
    );
}

/**
 * Stores the custom field values an SRC sent (sip.fieldsFrom) on its recording, set by `sip`: a
 * field no admin has defined, or a value the field refuses, is left out and logged (rate-limited).
 */
export function sipFieldsSink(
  fields: Pick<CustomFieldsRepository, 'setValues'>,
  log: Logger,
): (recordingId: string, values: Record<string, string>) => Promise<void> {
  const skippedLine = rateLimited(log, 'warn', 'custom field values sent by the SRC were not stored');
  return async (recordingId, values) => {
    const { skipped } = await fields.setValues(recordingId, values, 'sip', { lenient: true });
    if (skipped.length > 0) skippedLine({ recordingId, skipped });
  };
}

/** How long startup waits for the drachtio server's first answer before going on without it. */
const STARTUP_WAIT_MS = 5000;

/**
 * The SIPREC application. Startup waits up to 5 s for the drachtio server, so that a refused
 * secret stops the server with a clear error; a drachtio server that is not up yet (an external
 * one started after the recorder) does not hold startup: the application is returned anyway, keeps
 * retrying and takes calls from the moment it connects.
 */
export async function startSiprec(o: SiprecParts): Promise<SiprecApp> {
  const { config, edge, drachtio, log } = o;
  const at = `${drachtio.host}:${drachtio.port}`;
  const sdesTransport = new SdesTransportCheck({ requireTls: config.sip.sdesRequireTls, log });
  o.metrics?.collect(
    'srs_sdes_offers_without_tls_total',
    'Offers carrying SRTP keys (a=crypto) that did not arrive over TLS, readable on the path: by transport and outcome (accepted, or refused with SRS_SDES_REQUIRE_TLS).',
    'counter',
    () => sdesTransport.samples(),
  );
  if (!edge) log.info({ drachtio: at }, `connecting to the drachtio server at ${at}`);
  const app = startSiprecApp({
    drachtio,
    recording: o.recording,
    log,
    mediaAddress: config.media.advertiseAddress,
    publicAddress: config.sip.publicAddress,
    policy: config.policy,
    currentPolicy: o.policy,
    maxCallsPerSecond: config.limits.maxCallsPerSecond,
    srtp: config.sip.srtp,
    sdesTransport,
    admission: o.admission,
    sessionTimer: {
      expires: config.security.sessionExpiresSeconds,
      minSE: config.security.minSessionExpiresSeconds,
    },
    tlsSubjectOf: edge ? (a, p) => edge.tlsSubject(a, p) : undefined,
    refusal: o.refusal,
    fieldsFrom: config.sip.fieldsFrom,
    ...(o.fields ? { setFields: sipFieldsSink(o.fields, log) } : {}),
  });
  let timer: NodeJS.Timeout | undefined;
  const waited = new Promise<boolean>((r) => (timer = setTimeout(() => r(false), STARTUP_WAIT_MS)));
  try {
    const answered = await Promise.race([app.ready.then(() => true), waited]);
    if (!answered)
      log.warn(
        { drachtio: at },
        `waiting for the drachtio server at ${at}: no SIP call is taken (and /healthz reports sip: false) until it answers; retrying`,
      );
  } catch (err) {
    app.close();
    throw err;
  } finally {
    clearTimeout(timer);
  }
  return app;
}
