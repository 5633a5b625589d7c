/**
 * The core settings' schema (server, SIP, HTTP, media, keys, console, pipeline, retention, limits,
 * security, recording policy). Zod only: src/config.ts builds the raw values and validates them
 * against it; the value kinds (numbers, ports, booleans, addresses, lists...) are
 * src/config/values.ts, one validator per kind.
 */
import { resolve } from 'node:path';
import { z } from 'zod';
import {
  bool,
  decimal,
  fieldSources,
  host,
  httpUrl,
  integer,
  ipAddress,
  optionalHost,
  optionalString,
  password,
  patternList,
  port,
  postgresUrl,
  proxyList,
  retentionGroups,
  retentionPolicy,
  sourceAllowList,
} from './values.js';
import { cipherList, tlsMinVersion } from './tls-policy.js';

export { optionalString, port, patternList } from './values.js';

/** A bearer credential set by the operator (admin, metrics): long enough not to be guessed. */
const bearerToken = optionalString.pipe(z.string().min(16, 'at least 16 characters').optional());

/** Dial-plan number pattern: digits, + * #, X or . (one digit), ! (any digits). */
const numberPattern = z
  .string()
  .regex(/^[0-9+*#Xx.!]+$/, 'use digits, + * #, X or . (one digit), ! (any digits)');
const DAY = 86_400;

/**
 * The MP3 bitrates (kbit/s) of each MPEG version, as LAME writes them: MPEG-2.5 (8, 11.025 kHz; LAME
 * caps it at 64), MPEG-2 (16, 22.05 kHz; LAME refuses above 136), MPEG-1 (44.1 kHz).
 */
export function mp3Bitrates(sampleRate: number): number[] {
  const low = [8, 16, 24, 32, 40, 48, 56, 64];
  if (sampleRate < 16000) return low;
  if (sampleRate < 32000) return [...low, 80, 96, 112, 128];
  return [32, 40, 48, 56, 64, 80, 96, 112, 128, 160, 192, 224, 256, 320];
}

/**
 * The longest call (s) the audio files hold, with a margin for the end of the call, and what
 * limits it: spool offsets are 32-bit sample counts (native/src/spool.cc: 2^32 samples at 8 kHz,
 * 149.1 h; the mono WAV holds as much); a WAV's size is 32-bit, so the two-channel `stereo` file
 * ends at 4 GiB (native/src/mixer.cc: 74.5 h); and a stored file is read back into one buffer,
 * which holds at most 4 GiB on Node.js 20 (src/pgp-decrypt.ts), so the MP3 may not pass it either
 * (74.5 h at 128 kbit/s, 29.8 h at 320; at 8 kHz, 64 kbit/s at most, the samples end first).
 */
export function longestCall(outputs: readonly string[], mp3Kbps: number): { seconds: number; what: string } {
  const mp3Hours = Math.floor(2 ** 32 / (mp3Kbps * 125) / 3600);
  const files = outputs.includes('stereo')
    ? { seconds: 74 * 3600, what: 'the stereo WAV holds (4 GiB; SRS_OUTPUTS has stereo)' }
    : { seconds: 149 * 3600, what: 'the spool and the WAV hold (2^32 samples)' };
  return mp3Hours * 3600 < files.seconds
    ? {
        seconds: mp3Hours * 3600,
        what: `a ${mp3Kbps} kbit/s MP3 may take (4 GiB, what a stored file may be read back as; SRS_MP3_BITRATE)`,
      }
    : files;
}

/** Every core setting (delivery, storage and the cluster are added in src/config.ts). */
export const schema = z.object({
  dataDir: z
    .string({ error: 'expected a directory path' })
    .min(1, { error: 'expected a directory path' })
    .transform((d) => resolve(d)),
  logLevel: z.enum(['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent']),
  sip: z.object({
    host,
    port,
    /** Address put in Contact headers; defaults to the address each request arrived on. */
    publicAddress: optionalHost,
    /** SIP over TLS: on when both PEM files are given. */
    tlsCertFile: optionalString,
    tlsKeyFile: optionalString,
    tlsPort: port,
    /**
     * SDES-keyed SRTP (RFC 4568): `accept` SRTP or plain RTP, `require` SRTP (plain RTP offers get
     * 488 with a Warning), or `off` (SAVP offers get 488, an a=crypto on RTP/AVP is ignored).
     */
    srtp: z.enum(['accept', 'require', 'off']),
    /** SRS_SDES_REQUIRE_TLS: an offer with SRTP keys (a=crypto) that did not come over TLS gets 488. */
    sdesRequireTls: bool,
    /** Mutual TLS: CA bundle (PEM) that SRC client certificates must chain to; unset = no client cert asked. */
    tlsCaFile: optionalString,
    /** Custom field values read from each INVITE's headers or metadata (docs/api.md#custom-fields). */
    fieldsFrom: fieldSources,
    /** RFC 3261 T1 (ms): retransmissions start at T1, a transaction gives up after 64*T1. */
    t1Ms: integer(50, 4000),
  }),
  drachtio: z.object({
    /** When set, the application connects to this external drachtio-server and no edge is started. */
    host: optionalHost,
    port,
    secret: optionalString,
  }),
  http: z.object({
    host,
    port,
    /** HTTPS on the API/console port: on when both PEM files are given (then Secure cookies, HSTS). */
    tlsCertFile: optionalString,
    tlsKeyFile: optionalString,
    /**
     * Addresses of TLS-terminating proxies in front (SRS_TRUST_PROXY, comma-separated; `loopback`
     * for 127.0.0.1 and ::1): from them the client address comes from `clientIpHeader` and HTTPS from
     * X-Forwarded-Proto. Empty: headers are ignored.
     */
    trustProxy: proxyList,
    clientIpHeader: z
      .string()
      .regex(/^[A-Za-z0-9-]+$/, { error: 'expected a header name (letters, digits, -)' })
      .transform((v) => v.toLowerCase()),
    /** `?token=` on the monitor WebSocket, for API tokens only (off: cookie or Authorization only). */
    wsQueryToken: bool,
    /** /metrics without a credential (off: an admin credential or SRS_METRICS_TOKEN is needed). */
    metricsPublic: bool,
    metricsToken: bearerToken,
    /** Connections to the HTTP port at once, and from one address (trusted proxies exempt). */
    maxConnections: integer(1, 100_000),
    maxConnectionsPerAddress: integer(1, 100_000),
    /** Connections past maxConnections kept for GET /healthz and /metrics only (0: none). */
    healthReserve: integer(0, 1000),
  }),
  media: z
    .object({
      bindAddress: ipAddress,
      /** Address put in SDP c= lines; defaults to the local address the INVITE arrived on. */
      advertiseAddress: optionalHost,
      portMin: port,
      portMax: port,
      /** Bind each stream's port+1 and drain (count) its RTCP: one more descriptor per stream. */
      rtcp: bool,
      /**
       * Audio files made for each recording: the mono mix always; `stereo` (first party left, the
       * others right) and `legs` (one file per stream) on request. Env: comma-separated.
       */
      outputs: z.preprocess(
        patternList,
        z
          .array(z.enum(['mono', 'stereo', 'legs']))
          .refine((o) => o.includes('mono'), { message: 'must include mono (e.g. mono,stereo)' })
          .transform((o) => [...new Set(o)]),
      ),
      /** A paused recording: silence for the paused time (`silence`), or the time left out (`cut`). */
      pauseMode: z.enum(['silence', 'cut']),
    })
    .refine((m) => m.portMin % 2 === 0 && m.portMin < m.portMax, {
      message: 'expected an even port number below media.portMax (RTP_PORT_MAX)',
      path: ['portMin'],
    }),
  databaseUrl: postgresUrl,
  keys: z.object({
    passphrase: optionalString,
    /** Type of the key generated on first start: rsa4096 (default, like `srs keys generate`) or curve25519. */
    firstKeyType: z.enum(['curve25519', 'rsa4096']),
    /** Private keys (locked under the passphrase) in the catalogue too, for every node (default true). */
    inCatalogue: bool,
  }),
  adminToken: bearerToken,
  /** Web console / API: first admin's password, session lifetime. */
  console: z.object({
    adminPassword: password,
    sessionTtlMinutes: integer(1, 7 * 24 * 60),
    /** Absolute session lifetime (hours), however active the session. */
    sessionMaxHours: decimal(0.0002, 30 * 24),
    /** Listen-in audio: the engine's live tap when it has one (auto), or always the spool files. */
    listenSource: z.enum(['auto', 'spool']),
    /** Live monitor sockets one user (or session, or API token without a user) may hold at once. */
    monitorMaxPerUser: integer(1, 100_000),
    /** The live monitor pings each socket this often; one that missed the last ping is closed. */
    monitorPingSeconds: decimal(0.1, 3600),
  }),
  pipeline: z
    .object({
      concurrency: integer(1, 256),
      /** Share of the cores always left to post-call jobs, however busy the calls (0..1). */
      cpuShare: decimal(0.05, 1),
      /** New calls get 503 while the post-call backlog needs longer than this to drain; 0 = never. */
      maxBacklogSeconds: decimal(0, 7 * DAY),
      /** The ffmpeg the `ffmpeg` encoder runs (SRS_FFMPEG_PATH); unset: the system's, else @ffmpeg-installer's. */
      ffmpegPath: optionalString,
      /** MP3 encoder: libmp3lame in the addon (`lame`) or an ffmpeg process (`ffmpeg`). */
      mp3Encoder: z.enum(['lame', 'ffmpeg']),
      /** LAME algorithm quality 0 (best, slowest) .. 9 (fastest); 7 chosen by bench:mp3. */
      mp3Quality: integer(0, 9),
      mp3Bitrate: integer(8, 320),
      mp3SampleRate: integer(8000, 44100).refine((v) => [8000, 11025, 16000, 22050, 44100].includes(v), {
        message: 'must be one of 8000, 11025, 16000, 22050, 44100',
      }),
      /** Attempts after the first, and the first retry delay (doubling each time). */
      retryLimit: integer(0, 100),
      retryDelaySeconds: integer(1, DAY),
      /** User hooks after a recording is stored: an http(s) webhook URL and/or an executable. */
      hookUrl: optionalString.pipe(httpUrl.optional()),
      hookCommand: optionalString,
      /** Hook jobs (of different recordings) run at once: one that hangs holds back no other. */
      hookConcurrency: integer(1, 64),
      /** How long one webhook POST, or one run of the hook command, may take before it fails. */
      hookTimeoutSeconds: integer(1, 600),
      /**
       * What a hook command's environment holds besides SRS_RECORDING_ID, SRS_HOOK_EVENT and PATH:
       * these variables of the server's environment (SRS_HOOK_ENV, comma-separated names), nothing else.
       */
      hookEnv: z.record(z.string(), z.string()),
      /** Test only: the process SIGKILLs itself after this finalize step (crash tests). */
      testCrashAfterStep: optionalString,
    })
    .superRefine((p, ctx) => {
      // LAME rounded other values to a neighbour, capped them (64 at 8 kHz) or failed every encode.
      const valid = mp3Bitrates(p.mp3SampleRate);
      if (!valid.includes(p.mp3Bitrate))
        ctx.addIssue({
          code: 'custom',
          path: ['mp3Bitrate'],
          message: `expected one of ${valid.join(', ')} kbit/s at ${p.mp3SampleRate} Hz (SRS_MP3_SAMPLE_RATE)`,
        });
    }),
  /** Retention: keep | <N>d | <N>h, default and per recording group; purge every intervalSeconds. */
  retention: z.object({
    default: retentionPolicy,
    groups: retentionGroups,
    intervalSeconds: integer(5, DAY),
  }),
  limits: z.object({
    maxSessions: integer(1, 1_000_000),
    /** SIGTERM/SIGINT: the shutdown gets this long, then the process exits 1 (the next start recovers). */
    shutdownTimeoutSeconds: integer(1, 86_400),
    /** New SIPREC sessions per second accepted (token bucket, burst of one second); 0 = no limit. */
    maxCallsPerSecond: decimal(0, 100_000),
    /** Each query of a recordings search (API, console, export) stops after this many ms: 503. */
    searchTimeoutMs: integer(100, 3_600_000),
  }),
  /** Trust at the edge (docs/security.md): who may record, limits, call ends, disk floors. */
  security: z.object({
    /** SRC allowlist: addresses and CIDRs; ['any'] opens it; undefined = loopback + private ranges. */
    srcAllow: sourceAllowList.optional(),
    maxStreamsPerSession: integer(1, 1000),
    maxSessionsPerSource: integer(0, 1_000_000),
    maxCallsPerSecondPerSource: decimal(0, 100_000),
    /** Silence (ms) after which another source may take over a leg; 0 = never. */
    rtpRelatchMs: integer(0, DAY * 1000),
    /** Seconds with every leg silent (and none paused) before the server ends the call; 0 = never. */
    rtpTimeoutSeconds: decimal(0, DAY),
    /**
     * Longest call in seconds (BYE, stored, event); 0 = as long as the audio files hold. Above
     * longestCall (the files' limit) is refused in src/config.ts, with the reason.
     */
    maxDurationSeconds: decimal(0, 30 * DAY),
    /**
     * RFC 4028: Session-Expires we ask for and the smallest we take (Min-SE; RFC minimum 90). Up
     * to a day: the timer is a setTimeout, which fires at once beyond 2^31-1 ms.
     */
    sessionExpiresSeconds: integer(1, DAY),
    minSessionExpiresSeconds: integer(1, DAY),
    /** SIP over TCP/TLS: connections in all and per address, bytes before the end of headers, deadline. */
    maxConnections: integer(1, 1_000_000),
    maxConnectionsPerAddress: integer(1, 1_000_000),
    maxHeaderBytes: integer(1024, 1024 * 1024),
    headerTimeoutMs: integer(100, 600_000),
    /** Free space (MiB) on the data directory's filesystem: below minFreeMb new calls get 503; below hardFreeMb live calls end. */
    minFreeMb: decimal(0, 100_000_000),
    hardFreeMb: decimal(0, 100_000_000),
    /** Free inodes on the data (and spool) filesystem below which new calls get 503; 0: not checked. */
    minFreeInodes: integer(0, 1_000_000_000_000),
    /** Attempts of the end-of-call hand-off while the database is away (backoff 0.5 s doubling, 30 s cap). */
    handoffRetryLimit: integer(0, 1_000_000),
    /** A new call's catalogue row must be written within this, else the INVITE gets 503 (ms). */
    catalogueTimeoutMs: integer(500, 120_000),
    /** Every TLS listener and outgoing TLS connection: lowest version, OpenSSL cipher list (src/config/tls-policy.ts). */
    tlsMinVersion,
    tlsCiphers: cipherList,
    /** Test only (SRS_TEST_FREE_MB_FILE): free MiB read from this file instead of statfs. */
    testFreeMbFile: optionalString,
    /** Test only (SRS_TEST_ENGINE_FAULT=worker-exit:<ms> or writer-stall:<ms>): the media worker dies, or the spool writer stops, that long after start. */
    testEngineFault: optionalString,
  }),
  /** Recording policy (src/sip/app/policy.ts). */
  policy: z.object({
    direction: z.enum(['inbound', 'outbound', 'both']),
    scope: z.enum(['internal', 'external', 'both']),
    internalNumbers: z.preprocess(patternList, z.array(numberPattern)),
    blacklist: z.preprocess(patternList, z.array(numberPattern)),
    excludedAction: z.enum(['answer', 'decline']),
    declineStatus: integer(400, 699, 'a SIP status'),
  }),
});
