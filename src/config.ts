import { cpus } from 'node:os';
import { resolve } from 'node:path';
import { z } from 'zod';
import { ConfigError } from './errors.js';
import { storageSchema, storageSettings } from './storage/config.js';
import { clusterSchema, clusterSettings } from './cluster/config.js';

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
  }),
  drachtio: z.object({
    /** When set, the application connects to this external drachtio-server and no edge is started. */
    host: optionalString,
    port,
    secret: optionalString,
  }),
  http: z.object({ host: z.string().min(1), port }),
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
  /** Web console / API (issue 6): first admin's password, session lifetime. */
  console: z.object({
    adminPassword: optionalString,
    sessionTtlMinutes: z.coerce
      .number()
      .int()
      .min(1)
      .max(7 * 24 * 60),
    /** Listen-in audio: the engine's live tap when it has one (auto), or always the spool files. */
    listenSource: z.enum(['auto', 'spool']),
  }),
  pipeline: z.object({
    concurrency: z.coerce.number().int().min(1).max(256),
    /** Post-call jobs wait (up to 60 s each) while new calls arrive at this rate or more; 0 = never. */
    yieldAboveCps: z.coerce.number().min(0).max(100_000),
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

/** Delivery (issue 7): an SFTP server, by password or private key (file). */
const sftpDestination = z
  .object({
    host: z.string().min(1),
    port: port.default(22),
    username: z.string().min(1),
    password: optionalString,
    passwordFile: optionalString,
    privateKeyFile: optionalString,
    privateKeyPassphrase: optionalString,
    directory: z.string().min(1),
    /** Expected host key, as `ssh-keygen -lf` prints it (SHA256:...); unset = not checked (logged). */
    hostKeySha256: optionalString,
    /** Connect and per-operation timeout (the carrier asks for 6 minutes for large audio). */
    timeoutSeconds: z.coerce.number().int().min(1).max(3600).default(360),
  })
  .refine((d) => d.password || d.passwordFile || d.privateKeyFile, {
    message: 'needs password, passwordFile or privateKeyFile',
  });
const exportDestination = z.union([
  z.object({ type: z.literal('local'), directory: z.string().min(1) }),
  sftpDestination.and(z.object({ type: z.literal('sftp') })),
]);
const deliverySchema = {
  /** Compliance offload to SFTP in the carrier archive format (src/delivery/offload.ts). */
  offload: z
    .object({
      enabled: z.boolean().default(false),
      intervalMinutes: z.coerce.number().int().min(1).max(1440).default(30),
      audio: sftpDestination.optional(),
      /** Where the CSV and manifest go; defaults to the audio destination. */
      metadata: sftpDestination.optional(),
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
          /** TLS from the start (port 465); otherwise STARTTLS when offered. */
          secure: z.boolean().default(false),
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
// Artifact storage (issue 17): local (default) or s3, see src/storage/config.ts.
const fullSchema = schema.extend(deliverySchema).extend({ storage: storageSchema, cluster: clusterSchema }); // cluster: issue 17, src/cluster/config.ts

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
    },
    drachtio: {
      host: pick(env.DRACHTIO_HOST, f.drachtio?.host, undefined),
      port: pick(env.DRACHTIO_PORT, f.drachtio?.port, 9022),
      secret: pick(env.DRACHTIO_SECRET, f.drachtio?.secret, undefined),
    },
    http: {
      host: pick(env.HTTP_HOST, f.http?.host, '0.0.0.0'),
      port: pick(env.HTTP_PORT, f.http?.port, 8080),
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
      listenSource: pick(env.SRS_LISTEN_SOURCE, f.console?.listenSource, 'auto'),
    },
    pipeline: {
      concurrency: pick(env.SRS_JOB_CONCURRENCY, f.pipeline?.concurrency, cpus().length),
      yieldAboveCps: pick(env.SRS_PIPELINE_YIELD_CPS, f.pipeline?.yieldAboveCps, 50),
      mp3Bitrate: pick(env.SRS_MP3_BITRATE, f.pipeline?.mp3Bitrate, 32),
      mp3SampleRate: pick(env.SRS_MP3_SAMPLE_RATE, f.pipeline?.mp3SampleRate, 8000),
      retryLimit: pick(env.SRS_JOB_RETRY_LIMIT, f.pipeline?.retryLimit, 5),
      retryDelaySeconds: pick(env.SRS_JOB_RETRY_DELAY, f.pipeline?.retryDelaySeconds, 10),
      hookUrl: pick(env.SRS_HOOK_URL, f.pipeline?.hookUrl, undefined),
      hookCommand: pick(env.SRS_HOOK_COMMAND, f.pipeline?.hookCommand, undefined),
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
    policy: {
      direction: pick(env.SRS_RECORD_DIRECTION, f.policy?.direction, 'both'),
      scope: pick(env.SRS_RECORD_SCOPE, f.policy?.scope, 'both'),
      internalNumbers: patternList(pick(env.SRS_INTERNAL_NUMBERS, f.policy?.internalNumbers, [])),
      blacklist: patternList(pick(env.SRS_BLACKLIST, f.policy?.blacklist, [])),
      excludedAction: pick(env.SRS_EXCLUDED_ACTION, f.policy?.excludedAction, 'answer'),
      declineStatus: pick(env.SRS_EXCLUDED_DECLINE_STATUS, f.policy?.declineStatus, 403),
    },
    // Delivery (issue 7): config file only (nested destinations); zod fills the defaults.
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
  if (parsed.data.drachtio.host && !parsed.data.drachtio.secret) {
    throw new ConfigError('DRACHTIO_SECRET is required when DRACHTIO_HOST is set');
  }
  return deepFreeze(parsed.data);
}
