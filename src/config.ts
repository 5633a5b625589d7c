import { cpus } from 'node:os';
import { resolve } from 'node:path';
import { z } from 'zod';
import { ConfigError } from './errors.js';

/**
 * The only reader of process.env. `loadConfig(env, file)` validates everything once and returns a
 * frozen object; every other module receives the part it needs.
 */

const port = z.coerce.number().int().min(1).max(65535);
const optionalString = z
  .string()
  .optional()
  .transform((v) => (v === undefined || v === '' ? undefined : v));

const schema = z.object({
  dataDir: z.string().min(1),
  logLevel: z.enum(['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent']),
  sip: z.object({
    host: z.string().min(1),
    port,
    /** Address put in Contact headers; defaults to the address each request arrived on. */
    publicAddress: optionalString,
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
    })
    .refine((m) => m.portMin % 2 === 0 && m.portMin < m.portMax, {
      message: 'must be even and below media.portMax',
      path: ['portMin'],
    }),
  databaseUrl: optionalString,
  keys: z.object({ passphrase: optionalString }),
  adminToken: optionalString,
  pipeline: z.object({
    concurrency: z.coerce.number().int().min(1).max(256),
    mp3Bitrate: z.coerce.number().int().min(8).max(320),
    mp3SampleRate: z.coerce
      .number()
      .int()
      .refine((v) => [8000, 11025, 16000, 22050, 44100].includes(v), {
        message: 'must be one of 8000, 11025, 16000, 22050, 44100',
      }),
  }),
  limits: z.object({ maxSessions: z.coerce.number().int().min(1) }),
});

export type Config = Readonly<z.infer<typeof schema>>;

type Env = Readonly<Record<string, string | undefined>>;

/** Partial settings as they may appear in a JSON config file (same shape as Config). */
export type ConfigFile = { [K in keyof Config]?: Config[K] extends object ? Partial<Config[K]> : Config[K] };

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
    },
    databaseUrl: pick(env.DATABASE_URL, f.databaseUrl, undefined),
    keys: { passphrase: pick(env.SRS_KEY_PASSPHRASE, f.keys?.passphrase, undefined) },
    adminToken: pick(env.SRS_ADMIN_TOKEN, f.adminToken, undefined),
    pipeline: {
      concurrency: pick(env.SRS_JOB_CONCURRENCY, f.pipeline?.concurrency, cpus().length),
      mp3Bitrate: pick(env.SRS_MP3_BITRATE, f.pipeline?.mp3Bitrate, 32),
      mp3SampleRate: pick(env.SRS_MP3_SAMPLE_RATE, f.pipeline?.mp3SampleRate, 8000),
    },
    limits: { maxSessions: pick(env.SRS_MAX_SESSIONS, f.limits?.maxSessions, 4000) },
  };
  const parsed = schema.safeParse(raw);
  if (!parsed.success) {
    const lines = parsed.error.issues.map((i) => `${i.path.join('.') || '(root)'}: ${i.message}`);
    throw new ConfigError(`invalid configuration:\n  ${lines.join('\n  ')}`);
  }
  if (parsed.data.drachtio.host && !parsed.data.drachtio.secret) {
    throw new ConfigError('DRACHTIO_SECRET is required when DRACHTIO_HOST is set');
  }
  return deepFreeze(parsed.data);
}
