import nodemailer, { type Transporter } from 'nodemailer';
import { readSettingFileText } from '../config/setting-file.js';
import type { TlsPolicy } from '../config/tls-policy.js';
import type { Logger } from '../log.js';
import type { OffloadRepository } from '../store/offload.js';
import { backoffMs } from './offload.js';
import { belowPolicyMessage, DEFAULT_TLS_POLICY } from './tls-policy.js';

/** An SMTP server as notifications and the journal are given it (src/config/delivery-schema.ts). */
export interface SmtpSettings {
  host: string;
  port: number;
  secure: boolean;
  /** STARTTLS required (default true); false sends in clear when the server offers no TLS. */
  requireTLS?: boolean | undefined;
  username?: string | undefined;
  password?: string | undefined;
  passwordFile?: string | undefined;
  rejectUnauthorized: boolean;
  /**
   * The TLS policy (SRS_TLS_MIN_VERSION, SRS_TLS_CIPHERS) of the connection (SMTPS or STARTTLS),
   * given by startDelivery (src/delivery/tls-policy.ts); default: the settings' defaults.
   */
  tlsPolicy?: TlsPolicy | undefined;
}

/** The health name of an SMTP server (delivery_targets). */
export const smtpLabel = (s: SmtpSettings) => `smtp:${s.host}:${s.port}`;

/**
 * A nodemailer transport for `s` (its password file read now): STARTTLS required unless turned off
 * (logged as an error each time, as the mail may then travel in clear), certificates checked
 * unless `rejectUnauthorized` is false, the TLS policy (`tlsPolicy`), and bounded waits.
 */
export async function smtpTransport(s: SmtpSettings, log: Logger): Promise<Transporter> {
  const pass =
    s.password ?? (s.passwordFile ? (await readSettingFileText(s.passwordFile)).trim() : undefined);
  const requireTLS = s.requireTLS ?? true;
  if (!requireTLS && !s.secure)
    log.error(
      { host: s.host, port: s.port },
      'INSECURE: SMTP requireTLS is off; emails (and attachments) may travel in clear',
    );
  return nodemailer.createTransport({
    pool: true,
    host: s.host,
    port: s.port,
    secure: s.secure,
    requireTLS: !s.secure && requireTLS,
    ...(s.username ? { auth: { user: s.username, pass: pass ?? '' } } : {}),
    tls: { rejectUnauthorized: s.rejectUnauthorized, ...(s.tlsPolicy ?? DEFAULT_TLS_POLICY) },
    connectionTimeout: 30_000,
    greetingTimeout: 30_000,
    socketTimeout: 60_000,
  });
}

/** A queued email: its recording and the attempts made so far. */
export interface QueuedMail {
  recordingId: string;
  attempts: number;
}

/**
 * Sends each due email in turn, until `stopped()`: a failure is recorded with its backoff (10 s
 * doubling, capped at 1 h), given up after `maxAttempts` or at once when `permanent(err)` (then it
 * does not count against the SMTP server's health either), and logged with `context`. Returns how
 * many were sent. Notifications and the journal send this way.
 */
export async function sendDue<T extends QueuedMail>(
  due: readonly T[],
  o: {
    send(item: T): Promise<void>;
    failed(item: T, error: string, nextAttemptAt: Date, giveUp: boolean): Promise<void>;
    repo: Pick<OffloadRepository, 'targetError'>;
    smtp: SmtpSettings;
    maxAttempts?: number | undefined;
    retryBaseMs?: number | undefined;
    permanent?: (err: unknown) => boolean;
    stopped: () => boolean;
    log: Logger;
    /** What the log line says failed ('notification failed'). */
    what: string;
    context?: (item: T) => Record<string, unknown>;
  },
): Promise<number> {
  let sent = 0;
  for (const item of due) {
    if (o.stopped()) break;
    try {
      await o.send(item);
      sent++;
    } catch (err) {
      // A server whose TLS falls short of the policy: said so, with what to fix.
      const message =
        belowPolicyMessage(err as Error, o.smtp.tlsPolicy ?? DEFAULT_TLS_POLICY, 'the SMTP server') ??
        (err as Error).message;
      const attempts = item.attempts + 1;
      const permanent = o.permanent?.(err) ?? false;
      const giveUp = permanent || attempts >= (o.maxAttempts ?? 10);
      const delay = backoffMs(attempts, o.retryBaseMs ?? 10_000, 3_600_000);
      await o.failed(item, message, new Date(Date.now() + delay), giveUp);
      if (!permanent)
        await o.repo.targetError(smtpLabel(o.smtp), message, () => delay).catch(() => undefined);
      o.log.warn(
        { recordingId: item.recordingId, ...o.context?.(item), attempt: attempts, giveUp, err: message },
        o.what,
      );
    }
  }
  return sent;
}
