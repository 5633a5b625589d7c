/**
 * Audit entries as sentences: "admin played this recording (mp3) from 127.0.0.1". Each action is
 * one whole sentence in the catalogue (its object inside it: this recording, another one, a user…),
 * so that every language can order and inflect it; details in brackets, the API token and the
 * address are added around it.
 */
import { shown, str, withDetails } from './audit-details.js';
import { LANGUAGE_NAMES, fmtNumber, isLanguage, t, tp, type Params } from './i18n.js';

export interface AuditEntry {
  id: number;
  at: string;
  actor: string;
  actorRole: string;
  ip: string;
  via?: string;
  action: string;
  resource: string;
  resourceId: string;
  details: Record<string, unknown> | null;
}

type Details = Record<string, unknown>;

/** Who did it: the user (and how), or the server itself. */
function actorOf(e: AuditEntry): string {
  if (e.actor === 'system' || e.actorRole === 'system') return t('The server');
  if (e.actor === 'admin-token') return t('The server admin token');
  return e.actor || t('Someone');
}

/**
 * The sentence of an action on a recording: on the one whose access log it is (`here`: "this
 * recording"), or on another one (`{id}`, its first 8 characters). `p` holds `who` and `id`.
 */
type OnRecording = (p: Params, here: boolean, d: Details) => string;

/** Listen-in ended: how long and why (`stopped`, `switched`, …), when the entry says. */
const listenStop: OnRecording = (p, here, d) => {
  if (typeof d.durationMs !== 'number')
    return here
      ? t('{who} stopped listening live to this recording', p)
      : t('{who} stopped listening live to recording {id}', p);
  const q = {
    ...p,
    seconds: fmtNumber(d.durationMs / 1000, {
      minimumFractionDigits: 1,
      maximumFractionDigits: 1,
      useGrouping: false,
    }),
    reason: str(d.reason ?? 'stopped'),
  };
  return here
    ? t('{who} stopped listening live to this recording after {seconds} s ({reason})', q)
    : t('{who} stopped listening live to recording {id} after {seconds} s ({reason})', q);
};

const ON_RECORDING: Record<string, OnRecording> = {
  playback: (p, here) => (here ? t('{who} played this recording', p) : t('{who} played recording {id}', p)),
  waveform: (p, here) =>
    here
      ? t('{who} viewed the waveform of this recording', p)
      : t('{who} viewed the waveform of recording {id}', p),
  'listen.start': (p, here) =>
    here
      ? t('{who} started listening live to this recording', p)
      : t('{who} started listening live to recording {id}', p),
  'listen.stop': listenStop,
  'integrity.check': (p, here) =>
    here
      ? t('{who} checked the integrity of this recording', p)
      : t('{who} checked the integrity of recording {id}', p),
  'export.audio': (p, here) =>
    here
      ? t('{who} exported the audio of this recording', p)
      : t('{who} exported the audio of recording {id}', p),
  delivery: (p, here) =>
    here
      ? t('{who} decrypted for delivery this recording', p)
      : t('{who} decrypted for delivery recording {id}', p),
  download: (p, here) =>
    here ? t('{who} downloaded this recording', p) : t('{who} downloaded recording {id}', p),
  export: (p, here) => (here ? t('{who} exported this recording', p) : t('{who} exported recording {id}', p)),
  delete: (p, here) => (here ? t('{who} deleted this recording', p) : t('{who} deleted recording {id}', p)),
  preserve: (p, here) =>
    here ? t('{who} preserved this recording', p) : t('{who} preserved recording {id}', p),
  unpreserve: (p, here) =>
    here
      ? t('{who} lifted the preservation of this recording', p)
      : t('{who} lifted the preservation of recording {id}', p),
  'note.add': (p, here) =>
    here ? t('{who} added a note to this recording', p) : t('{who} added a note to recording {id}', p),
  'note.delete': (p, here) =>
    here ? t('{who} deleted a note on this recording', p) : t('{who} deleted a note on recording {id}', p),
  'note.pin': (p, here) =>
    here ? t('{who} pinned a note on this recording', p) : t('{who} pinned a note on recording {id}', p),
  'note.unpin': (p, here) =>
    here ? t('{who} unpinned a note on this recording', p) : t('{who} unpinned a note on recording {id}', p),
  'categories.update': (p, here) =>
    here
      ? t('{who} changed the categories of this recording', p)
      : t('{who} changed the categories of recording {id}', p),
  'recording.stored': (p, here) =>
    here ? t('{who} stored this recording', p) : t('{who} stored recording {id}', p),
  // `srs node forget --abandon-recordings`: its audio was only on a node whose disk is lost.
  'recording.abandon': (p, here, d) => {
    const q = { ...p, node: str(d.node), reason: str(d.reason) };
    return here
      ? t('{who} gave up this recording with node {node}, whose data directory was lost ({reason})', q)
      : t('{who} gave up recording {id} with node {node}, whose data directory was lost ({reason})', q);
  },
  'recording.chained': (p, here) =>
    here
      ? t('{who} sealed this recording in the tamper-evident recording chain', p)
      : t('{who} sealed recording {id} in the tamper-evident recording chain', p),
  'retention.purge': (p, here) =>
    here
      ? t('{who} purged this recording (its retention period was over)', p)
      : t('{who} purged recording {id} (its retention period was over)', p),
  'recording.pause': (p, here) =>
    here
      ? t('{who} paused the recording of this recording', p)
      : t('{who} paused the recording of recording {id}', p),
  'recording.resume': (p, here) =>
    here
      ? t('{who} resumed the recording of this recording', p)
      : t('{who} resumed the recording of recording {id}', p),
  'recording.start': (p, here) =>
    here
      ? t('{who} started the recording of this recording', p)
      : t('{who} started the recording of recording {id}', p),
  'recording.stop': (p, here) =>
    here
      ? t('{who} stopped the recording of this recording', p)
      : t('{who} stopped the recording of recording {id}', p),
  'recording.pause-refused': (p, here) =>
    here
      ? t('{who} was refused a pause of this recording', p)
      : t('{who} was refused a pause of recording {id}', p),
  'recording.resume-refused': (p, here) =>
    here
      ? t('{who} was refused a resume of this recording', p)
      : t('{who} was refused a resume of recording {id}', p),
  'recording.start-refused': (p, here) =>
    here
      ? t('{who} was refused a start of this recording', p)
      : t('{who} was refused a start of recording {id}', p),
  'recording.stop-refused': (p, here) =>
    here
      ? t('{who} was refused a stop of this recording', p)
      : t('{who} was refused a stop of recording {id}', p),
  'fields.update': (p, here) =>
    here
      ? t('{who} changed the custom fields of this recording', p)
      : t('{who} changed the custom fields of recording {id}', p),
  'evaluation.add': (p, here) =>
    here ? t('{who} evaluated this recording', p) : t('{who} evaluated recording {id}', p),
  'evaluation.delete': (p, here) =>
    here
      ? t('{who} deleted an evaluation of this recording', p)
      : t('{who} deleted an evaluation of recording {id}', p),
  // A key's rotation moved this file (`kind`: wav, mp3, …) to the active key (web/src/views/keys.ts).
  'key.reencrypt': (p, here, d) =>
    here
      ? t('{who} re-encrypted this recording’s {kind} to a new key', { ...p, kind: str(d.kind) })
      : t('{who} re-encrypted recording {id}’s {kind} to a new key', { ...p, kind: str(d.kind) }),
  // SMTP journaling (the delivery service): the message of a recording to the journaling mailbox.
  'journal.sent': (p, here) =>
    here
      ? t('{who} sent this recording to the journal mailbox', p)
      : t('{who} sent recording {id} to the journal mailbox', p),
  'journal.error': (p, here) =>
    here
      ? t('{who} could not send this recording to the journal mailbox', p)
      : t('{who} could not send recording {id} to the journal mailbox', p),
  'journal.failed': (p, here) =>
    here
      ? t('{who} gave up sending this recording to the journal mailbox', p)
      : t('{who} gave up sending recording {id} to the journal mailbox', p),
  'journal.purge': (p, here) =>
    here
      ? t('{who} purged this recording once the journal mailbox had it', p)
      : t('{who} purged recording {id} once the journal mailbox had it', p),
};

/**
 * Actions on the encryption keys (the console's Keys page, `srs keys`, the server's background
 * re-encryption): `{fp}` is the key's fingerprint, its last 16 hex digits.
 */
const ON_KEY: Record<string, (p: Params, d: Details) => string> = {
  'key.list': (p) => t('{who} listed the encryption keys', p),
  'key.generate': (p, d) =>
    d.active
      ? t('{who} generated the encryption key {fp} ({type}, active)', { ...p, type: str(d.type) })
      : t('{who} generated the encryption key {fp} ({type})', { ...p, type: str(d.type) }),
  'key.activate': (p) => t('{who} made the encryption key {fp} the active key', p),
  'key.retire': (p, d) =>
    d.reencrypt
      ? t('{who} retired the encryption key {fp}, its recordings to be re-encrypted to the active key', p)
      : t('{who} retired the encryption key {fp}', p),
  'key.reencrypt.request': (p) =>
    t('{who} asked to re-encrypt the recordings of the encryption key {fp} to the active key', p),
  // (Failed files, when some did: in the details, web/src/audit-details.ts.)
  'key.reencrypt.run': (p, d) =>
    tp(
      typeof d.moved === 'number' ? d.moved : 0,
      '{who} moved {n} file of the encryption key {fp} to the active key',
      '{who} moved {n} files of the encryption key {fp} to the active key',
      p,
    ),
};

/** Actions with no object (a session, the deliveries, the admin token). */
const WITHOUT_OBJECT: Record<string, (p: Params) => string> = {
  login: (p) => t('{who} signed in', p),
  logout: (p) => t('{who} signed out', p),
  'login-failed': (p) => t('{who} failed to sign in', p),
  'login-throttled': (p) => t('{who} was refused sign-in after repeated failures', p),
  'admin-token.rotate': (p) => t('{who} rotated the server admin token', p),
  'delivery.retry': (p) => t('{who} asked to retry the failed deliveries', p),
};

/** Actions on a user, a group or an API token (`{name}`). */
const ON_NAMED: Record<string, Record<string, (p: Params) => string>> = {
  user: {
    'password-change': (p) => t('{who} changed their password', p),
    'password-change-failed': (p) => t('{who} failed to change their password', p),
    'user.create': (p) => t('{who} created user {name}', p),
    'user.update': (p) => t('{who} changed user {name}', p),
    'user.delete': (p) => t('{who} deleted user {name}', p),
    'users.import': (p) => t('{who} imported users from a CSV file', p),
    'users.export': (p) => t('{who} downloaded the users as CSV', p),
    // (`{name}` is the directory's URL: see nameOf.)
    'users.sync': (p) => t('{who} synchronized the users with the directory {name}', p),
    'record-mode.update': (p) => t('{who} changed the record mode of user {name}', p),
    'notification-settings.update': (p) => t('{who} changed the email notifications of user {name}', p),
  },
  group: {
    'group.create': (p) => t('{who} created group {name}', p),
    'record-mode.update': (p) => t('{who} changed the record mode of group {name}', p),
  },
  'delivery-destination': {
    'delivery.destination-test': (p) => t('{who} tested access to the delivery destination {name}', p),
  },
  token: {
    'token.create': (p) => t('{who} created API token {name}', p),
    'token.revoke': (p) => t('{who} revoked API token {name}', p),
  },
  // A node of the cluster (docs/cluster.md): its id whole.
  node: {
    'node.drain': (p) => t('{who} asked node {name} to drain', p),
    'node.forget': (p) => t('{who} forgot node {name}, gone for good', p),
  },
};

/**
 * A user created or changed by a CSV import or a directory synchronization (`details.source`):
 * where from is said in the sentence.
 */
const FROM_SOURCE: Record<string, Record<string, (p: Params) => string>> = {
  directory: {
    'user.create': (p) => t('{who} created user {name} from the directory', p),
    'user.update': (p) => t('{who} changed user {name} from the directory', p),
    'notification-settings.update': (p) =>
      t('{who} changed the email notifications of user {name} from the directory', p),
  },
  import: {
    'user.create': (p) => t('{who} created user {name} from a CSV file', p),
    'user.update': (p) => t('{who} changed user {name} from a CSV file', p),
    'notification-settings.update': (p) =>
      t('{who} changed the email notifications of user {name} from a CSV file', p),
  },
};

const isSession = (e: AuditEntry) =>
  e.resource === 'session' || e.resource === 'delivery' || e.action === 'admin-token.rotate';
/** Its name: a user's, a group's or a token's (or the start of its id); a sync's directory; a node's id. */
const nameOf = (e: AuditEntry, d: Details) =>
  str(d.username ?? d.name ?? (e.action === 'users.sync' ? d.directory : '')) ||
  (e.resource === 'node' ? e.resourceId : e.resourceId.slice(0, 8));
const formName = (e: AuditEntry, d: Details) => (d.name ? shown(d.name) : e.resourceId.slice(0, 8));
const recordingIds = (d: Details) => (Array.isArray(d.ids) ? (d.ids as string[]) : []);
/** Whether a recording entry is about `here` (the recording whose access log it is). */
const isHere = (e: AuditEntry, d: Details, here?: string) =>
  Boolean(here && (e.resourceId === here || recordingIds(d).includes(here)));

/** The settings changed: 'permissions.download from user to supervisor, …'. */
const settingChanges = (d: Details) =>
  Object.entries(d)
    .filter(([k]) => k !== 'userAgent')
    .map(([k, v]) => {
      const c = v as { from?: unknown; to?: unknown };
      return t('{name} from {from} to {to}', { name: k, from: str(c.from), to: str(c.to) });
    })
    .join(', ');

/** A console language set (its own name) or cleared, on a user, a group or the site. */
function languageSentence(e: AuditEntry, who: string, d: Details): string | undefined {
  const p = { who, name: nameOf(e, d), language: isLanguage(d.to) ? LANGUAGE_NAMES[d.to] : '' };
  if (e.resource === 'user')
    return p.language
      ? t('{who} set the console language of user {name} to {language}', p)
      : t('{who} cleared the console language of user {name}', p);
  if (e.resource === 'group')
    return p.language
      ? t('{who} set the default console language of group {name} to {language}', p)
      : t('{who} cleared the default console language of group {name}', p);
  if (e.resource === 'setting')
    return p.language
      ? t('{who} set the site’s default console language to {language}', p)
      : t('{who} cleared the site’s default console language', p);
  return undefined;
}

/** The sentence of a known action on its usual object; undefined for any other. */
function sentenceOf(e: AuditEntry, who: string, d: Details, here?: string): string | undefined {
  const a = e.action;
  if (isSession(e)) return WITHOUT_OBJECT[a]?.({ who });
  if (a === 'language.update') return languageSentence(e, who, d);
  switch (e.resource) {
    case 'recording': {
      const ids = recordingIds(d);
      if (a === 'export' && ids.length !== 1)
        return here && ids.includes(here)
          ? tp(
              ids.length,
              '{who} exported {n} recording, this one among them,',
              '{who} exported {n} recordings, this one among them,',
              { who },
            )
          : tp(ids.length, '{who} exported {n} recording', '{who} exported {n} recordings', { who });
      return ON_RECORDING[a]?.({ who, id: e.resourceId.slice(0, 8) }, isHere(e, d, here), d);
    }
    case 'key':
      return ON_KEY[a]?.({ who, fp: e.resourceId.slice(-16) }, d);
    case 'custom-field': {
      const p = { who, name: e.resourceId };
      if (a === 'custom-field.create') return t('{who} added the custom field {name}', p);
      if (a === 'custom-field.update') return t('{who} changed the custom field {name}', p);
      if (a !== 'custom-field.delete') return undefined;
      return typeof d.values === 'number'
        ? tp(
            d.values,
            '{who} deleted the custom field {name} and its {n} recording value',
            '{who} deleted the custom field {name} and its {n} recording values',
            p,
          )
        : t('{who} deleted the custom field {name}', p);
    }
    case 'evaluation-form': {
      const p = { who, name: formName(e, d) };
      if (a === 'evaluation-form.create') return t('{who} created the evaluation form {name}', p);
      if (a === 'evaluation-form.delete') return t('{who} deleted the evaluation form {name}', p);
      return undefined;
    }
    case 'setting': {
      if (a === 'policy.update') return t('{who} changed the recording filters', { who });
      if (a === 'policy.reset')
        return t('{who} returned the recording filters to the configured ones', { who });
      if (a === 'retention-policy.update') return t('{who} changed the retention policy', { who });
      if (a === 'retention-policy.reset')
        return t('{who} returned the retention policy to the configured one', { who });
      const changes = settingChanges(d);
      if (a !== 'setting.update') return undefined;
      return changes ? t('{who} changed {changes}', { who, changes }) : t('{who} changed', { who });
    }
    default: {
      const from = e.resource === 'user' && typeof d.source === 'string' ? FROM_SOURCE[d.source] : undefined;
      // (An entry without a name or id ends with the noun.)
      return (from?.[a] ?? ON_NAMED[e.resource]?.[a])?.({ who, name: nameOf(e, d) }).trimEnd();
    }
  }
}

/** What an action not known here was done to, for "{who} {action} {what}". */
function objectOf(e: AuditEntry, d: Details, here?: string): string {
  if (isSession(e)) return '';
  if (e.resource === 'key') return t('the encryption keys');
  if (e.resource === 'custom-field') return t('the custom field {name}', { name: e.resourceId });
  if (e.resource === 'evaluation-form') return t('the evaluation form {name}', { name: formName(e, d) });
  if (e.resource === 'setting') return settingChanges(d);
  if (e.resource === 'recording')
    return isHere(e, d, here) ? t('this recording') : t('recording {id}', { id: e.resourceId.slice(0, 8) });
  const name = nameOf(e, d);
  if (e.resource === 'user') return t('user {name}', { name }).trim();
  if (e.resource === 'group') return t('group {name}', { name }).trim();
  if (e.resource === 'token') return t('API token {name}', { name }).trim();
  return `${e.resource} ${name}`.trim();
}

/** One sentence for an audit entry; `here` is the recording whose access log it is in. */
export function auditSentence(e: AuditEntry, here?: string): string {
  const d = e.details ?? {};
  const who = actorOf(e);
  let s = sentenceOf(e, who, d, here);
  if (s === undefined) {
    // An action without a sentence of its own: its name, then its object.
    const action = e.action.replace(/[.-]/g, ' ');
    const what = objectOf(e, d, here);
    s = what ? t('{who} {action} {what}', { who, action, what }) : t('{who} {action}', { who, action });
  }
  s = withDetails(e, d, s);
  if (e.via === 'api-token') s = t('{sentence} with an API token', { sentence: s });
  if (e.ip) s = t('{sentence} from {ip}', { sentence: s, ip: e.ip });
  return s;
}
