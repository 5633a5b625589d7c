import { pino, type Logger, type LevelWithSilent } from 'pino';

export type { Logger };

/** JSON lines to stdout; one child logger per call carries callId/sessionId. Never log per packet. */
export function createLogger(level: LevelWithSilent = 'info'): Logger {
  return pino({
    level,
    base: { svc: 'srs' },
    timestamp: pino.stdTimeFunctions.isoTime,
    redact: { paths: ['*.passphrase', '*.password', '*.secret', '*.token'], censor: '[redacted]' },
  });
}
