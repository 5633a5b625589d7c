/**
 * The core settings' schema (server, SIP, HTTP, media, keys, console, pipeline, retention, limits,
 * security, recording policy) and the value schemas the other parts of the configuration share.
 * Zod only: src/config.ts builds the raw values and validates them against it.
 */
import { z } from 'zod';

export const port = z.coerce.number().int().min(1).max(65535);
/** An optional string; empty counts as unset. */
export const optionalString = z
  .string()
  .optional()
  .transform((v) => (v === undefined || v === '' ? undefined : v));

/** Dial-plan number pattern: digits, + * #, X or . (one digit), ! (any digits). */
const numberPattern = z
  .string()
  .regex(/^[0-9+*#Xx.!]+$/, 'use digits, + * #, X or . (one digit), ! (any digits)');
/** A comma-separated env value as a list (a file's list stays as it is). */
export const patternList = (v: unknown): unknown =>
  typeof v === 'string'
    ? v
        .split(',')
        .map((x) => x.trim())
        .filter((x) => x !== '')
    : v;

/** Every core setting (delivery, storage and the cluster are added in src/config.ts). */
export const schema = z.object({
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
    /** The ffmpeg the `ffmpeg` encoder runs (SRS_FFMPEG_PATH); unset: the system's, else @ffmpeg-installer's. */
    ffmpegPath: optionalString,
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
