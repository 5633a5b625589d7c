import { cpus } from 'node:os';
import { isIP } from 'node:net';
import { resolve } from 'node:path';
import type { z } from 'zod';
import { ConfigError } from './errors.js';
import { storageSchema, storageSettings } from './storage/config.js';
import { clusterSchema, clusterSettings } from './cluster/config.js';
import { deliverySchema } from './config/delivery-schema.js';
import { patternList, schema } from './config/schema.js';

/**
 * The only reader of process.env. `loadConfig(env, file)` validates everything once and returns a
 * frozen object; every other module receives the part it needs. The schema: src/config/.
 */

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
      ffmpegPath: pick(env.SRS_FFMPEG_PATH, f.pipeline?.ffmpegPath, undefined),
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
