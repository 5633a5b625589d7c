/**
 * Delivery settings (config file only): compliance offload to SFTP, FTP(S) or S3, the MP3 export with its daily
 * index, email notifications, and SMTP journaling. Zod only, like the rest of the configuration's schema.
 */
import { z } from 'zod';
import { s3DestinationSchema } from './s3-destination.js';
import { integer, optionalString, port } from './values.js';

/** Delivery: an SFTP server, by password or private key (file). */
const sftpShape = {
  host: z.string().min(1),
  port: port.default(22),
  username: z.string().min(1),
  password: optionalString,
  passwordFile: optionalString,
  privateKeyFile: optionalString,
  privateKeyPassphrase: optionalString,
  directory: z.string().min(1),
  /** Expected host key, as `ssh-keygen -lf` prints it (SHA256:...). One of it or knownHostsFile is required. */
  hostKeySha256: optionalString,
  /** An OpenSSH known_hosts file listing the server's key. */
  knownHostsFile: optionalString,
  /** Accept any host key (a man in the middle gets the files); logged as an error at each start. */
  insecureAcceptAnyHostKey: z.boolean().default(false),
  /** Connect and per-operation timeout (the carrier asks for 6 minutes for large audio). */
  timeoutSeconds: integer(1, 3600).default(360),
};
type SftpAuth = {
  password?: string | undefined;
  passwordFile?: string | undefined;
  privateKeyFile?: string | undefined;
};
const hasSftpAuth = (d: SftpAuth) => Boolean(d.password || d.passwordFile || d.privateKeyFile);
const SFTP_AUTH = { message: 'needs password, passwordFile or privateKeyFile' };
type SftpHostKey = {
  hostKeySha256?: string | undefined;
  knownHostsFile?: string | undefined;
  insecureAcceptAnyHostKey: boolean;
};
/** The connection refuses a server whose key nothing pins (src/delivery/sftp.ts): say so at start. */
const hasHostKey = (d: SftpHostKey) =>
  Boolean(d.hostKeySha256 || d.knownHostsFile || d.insecureAcceptAnyHostKey);
const SFTP_HOST_KEY = {
  message: "needs hostKeySha256 or knownHostsFile (the server's host key), or insecureAcceptAnyHostKey: true",
};
/** Delivery: an FTP server (src/delivery/ftp.ts), FTPS unless plain FTP is asked for twice. */
const ftpDestination = z
  .strictObject({
    type: z.literal('ftp'),
    host: z.string().min(1),
    /** Default 21, or 990 with tls "implicit" (src/delivery/ftp.ts). */
    port: port.optional(),
    username: z.string().min(1),
    password: optionalString,
    passwordFile: optionalString,
    directory: z.string().min(1),
    /** "explicit" (AUTH TLS), "implicit" (TLS from the start, port 990) or "none" (plain FTP). */
    tls: z.enum(['explicit', 'implicit', 'none']).default('explicit'),
    /** Required with tls "none": the password and the recordings then travel in clear (logged as an error). */
    insecurePlainFtp: z.boolean().default(false),
    /** PEM file of a private CA to trust (besides the system's roots). */
    caFile: optionalString,
    /** Accept any server certificate (a man in the middle gets the files); logged as an error at each start. */
    insecureAcceptAnyCertificate: z.boolean().default(false),
    timeoutSeconds: integer(1, 3600).default(360),
  })
  .refine((d) => Boolean(d.password || d.passwordFile), { message: 'needs password or passwordFile' })
  .refine((d) => d.tls !== 'none' || d.insecurePlainFtp, {
    message:
      'tls "none" sends the password and the recordings in clear; set insecurePlainFtp: true to accept that, or use tls "explicit"',
    path: ['tls'],
  })
  .refine((d) => d.tls !== 'none' || (!d.caFile && !d.insecureAcceptAnyCertificate), {
    message: 'caFile and insecureAcceptAnyCertificate apply to FTPS only, not to tls "none"',
    path: ['tls'],
  });
/** Offload: SFTP (`type` "sftp", the default), FTP (`type` "ftp") or S3 (`type` "s3", src/config/s3-destination.ts). */
const offloadDestination = z.discriminatedUnion('type', [
  z
    .strictObject({ type: z.literal('sftp').optional(), ...sftpShape })
    .refine(hasSftpAuth, SFTP_AUTH)
    .refine(hasHostKey, SFTP_HOST_KEY),
  ftpDestination,
  s3DestinationSchema,
]);
const exportDestination = z.discriminatedUnion('type', [
  z.strictObject({ type: z.literal('local'), directory: z.string().min(1) }),
  z
    .strictObject({ type: z.literal('sftp'), ...sftpShape })
    .refine(hasSftpAuth, SFTP_AUTH)
    .refine(hasHostKey, SFTP_HOST_KEY),
  ftpDestination,
  s3DestinationSchema,
]);
/** An SMTP server (notifications, the journal). */
const smtpSchema = z.strictObject({
  host: z.string().min(1),
  port: port.default(587),
  /** TLS from the start (port 465); otherwise STARTTLS, required unless requireTLS is false. */
  secure: z.boolean().default(false),
  /** Refuse to send when the server does not offer STARTTLS (false: send in clear, logged loudly). */
  requireTLS: z.boolean().default(true),
  username: optionalString,
  password: optionalString,
  passwordFile: optionalString,
  rejectUnauthorized: z.boolean().default(true),
});

export const deliverySchema = {
  /** Compliance offload to SFTP, FTP(S) or S3 in the carrier archive format (src/delivery/offload.ts). */
  offload: z
    .object({
      enabled: z.boolean().default(false),
      intervalMinutes: integer(1, 1440).default(30),
      audio: offloadDestination.optional(),
      /** Where the CSV and manifest go; defaults to the audio destination. */
      metadata: offloadDestination.optional(),
      /** Wipe the local encrypted artifacts once the batch holding them is confirmed. */
      purgeAfterTransfer: z.boolean().default(false),
      /** Upload `<csv name>.sha256` (sha256sum format) with each batch. */
      manifest: z.boolean().default(true),
      /** Attempts (backoff from 10 s, doubling, capped at the interval) before a batch is marked failed. */
      maxAttempts: integer(1, 10_000).default(48),
      /** Connections that transfer a batch's files at once (src/delivery/lanes.ts). */
      parallel: integer(1, 32).default(8),
    })
    .refine((o) => !o.enabled || o.audio, { message: 'required when offload.enabled', path: ['audio'] }),
  /** Unencrypted MP3 export with a daily CSV index (src/delivery/export.ts). */
  export: z
    .object({
      enabled: z.boolean().default(false),
      intervalSeconds: integer(1, 86_400).default(60),
      /** File-name template (validated at start, src/delivery/template.ts); `.mp3` is appended. */
      template: z
        .string()
        .min(1)
        .default(
          '%{setup-time##%Y/%m/%d}/%{setup-time##%Y%m%d_%H%M%S}-%{recording-id}-%{user}-%{direction}-%{extension}-%{remote-number}-%{group}',
        ),
      primary: exportDestination.optional(),
      secondary: exportDestination.optional(),
      /** Attempts of one file (backoff from 10 s, doubling, capped at 1 h) before it is marked failed. */
      maxAttempts: integer(1, 10_000).default(10),
      /** Connections that place a pass's files at once, per destination (src/delivery/lanes.ts). */
      parallel: integer(1, 32).default(8),
      /** Destinations (primary, secondary) exported to at once; 1: one after the other. */
      parallelDestinations: integer(1, 2).default(2),
    })
    .refine((o) => !o.enabled || o.primary, { message: 'required when export.enabled', path: ['primary'] }),
  /** Email to the recorded user when a recording is stored (src/delivery/notify.ts). */
  notifications: z
    .object({
      enabled: z.boolean().default(false),
      intervalSeconds: integer(1, 3600).default(10),
      smtp: smtpSchema.optional(),
      from: z.string().min(3).default('SIPREC recorder <recorder@localhost>'),
      subject: z.string().min(1).default('Your call with [RemotePhoneNumber] was recorded'),
      /** Body template; `templateFile` (re-read for every email) wins when set. */
      body: z.string().min(1).optional(),
      templateFile: optionalString,
      /** A group's own templates (its users' primary group); a part left out falls back to the above. */
      groups: z
        .record(
          z.string().min(1),
          z.strictObject({
            subject: z.string().min(1).optional(),
            body: z.string().min(1).optional(),
            templateFile: optionalString,
          }),
        )
        .default({}),
      /** Attach the MP3 up to this size; over it the email goes without it. 0 = no limit. */
      maxAttachmentBytes: integer(0, 1024 * 1024 * 1024).default(10 * 1024 * 1024),
      /** Time zone for dates in emails (IANA name). */
      timeZone: z.string().min(1).default('UTC'),
      /** Attempts of one email (backoff from 10 s, doubling, capped at 1 h) before it is marked failed. */
      maxAttempts: integer(1, 10_000).default(10),
      /** Seeds the per-user subscriptions table at start: username -> email, attach. */
      recipients: z
        .record(
          z.string(),
          z.strictObject({
            email: z.email(),
            attach: z.boolean().default(false),
            enabled: z.boolean().default(true),
          }),
        )
        .default({}),
    })
    .refine((o) => !o.enabled || o.smtp, { message: 'required when notifications.enabled', path: ['smtp'] }),
  /**
   * SMTP journaling (reference seed 001's "SMTP Offload"): each stored recording as one email (EML)
   * to a journaling mailbox, its metadata in the body and headers and its audio attached
   * (src/delivery/journal.ts).
   */
  journal: z
    .object({
      enabled: z.boolean().default(false),
      /** The journaling mailbox. */
      to: z.email().optional(),
      from: z.string().min(3).default('SIPREC recorder <recorder@localhost>'),
      smtp: smtpSchema.optional(),
      /** Which audio goes along: the MP3, the G.711 WAV (the exact audio), or both. */
      attach: z.enum(['mp3', 'wav', 'both']).default('mp3'),
      /** A recording whose attachments pass this is not sent (marked failed, said why). 0 = no limit. */
      maxMessageBytes: integer(0, 1024 * 1024 * 1024).default(25 * 1024 * 1024),
      /** Wipe the local encrypted artifacts once the mailbox accepted the message (not with offload or export on). */
      purgeAfterTransfer: z.boolean().default(false),
      timeZone: z.string().min(1).default('UTC'),
      intervalSeconds: integer(1, 3600).default(10),
      /** Attempts of one message (backoff from 10 s, doubling, capped at 1 h) before it is marked failed. */
      maxAttempts: integer(1, 10_000).default(10),
    })
    .refine((o) => !o.enabled || o.smtp, { message: 'required when journal.enabled', path: ['smtp'] })
    .refine((o) => !o.enabled || o.to, { message: 'required when journal.enabled', path: ['to'] }),
};
