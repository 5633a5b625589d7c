import { availableParallelism } from 'node:os';
import type { z } from 'zod';
import { ConfigError } from './errors.js';
import { storageSchema, storageSettings } from './config/storage.js';
import { clusterSchema, clusterSettings } from './config/cluster.js';
import { deliverySchema } from './config/delivery-schema.js';
import { DIRECTORY_KEYS, directorySchema } from './config/directory-schema.js';
import { longestCall, schema } from './config/schema.js';
import { envNameList } from './config/values.js';
import {
  CORE_ENV,
  describeProblems,
  fileShapeProblems,
  fileValue,
  type CorePath,
  type Problem,
} from './config/settings.js';
import { directoryProblem, programProblem, tlsProblems } from './config/files.js';
import { DEFAULT_TLS_CIPHERS } from './config/tls-policy.js';

/**
 * The only reader of process.env. `loadConfig(env, file)` validates everything once and returns a
 * frozen object; every other module receives the part it needs. The schema: src/config/ (the value
 * kinds: src/config/values.ts; the variables and the messages: src/config/settings.ts).
 */

// Artifact storage: local (default) or s3, see src/config/storage.ts; the cluster: src/config/cluster.ts.
const fullSchema = schema
  .extend(deliverySchema)
  .extend({ storage: storageSchema, cluster: clusterSchema, directory: directorySchema });

export type Config = Readonly<z.infer<typeof fullSchema>>;

type Env = Readonly<Record<string, string | undefined>>;

/** Partial settings as they may appear in a JSON config file (same shape as Config). */
export type ConfigFile = { [K in keyof Config]?: Config[K] extends object ? Partial<Config[K]> : Config[K] };

/** The keys of each delivery section, for the config file's unknown-key check. */
const DELIVERY_KEYS = {
  ...(Object.fromEntries(Object.entries(deliverySchema).map(([k, v]) => [k, Object.keys(v.shape)])) as Record<
    string,
    string[]
  >),
  directory: DIRECTORY_KEYS,
};

const WILDCARD = new Set(['0.0.0.0', '::']);
const sameAddress = (a: string, b: string) => a === b || WILDCARD.has(a) || WILDCARD.has(b);

/**
 * Two of the server's own TCP listeners (HTTP, SIP, SIP over TLS) on one port: met at start as
 * EADDRINUSE, naming no setting. (A SIP port inside the RTP range only costs the engine that port.)
 */
function portConflict(c: z.infer<typeof fullSchema>): string | undefined {
  const tcp: [string, string, number][] = [['HTTP_PORT', c.http.host, c.http.port]];
  if (!c.drachtio.host) {
    tcp.push(['SIP_PORT', c.sip.host, c.sip.port]);
    if (c.sip.tlsCertFile) tcp.push(['SIP_TLS_PORT', c.sip.host, c.sip.tlsPort]);
  }
  for (const [i, [a, hostA, portA]] of tcp.entries())
    for (const [b, hostB, portB] of tcp.slice(i + 1))
      if (portA === portB && sameAddress(hostA, hostB))
        return `${a} ${portA} is also ${b}: give each listener its own port`;
  return undefined;
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
 * Throws a one-line ConfigError naming every invalid setting, its value and what is expected.
 */
export function loadConfig(env: Env, file: ConfigFile = {}): Config {
  const problems: Problem[] = fileShapeProblems(file, DELIVERY_KEYS);
  const f = (problems.length > 0 && problems[0]?.path.length === 0 ? {} : file) as Record<string, unknown>;
  const section = (name: string): Record<string, unknown> | undefined => {
    const v = f[name];
    return v && typeof v === 'object' && !Array.isArray(v) ? (v as Record<string, unknown>) : undefined;
  };
  /** The environment (when set and not empty), else the file, else the default. */
  const val = (path: CorePath, dflt?: unknown): unknown => {
    const e = env[CORE_ENV[path]];
    const fv = fileValue(f, path);
    return e !== undefined && e !== '' ? e : fv !== undefined ? fv : dflt;
  };
  const hookEnvNames = envNameList.safeParse(env.SRS_HOOK_ENV ?? '');
  if (!hookEnvNames.success)
    problems.push(
      ...hookEnvNames.error.issues.map((i) => ({
        path: ['pipeline', 'hookEnv', ...i.path],
        message: i.message,
      })),
    );
  const raw = {
    dataDir: val('dataDir', './data'),
    logLevel: val('logLevel', 'info'),
    sip: {
      host: val('sip.host', '0.0.0.0'),
      port: val('sip.port', 5060),
      publicAddress: val('sip.publicAddress'),
      tlsCertFile: val('sip.tlsCertFile'),
      tlsKeyFile: val('sip.tlsKeyFile'),
      tlsPort: val('sip.tlsPort', 5061),
      srtp: val('sip.srtp', 'accept'),
      sdesRequireTls: val('sip.sdesRequireTls', false),
      tlsCaFile: val('sip.tlsCaFile'),
      fieldsFrom: val('sip.fieldsFrom', []),
      t1Ms: val('sip.t1Ms', 500),
    },
    drachtio: {
      host: val('drachtio.host'),
      port: val('drachtio.port', 9022),
      secret: val('drachtio.secret'),
    },
    http: {
      host: val('http.host', '0.0.0.0'),
      port: val('http.port', 8080),
      tlsCertFile: val('http.tlsCertFile'),
      tlsKeyFile: val('http.tlsKeyFile'),
      trustProxy: val('http.trustProxy', []),
      clientIpHeader: val('http.clientIpHeader', 'x-forwarded-for'),
      wsQueryToken: val('http.wsQueryToken', false),
      metricsPublic: val('http.metricsPublic', false),
      metricsToken: val('http.metricsToken'),
      maxConnections: val('http.maxConnections', 1000),
      maxConnectionsPerAddress: val('http.maxConnectionsPerAddress', 100),
      healthReserve: val('http.healthReserve', 8),
    },
    media: {
      bindAddress: val('media.bindAddress', '0.0.0.0'),
      advertiseAddress: val('media.advertiseAddress'),
      portMin: val('media.portMin', 20000),
      portMax: val('media.portMax', 39999),
      rtcp: val('media.rtcp', true),
      outputs: val('media.outputs', ['mono']),
      pauseMode: val('media.pauseMode', 'silence'),
    },
    databaseUrl: val('databaseUrl'),
    keys: {
      passphrase: val('keys.passphrase'),
      firstKeyType: val('keys.firstKeyType', 'rsa4096'),
      inCatalogue: val('keys.inCatalogue', true),
    },
    adminToken: val('adminToken'),
    console: {
      adminPassword: val('console.adminPassword'),
      sessionTtlMinutes: val('console.sessionTtlMinutes', 480),
      sessionMaxHours: val('console.sessionMaxHours', 12),
      listenSource: val('console.listenSource', 'auto'),
      monitorMaxPerUser: val('console.monitorMaxPerUser', 8),
      monitorPingSeconds: val('console.monitorPingSeconds', 30),
    },
    pipeline: {
      concurrency: val('pipeline.concurrency', Math.min(256, availableParallelism())),
      cpuShare: val('pipeline.cpuShare', 0.5),
      maxBacklogSeconds: val('pipeline.maxBacklogSeconds', 300),
      mp3Encoder: val('pipeline.mp3Encoder', 'lame'),
      ffmpegPath: val('pipeline.ffmpegPath'),
      mp3Quality: val('pipeline.mp3Quality', 7),
      mp3Bitrate: val('pipeline.mp3Bitrate', 32),
      mp3SampleRate: val('pipeline.mp3SampleRate', 8000),
      retryLimit: val('pipeline.retryLimit', 5),
      retryDelaySeconds: val('pipeline.retryDelaySeconds', 10),
      hookUrl: val('pipeline.hookUrl'),
      hookCommand: val('pipeline.hookCommand'),
      hookConcurrency: val('pipeline.hookConcurrency', 4),
      hookTimeoutSeconds: val('pipeline.hookTimeoutSeconds', 30),
      hookEnv: Object.fromEntries(
        ['PATH', ...(hookEnvNames.data ?? [])]
          .filter((n) => env[n] !== undefined)
          .map((n) => [n, env[n] as string]),
      ),
      testCrashAfterStep: env.SRS_TEST_CRASH_AFTER_STEP || undefined,
    },
    retention: {
      default: val('retention.default', 'keep'),
      groups: val('retention.groups', {}),
      intervalSeconds: val('retention.intervalSeconds', 300),
    },
    limits: {
      maxSessions: val('limits.maxSessions', 4000),
      maxCallsPerSecond: val('limits.maxCallsPerSecond', 0),
      shutdownTimeoutSeconds: val('limits.shutdownTimeoutSeconds', 60),
      searchTimeoutMs: val('limits.searchTimeoutMs', 30_000),
    },
    security: {
      srcAllow: val('security.srcAllow'),
      maxStreamsPerSession: val('security.maxStreamsPerSession', 8),
      maxSessionsPerSource: val('security.maxSessionsPerSource', 2000),
      maxCallsPerSecondPerSource: val('security.maxCallsPerSecondPerSource', 500),
      rtpRelatchMs: val('security.rtpRelatchMs', 5000),
      rtpTimeoutSeconds: val('security.rtpTimeoutSeconds', 60),
      maxDurationSeconds: val('security.maxDurationSeconds', 6 * 3600),
      sessionExpiresSeconds: val('security.sessionExpiresSeconds', 1800),
      minSessionExpiresSeconds: val('security.minSessionExpiresSeconds', 90),
      maxConnections: val('security.maxConnections', 2000),
      maxConnectionsPerAddress: val('security.maxConnectionsPerAddress', 64),
      maxHeaderBytes: val('security.maxHeaderBytes', 16 * 1024),
      headerTimeoutMs: val('security.headerTimeoutMs', 10_000),
      minFreeMb: val('security.minFreeMb', 1024),
      hardFreeMb: val('security.hardFreeMb', 128),
      minFreeInodes: val('security.minFreeInodes', 1000),
      handoffRetryLimit: val('security.handoffRetryLimit', 1000),
      catalogueTimeoutMs: val('security.catalogueTimeoutMs', 5000),
      tlsMinVersion: val('security.tlsMinVersion', 'TLSv1.2'),
      tlsCiphers: val('security.tlsCiphers', DEFAULT_TLS_CIPHERS),
      testFreeMbFile: env.SRS_TEST_FREE_MB_FILE || undefined,
      testEngineFault: env.SRS_TEST_ENGINE_FAULT || undefined,
    },
    policy: {
      direction: val('policy.direction', 'both'),
      scope: val('policy.scope', 'both'),
      internalNumbers: val('policy.internalNumbers', []),
      blacklist: val('policy.blacklist', []),
      excludedAction: val('policy.excludedAction', 'answer'),
      declineStatus: val('policy.declineStatus', 403),
    },
    // Delivery: config file only (nested destinations); zod fills the defaults.
    offload: f.offload ?? {},
    export: f.export ?? {},
    notifications: f.notifications ?? {},
    journal: f.journal ?? {},
    directory: f.directory ?? {},
    storage: storageSettings(env, section('storage')),
    cluster: clusterSettings(env, section('cluster'), val('sip.port', 5060)),
  };
  const parsed = fullSchema.safeParse(raw);
  if (!parsed.success)
    for (const issue of parsed.error.issues)
      // A nested key that names no setting (a typo would leave the default in force): one line each.
      if (issue.code === 'unrecognized_keys')
        for (const key of issue.keys)
          problems.push({
            path: [...issue.path, key],
            message: 'unknown setting in the config file',
            shown: true,
          });
      else problems.push(issue);
  if (problems.length > 0 || !parsed.success) throw new ConfigError(describeProblems(problems, env, raw));
  const c = parsed.data;
  // Empty counts as unset everywhere, but an empty allow list would silently open every private
  // range (a template that rendered nothing): refused.
  if (
    env.SRS_SRC_ALLOW !== undefined &&
    env.SRS_SRC_ALLOW.trim() === '' &&
    c.security.srcAllow === undefined
  ) {
    throw new ConfigError(
      'security.srcAllow: SRS_SRC_ALLOW is set but empty: list your SRCs (addresses or CIDRs, or any), or unset it for the loopback and private-range default',
    );
  }
  if (!c.sip.tlsCertFile !== !c.sip.tlsKeyFile) {
    throw new ConfigError('SIP_TLS_CERT and SIP_TLS_KEY go together: give both PEM files or neither');
  }
  const sec = c.security;
  if (sec.hardFreeMb > sec.minFreeMb) {
    throw new ConfigError('SRS_HARD_FREE_MB must not be above SRS_MIN_FREE_MB');
  }
  if (sec.minSessionExpiresSeconds > sec.sessionExpiresSeconds) {
    throw new ConfigError('SRS_MIN_SE must not be above SRS_SESSION_EXPIRES');
  }
  // A call longer than its audio files hold would lose its end (the spool stops appending, the
  // stereo WAV is refused): refused here, and 0 (no limit of one's own) ends the call there.
  const { seconds: longest, what } = longestCall(c.media.outputs, c.pipeline.mp3Bitrate);
  if (sec.maxDurationSeconds > longest) {
    const stereo = what.includes('stereo');
    const mp3 = what.includes('MP3');
    throw new ConfigError(
      `SRS_MAX_DURATION (security.maxDurationSeconds) ${sec.maxDurationSeconds} s is above ${longest} s ` +
        `(${longest / 3600} h), the longest call ${what}: ` +
        `set at most ${longest}${stereo ? ', or leave stereo out of SRS_OUTPUTS' : ''}${mp3 ? ', or a lower SRS_MP3_BITRATE' : ''}`,
    );
  }
  if (sec.maxDurationSeconds === 0) sec.maxDurationSeconds = longest;
  if (c.sip.tlsCaFile && !c.sip.tlsCertFile) {
    throw new ConfigError('SIP_TLS_CA needs SIP_TLS_CERT and SIP_TLS_KEY (mutual TLS on the TLS port)');
  }
  if (!c.http.tlsCertFile !== !c.http.tlsKeyFile) {
    throw new ConfigError('HTTP_TLS_CERT and HTTP_TLS_KEY go together: give both PEM files or neither');
  }
  if (c.drachtio.host && !c.drachtio.secret) {
    throw new ConfigError('DRACHTIO_SECRET is required when DRACHTIO_HOST is set');
  }
  const conflict = portConflict(c);
  if (conflict) throw new ConfigError(conflict);
  // What the paths name: checked now rather than found wrong at the first recording or handshake.
  const onDisk: Problem[] = [];
  const check = (path: string[], problem: string | undefined) => {
    if (problem) onDisk.push({ path, message: problem });
  };
  check(['dataDir'], directoryProblem(c.dataDir));
  if (c.pipeline.ffmpegPath)
    check(['pipeline', 'ffmpegPath'], programProblem(c.pipeline.ffmpegPath, env.PATH));
  if (c.pipeline.hookCommand)
    check(['pipeline', 'hookCommand'], programProblem(c.pipeline.hookCommand, env.PATH));
  for (const part of ['sip', 'http'] as const) {
    const t = c[part];
    if (!t.tlsCertFile || !t.tlsKeyFile) continue;
    const p = tlsProblems(t.tlsCertFile, t.tlsKeyFile, part === 'sip' ? c.sip.tlsCaFile : undefined);
    check([part, 'tlsCertFile'], p.cert);
    check([part, 'tlsKeyFile'], p.key);
    check([part, 'tlsCaFile'], p.ca);
  }
  if (onDisk.length > 0) throw new ConfigError(describeProblems(onDisk, env, raw));
  return deepFreeze(c);
}
