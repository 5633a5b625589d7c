import { pino, type Logger, type LevelWithSilent } from 'pino';

export type { Logger };

/** Keys whose values never reach the log, whoever logs them. */
const SECRET_KEYS = [
  'passphrase',
  'password',
  'secret',
  'token',
  'authorization',
  'cookie',
  'bindPassword',
  'privateKeyPassphrase',
  'secretAccessKey',
  'sessionToken',
  'keySalt',
];

/**
 * Where they are redacted: at the top of a line's object and two levels down (pino's paths match
 * one level each; `*.password` alone left `{ password }` and `{ a: { b: { password } } }` as given).
 */
const REDACTED_PATHS = SECRET_KEYS.flatMap((k) => [k, `*.${k}`, `*.*.${k}`]);

/** JSON lines to stdout; one child logger per call carries callId/sessionId. Never log per packet. */
export function createLogger(level: LevelWithSilent = 'info'): Logger {
  return pino({
    level,
    base: { svc: 'srs' },
    timestamp: pino.stdTimeFunctions.isoTime,
    redact: { paths: REDACTED_PATHS, censor: '[redacted]' },
  });
}

/**
 * A log line for an event an outsider can cause at will (a refused INVITE, a refused connection):
 * at most `burst` lines per `windowMs` and kind, then one line when the window ends saying how
 * many more there were (`suppressed`). Without it a flood of refused requests wrote one line each.
 */
export function rateLimited(
  log: Logger,
  level: 'info' | 'warn',
  msg: string,
  { burst = 20, windowMs = 10_000 }: { burst?: number; windowMs?: number } = {},
): (fields: Record<string, unknown>, l?: Logger) => void {
  let logged = 0;
  let suppressed = 0;
  let timer: NodeJS.Timeout | undefined;
  return (fields, l = log) => {
    if (!timer) {
      timer = setTimeout(() => {
        timer = undefined;
        if (suppressed > 0)
          log[level]({ suppressed, windowSeconds: windowMs / 1000 }, `${msg} (more not logged)`);
        logged = 0;
        suppressed = 0;
      }, windowMs);
      timer.unref();
    }
    if (logged < burst) {
      logged++;
      l[level](fields, msg);
    } else suppressed++;
  };
}

/** What the SIP edge logs through (src/sip/edge/types.ts EdgeLogger has the same shape). */
export interface PlainLogger {
  info(o: object, msg?: string): void;
  warn(o: object, msg?: string): void;
  error(o: object, msg?: string): void;
  debug(o: object, msg?: string): void;
}

/** `log` with the lines whose message is one of `messages` rate-limited as rateLimited does. */
export function limitLines(log: Logger, messages: readonly string[]): PlainLogger {
  const limited = new Map<string, ReturnType<typeof rateLimited>>();
  const line =
    (level: 'info' | 'warn' | 'error' | 'debug') =>
    (o: object, msg?: string): void => {
      if (msg === undefined || !messages.includes(msg) || level === 'error' || level === 'debug') {
        log[level](o, msg);
        return;
      }
      const key = `${level} ${msg}`;
      let f = limited.get(key);
      if (!f) limited.set(key, (f = rateLimited(log, level, msg)));
      f(o as Record<string, unknown>);
    };
  return { info: line('info'), warn: line('warn'), error: line('error'), debug: line('debug') };
}
