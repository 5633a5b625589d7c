import { cpus } from 'node:os';
import { isIP } from 'node:net';
import { resolve } from 'node:path';
import { z } from 'zod';
import { ConfigError } from './errors.js';
import { storageSchema, storageSettings } from './storage/config.js';
import { clusterSchema, clusterSettings } from './cluster/config.js';
import { s3DestinationSchema } from './storage/s3-destination-config.js';

/**
 * The only reader of process.env. `loadConfig(env, file)` validates everything once and returns a
 * frozen object; every other module receives the part it needs.
 */

const port = z.coerce.number().int().min(1).max(65535);
const optionalString = z
  .string()
  .optional()
  .transform((v) => (v === undefined || v === '' ? undefined : v));

/** Dial-plan number pattern: digits, + * #, X or . (one digit), ! (any digits). */
const numberPattern = z
  .string()
  .regex(/^[0-9+*#Xx.!]+$/, 'use digits, + * #, X or . (one digit), ! (any digits)');
const patternList = (v: unknown): unknown =>
  typeof v === 'string'
    ? v
        .split(',')
        .map((x) => x.trim())
        .filter((x) => x !== '')
    : v;

const schema = z.object({
  dataDir: z.string().min(1),
  logLevel: z.enum(['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent']),
  sip: z.object({
    host: z.string().min(1),
    port,
    /** Address put in Contact headers; defaults to the address each request arrived on. */
    publicAddress: optionalString,
    /** SIP over TLS: on when both PEM files are given. */
    tlsCertFile: optionalString,
    tlsKeyFile: optionalString,
    tlsPort: z.coerce.number().int().min(0).max(65535),
    /**
     * SDES-keyed SRTP (RFC 4568): `accept` SRTP or plain RTP, `require` SRTP (plain RTP offers get
     * 488 with a Warning), or `off` (SAVP offers get 488, an a=crypto on RTP/AVP is ignored).
     */
    srtp: z.enum(['accept', 'require', 'off']),
    /** Mutual TLS: CA bundle (PEM) that SRC client certificates must chain to; unset = no client cert asked. */
    tlsCaFile: optionalString,
  }),
  drachtio: z.object({
    /** When set, the application connects to this external drachtio-server and no edge is started. */
    host: optionalString,
    port,
    secret: optionalString,
  }),
  http: z.object({
    host: z.string().min(1),
    port,
    /** HTTPS on the API/console port: on when both PEM files are given (then Secure cookies, HSTS). */
    tlsCertFile: optionalString,
    tlsKeyFile: optionalString,
    /**
     * Addresses of TLS-terminating proxies in front (SRS_TRUST_PROXY, comma-separated; `loopback`
     * for 127.0.0.1 and ::1): from them the client address comes from `clientIpHeader` and HTTPS from
     * X-Forwarded-Proto. Empty: headers are ignored.
     */
    trustProxy: z.array(z.string().min(1)),
    clientIpHeader: z
      .string()
      .regex(/^[A-Za-z0-9-]+$/)
      .transform((v) => v.toLowerCase()),
    /** `?token=` on the monitor WebSocket, for API tokens only (off: cookie or Authorization only). */
    wsQueryToken: z.preprocess((v) => v === 'true' || v === '1' || v === true, z.boolean()),
    /** /metrics without a credential (off: an admin credential or SRS_METRICS_TOKEN is needed). */
    metricsPublic: z.preprocess((v) => v === 'true' || v === '1' || v === true, z.boolean()),
    metricsToken: optionalString,
  }),
  media: z
    .object({
      bindAddress: z.string().min(1),
      /** Address put in SDP c= lines; defaults to the local address the INVITE arrived on. */
      advertiseAddress: optionalString,
      portMin: port,
      portMax: port,
      /** Bind each stream's port+1 and drain (count) its RTCP: one more descriptor per stream. */
      rtcp: z.preprocess(
        (v) => (v === 'true' || v === '1' ? true : v === 'false' || v === '0' || v === '' ? false : v),
        z.boolean(),
      ),
      /**
       * Audio files made for each recording: the mono mix always; `stereo` (first party left, the
       * others right) and `legs` (one file per stream) on request. Env: comma-separated.
       */
      outputs: z.preprocess(
        patternList,
        z
          .array(z.enum(['mono', 'stereo', 'legs']))
          .refine((o) => o.includes('mono'), { message: 'must include mono' })
          .transform((o) => [...new Set(o)]),
      ),
      /** A paused recording: silence for the paused time (`silence`), or the time left out (`cut`). */
      pauseMode: z.enum(['silence', 'cut']),
    })
    .refine((m) => m.portMin % 2 === 0 && m.portMin < m.portMax, {
      message: 'must be even and below media.portMax',
      path: ['portMin'],
    }),
  databaseUrl: optionalString,
  keys: z.object({
    passphrase: optionalString,
    /** Type of the key generated on first start: rsa4096 (default, like `srs keys generate`) or curve25519. */
    firstKeyType: z.enum(['curve25519', 'rsa4096']),
  }),
  adminToken: optionalString,
  /** Web console / API: first admin's password, session lifetime. */
  console: z.object({
    adminPassword: optionalString,
    sessionTtlMinutes: z.coerce
      .number()
      .int()
      .min(1)
      .max(7 * 24 * 60),
    /** Absolute session lifetime (hours), however active the session. */
    sessionMaxHours: z.coerce
      .number()
      .min(0.0002)
      .max(30 * 24),
    /** Listen-in audio: the engine's live tap when it has one (auto), or always the spool files. */
    listenSource: z.enum(['auto', 'spool']),
  }),
  pipeline: z.object({
    concurrency: z.coerce.number().int().min(1).max(256),
    /** Share of the cores always left to post-call jobs, however busy the calls (0..1). */
    cpuShare: z.coerce.number().min(0.05).max(1),
    /** New calls get 503 while the post-call backlog needs longer than this to drain; 0 = never. */
    maxBacklogSeconds: z.coerce
      .number()
      .min(0)
      .max(7 * 86_400),
    /** MP3 encoder: libmp3lame in the addon (`lame`) or an ffmpeg process (`ffmpeg`). */
    mp3Encoder: z.enum(['lame', 'ffmpeg']),
    /** LAME algorithm quality 0 (best, slowest) .. 9 (fastest); 7 chosen by bench:mp3. */
    mp3Quality: z.coerce.number().int().min(0).max(9),
    mp3Bitrate: z.coerce.number().int().min(8).max(320),
    mp3SampleRate: z.coerce
      .number()
      .int()
      .refine((v) => [8000, 11025, 16000, 22050, 44100].includes(v), {
        message: 'must be one of 8000, 11025, 16000, 22050, 44100',
      }),
    /** Attempts after the first, and the first retry delay (doubling each time). */
    retryLimit: z.coerce.number().int().min(0).max(100),
    retryDelaySeconds: z.coerce.number().int().min(1).max(86_400),
    /** User hooks after a recording is stored: an http(s) webhook URL and/or an executable. */
    hookUrl: optionalString.pipe(z.url({ protocol: /^https?$/ }).optional()),
    hookCommand: optionalString,
    /**
     * What a hook command's environment holds besides SRS_RECORDING_ID, SRS_HOOK_EVENT and PATH:
     * these variables of the server's environment (SRS_HOOK_ENV, comma-separated names), nothing else.
     */
    hookEnv: z.record(z.string(), z.string()),
    /** Test only: the process SIGKILLs itself after this finalize step (crash tests). */
    testCrashAfterStep: optionalString,
  }),
  /** Retention: keep | <N>d | <N>h, default and per recording group; purge every intervalSeconds. */
  retention: z.object({
    default: z.string().regex(/^(keep|keep-all|[1-9]\d*[dh])$/, 'use keep, <N>d or <N>h'),
    groups: z.record(
      z.string(),
      z.string().regex(/^(keep|keep-all|[1-9]\d*[dh])$/, 'use keep, <N>d or <N>h'),
    ),
    intervalSeconds: z.coerce.number().int().min(5).max(86_400),
  }),
  limits: z.object({
    maxSessions: z.coerce.number().int().min(1),
    /** New SIPREC sessions per second accepted (token bucket, burst of one second); 0 = no limit. */
    maxCallsPerSecond: z.coerce.number().min(0),
  }),
  /** Trust at the edge (docs/security.md): who may record, limits, call ends, disk floors. */
  security: z.object({
    /** SRC allowlist: addresses and CIDRs; ['any'] opens it; undefined = loopback + private ranges. */
    srcAllow: z.array(z.string().min(1)).optional(),
    maxStreamsPerSession: z.coerce.number().int().min(1).max(1000),
    maxSessionsPerSource: z.coerce.number().int().min(0),
    maxCallsPerSecondPerSource: z.coerce.number().min(0),
    /** Silence (ms) after which another source may take over a leg; 0 = never. */
    rtpRelatchMs: z.coerce.number().int().min(0),
    /** Seconds with every leg silent (and none paused) before the server ends the call; 0 = never. */
    rtpTimeoutSeconds: z.coerce.number().min(0),
    /** Longest call in seconds (BYE, stored, event); 0 = no limit. */
    maxDurationSeconds: z.coerce.number().min(0),
    /** RFC 4028: Session-Expires we ask for and the smallest we take (Min-SE; RFC minimum 90). */
    sessionExpiresSeconds: z.coerce.number().int().min(1),
    minSessionExpiresSeconds: z.coerce.number().int().min(1),
    /** SIP over TCP/TLS: connections in all and per address, bytes before the end of headers, deadline. */
    maxConnections: z.coerce.number().int().min(1),
    maxConnectionsPerAddress: z.coerce.number().int().min(1),
    maxHeaderBytes: z.coerce.number().int().min(1024),
    headerTimeoutMs: z.coerce.number().int().min(100),
    /** Free space (MiB) on the data directory's filesystem: below minFreeMb new calls get 503; below hardFreeMb live calls end. */
    minFreeMb: z.coerce.number().min(0),
    hardFreeMb: z.coerce.number().min(0),
    /** Attempts of the end-of-call hand-off while the database is away (backoff 0.5 s doubling, 30 s cap). */
    handoffRetryLimit: z.coerce.number().int().min(0),
    /** Test only (SRS_TEST_FREE_MB_FILE): free MiB read from this file instead of statfs. */
    testFreeMbFile: optionalString,
    /** Test only (SRS_TEST_ENGINE_FAULT=worker-exit:<ms>): the media worker dies that long after start. */
    testEngineFault: optionalString,
  }),
  /** Recording policy (src/sip/app/policy.ts). */
  policy: z.object({
    direction: z.enum(['inbound', 'outbound', 'both']),
    scope: z.enum(['internal', 'external', 'both']),
    internalNumbers: z.array(numberPattern),
    blacklist: z.array(numberPattern),
    excludedAction: z.enum(['answer', 'decline']),
    declineStatus: z.coerce.number().int().min(400).max(699),
  }),
});

/** Delivery: an SFTP server, by password or private key (file). */
const sftpShape = {
  host: z.string().min(1),
  port: port.default(22),
  username: z.string().min(1),
  password: optionalString,
  passwordFile: optionalString,
  privateKeyFile: optionalString,
  privateKeyPassphrase: optionalString,
  directory: z.string().min(1),
  /** Expected host key, as `ssh-keygen -lf` prints it (SHA256:...). One of it or knownHostsFile is required. */
  hostKeySha256: optionalString,
  /** An OpenSSH known_hosts file listing the server's key. */
  knownHostsFile: optionalString,
  /** Accept any host key (a man in the middle gets the files); logged as an error at each start. */
  insecureAcceptAnyHostKey: z.boolean().default(false),
  /** Connect and per-operation timeout (the carrier asks for 6 minutes for large audio). */
  timeoutSeconds: z.coerce.number().int().min(1).max(3600).default(360),
};
type SftpAuth = {
  password?: string | undefined;
  passwordFile?: string | undefined;
  privateKeyFile?: string | undefined;
};
const hasSftpAuth = (d: SftpAuth) => Boolean(d.password || d.passwordFile || d.privateKeyFile);
const SFTP_AUTH = { message: 'needs password, passwordFile or privateKeyFile' };
/** Offload: SFTP (`type` "sftp", the default) or S3 (`type` "s3", src/storage/s3-destination-config.ts). */
const offloadDestination = z.discriminatedUnion('type', [
  z.object({ type: z.literal('sftp').optional(), ...sftpShape }).refine(hasSftpAuth, SFTP_AUTH),
  s3DestinationSchema,
]);
const exportDestination = z.discriminatedUnion('type', [
  z.object({ type: z.literal('local'), directory: z.string().min(1) }),
  z.object({ type: z.literal('sftp'), ...sftpShape }).refine(hasSftpAuth, SFTP_AUTH),
  s3DestinationSchema,
]);
const deliverySchema = {
  /** Compliance offload to SFTP or S3 in the carrier archive format (src/delivery/offload.ts). */
  offload: z
    .object({
      enabled: z.boolean().default(false),
      intervalMinutes: z.coerce.number().int().min(1).max(1440).default(30),
      audio: offloadDestination.optional(),
      /** Where the CSV and manifest go; defaults to the audio destination. */
      metadata: offloadDestination.optional(),
      /** Wipe the local encrypted artifacts once the batch holding them is confirmed. */
      purgeAfterTransfer: z.boolean().default(false),
      /** Upload `<csv name>.sha256` (sha256sum format) with each batch. */
      manifest: z.boolean().default(true),
      /** Attempts (backoff from 10 s, doubling, capped at the interval) before a batch is marked failed. */
      maxAttempts: z.coerce.number().int().min(1).max(10_000).default(48),
    })
    .refine((o) => !o.enabled || o.audio, { message: 'required when offload.enabled', path: ['audio'] }),
  /** Unencrypted MP3 export with a daily CSV index (src/delivery/export.ts). */
  export: z
    .object({
      enabled: z.boolean().default(false),
      intervalSeconds: z.coerce.number().int().min(1).max(86_400).default(60),
      /** File-name template (validated at start, src/delivery/template.ts); `.mp3` is appended. */
      template: z
        .string()
        .min(1)
        .default(
          '%{setup-time##%Y/%m/%d}/%{setup-time##%Y%m%d_%H%M%S}-%{recording-id}-%{user}-%{direction}-%{extension}-%{remote-number}-%{group}',
        ),
      primary: exportDestination.optional(),
      secondary: exportDestination.optional(),
      /** Attempts of one file (backoff from 10 s, doubling, capped at 1 h) before it is marked failed. */
      maxAttempts: z.coerce.number().int().min(1).max(10_000).default(10),
    })
    .refine((o) => !o.enabled || o.primary, { message: 'required when export.enabled', path: ['primary'] }),
  /** Email to the recorded user when a recording is stored (src/delivery/notify.ts). */
  notifications: z
    .object({
      enabled: z.boolean().default(false),
      intervalSeconds: z.coerce.number().int().min(1).max(3600).default(10),
      smtp: z
        .object({
          host: z.string().min(1),
          port: port.default(587),
          /** TLS from the start (port 465); otherwise STARTTLS, required unless requireTLS is false. */
          secure: z.boolean().default(false),
          /** Refuse to send when the server does not offer STARTTLS (false: send in clear, logged loudly). */
          requireTLS: z.boolean().default(true),
          username: optionalString,
          password: optionalString,
          passwordFile: optionalString,
          rejectUnauthorized: z.boolean().default(true),
        })
        .optional(),
      from: z.string().min(3).default('SIPREC recorder <recorder@localhost>'),
      subject: z.string().min(1).default('Your call with [RemotePhoneNumber] was recorded'),
      /** Body template; `templateFile` (re-read for every email) wins when set. */
      body: z.string().min(1).optional(),
      templateFile: optionalString,
      /** Attach the MP3 up to this size; over it the email goes without it. 0 = no limit. */
      maxAttachmentBytes: z.coerce
        .number()
        .int()
        .min(0)
        .default(10 * 1024 * 1024),
      /** Time zone for dates in emails (IANA name). */
      timeZone: z.string().min(1).default('UTC'),
      /** Attempts of one email (backoff from 10 s, doubling, capped at 1 h) before it is marked failed. */
      maxAttempts: z.coerce.number().int().min(1).max(10_000).default(10),
      /** Seeds the per-user subscriptions table at start: username -> email, attach. */
      recipients: z
        .record(
          z.string(),
          z.object({
            email: z.email(),
            attach: z.boolean().default(false),
            enabled: z.boolean().default(true),
          }),
        )
        .default({}),
    })
    .refine((o) => !o.enabled || o.smtp, { message: 'required when notifications.enabled', path: ['smtp'] }),
};
// Artifact storage: local (default) or s3, see src/storage/config.ts; the cluster: src/cluster/config.ts.
const fullSchema = schema.extend(deliverySchema).extend({ storage: storageSchema, cluster: clusterSchema });

export type Config = Readonly<z.infer<typeof fullSchema>>;

type Env = Readonly<Record<string, string | undefined>>;

/** Partial settings as they may appear in a JSON config file (same shape as Config). */
export type ConfigFile = { [K in keyof Config]?: Config[K] extends object ? Partial<Config[K]> : Config[K] };

/** `sales=90d,support=48h` (env) or an object (file) -> { group: policy }. */
const groupPolicies = (v: unknown): unknown =>
  typeof v === 'string'
    ? Object.fromEntries(
        v
          .split(',')
          .map((x) => x.trim())
          .filter((x) => x !== '')
          .map((x) => {
            const i = x.indexOf('=');
            return i < 0 ? [x, ''] : [x.slice(0, i).trim(), x.slice(i + 1).trim()];
          }),
      )
    : v;

/** Every entry of SRS_SRC_ALLOW: `any`, an IPv4/IPv6 address, or a CIDR. */
function checkAllowList(list: readonly string[]): void {
  if (list.includes('any') && list.length > 1) {
    throw new ConfigError('SRS_SRC_ALLOW: `any` stands alone (it opens recording to every source)');
  }
  for (const e of list) {
    if (e === 'any') continue;
    const [addr, bits, extra] = e.split('/');
    const family = isIP(addr ?? '');
    const max = family === 4 ? 32 : 128;
    const okBits = bits === undefined || (/^\d+$/.test(bits) && Number(bits) <= max);
    if (family === 0 || extra !== undefined || !okBits) {
      throw new ConfigError(
        `SRS_SRC_ALLOW: "${e}" is not an address or CIDR (e.g. 10.0.0.0/8, 192.0.2.7, ::1)`,
      );
    }
  }
}

function deepFreeze<T>(o: T): T {
  if (o && typeof o === 'object') {
    for (const v of Object.values(o)) deepFreeze(v);
    Object.freeze(o);
  }
  return o;
}

/**
 * Build the configuration from defaults, then the config file, then the environment (highest).
 * Throws ConfigError naming every invalid setting.
 */
export function loadConfig(env: Env, file: ConfigFile = {}): Config {
  const f = file;
  const pick = (e: string | undefined, fv: unknown, dflt: unknown): unknown =>
    e !== undefined && e !== '' ? e : fv !== undefined ? fv : dflt;
  const raw = {
    dataDir: resolve(String(pick(env.SRS_DATA_DIR, f.dataDir, './data'))),
    logLevel: pick(env.LOG_LEVEL, f.logLevel, 'info'),
    sip: {
      host: pick(env.SIP_HOST, f.sip?.host, '0.0.0.0'),
      port: pick(env.SIP_PORT, f.sip?.port, 5060),
      publicAddress: pick(env.SRS_PUBLIC_ADDRESS, f.sip?.publicAddress, undefined),
      tlsCertFile: pick(env.SIP_TLS_CERT, f.sip?.tlsCertFile, undefined),
      tlsKeyFile: pick(env.SIP_TLS_KEY, f.sip?.tlsKeyFile, undefined),
      tlsPort: pick(env.SIP_TLS_PORT, f.sip?.tlsPort, 5061),
      srtp: pick(env.SRS_SRTP, f.sip?.srtp, 'accept'),
      tlsCaFile: pick(env.SIP_TLS_CA, f.sip?.tlsCaFile, undefined),
    },
    drachtio: {
      host: pick(env.DRACHTIO_HOST, f.drachtio?.host, undefined),
      port: pick(env.DRACHTIO_PORT, f.drachtio?.port, 9022),
      secret: pick(env.DRACHTIO_SECRET, f.drachtio?.secret, undefined),
    },
    http: {
      host: pick(env.HTTP_HOST, f.http?.host, '0.0.0.0'),
      port: pick(env.HTTP_PORT, f.http?.port, 8080),
      tlsCertFile: pick(env.HTTP_TLS_CERT, f.http?.tlsCertFile, undefined),
      tlsKeyFile: pick(env.HTTP_TLS_KEY, f.http?.tlsKeyFile, undefined),
      trustProxy: patternList(pick(env.SRS_TRUST_PROXY, f.http?.trustProxy, [])),
      clientIpHeader: pick(env.SRS_CLIENT_IP_HEADER, f.http?.clientIpHeader, 'x-forwarded-for'),
      wsQueryToken: pick(env.SRS_WS_QUERY_TOKEN, f.http?.wsQueryToken, false),
      metricsPublic: pick(env.SRS_METRICS_PUBLIC, f.http?.metricsPublic, false),
      metricsToken: pick(env.SRS_METRICS_TOKEN, f.http?.metricsToken, undefined),
    },
    media: {
      bindAddress: pick(env.RTP_BIND_ADDRESS, f.media?.bindAddress, '0.0.0.0'),
      advertiseAddress: pick(env.SRS_MEDIA_ADDRESS, f.media?.advertiseAddress, undefined),
      portMin: pick(env.RTP_PORT_MIN, f.media?.portMin, 20000),
      portMax: pick(env.RTP_PORT_MAX, f.media?.portMax, 39999),
      rtcp: pick(env.SRS_RTCP, f.media?.rtcp, true),
      outputs: pick(env.SRS_OUTPUTS, f.media?.outputs, ['mono']),
      pauseMode: pick(env.SRS_PAUSE_MODE, f.media?.pauseMode, 'silence'),
    },
    databaseUrl: pick(env.DATABASE_URL, f.databaseUrl, undefined),
    keys: {
      passphrase: pick(env.SRS_KEY_PASSPHRASE, f.keys?.passphrase, undefined),
      firstKeyType: pick(env.SRS_FIRST_KEY_TYPE, f.keys?.firstKeyType, 'rsa4096'),
    },
    adminToken: pick(env.SRS_ADMIN_TOKEN, f.adminToken, undefined),
    console: {
      adminPassword: pick(env.SRS_ADMIN_PASSWORD, f.console?.adminPassword, undefined),
      sessionTtlMinutes: pick(env.SRS_SESSION_TTL_MINUTES, f.console?.sessionTtlMinutes, 480),
      sessionMaxHours: pick(env.SRS_SESSION_MAX_HOURS, f.console?.sessionMaxHours, 12),
      listenSource: pick(env.SRS_LISTEN_SOURCE, f.console?.listenSource, 'auto'),
    },
    pipeline: {
      concurrency: pick(env.SRS_JOB_CONCURRENCY, f.pipeline?.concurrency, cpus().length),
      cpuShare: pick(env.SRS_PIPELINE_CPU_SHARE, f.pipeline?.cpuShare, 0.5),
      maxBacklogSeconds: pick(env.SRS_MAX_BACKLOG_SECONDS, f.pipeline?.maxBacklogSeconds, 300),
      mp3Encoder: pick(env.SRS_MP3_ENCODER, f.pipeline?.mp3Encoder, 'lame'),
      mp3Quality: pick(env.SRS_MP3_QUALITY, f.pipeline?.mp3Quality, 7),
      mp3Bitrate: pick(env.SRS_MP3_BITRATE, f.pipeline?.mp3Bitrate, 32),
      mp3SampleRate: pick(env.SRS_MP3_SAMPLE_RATE, f.pipeline?.mp3SampleRate, 8000),
      retryLimit: pick(env.SRS_JOB_RETRY_LIMIT, f.pipeline?.retryLimit, 5),
      retryDelaySeconds: pick(env.SRS_JOB_RETRY_DELAY, f.pipeline?.retryDelaySeconds, 10),
      hookUrl: pick(env.SRS_HOOK_URL, f.pipeline?.hookUrl, undefined),
      hookCommand: pick(env.SRS_HOOK_COMMAND, f.pipeline?.hookCommand, undefined),
      hookEnv: Object.fromEntries(
        ['PATH', ...(patternList(pick(env.SRS_HOOK_ENV, undefined, [])) as string[])]
          .filter((n) => env[n] !== undefined)
          .map((n) => [n, env[n] as string]),
      ),
      testCrashAfterStep: pick(env.SRS_TEST_CRASH_AFTER_STEP, undefined, undefined),
    },
    retention: {
      default: pick(env.SRS_RETENTION, f.retention?.default, 'keep'),
      groups: groupPolicies(pick(env.SRS_RETENTION_GROUPS, f.retention?.groups, {})),
      intervalSeconds: pick(env.SRS_PURGE_INTERVAL, f.retention?.intervalSeconds, 300),
    },
    limits: {
      maxSessions: pick(env.SRS_MAX_SESSIONS, f.limits?.maxSessions, 4000),
      maxCallsPerSecond: pick(env.SRS_MAX_CPS, f.limits?.maxCallsPerSecond, 0),
    },
    security: {
      srcAllow: patternList(pick(env.SRS_SRC_ALLOW, f.security?.srcAllow, undefined)),
      maxStreamsPerSession: pick(env.SRS_MAX_STREAMS, f.security?.maxStreamsPerSession, 8),
      maxSessionsPerSource: pick(env.SRS_MAX_SESSIONS_PER_SOURCE, f.security?.maxSessionsPerSource, 2000),
      maxCallsPerSecondPerSource: pick(
        env.SRS_MAX_CPS_PER_SOURCE,
        f.security?.maxCallsPerSecondPerSource,
        500,
      ),
      rtpRelatchMs: pick(env.SRS_RTP_RELATCH_MS, f.security?.rtpRelatchMs, 5000),
      rtpTimeoutSeconds: pick(env.SRS_RTP_TIMEOUT, f.security?.rtpTimeoutSeconds, 60),
      maxDurationSeconds: pick(env.SRS_MAX_DURATION, f.security?.maxDurationSeconds, 6 * 3600),
      sessionExpiresSeconds: pick(env.SRS_SESSION_EXPIRES, f.security?.sessionExpiresSeconds, 1800),
      minSessionExpiresSeconds: pick(env.SRS_MIN_SE, f.security?.minSessionExpiresSeconds, 90),
      maxConnections: pick(env.SIP_MAX_CONNECTIONS, f.security?.maxConnections, 2000),
      maxConnectionsPerAddress: pick(
        env.SIP_MAX_CONNECTIONS_PER_ADDRESS,
        f.security?.maxConnectionsPerAddress,
        64,
      ),
      maxHeaderBytes: pick(env.SIP_MAX_HEADER_BYTES, f.security?.maxHeaderBytes, 16 * 1024),
      headerTimeoutMs: pick(env.SIP_HEADER_TIMEOUT_MS, f.security?.headerTimeoutMs, 10_000),
      minFreeMb: pick(env.SRS_MIN_FREE_MB, f.security?.minFreeMb, 1024),
      hardFreeMb: pick(env.SRS_HARD_FREE_MB, f.security?.hardFreeMb, 128),
      handoffRetryLimit: pick(env.SRS_HANDOFF_RETRY_LIMIT, f.security?.handoffRetryLimit, 1000),
      testFreeMbFile: pick(env.SRS_TEST_FREE_MB_FILE, undefined, undefined),
      testEngineFault: pick(env.SRS_TEST_ENGINE_FAULT, undefined, undefined),
    },
    policy: {
      direction: pick(env.SRS_RECORD_DIRECTION, f.policy?.direction, 'both'),
      scope: pick(env.SRS_RECORD_SCOPE, f.policy?.scope, 'both'),
      internalNumbers: patternList(pick(env.SRS_INTERNAL_NUMBERS, f.policy?.internalNumbers, [])),
      blacklist: patternList(pick(env.SRS_BLACKLIST, f.policy?.blacklist, [])),
      excludedAction: pick(env.SRS_EXCLUDED_ACTION, f.policy?.excludedAction, 'answer'),
      declineStatus: pick(env.SRS_EXCLUDED_DECLINE_STATUS, f.policy?.declineStatus, 403),
    },
    // Delivery: config file only (nested destinations); zod fills the defaults.
    offload: f.offload ?? {},
    export: f.export ?? {},
    notifications: f.notifications ?? {},
    storage: storageSettings(env, f.storage),
    cluster: clusterSettings(env, f.cluster, pick(env.SIP_PORT, f.sip?.port, 5060)),
  };
  const parsed = fullSchema.safeParse(raw);
  if (!parsed.success) {
    const lines = parsed.error.issues.map((i) => `${i.path.join('.') || '(root)'}: ${i.message}`);
    throw new ConfigError(`invalid configuration:\n  ${lines.join('\n  ')}`);
  }
  if (!parsed.data.sip.tlsCertFile !== !parsed.data.sip.tlsKeyFile) {
    throw new ConfigError('SIP_TLS_CERT and SIP_TLS_KEY go together: give both PEM files or neither');
  }
  const sec = parsed.data.security;
  if (sec.hardFreeMb > sec.minFreeMb) {
    throw new ConfigError('SRS_HARD_FREE_MB must not be above SRS_MIN_FREE_MB');
  }
  if (sec.minSessionExpiresSeconds > sec.sessionExpiresSeconds) {
    throw new ConfigError('SRS_MIN_SE must not be above SRS_SESSION_EXPIRES');
  }
  if (sec.srcAllow) checkAllowList(sec.srcAllow);
  if (parsed.data.sip.tlsCaFile && !parsed.data.sip.tlsCertFile) {
    throw new ConfigError('SIP_TLS_CA needs SIP_TLS_CERT and SIP_TLS_KEY (mutual TLS on the TLS port)');
  }
  if (!parsed.data.http.tlsCertFile !== !parsed.data.http.tlsKeyFile) {
    throw new ConfigError('HTTP_TLS_CERT and HTTP_TLS_KEY go together: give both PEM files or neither');
  }
  if (parsed.data.drachtio.host && !parsed.data.drachtio.secret) {
    throw new ConfigError('DRACHTIO_SECRET is required when DRACHTIO_HOST is set');
  }
  return deepFreeze(parsed.data);
}
