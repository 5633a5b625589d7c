import nodemailer, { type Transporter } from 'nodemailer';
import { readSettingFileText } from '../config/setting-file.js';
import type { Logger } from '../log.js';

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
}

/** The health name of an SMTP server (delivery_targets). */
export const smtpLabel = (s: SmtpSettings) => `smtp:${s.host}:${s.port}`;

/**
 * A nodemailer transport for `s` (its password file read now): STARTTLS required unless turned off
 * (logged as an error each time, as the mail may then travel in clear), certificates checked
 * unless `rejectUnauthorized` is false, and bounded waits.
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
    host: s.host,
    port: s.port,
    secure: s.secure,
    requireTLS: !s.secure && requireTLS,
    ...(s.username ? { auth: { user: s.username, pass: pass ?? '' } } : {}),
    tls: { rejectUnauthorized: s.rejectUnauthorized },
    connectionTimeout: 30_000,
    greetingTimeout: 30_000,
    socketTimeout: 60_000,
  });
}
