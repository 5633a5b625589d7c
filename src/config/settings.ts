/**
 * Where each setting comes from (its environment variable, its key in the config file) and how a
 * bad one is reported: one line per configuration, each bad setting as
 * `<key>: <what is expected>, got <VARIABLE>=<value>` (the variable when the value came from the
 * environment; secrets are never echoed). Used by src/config.ts.
 */
import { STORAGE_ENV } from './storage.js';
import { CLUSTER_ENV } from './cluster.js';
import { patternList } from './values.js';

/** The core settings read from the environment or the config file: file key -> variable. */
export const CORE_ENV = {
  dataDir: 'SRS_DATA_DIR',
  databaseUrl: 'DATABASE_URL',
  logLevel: 'LOG_LEVEL',
  adminToken: 'SRS_ADMIN_TOKEN',
  'sip.host': 'SIP_HOST',
  'sip.port': 'SIP_PORT',
  'sip.publicAddress': 'SRS_PUBLIC_ADDRESS',
  'sip.tlsCertFile': 'SIP_TLS_CERT',
  'sip.tlsKeyFile': 'SIP_TLS_KEY',
  'sip.tlsPort': 'SIP_TLS_PORT',
  'sip.srtp': 'SRS_SRTP',
  'sip.sdesRequireTls': 'SRS_SDES_REQUIRE_TLS',
  'sip.tlsCaFile': 'SIP_TLS_CA',
  'sip.fieldsFrom': 'SRS_FIELDS_FROM_SIP',
  'sip.t1Ms': 'SIP_T1_MS',
  'drachtio.host': 'DRACHTIO_HOST',
  'drachtio.port': 'DRACHTIO_PORT',
  'drachtio.secret': 'DRACHTIO_SECRET',
  'http.host': 'HTTP_HOST',
  'http.port': 'HTTP_PORT',
  'http.tlsCertFile': 'HTTP_TLS_CERT',
  'http.tlsKeyFile': 'HTTP_TLS_KEY',
  'http.trustProxy': 'SRS_TRUST_PROXY',
  'http.clientIpHeader': 'SRS_CLIENT_IP_HEADER',
  'http.wsQueryToken': 'SRS_WS_QUERY_TOKEN',
  'http.metricsPublic': 'SRS_METRICS_PUBLIC',
  'http.metricsToken': 'SRS_METRICS_TOKEN',
  'http.maxConnections': 'SRS_HTTP_MAX_CONNECTIONS',
  'http.maxConnectionsPerAddress': 'SRS_HTTP_MAX_CONNECTIONS_PER_ADDRESS',
  'http.healthReserve': 'SRS_HTTP_HEALTH_RESERVE',
  'media.bindAddress': 'RTP_BIND_ADDRESS',
  'media.advertiseAddress': 'SRS_MEDIA_ADDRESS',
  'media.portMin': 'RTP_PORT_MIN',
  'media.portMax': 'RTP_PORT_MAX',
  'media.rtcp': 'SRS_RTCP',
  'media.outputs': 'SRS_OUTPUTS',
  'media.pauseMode': 'SRS_PAUSE_MODE',
  'keys.passphrase': 'SRS_KEY_PASSPHRASE',
  'keys.firstKeyType': 'SRS_FIRST_KEY_TYPE',
  'keys.inCatalogue': 'SRS_KEYS_IN_CATALOGUE',
  'console.adminPassword': 'SRS_ADMIN_PASSWORD',
  'console.sessionTtlMinutes': 'SRS_SESSION_TTL_MINUTES',
  'console.sessionMaxHours': 'SRS_SESSION_MAX_HOURS',
  'console.listenSource': 'SRS_LISTEN_SOURCE',
  'console.monitorMaxPerUser': 'SRS_MONITOR_MAX_PER_USER',
  'console.monitorPingSeconds': 'SRS_MONITOR_PING_SECONDS',
  'pipeline.concurrency': 'SRS_JOB_CONCURRENCY',
  'pipeline.cpuShare': 'SRS_PIPELINE_CPU_SHARE',
  'pipeline.maxBacklogSeconds': 'SRS_MAX_BACKLOG_SECONDS',
  'pipeline.mp3Encoder': 'SRS_MP3_ENCODER',
  'pipeline.ffmpegPath': 'SRS_FFMPEG_PATH',
  'pipeline.mp3Quality': 'SRS_MP3_QUALITY',
  'pipeline.mp3Bitrate': 'SRS_MP3_BITRATE',
  'pipeline.mp3SampleRate': 'SRS_MP3_SAMPLE_RATE',
  'pipeline.retryLimit': 'SRS_JOB_RETRY_LIMIT',
  'pipeline.retryDelaySeconds': 'SRS_JOB_RETRY_DELAY',
  'pipeline.hookUrl': 'SRS_HOOK_URL',
  'pipeline.hookCommand': 'SRS_HOOK_COMMAND',
  'pipeline.hookConcurrency': 'SRS_HOOK_CONCURRENCY',
  'pipeline.hookTimeoutSeconds': 'SRS_HOOK_TIMEOUT_SECONDS',
  'retention.default': 'SRS_RETENTION',
  'retention.groups': 'SRS_RETENTION_GROUPS',
  'retention.intervalSeconds': 'SRS_PURGE_INTERVAL',
  'limits.maxSessions': 'SRS_MAX_SESSIONS',
  'limits.shutdownTimeoutSeconds': 'SRS_SHUTDOWN_TIMEOUT_SECONDS',
  'limits.maxCallsPerSecond': 'SRS_MAX_CPS',
  'limits.searchTimeoutMs': 'SRS_SEARCH_TIMEOUT_MS',
  'security.srcAllow': 'SRS_SRC_ALLOW',
  'security.maxStreamsPerSession': 'SRS_MAX_STREAMS',
  'security.maxSessionsPerSource': 'SRS_MAX_SESSIONS_PER_SOURCE',
  'security.maxCallsPerSecondPerSource': 'SRS_MAX_CPS_PER_SOURCE',
  'security.rtpRelatchMs': 'SRS_RTP_RELATCH_MS',
  'security.rtpTimeoutSeconds': 'SRS_RTP_TIMEOUT',
  'security.maxDurationSeconds': 'SRS_MAX_DURATION',
  'security.sessionExpiresSeconds': 'SRS_SESSION_EXPIRES',
  'security.minSessionExpiresSeconds': 'SRS_MIN_SE',
  'security.maxConnections': 'SIP_MAX_CONNECTIONS',
  'security.maxConnectionsPerAddress': 'SIP_MAX_CONNECTIONS_PER_ADDRESS',
  'security.maxHeaderBytes': 'SIP_MAX_HEADER_BYTES',
  'security.headerTimeoutMs': 'SIP_HEADER_TIMEOUT_MS',
  'security.minFreeMb': 'SRS_MIN_FREE_MB',
  'security.hardFreeMb': 'SRS_HARD_FREE_MB',
  'security.minFreeInodes': 'SRS_MIN_FREE_INODES',
  'security.handoffRetryLimit': 'SRS_HANDOFF_RETRY_LIMIT',
  'security.catalogueTimeoutMs': 'SRS_CATALOGUE_TIMEOUT_MS',
  'security.tlsMinVersion': 'SRS_TLS_MIN_VERSION',
  'security.tlsCiphers': 'SRS_TLS_CIPHERS',
  'policy.direction': 'SRS_RECORD_DIRECTION',
  'policy.scope': 'SRS_RECORD_SCOPE',
  'policy.internalNumbers': 'SRS_INTERNAL_NUMBERS',
  'policy.blacklist': 'SRS_BLACKLIST',
  'policy.excludedAction': 'SRS_EXCLUDED_ACTION',
  'policy.declineStatus': 'SRS_EXCLUDED_DECLINE_STATUS',
} as const;
export type CorePath = keyof typeof CORE_ENV;

/** Environment-only settings, by where they land in the configuration. */
const ENV_ONLY: Readonly<Record<string, string>> = { 'pipeline.hookEnv': 'SRS_HOOK_ENV' };

/** Every setting's variable, by its path in the configuration. */
const ENV_OF: Readonly<Record<string, string>> = {
  ...CORE_ENV,
  ...ENV_ONLY,
  ...Object.fromEntries(Object.entries(STORAGE_ENV).map(([k, v]) => [`storage.${k}`, v])),
  ...Object.fromEntries(Object.entries(CLUSTER_ENV).map(([k, v]) => [`cluster.${k}`, v])),
};

type Env = Readonly<Record<string, string | undefined>>;
export type Problem = {
  path: readonly PropertyKey[];
  message: string;
  /** zod's issue code and enum values, when it comes from zod. */
  code?: string;
  values?: readonly unknown[];
  options?: readonly unknown[];
  /** The message shows the value already. */
  shown?: boolean;
};

const isObject = (v: unknown): v is Record<string, unknown> =>
  typeof v === 'object' && v !== null && !Array.isArray(v);

/** The value at a dotted path of a parsed config file (undefined when any step is missing). */
export function fileValue(file: unknown, path: string): unknown {
  let v = file;
  for (const k of path.split('.')) v = isObject(v) ? v[k] : undefined;
  return v;
}

/** Settings whose value is never echoed (at any depth of an object shown in a message). */
const SECRET = /secret|password|passphrase|databaseUrl|adminToken|metricsToken/i;
const redacted = (_: string, v: unknown): unknown =>
  isObject(v)
    ? Object.fromEntries(Object.entries(v).map(([k, x]) => [k, SECRET.test(k) ? '(secret)' : x]))
    : v;

const show = (v: unknown): string => {
  const s = JSON.stringify(v, redacted) ?? String(v);
  return s.length > 120 ? `${s.slice(0, 117)}...` : s;
};

/**
 * What is wrong with the config file's shape: not an object, a section that is not an object, a
 * key that names no setting (a typo would silently leave the default in force).
 */
export function fileShapeProblems(file: unknown, delivery: Record<string, readonly string[]>): Problem[] {
  if (!isObject(file))
    return [
      {
        path: [],
        message: `the config file must hold a JSON object ({...}), got ${show(file)}`,
        shown: true,
      },
    ];
  const known = new Map<string, Set<string>>();
  const add = (section: string, key: string) =>
    known.set(section, (known.get(section) ?? new Set()).add(key));
  for (const p of Object.keys(CORE_ENV)) {
    const [a, b] = p.split('.') as [string, string | undefined];
    if (b === undefined) known.set(a, new Set());
    else add(a, b);
  }
  for (const k of Object.keys(STORAGE_ENV)) add('storage', k.split('.')[0] as string);
  for (const k of Object.keys(CLUSTER_ENV)) add('cluster', k);
  for (const [section, keys] of Object.entries(delivery)) for (const k of keys) add(section, k);
  const problems: Problem[] = [];
  for (const [section, value] of Object.entries(file)) {
    const keys = known.get(section);
    // A delivery section that is not an object is refused by its schema.
    if (section in delivery && !isObject(value)) continue;
    if (!keys) {
      problems.push({
        path: [section],
        message: `unknown setting in the config file (the keys: ${[...known.keys()].join(', ')})`,
        shown: true,
      });
    } else if (keys.size > 0 && value !== undefined) {
      if (!isObject(value)) {
        problems.push({
          path: [section],
          message: `expected an object ({...}) in the config file, got ${show(value)}`,
          shown: true,
        });
        continue;
      }
      for (const k of Object.keys(value))
        if (!keys.has(k))
          problems.push({
            path: [section, k],
            message: `unknown setting in the config file (${section} takes ${[...keys].join(', ')})`,
            shown: true,
          });
    }
  }
  const lock = fileValue(file, 'storage.objectLock');
  if (lock !== undefined && !isObject(lock))
    problems.push({
      path: ['storage', 'objectLock'],
      message: `expected an object ({"mode": ..., "days": ...}), got ${show(lock)}`,
      shown: true,
    });
  else if (isObject(lock))
    for (const k of Object.keys(lock))
      if (k !== 'mode' && k !== 'days')
        problems.push({
          path: ['storage', 'objectLock', k],
          message: 'unknown setting in the config file (storage.objectLock takes mode, days)',
          shown: true,
        });
  return problems;
}

/** zod's own wording for the kinds without a message of ours, made to say what is expected. */
function expected(message: string, issue: Problem): string {
  if (issue.code === 'invalid_value' && issue.values && message.startsWith('Invalid option'))
    return `expected one of ${issue.values.map(String).join(', ')}`;
  if (issue.code === 'invalid_union' && issue.options && message.startsWith('Invalid discriminator'))
    return `expected one of ${issue.options.map(String).join(', ')}`;
  const m = /^Invalid input: (expected [^,]+), received/.exec(message);
  return m ? (m[1] as string) : message;
}

/**
 * One line: `invalid configuration: ` and each problem as `<key>: <expected>, got <VARIABLE>=<value>`.
 * `raw` is what was validated (for the value given); secrets show no value.
 */
export function describeProblems(problems: readonly Problem[], env: Env, raw: unknown): string {
  const parts = problems.map((p) => {
    const path = p.path.map(String);
    let n = path.length;
    while (n > 1 && ENV_OF[path.slice(0, n).join('.')] === undefined) n--;
    const key = path.slice(0, n).join('.');
    const name = ENV_OF[key];
    const fromEnv = name !== undefined && env[name] !== undefined && env[name] !== '';
    let value: unknown = fromEnv ? env[name] : fileValue(raw, key);
    // A list or object item: the item itself when it can be found.
    for (const k of path.slice(n)) {
      if (typeof value === 'string' && /^\d+$/.test(k)) value = (patternList(value) as string[])[Number(k)];
      else if (Array.isArray(value) && /^\d+$/.test(k)) value = value[Number(k)];
      else if (isObject(value) && k in value) value = value[k];
      else value = undefined;
    }
    const label = path.join('.') || 'config';
    // A secret's own key (export.primary.password) as well as its setting's (keys.passphrase).
    const secret = SECRET.test(key) || SECRET.test(label);
    const got =
      p.shown || value === undefined
        ? ''
        : secret
          ? fromEnv
            ? ` (${name})`
            : ''
          : `, got ${fromEnv ? `${name}=` : ''}${show(value)}`;
    return `${label}: ${expected(p.message, p)}${got}`;
  });
  return `invalid configuration: ${[...new Set(parts)].join('; ')}`;
}
