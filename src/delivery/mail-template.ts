import { ConfigError } from '../errors.js';
import type { CallFacts } from './facts.js';
import { hms } from './facts.js';

/**
 * Email notification templates with the tags of reference seed 003 ("How to edit the Email
 * notification template"): `[RecordingID]`, `[Username]`, ... replaced when the email is sent.
 * A bracketed word that is not a known tag is refused when the template is checked (at start,
 * and each time a template file is re-read), so a typo never reaches a user as `[Usrname]`.
 */

export const MAIL_TAGS = [
  'RecordingID',
  'Username',
  'UserDisplayName',
  'UserExtension',
  'RemotePhoneNumber',
  'RecordingStartDate',
  'RecordingStartTime',
  'RecordingDuration',
  'RecordingGroupName',
  'PBXCallID',
  'CallDirection',
  'AttachmentFileSize',
  'MaxAttachmentSize',
] as const;
export type MailTag = (typeof MAIL_TAGS)[number];

export const DEFAULT_BODY = `Hello [UserDisplayName],

your call with [RemotePhoneNumber] on [RecordingStartDate] at [RecordingStartTime] ([RecordingDuration], [CallDirection]) was recorded.

Recording: [RecordingID]
Extension: [UserExtension]
Group: [RecordingGroupName]
Call-ID: [PBXCallID]
Attachment: [AttachmentFileSize] KB (limit [MaxAttachmentSize] MB)
`;

const TAG = /\[([A-Za-z]+)\]/g;

/** Throws ConfigError naming the unknown tags. `where` says which setting or file. */
export function checkMailTemplate(text: string, where: string): void {
  const unknown = [...text.matchAll(TAG)]
    .map((m) => m[1] as string)
    .filter((t) => !(MAIL_TAGS as readonly string[]).includes(t));
  if (unknown.length > 0)
    throw new ConfigError(
      `${where}: unknown tag${unknown.length > 1 ? 's' : ''} ${[...new Set(unknown)].map((t) => `[${t}]`).join(', ')} (known: ${MAIL_TAGS.map((t) => `[${t}]`).join(' ')})`,
    );
}

export interface MailValues {
  facts: CallFacts;
  displayName: string;
  attachmentBytes: number;
  maxAttachmentBytes: number;
  timeZone: string;
}

const DIRECTION_WORDS: Record<CallFacts['direction'], string> = {
  IN: 'incoming',
  OUT: 'outgoing',
  INTERNAL: 'internal',
  UNKNOWN: 'unknown direction',
};

export function mailValues(v: MailValues): Record<MailTag, string> {
  const f = v.facts;
  const date = new Intl.DateTimeFormat('en-CA', {
    timeZone: v.timeZone,
    year: 'numeric',
    month: '2-digit',
    day: '2-digit',
  }).format(f.start);
  const time = new Intl.DateTimeFormat('en-GB', {
    timeZone: v.timeZone,
    hour: '2-digit',
    minute: '2-digit',
    second: '2-digit',
    hourCycle: 'h23',
  }).format(f.start);
  return {
    RecordingID: f.recordingId,
    Username: f.username,
    UserDisplayName: v.displayName || f.username,
    UserExtension: f.extension,
    RemotePhoneNumber: f.remoteNumber,
    RecordingStartDate: date,
    RecordingStartTime: time,
    RecordingDuration: hms(f.durationMs),
    RecordingGroupName: f.group,
    PBXCallID: f.callId,
    CallDirection: DIRECTION_WORDS[f.direction],
    AttachmentFileSize: String(Math.ceil(v.attachmentBytes / 1024)),
    MaxAttachmentSize:
      v.maxAttachmentBytes > 0 ? String(Math.round((v.maxAttachmentBytes / 1048576) * 10) / 10) : 'no limit',
  };
}

/** Replaces every known tag; the text was checked, so nothing else in brackets is a tag. */
export function renderMail(text: string, values: Record<MailTag, string>): string {
  return text.replace(TAG, (all, tag: string) =>
    (MAIL_TAGS as readonly string[]).includes(tag) ? values[tag as MailTag] : all,
  );
}
