import type { Transporter } from 'nodemailer';
import type { Logger } from '../log.js';
import { LocalArtifactStore, type ArtifactStore } from '../storage/index.js';
import type { PendingDeletionsRepository } from '../store/pending-deletions.js';
import type { DeliveryArtifact, DeliveryRecording, OffloadRepository } from '../store/offload.js';
import { sha256Hex, type Decryptor } from './decrypt.js';
import { callFacts, hms } from './facts.js';
import { PeriodicService } from './periodic.js';
import { removeOrRecord } from '../pipeline/retention-pending.js';
import { sendDue, smtpLabel, smtpTransport, type SmtpSettings } from './smtp.js';

/**
 * SMTP journaling (reference seed 001's "SMTP Offload": each record as an EML sent to the customer's
 * journaling mailbox, which their email archive ingests). Every stored recording becomes one
 * message: its metadata in the subject, the headers, a text body and a JSON attachment, and its
 * decrypted audio (the MP3, the G.711 WAV, or both) attached with each file's SHA-256. The
 * Message-ID is the recording's, the same on every attempt, so an archive that receives a message
 * twice (the mailbox accepted it, then the server stopped before the state was written) keeps one.
 * A refused or failed send is retried with backoff and marked failed after `maxAttempts`; a
 * recording whose message would pass `maxMessageBytes` is marked failed at once, saying why. With
 * `purgeAfterTransfer`, the recording's encrypted artifacts are wiped once the mailbox accepted it
 * (a preserved recording is kept).
 */

export interface JournalOptions {
  repo: OffloadRepository;
  decryptor: Decryptor;
  log: Logger;
  smtp: SmtpSettings;
  from: string;
  to: string;
  attach: 'mp3' | 'wav' | 'both';
  /** 0 = no limit. */
  maxMessageBytes: number;
  purgeAfterTransfer: boolean;
  /** Where the artifacts are purged from (default: the `local` store of `dataDir`). */
  artifacts?: ArtifactStore | undefined;
  /** Where a removal the store refused is recorded, to be tried again by retention (default: logged only). */
  pending?: PendingDeletionsRepository | undefined;
  dataDir: string;
  timeZone: string;
  intervalMs: number;
  maxAttempts?: number;
  retryBaseMs?: number;
}

/** Messages one pass sends at most (a full pass starts the next at once). */
const BATCH = 50;

/** A message that can never be sent as configured: failed at once, not retried. */
class Unsendable extends Error {}

/** Base64 lines of 76 characters: what an attachment of `n` bytes costs in the message. */
const encoded = (n: number) => Math.ceil(n / 3) * 4 * (78 / 76);
/** A header value on one line (a SIP display name may carry anything). */
const oneLine = (s: string) => s.replace(/[\r\n\t]+/g, ' ').trim();

/** The journal message of a recording (pure): subject, headers, body and the metadata JSON. */
export function journalMessage(
  rec: DeliveryRecording,
  files: { name: string; kind: 'mp3' | 'wav'; data: Buffer }[],
  timeZone: string,
): { subject: string; headers: Record<string, string>; text: string; metadata: Record<string, unknown> } {
  const facts = callFacts(rec);
  const local = new Intl.DateTimeFormat('sv-SE', {
    timeZone,
    dateStyle: 'short',
    timeStyle: 'medium',
  }).format(rec.startedAt);
  const party = (name: string, number: string) => oneLine(name ? `${name} <${number}>` : number || 'unknown');
  const caller = party(rec.callerName, rec.callerNumber);
  const callee = party(rec.calleeName, rec.calleeNumber);
  const duration = hms(facts.durationMs);
  const audio = files.map((f) => ({ file: f.name, bytes: f.data.length, sha256: sha256Hex(f.data) }));
  const metadata = {
    recordingId: rec.id,
    callId: rec.callId,
    sessionId: rec.sessionId,
    startedAt: rec.startedAt.toISOString(),
    durationSeconds: Math.round(facts.durationMs / 1000),
    direction: rec.direction ?? 'unknown',
    caller: { number: rec.callerNumber, name: rec.callerName },
    callee: { number: rec.calleeNumber, name: rec.calleeName },
    recordedUser: rec.user && { username: rec.user.username, group: rec.user.group },
    fields: rec.fields ?? {},
    audio,
  };
  const lines = [
    `Recording ${rec.id}`,
    '',
    `From:      ${caller}`,
    `To:        ${callee}`,
    `Started:   ${local} (${timeZone}), ${rec.startedAt.toISOString()}`,
    `Duration:  ${duration}`,
    `Direction: ${rec.direction ?? 'unknown'}`,
    `User:      ${rec.user ? `${rec.user.username}${rec.user.group ? ` (${rec.user.group})` : ''}` : 'none'}`,
    `Call-ID:   ${oneLine(rec.callId)}`,
    ...Object.entries(rec.fields ?? {}).map(([k, v]) => `${oneLine(k)}: ${oneLine(v)}`),
    '',
    ...(audio.length > 0
      ? audio.map((a) => `${a.file}: ${a.bytes} bytes, SHA-256 ${a.sha256}`)
      : ['No audio was recorded.']),
    '',
  ];
  return {
    subject: oneLine(`Call recording: ${caller} to ${callee}, ${local} (${duration})`),
    headers: {
      'X-SRS-Recording-Id': rec.id,
      'X-SRS-Call-Id': oneLine(rec.callId),
      'X-SRS-Caller': oneLine(rec.callerNumber),
      'X-SRS-Callee': oneLine(rec.calleeNumber),
      'X-SRS-Started-At': rec.startedAt.toISOString(),
      'X-SRS-Duration-Seconds': String(metadata.durationSeconds),
      'X-SRS-Direction': rec.direction ?? 'unknown',
    },
    text: lines.join('\n'),
    metadata,
  };
}

export class JournalService extends PeriodicService {
  private since: Date | undefined;
  private transport: Transporter | undefined;

  constructor(private readonly o: JournalOptions) {
    super(o.log.child({ part: 'journal' }), 'journal message');
  }

  protected pauseMs(): number {
    return this.o.intervalMs;
  }

  override async stop(): Promise<void> {
    await super.stop();
    this.transport?.close();
  }

  /** One pass: send the due messages, then purge what was sent (when enabled); returns how many went. */
  async tick(): Promise<number> {
    let sent = 0;
    await this.o.repo.exclusive('journal', async () => {
      this.since ??= await this.o.repo.cursor('journal');
      const due = await this.o.repo.journalDue(this.since, BATCH);
      if (due.length === BATCH) this.more();
      sent = await sendDue(due, {
        ...this.o,
        send: (m) => this.send(m.recordingId),
        failed: (m, error, next, giveUp) => this.o.repo.journalFailed(m.recordingId, error, next, giveUp),
        permanent: (err) => err instanceof Unsendable,
        stopped: () => this.stopped,
        log: this.log,
        what: 'journal message failed',
      });
      if (this.o.purgeAfterTransfer) await this.purge();
    });
    return sent;
  }

  /** The artifacts to attach, checked against the size limit before anything is decrypted. */
  private artifactsOf(rec: DeliveryRecording): { kind: 'mp3' | 'wav'; a: DeliveryArtifact }[] {
    const want = this.o.attach === 'both' ? (['mp3', 'wav'] as const) : [this.o.attach];
    const list = want.flatMap((kind) => (rec[kind] ? [{ kind, a: rec[kind] }] : []));
    const limit = this.o.maxMessageBytes;
    // The ciphertext is a little larger than the audio; the JSON and text add a few kB.
    const size = list.reduce((n, x) => n + encoded(x.a.bytes), 16 * 1024);
    if (limit > 0 && size > limit + 8192)
      throw new Unsendable(
        `the message would be about ${(size / 1048576).toFixed(1)} MB, over journal.maxMessageBytes (${(limit / 1048576).toFixed(1)} MB)`,
      );
    return list;
  }

  private async send(recordingId: string): Promise<void> {
    const [rec] = await this.o.repo.recordings([recordingId]);
    if (!rec) throw new Error('the recording no longer exists');
    if (rec.state !== 'stored') throw new Unsendable(`recording ${rec.state} before its message went out`);
    const files: { name: string; kind: 'mp3' | 'wav'; data: Buffer }[] = [];
    for (const { kind, a } of this.artifactsOf(rec)) {
      const data = await this.o.decryptor.plain(a, { recordingId, purpose: 'journal', to: this.o.to });
      files.push({ name: `recording-${rec.id}.${kind}`, kind, data });
    }
    const m = journalMessage(rec, files, this.o.timeZone);
    const json = Buffer.from(`${JSON.stringify(m.metadata, null, 2)}\n`);
    const bytes = files.reduce((n, f) => n + f.data.length, json.length);
    this.transport ??= await smtpTransport(this.o.smtp, this.o.log);
    const messageId = `<recording-${rec.id}@journal.srs>`;
    await this.transport.sendMail({
      from: this.o.from,
      to: this.o.to,
      subject: m.subject,
      date: rec.startedAt,
      messageId,
      headers: m.headers,
      text: m.text,
      attachments: [
        ...files.map((f) => ({
          filename: f.name,
          content: f.data,
          contentType: f.kind === 'mp3' ? 'audio/mpeg' : 'audio/wav',
        })),
        { filename: `recording-${rec.id}.json`, content: json, contentType: 'application/json' },
      ],
    });
    await this.o.repo.journalSent(rec.id, { messageId, bytes, to: this.o.to });
    await this.o.repo.targetOk(smtpLabel(this.o.smtp));
    this.log.info({ recordingId: rec.id, bytes }, 'journal message sent');
  }

  /**
   * Wipes the artifacts of recordings the mailbox accepted (the catalogue is marked first). A
   * removal the store refuses (Object Lock, legal hold, an error) is recorded in pending_deletions,
   * which the retention pass tries again until the file is gone.
   */
  async purge(): Promise<void> {
    const store = this.o.artifacts ?? new LocalArtifactStore(this.o.dataDir);
    for (const id of await this.o.repo.journalPurgeDue(200)) {
      for (const path of (await this.o.repo.journalPurge(id)) ?? []) {
        try {
          await removeOrRecord({
            store,
            pending: this.o.pending,
            path,
            recordingId: id,
            source: 'journal',
            log: this.log,
          });
        } catch (err) {
          this.log.error({ err, path }, 'journal purge: could not remove an artifact');
        }
      }
    }
  }
}
