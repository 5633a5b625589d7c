import type { Transporter } from 'nodemailer';
import type { Logger } from '../log.js';
import { PeriodicService } from './periodic.js';
import type { OffloadRepository, PendingNotification } from '../store/offload.js';
import type { User, UsersRepository } from '../store/users.js';
import type { Decryptor } from './decrypt.js';
import { callFacts } from './facts.js';
import { checkMailTemplate, DEFAULT_BODY, mailValues, renderMail } from './mail-template.js';
import { readSettingFileText } from '../config/setting-file.js';
import { sendDue, smtpLabel, smtpTransport, type SmtpSettings } from './smtp.js';

export type { SmtpSettings } from './smtp.js';

/**
 * Email to the recorded user when a recording is stored (seed 003 "Email notifications"). Users
 * opt in with a subscription (email, attach flag), seeded from the config file. A pass every few
 * seconds queues one notification per subscribed recorded user of each newly stored recording,
 * then sends the due ones with nodemailer over SMTP. With `attach`, the decrypted MP3 goes along
 * when it is within the size limit; over it the email is sent without it (AttachmentFileSize 0).
 * The recording is attached only while the user may take audio away (`mayAttach`: enabled and
 * allowed by permissions.download, checked as each email goes out); otherwise the email goes
 * without it. Each attachment is audited as an access to audio before the MP3 is decrypted
 * (Decryptor.onAccess: `delivery`, purpose `notification`, the mailbox and the user). A failed send is retried with backoff and marked failed after `maxAttempts`.
 */

export interface NotifyOptions {
  repo: OffloadRepository;
  users: Pick<UsersRepository, 'get'>;
  decryptor: Decryptor;
  log: Logger;
  smtp: SmtpSettings;
  from: string;
  subject: string;
  /** Inline body template (used when templateFile is unset). */
  body?: string | undefined;
  /** Re-read for every email, so edits apply without a restart. */
  templateFile?: string | undefined;
  /**
   * Templates of a group's users (their primary group), by group name (seed 003: a department's
   * own notification template); each part left out falls back to the one above.
   */
  groups?: Record<string, GroupTemplate> | undefined;
  maxAttachmentBytes: number;
  /**
   * Whether `user` may have the recording attached now: the download permission (as
   * /recordings/{id}/download checks it), asked again for every email. Without it, never.
   */
  mayAttach?: (user: User) => Promise<boolean>;
  timeZone: string;
  intervalMs: number;
  maxAttempts?: number;
  retryBaseMs?: number;
}

export interface GroupTemplate {
  subject?: string | undefined;
  body?: string | undefined;
  templateFile?: string | undefined;
}

/** Emails one pass sends at most (a full pass starts the next at once). */
const BATCH = 50;

export class NotifyService extends PeriodicService {
  private since: Date | undefined;
  private transport: Transporter | undefined;

  constructor(private readonly o: NotifyOptions) {
    super(o.log.child({ part: 'notify' }), 'notification');
  }

  protected pauseMs(): number {
    return this.o.intervalMs;
  }

  /** Checks the templates, the groups' too (unknown tags); throws ConfigError. */
  async checkTemplates(): Promise<void> {
    checkMailTemplate(this.o.subject, 'notifications.subject');
    await this.bodyTemplate(this.o, 'notifications');
    for (const [name, g] of Object.entries(this.o.groups ?? {})) {
      const where = `notifications.groups.${name}`;
      if (g.subject) checkMailTemplate(g.subject, `${where}.subject`);
      if (g.templateFile || g.body) await this.bodyTemplate(g, where);
    }
  }

  /** The body template of `t` (its file, re-read and checked, or its text, or the default). */
  private async bodyTemplate(t: GroupTemplate, where: string): Promise<string> {
    if (!t.templateFile) {
      const body = t.body ?? DEFAULT_BODY;
      checkMailTemplate(body, `${where}.body`);
      return body;
    }
    const text = await readSettingFileText(t.templateFile);
    checkMailTemplate(text, `${where}.templateFile (${t.templateFile})`);
    return text;
  }

  /** The subject and body templates for a user: their group's where it has its own. */
  private async templatesFor(group: string | null): Promise<{ subject: string; body: string }> {
    const g = group !== null ? this.o.groups?.[group] : undefined;
    const own = g && (g.templateFile || g.body);
    return {
      subject: g?.subject ?? this.o.subject,
      body: own
        ? await this.bodyTemplate(g, `notifications.groups.${group}`)
        : await this.bodyTemplate(this.o, 'notifications'),
    };
  }

  private async mailer(): Promise<Transporter> {
    this.transport ??= await smtpTransport(this.o.smtp, this.o.log);
    return this.transport;
  }

  override async stop(): Promise<void> {
    await super.stop();
    this.transport?.close();
  }

  /** One pass; returns how many emails were sent. */
  async tick(): Promise<number> {
    let sent = 0;
    await this.o.repo.exclusive('notify', async () => {
      this.since ??= await this.o.repo.cursor('notifications');
      const due = await this.o.repo.notificationsDue(this.since, BATCH);
      if (due.length === BATCH) this.more();
      sent = await sendDue(due, {
        ...this.o,
        send: (n) => this.send(n),
        failed: (n, error, next, giveUp) => this.o.repo.notificationFailed(n, error, next, giveUp),
        stopped: () => this.stopped,
        log: this.log,
        what: 'notification failed',
        context: (n) => ({ to: n.email }),
      });
    });
    return sent;
  }

  private async send(n: PendingNotification): Promise<void> {
    const [rec] = await this.o.repo.recordings([n.recordingId]);
    const user = await this.o.users.get(n.userId);
    if (!rec || !user) throw new Error('recording or user no longer exists');
    if (rec.state !== 'stored') throw new Error(`recording ${rec.state} before the email went out`);
    const facts = callFacts(rec, user);
    let attachment: Buffer | undefined;
    if (n.attach && rec.mp3 && !user.disabled && (await this.o.mayAttach?.(user))) {
      const limit = this.o.maxAttachmentBytes;
      // The ciphertext is a little larger than the MP3: only decrypt what may fit.
      if (limit === 0 || rec.mp3.bytes <= limit + 4096) {
        const mp3 = await this.o.decryptor.plain(rec.mp3, {
          recordingId: rec.id,
          purpose: 'notification',
          to: n.email,
          user: user.username,
        });
        if (limit === 0 || mp3.length <= limit) attachment = mp3;
      }
    }
    const values = mailValues({
      facts,
      displayName: user.displayName,
      attachmentBytes: attachment?.length ?? 0,
      maxAttachmentBytes: this.o.maxAttachmentBytes,
      timeZone: this.o.timeZone,
    });
    const templates = await this.templatesFor(user.group);
    const subject = renderMail(templates.subject, values).replace(/[\r\n]+/g, ' ');
    const text = renderMail(templates.body, values);
    const info = (await (
      await this.mailer()
    ).sendMail({
      from: this.o.from,
      to: n.email,
      subject,
      text,
      headers: { 'X-SRS-Recording-Id': rec.id },
      attachments: attachment
        ? [{ filename: `recording-${rec.id}.mp3`, content: attachment, contentType: 'audio/mpeg' }]
        : [],
    })) as { messageId: string };
    await this.o.repo.notificationSent(n, {
      attachmentBytes: attachment?.length ?? 0,
      messageId: info.messageId,
    });
    await this.o.repo.targetOk(smtpLabel(this.o.smtp));
    this.log.info(
      { recordingId: rec.id, to: n.email, attachmentBytes: attachment?.length ?? 0 },
      'notification sent',
    );
  }
}
